"""The HTML report: self-contained (nothing by URL), names every organization, never holds a key."""

from __future__ import annotations

import base64
import html
from html.parser import HTMLParser

import closeframe as cf
from closeframe import cli
from closeframe.report import render_report


class _Refs(HTMLParser):
    """Collects every src/href and every tag, to check nothing points at the network."""

    def __init__(self):
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "srcset", "data", "poster", "action"):
                self.refs.append((tag, name, value or ""))


def _check_self_contained(text: str) -> _Refs:
    parser = _Refs()
    parser.feed(text)
    images = [value for tag, name, value in parser.refs if tag == "img"]
    assert len(images) == 3 and all(v.startswith("data:image/png;base64,") for v in images)
    for value in images:
        assert base64.b64decode(value.split(",", 1)[1]).startswith(b"\x89PNG")
    # Links would only be plain text to click; nothing else may reference any URL (no scripts, styles, fonts).
    assert [r for r in parser.refs if r[0] != "a" and not r[2].startswith("data:")] == []
    assert "script" not in parser.tags and "link" not in parser.tags
    assert "@import" not in text and "url(" not in text
    return parser


def test_cli_report_from_the_sandbox(sandbox, tmp_path, capsys):
    out = tmp_path / "r" / "report.html"
    assert cli.main(["report", "--out", str(out), "--seed", "0"]) == 0
    assert str(out) in capsys.readouterr().out
    text = out.read_text(encoding="utf-8")
    _check_self_contained(text)
    # The CLI's sandbox has the same seed as the session's, so the same organizations and the same keys.
    for org in sandbox.store.organizations:
        assert html.escape(org["name"]) in text
    for secret in [*sandbox.api_keys.values(), *sandbox.tokens.values()]:
        assert secret not in text
    assert "closeframe sandbox (seed 0" in text and "Generated " in text


def test_report_with_close_api_key_names_no_key(sandbox, tmp_path, monkeypatch):
    name, key = next(iter(sandbox.api_keys.items()))
    monkeypatch.setenv("CLOSE_API_KEY", key)
    monkeypatch.setenv("CLOSE_BASE_URL", sandbox.base_url)
    out = tmp_path / "report.html"
    assert cli.main(["report", "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert key not in text and "CLOSE_API_KEY" in text
    assert html.escape(name) in text
    others = [o["name"] for o in sandbox.store.organizations if o["name"] != name]
    assert not any(html.escape(other) in text for other in others)


def test_report_escapes_names_and_lists_every_outcome(documented_page):
    records = [dict(documented_page["data"][0], name="<script>alert(1)</script>")]
    df = cf.outcomes_frame(records, organization_names={records[0]["organization_id"]: "A & B <GmbH>"})
    text = render_report(df, source="a recorded page")
    assert "<script>" not in text and "&lt;script&gt;" in text and "A &amp; B &lt;GmbH&gt;" in text
    _check_self_contained(text)
