"""The README is a front door: the CI's set-up commands first, short, with pictures that exist; no machine paths."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
#: The documentation pages this front door moved text into (others are written and checked by their owners).
MOVED = ("docs/index.md", "docs/python.md", "docs/command-line.md", "docs/sandbox.md", "docs/performance-history.md")


def test_readme_starts_with_the_two_set_up_commands_the_ci_runs():
    text = README.read_text(encoding="utf-8")
    first = re.search(r"```bash\n(.*?)```", text, re.S)
    assert text.index("```bash") < 40  # right under the title
    assert first.group(1).splitlines() == ["pip install . && closeframe demo",
                                           'pip install ".[test]" && python -m pytest']
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert 'pip install ".[test]" && python -m pytest' in ci.splitlines()


def test_readme_is_short_and_its_pictures_exist_and_are_small():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 150
    pictures = re.findall(r"!\[[^\]]+\]\(([^)]+)\)", text)
    assert {Path(p).name for p in pictures} == {"dashboard.png", "report.png"}
    for picture in pictures:
        path = ROOT / picture
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size < 250_000


def test_no_page_names_a_path_of_this_machine():
    machine = re.compile(r"(?<![\w.])/(work|root|home|tmp|Users)/")
    for name in ("README.md", *MOVED):
        text = (ROOT / name).read_text(encoding="utf-8")
        assert not machine.search(text), (name, machine.search(text).group(0))
        assert "before this change" not in text, name


def test_moved_pages_link_to_pages_that_exist_or_are_written_by_their_owners():
    owned_elsewhere = {"usage.md", "store.md", "performance.md"}  # written on the usage, store and speed branches
    for name in ("README.md", *MOVED):
        page = ROOT / name
        for target in re.findall(r"\]\(([^)#:]+?\.(?:md|png))\)", page.read_text(encoding="utf-8")):
            if Path(target).name in owned_elsewhere:
                continue
            assert (page.parent / target).exists(), (name, target)
