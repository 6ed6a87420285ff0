"""The HTML report: usage first, self-contained (nothing by URL), numbers from the sandbox's store, never a key,
nothing cut silently."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections import Counter
from html.parser import HTMLParser

import pandas as pd
import pytest

import closeframe as cf
from closeframe import cli
from closeframe.views.report import REPORT_SECTIONS, Section, render_report


class _Document(HTMLParser):
    """Collects every src/href, every tag, the text of each table cell (with its class), and section ids."""

    def __init__(self):
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []
        self.tags: list[str] = []
        self.sections: list[str] = []
        self.cells: list[tuple[str, str]] = []  # (class, text)
        self.svg_text: list[str] = []
        self._cell: list | None = None
        self._in_svg_text = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        attrs = dict(attrs)
        for name, value in attrs.items():
            if name in ("src", "href", "srcset", "data", "poster", "action", "xlink:href"):
                self.refs.append((tag, name, value or ""))
        if tag == "section":
            self.sections.append(attrs.get("id"))
        if tag == "td":
            self._cell = [attrs.get("class") or "", ""]
        if tag == "br" and self._cell is not None:
            self._cell[1] += " "
        if tag == "text":
            self._in_svg_text = True

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self.cells.append((self._cell[0], self._cell[1].strip()))
            self._cell = None
        if tag == "text":
            self._in_svg_text = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[1] += data
        if self._in_svg_text:
            self.svg_text.append(data)


def _parse(text: str) -> _Document:
    document = _Document()
    document.feed(text)
    # Links are in-page anchors only; nothing may reference any URL (no scripts, styles, fonts, images).
    assert [r for r in document.refs if not r[2].startswith("#")] == []
    assert "script" not in document.tags and "link" not in document.tags and "img" not in document.tags
    assert "@import" not in text and not re.search(r"url\((?!#)", text) and "http://" not in text.replace(
        'xmlns="http://www.w3.org/2000/svg"', "").replace('xmlns:xlink="http://www.w3.org/1999/xlink"', "")
    return document


def _store_counts(sandbox, since=None, until=None) -> dict[str, tuple[int, int]]:
    """{organization name: (activities, activities with an outcome)} straight from the sandbox's store."""
    counts = {}
    for org in sandbox.store.organizations:
        name = org["name"]
        records = sandbox.store.calls(name) + sandbox.store.meetings(name)
        stamps = [pd.Timestamp(r["date_created"]) for r in records]
        keep = [r for r, t in zip(records, stamps)
                if (since is None or t >= pd.Timestamp(since, tz="UTC")) and
                (until is None or t < pd.Timestamp(until, tz="UTC"))]
        counts[name] = (len(keep), sum(1 for r in keep if r.get("outcome_id")))
    return counts


def _summary_rows(text: str) -> dict[str, list[str]]:
    """The rows of the headline table, by organization."""
    table = re.search(r'<section id="summary">.*?<table.*?</table>', text, re.S).group(0)
    rows = {}
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)[1:]:
        cells = [html.unescape(re.sub(r"<.*?>", "", c)).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row,
                                                                                        re.S)]
        rows[cells[0]] = cells
    return rows


