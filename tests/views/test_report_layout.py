"""The report's layout in real headless Chromium: nothing clipped at 1280 px, nothing hidden sideways at 420 px,
every list open on paper, and the contents' links land on their organization.

Skipped only when Chromium or playwright is not installed (``.ci/run`` installs both).
"""

from __future__ import annotations

import pytest

from test_browser import CHROMIUM, _keep, browser  # noqa: F401 (browser: the fixture, shared)

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")

#: Per table box: does the table fit its box, is it a "wide" (hinted, scrolling) one, is its hint shown?
_BOXES = """() => [...document.querySelectorAll('.scroll')].map(box => {
    const table = box.querySelector('table'), hint = box.previousElementSibling;
    const open = !box.closest('details') || box.closest('details').open;
    return {id: table.id, fits: box.scrollWidth <= box.clientWidth + 1, wide: table.classList.contains('wide'),
            hinted: !!hint && hint.classList.contains('hint') && getComputedStyle(hint).display !== 'none',
            shown: open && box.getBoundingClientRect().width > 0};
})"""


@pytest.fixture(scope="module")
def report(sandbox, tmp_path_factory):
    from closeframe import cli

    out = tmp_path_factory.mktemp("layout") / "report.html"
    assert cli.main(["report", "--out", str(out)]) == 0
    return out


def test_wide_screen_clips_no_table(browser, report, tmp_path):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(report.as_uri())
    boxes = [b for b in page.evaluate(_BOXES) if b["shown"]]
    assert boxes
    # Every table that is not a matrix fits its box whole: no "Contract s…" cut by a card's edge.
    assert [b["id"] for b in boxes if not b["wide"] and not b["fits"]] == []
    path = tmp_path / "report-layout-1280.png"
    page.screenshot(path=str(path), full_page=True)
    _keep(path)
    page.close()


def test_phone_hides_no_column_without_saying_so(browser, report, tmp_path):
    page = browser.new_page(viewport={"width": 420, "height": 900})
    page.goto(report.as_uri())
    assert page.evaluate("document.documentElement.scrollWidth") <= 420
    boxes = [b for b in page.evaluate(_BOXES) if b["shown"]]
    # The headline table fits (each organization a card of "heading: value" lines)...
    summary = next(b for b in boxes if b["id"] == "summary-table")
    assert summary["fits"]
    assert page.locator("#summary-table td[data-label='Never used']").first.is_visible()
    # ...and any table that scrolls sideways says so above it.
    assert [b["id"] for b in boxes if not b["fits"] and not b["hinted"]] == []
    path = tmp_path / "report-layout-420.png"
    page.screenshot(path=str(path), full_page=True)
    _keep(path)
    page.close()


def test_print_opens_every_list(browser, report):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(report.as_uri())
    closed = "[...document.querySelectorAll('details:not([open]) table')]"
    visible = "t => t.checkVisibility({contentVisibilityAuto: true}) && t.getBoundingClientRect().height > 0"
    assert page.evaluate(f"{closed}.length") > 0
    assert not page.evaluate(f"{closed}.some({visible})")  # closed on screen
    page.emulate_media(media="print")
    # Open on paper (waited for: the print styles apply on the next style pass, later on a loaded machine).
    page.wait_for_function(f"() => {closed}.every({visible})", timeout=10_000)
    page.close()


def test_contents_links_land_on_each_organization(browser, report, sandbox):
    page = browser.new_page(viewport={"width": 420, "height": 900})
    page.goto(report.as_uri())
    links = page.locator("nav ul.organizations a")
    assert links.count() == len(sandbox.store.organizations)
    for i in range(links.count()):
        name = links.nth(i).inner_text()
        links.nth(i).click()
        block = page.locator(f"details.organization:has({links.nth(i).get_attribute('href')})")
        assert block.evaluate("d => d.open")  # a folded organization opens
        heading = block.locator("summary h3")
        assert heading.inner_text() == name
        assert 0 <= heading.bounding_box()["y"] < 100  # scrolled to the top of the screen, its name in sight
    page.close()