@pytest.fixture(scope="module")
def sandbox_report(sandbox, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "r" / "report.html"
    assert cli.main(["report", "--out", str(out), "--seed", "0"]) == 0
    return out.read_text(encoding="utf-8")


def test_report_leads_with_usage_and_ends_with_the_catalogue(sandbox_report):
    document = _parse(sandbox_report)
    assert document.sections == ["summary", "over-time", "periods", "compare", "organizations", "unused",
                                 "catalogue"]


def test_headline_numbers_match_the_sandbox_store(sandbox, sandbox_report):
    rows = _summary_rows(sandbox_report)
    for name, (activities, with_outcome) in _store_counts(sandbox).items():
        row = rows[name]
        assert row[1] == f"{activities:,}"
        assert row[4] == f"{with_outcome / activities:.1%}".replace("%", " %")
    total = sum(a for a, _ in _store_counts(sandbox).values())
    assert rows["All organizations"][1] == f"{total:,}"


def test_report_names_every_organization_and_no_key_url_or_port(sandbox, sandbox_report):
    for org in sandbox.store.organizations:
        assert html.escape(org["name"]) in sandbox_report
    for secret in [*sandbox.api_keys.values(), *sandbox.tokens.values()]:
        assert secret not in sandbox_report
    assert "127.0.0.1" not in sandbox_report and "localhost" not in sandbox_report
    assert not re.search(r":\d{4,5}/", sandbox_report)
    assert "closeframe sandbox" in sandbox_report and "made-up" in sandbox_report


def test_report_formats_numbers_shares_and_dates(sandbox_report):
    document = _parse(sandbox_report)
    numbers = [text for cls, text in document.cells if "num" in cls.split()]
    count, share = r"[+-]?\d{1,3}(,\d{3})*", r"\d+\.\d %"
    patterns = [count, share, rf"{count} {share}", r"[+-]?\d+\.\d pp", "–"]
    assert numbers and all(any(re.fullmatch(p, t) for p in patterns) for t in numbers), \
        [t for t in numbers if not any(re.fullmatch(p, t) for p in patterns)][:5]
    assert any("," in t for t in numbers) and any(t.endswith(" %") for t in numbers)
    assert any(t.endswith(" pp") for t in numbers) and any(t.startswith(("+", "-")) for t in numbers)
    days = [text for cls, text in document.cells if "day" in cls.split()]
    assert days and all(re.fullmatch(r"\d{1,2} [A-Z][a-z]{2} \d{4}", t) for t in days)
    assert not re.search(r"\d{2}:\d{2}", " ".join(text for _, text in document.cells))
    # Charts are SVG with their text kept as text: the CJK organization name is a <text> element.
    assert any("東京" in t for t in document.svg_text)


def test_catalogue_is_one_collapsible_block_per_organization(sandbox, sandbox_report):
    catalogue = sandbox_report[sandbox_report.index('<section id="catalogue">'):]
    summaries = re.findall(r"<summary>(.*?)</summary>", catalogue)
    assert len(summaries) == len(sandbox.store.organizations)
    for org in sandbox.store.organizations:
        count = len(sandbox.store.outcomes(org["name"]))
        assert any(s.startswith(f"{html.escape(org['name'])}: {count:,} outcomes") for s in summaries)


def test_since_until_narrow_the_report_and_it_says_so(sandbox, tmp_path):
    out = tmp_path / "q1.html"
    assert cli.main(["report", "--out", str(out), "--since", "2026-01-01", "--until", "2026-04-01"]) == 0
    text = out.read_text(encoding="utf-8")
    assert "1 Jan 2026 to 31 Mar 2026 (as asked" in text
    rows = _summary_rows(text)
    for name, (activities, with_outcome) in _store_counts(sandbox, "2026-01-01", "2026-04-01").items():
        assert rows[name][1] == f"{activities:,}"
    _parse(text)
    # It compares the quarter with the one before, which the command loaded for that (and only for that).
    table = _section(text, "periods")
    assert "2026-01-01 until 2026-04-01 against 2025-10-01 until 2026-01-01" in table
    periods = {_cell_texts(r)[0]: _cell_texts(r) for r in re.findall(r"<tr>(.*?)</tr>", table, re.S)[1:]}
    for name, (activities, _) in _store_counts(sandbox, "2025-10-01", "2026-01-01").items():
        assert periods[name][1] == f"{activities:,}" and activities > 0


def test_since_after_until_is_one_clear_error(sandbox, tmp_path, capsys):
    assert cli.main(["report", "--out", str(tmp_path / "x.html"), "--since", "2026-05-01",
                     "--until", "2026-01-01"]) == 1
    err = capsys.readouterr().err
    assert "since='2026-05-01' is not before until='2026-01-01'" in err and "Traceback" not in err
    assert not (tmp_path / "x.html").exists()


def test_report_with_close_api_key_names_no_key(sandbox, tmp_path, monkeypatch):
    name, key = next(iter(sandbox.api_keys.items()))
    monkeypatch.setenv("CLOSE_API_KEY", key)
    monkeypatch.setenv("CLOSE_BASE_URL", sandbox.base_url)
    out = tmp_path / "report.html"
    assert cli.main(["report", "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert key not in text and "CLOSE_API_KEY" in text and "127.0.0.1" not in text
    assert html.escape(name) in text
    others = [o["name"] for o in sandbox.store.organizations if o["name"] != name]
    assert not any(html.escape(other) in text for other in others)


def test_report_reads_closeframe_api_keys(sandbox, tmp_path, monkeypatch):
    import json

    chosen = dict(list(sandbox.api_keys.items())[:2])
    monkeypatch.setenv("CLOSEFRAME_API_KEYS", json.dumps(chosen))
    monkeypatch.setenv("CLOSE_BASE_URL", sandbox.base_url)
    out = tmp_path / "report.html"
    assert cli.main(["report", "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert "2 organizations (keys from CLOSEFRAME_API_KEYS)" in text
    assert set(_summary_rows(text)) == {*chosen, "All organizations"}
    assert not any(key in text for key in sandbox.api_keys.values())


def test_outcomes_alone_give_the_catalogue_and_escape_names(documented_page):
    records = [dict(documented_page["data"][0], name="<script>alert(1)</script>")]
    df = cf.outcomes_frame(records, organization_names={records[0]["organization_id"]: "A & B <GmbH>"})
    text = render_report(df, source="a recorded page")
    assert "<script>" not in text and "&lt;script&gt;" in text and "A &amp; B &lt;GmbH&gt;" in text
    assert "No calls or meetings were loaded" in text
    assert _parse(text).sections == ["summary", "catalogue"]


def test_sections_are_a_list_a_caller_can_extend(documented_page):
    df = cf.outcomes_frame(documented_page["data"])

    def changes(data):
        return Section("changes", "Catalogue changes", f"<p>{len(data.outcomes)} outcomes</p>")

    text = render_report(df, source="a page", sections=[*REPORT_SECTIONS, changes],
                         generated_at=dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.timezone.utc))
    assert _parse(text).sections[-1] == "changes" and "2 outcomes" in text
    assert "Generated</strong> 2 Jan 2026" in text and "03:04" not in text


@pytest.fixture(scope="module")
def frames(sandbox):
    keys = dict(sandbox.api_keys)
    return (cf.load_outcomes(keys, base_url=sandbox.base_url, progress=False),
            cf.load_calls(keys, base_url=sandbox.base_url, progress=False),
            cf.load_meetings(keys, base_url=sandbox.base_url, progress=False))


def _section(text: str, name: str) -> str:
    start = text.index(f'<section id="{name}">')
    return text[start:text.index("</section>", start)]


def _cell_texts(fragment: str) -> list[str]:
    return [html.unescape(re.sub(r"<[^>]+>", " ", c)).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", fragment,
                                                                                  re.S)]


def test_contents_link_every_organization_in_natural_order(fresh_sandbox, tmp_path):
    names = ["Org 10", "Org 7", "org 9"]
    sb = fresh_sandbox(seed=3, organizations=[{"name": n, "calls": 30} for n in names], meetings=0)
    keys = dict(sb.api_keys)
    outcomes = cf.load_outcomes(keys, base_url=sb.base_url, progress=False)
    calls = cf.load_calls(keys, base_url=sb.base_url, progress=False)
    text = render_report(outcomes, calls, source="test")
    contents = text[text.index('<nav id="contents"'):text.index("</nav>")]
    links = re.findall(r'<li><a href="#(org-\d+)">(.*?)</a></li>', contents)
    assert [name for _, name in links] == ["Org 7", "org 9", "Org 10"]
    for anchor, name in links:  # each link lands on that organization's block
        assert re.search(rf'<summary><h3>{re.escape(name)}</h3>[^<]*<span class="note">[^<]*</span></summary>'
                         rf'<div id="{anchor}">', text)
    assert list(_summary_rows(text))[:3] == ["Org 7", "org 9", "Org 10"]


def test_every_outcome_name_shared_by_two_organizations_is_listed(sandbox, sandbox_report):
    from closeframe.usage.tables import normalize_outcome_name

    per_name: dict[str, set] = {}
    for org in sandbox.store.organizations:
        for outcome in sandbox.store.outcomes(org["name"]):
            per_name.setdefault(normalize_outcome_name(outcome["name"]), set()).add(org["name"])
    shared = {name for name, orgs in per_name.items() if len(orgs) >= 2}
    assert len(shared) > 20  # more than the old cut-off of 20 rows
    table = _section(sandbox_report, "compare")
    rows = re.findall(r"<tr>(.*?)</tr>", table, re.S)[1:]
    listed = {normalize_outcome_name(_cell_texts(row)[0]) for row in rows}
    assert listed == shared
    assert {"closed won", "demo booked", "not interested"} <= listed


def test_lists_are_whole_and_say_how_many_more(fresh_sandbox, tmp_path):
    sb = fresh_sandbox(seed=7, organizations=2)
    keys = dict(sb.api_keys)
    outcomes = cf.load_outcomes(keys, base_url=sb.base_url, progress=False)
    calls = cf.load_calls(keys, base_url=sb.base_url, progress=False)
    meetings = cf.load_meetings(keys, base_url=sb.base_url, progress=False)
    since, until = "2026-10-01", "2026-10-08"  # a short period: many outcomes go unused
    text = render_report(outcomes, calls, meetings, source="test", since=since, until=until)
    assert "…" not in re.sub(r"<svg.*?</svg>", "", text, flags=re.S)  # only chart labels may be shortened
    inside = {}
    for org in sb.store.organizations:
        records = sb.store.calls(org["name"]) + sb.store.meetings(org["name"])
        inside[org["name"]] = [r for r in records if pd.Timestamp(since, tz="UTC") <= pd.Timestamp(
            r["date_created"]) < pd.Timestamp(until, tz="UTC")]
    unused_rows = {_cell_texts(row)[0]: _cell_texts(row) for row in
                   re.findall(r"<tr>(.*?)</tr>", _section(text, "unused").split("Deleted, still")[0], re.S)[1:]}
    for org in sb.store.organizations:
        used_ids = {r.get("outcome_id") for r in inside[org["name"]]}
        never = sorted((o["name"] for o in sb.store.outcomes(org["name"]) if o["id"] not in used_ids), key=str.casefold)
        assert never and unused_rows[org["name"]][1] == str(len(never))
        assert unused_rows[org["name"]][2] == ", ".join(" ".join(n.split()) for n in never)
        # "Top 5" says how many more outcomes were used, and links to where they are listed.
        used = len({i for i in used_ids if i})
        if used > 5:
            assert f"{used - 5:,} more outcome" in text and 'href="#catalogue-' in text


def test_now_comes_from_the_data_not_the_clock(sandbox, sandbox_report):
    last = max(pd.Timestamp(r["date_created"]) for org in sandbox.store.organizations
               for r in sandbox.store.calls(org["name"]))
    assert f"data through {last:%Y-%m-%d}" in sandbox_report
    assert f"to {last.day} {last:%b %Y} (every loaded activity)" in sandbox_report
    # No month after the data's last one appears anywhere (it would read as a collapse).
    after = (last.tz_localize(None).to_period("M") + 1).start_time
    assert f"{after:%b %Y}" not in sandbox_report


def test_an_empty_period_shows_a_dash_not_zero_percent(frames):
    outcomes, calls, meetings = frames
    quiet = calls["organization_name"].astype(str).iloc[0]
    keep_calls = calls[calls["organization_name"].astype(str) != quiet]
    keep_meetings = meetings[meetings["organization_name"].astype(str) != quiet]
    text = render_report(outcomes, keep_calls, keep_meetings, source="test")
    row = _summary_rows(text)[quiet]
    assert row[1] == "0" and row[4] == "–"
    assert "0.0 %" not in row


def test_render_report_takes_the_current_picks(sandbox, frames):
    from closeframe.usage.selection import Selection, prepare

    outcomes, calls, meetings = frames
    name = sandbox.store.organizations[1]["name"]
    picks = Selection(organizations=(name,), kinds=("calls",), since="2026-01-01")
    text = render_report(outcomes, calls, meetings, source="the dashboard", selection=picks,
                         prepared=prepare(outcomes, calls, meetings))
    expected = sum(1 for r in sandbox.store.calls(name)
                   if pd.Timestamp(r["date_created"]) >= pd.Timestamp("2026-01-01", tz="UTC"))
    rows = _summary_rows(text)
    assert list(rows) == [name] and rows[name][1] == f"{expected:,}" and rows[name][3] == "0"
    assert "<strong>Picks:</strong> calls; organization:" in text
    with pytest.raises(cf.ConfigurationError, match="not both"):
        render_report(outcomes, calls, meetings, source="x", selection=picks, since="2026-01-01")


def test_this_month_against_the_last_counts_the_store(sandbox, sandbox_report):
    last = max(pd.Timestamp(r["date_created"]) for org in sandbox.store.organizations
               for r in sandbox.store.calls(org["name"]))
    current = last.tz_localize(None).to_period("M")
    if last.tz_localize(None) >= current.end_time.floor("D"):  # the last day ends the month: it is whole
        current += 1
    current -= 1  # the last whole month, and the one before
    table = _section(sandbox_report, "periods")
    assert f"{(current + 0).start_time:%b %Y} against {(current - 1).start_time:%b %Y}" in table
    rows = {_cell_texts(r)[0]: _cell_texts(r) for r in re.findall(r"<tr>(.*?)</tr>", table, re.S)[1:]}
    for org in sandbox.store.organizations:
        records = sandbox.store.calls(org["name"]) + sandbox.store.meetings(org["name"])
        months = Counter(pd.Timestamp(r["date_created"]).tz_localize(None).to_period("M") for r in records)
        before, now = months[current - 1], months[current]
        assert rows[org["name"]][1:4] == [f"{before:,}", f"{now:,}", f"{now - before:+,}".replace("+0", "0")]


def test_users_by_outcome_rows_add_up_to_each_users_activities(sandbox, sandbox_report):
    block = sandbox_report[sandbox_report.index('id="org-1"'):sandbox_report.index('id="org-2"')]
    name = html.unescape(re.findall(r"<h3>(.*?)</h3>", sandbox_report[:sandbox_report.index('id="org-1"')])[-1])
    assert name in [org["name"] for org in sandbox.store.organizations]
    users = re.search(r"Who logs which outcome</h4>.*?</table>", block, re.S).group(0)
    rows = [_cell_texts(r) for r in re.findall(r"<tr>(.*?)</tr>", users, re.S)[1:]]
    records = sandbox.store.calls(name) + sandbox.store.meetings(name)
    per_user = Counter(r.get("user_id") for r in records)
    assert sorted(int(r[-1].replace(",", "")) for r in rows) == sorted(per_user.values())[-len(rows):]
    for row in rows:  # each cell: a count and the share of the user's activities; the counts add up
        counts = [int(c.split()[0].replace(",", "")) for c in row[1:-1]]
        assert sum(counts) == int(row[-1].replace(",", ""))


def test_a_since_that_is_not_a_date_is_refused_before_any_load(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["report", "--out", str(tmp_path / "r.html"), "--since", "last tuesday"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "--since: 'last tuesday' is not a date" in err and "sandbox" not in err
    assert not (tmp_path / "r.html").exists()


def test_many_organizations_open_the_busiest_and_fold_the_rest(fresh_sandbox):
    from closeframe.views.report import OPEN_ORGANIZATIONS

    sb = fresh_sandbox(seed=3, organizations=[{"calls": 20 + 10 * i} for i in range(OPEN_ORGANIZATIONS + 3)],
                       meetings=0)
    keys = dict(sb.api_keys)
    outcomes = cf.load_outcomes(keys, base_url=sb.base_url, progress=False)
    calls = cf.load_calls(keys, base_url=sb.base_url, progress=False)
    text = render_report(outcomes, calls, source="test")
    section = _section(text, "organizations")
    opened = [html.unescape(n) for n in re.findall(r'<details class="organization" open><summary><h3>(.*?)</h3>',
                                                    section)]
    folded = [html.unescape(n) for n in re.findall(r'<details class="organization"><summary><h3>(.*?)</h3>',
                                                    section)]
    counts = {o["name"]: len(sb.store.calls(o["name"])) for o in sb.store.organizations}
    assert len(opened) == OPEN_ORGANIZATIONS and len(folded) == len(counts) - OPEN_ORGANIZATIONS
    assert min(counts[name] for name in opened) >= max(counts[name] for name in folded)
    contents = text[text.index('<nav id="contents"'):text.index("</nav>")]
    assert len(re.findall(r'href="#org-\d+"', contents)) == len(counts)  # every one, folded or not, is linked
