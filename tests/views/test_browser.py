"""The dashboard and the report in real headless Chromium (Debian's, driven by playwright).

The dashboard tests drive it like a person: pick an organization and an outcome and check that the numbers
(counted independently from the sandbox's store) and the chart change; pick an organization and a period, download
the table on screen and check its rows are the table's, sort it by a heading, and open the activities behind a
row. Screenshots of every view and
of the report, 1280 and 420 px wide, are kept under the test's tmp folder (``screenshots/``), and also copied to
``$CLOSEFRAME_SCREENSHOTS`` when that is set, to be looked at.

Skipped only when Chromium, playwright or Voilà is not installed; ``.ci/run`` installs all three, so CI runs it.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from closeframe.usage.tables import normalize_outcome_name

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ROOT = Path(__file__).resolve().parents[2]
WIDTHS = (1280, 420)
VIEWS = ("Usage", "Top per organization", "Trend", "Period vs period", "Users", "Organizations side by side",
         "Unused & deleted", "Catalogue")

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the test extra)")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_served(url: str, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"closeframe dashboard exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url + "api", timeout=2):
                return
        except urllib.error.HTTPError:
            return  # Voilà answered (it refuses /api itself): the server is up
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"the dashboard did not answer at {url} within {seconds} s")


@pytest.fixture
def dashboard(tmp_path, sandbox):
    pytest.importorskip("voila", reason="Voilà is not installed (the dashboard extra)")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSE")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    process = subprocess.Popen([sys.executable, "-m", "closeframe", "dashboard", "--port", str(port)], cwd=tmp_path,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_until_served(url, process)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)  # the dashboard stops Voilà (and its kernel)
        try:
            output, _ = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the group this test started, by its id
            output, _ = process.communicate()
        # The dashboard's sandbox has the session sandbox's seed, hence its keys: none may reach the log.
        assert not [name for name, key in sandbox.api_keys.items() if key.encode() in output]


def _shots_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "screenshots"
    folder.mkdir(exist_ok=True)
    return folder


def _keep(path: Path) -> None:
    """Copy a screenshot to $CLOSEFRAME_SCREENSHOTS, if set, to look at it after the run."""
    target = os.environ.get("CLOSEFRAME_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(target) / path.name)


def _screenshot(page, path: Path, width: int) -> None:
    """The whole page at ``width``: Voilà scrolls inside #rendered_cells, so the viewport is made that tall."""
    height = page.evaluate("(document.querySelector('#rendered_cells') || document.documentElement).scrollHeight")
    page.set_viewport_size({"width": width, "height": max(int(height) + 40, 600)})
    page.wait_for_timeout(300)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size({"width": width, "height": 900})
    _keep(path)


def _status_counts(page) -> tuple[int, int]:
    text = page.locator(".closeframe-explorer").inner_text()
    match = re.search(r"([\d,]+) of ([\d,]+) activities", text)
    assert match, text[:500]
    return int(match.group(1).replace(",", "")), int(match.group(2).replace(",", ""))


def _store_activities(sandbox, organization: str | None = None, outcome: str | None = None) -> int:
    """Activities in the sandbox's store, of one organization and/or one outcome name (normalized)."""
    count = 0
    for org in sandbox.store.organizations:
        name = org["name"]
        if organization is not None and name != organization:
            continue
        ids = {o["id"] for o in sandbox.store.outcomes(name)
               if outcome is None or normalize_outcome_name(o["name"]) == normalize_outcome_name(outcome)}
        for record in sandbox.store.calls(name) + sandbox.store.meetings(name):
            if outcome is None or record.get("outcome_id") in ids:
                count += 1
    return count


def _chart_src(page) -> str:
    return page.locator(".closeframe-explorer img").first.get_attribute("src")


def _open_dashboard(browser, url: str, width: int = WIDTHS[0]):
    page = browser.new_page(viewport={"width": width, "height": 900}, accept_downloads=True)
    page.goto(url, timeout=90_000)
    page.locator(".closeframe-explorer").wait_for(timeout=90_000)
    return page


def _wait_for_text(page, text: str, selector: str = ".closeframe-explorer") -> None:
    page.wait_for_function("([s, t]) => document.querySelector(s).innerText.includes(t)", arg=[selector, text],
                           timeout=30_000)


def _same(screen: str, raw: str) -> bool:
    """A cell on screen ("1,234", "+3", "12.5 %", "-2.1 pp", "–") shows the downloaded value ``raw``."""
    if screen == "–":
        return raw == ""
    for suffix in (" %", " pp"):
        if screen.endswith(suffix):
            return abs(float(screen[: -len(suffix)]) / 100 - float(raw)) < 0.0006
    number = screen.replace(",", "").replace("+", "")
    if re.fullmatch(r"-?\d+", number):
        return int(number) == int(raw)
    return screen == raw


def _screen_rows(table) -> list[list[str]]:
    """The body rows of a table on screen, each cell's text (non-breaking spaces as spaces)."""
    return [[c.replace("\xa0", " ").strip() for c in row.locator("td").all_inner_texts()]
            for row in table.locator("tbody tr").all()]


def _wait_for_new_chart(page, before: str) -> None:
    page.wait_for_function("src => document.querySelector('.closeframe-explorer img').getAttribute('src') !== src",
                           arg=before, timeout=30_000)


#: True once exactly one chart image of the explorer is shown, loaded and laid out.
_CHART_SHOWN = """() => { const shown = [...document.querySelectorAll('.closeframe-explorer img')]
    .filter(img => getComputedStyle(img).display !== 'none');
    return shown.length === 1 && shown[0].complete && shown[0].getBoundingClientRect().width > 0; }"""
#: The shown chart's width, its box's width and every font size of its SVG in px as displayed.
_CHART_TEXT_PX = """async () => {
    const img = [...document.querySelectorAll('.closeframe-explorer img')]
        .filter(i => getComputedStyle(i).display !== 'none')[0];
    const svg = new DOMParser().parseFromString(await (await fetch(img.src)).text(), 'image/svg+xml').documentElement;
    const scale = img.getBoundingClientRect().width / svg.viewBox.baseVal.width;
    const sizes = [svg, ...svg.querySelectorAll('[font-size]')]
        .map(e => parseFloat(e.getAttribute('font-size')) * scale);
    return {shown: img.getBoundingClientRect().width, box: img.parentElement.getBoundingClientRect().width, sizes};
}"""


def test_dashboard_usage_view_follows_an_organization_and_an_outcome(browser, dashboard, sandbox, tmp_path):
    shots = _shots_dir(tmp_path)
    page = browser.new_page(viewport={"width": WIDTHS[0], "height": 900})
    page.goto(dashboard, timeout=90_000)
    explorer = page.locator(".closeframe-explorer")
    explorer.wait_for(timeout=90_000)
    assert "made-up demo data" in page.inner_text("body")  # it says the data is the sandbox's
    organizations, outcomes = explorer.locator("select").nth(0), explorer.locator("select").nth(1)
    names = sorted(org["name"] for org in sandbox.store.organizations)
    assert sorted(o.replace("\xa0", " ") for o in organizations.locator("option").all_inner_texts()) == names

    # Nothing picked: every activity of the store.
    everything = _store_activities(sandbox)
    assert _status_counts(page) == (everything, everything)
    _screenshot(page, shots / "dashboard-usage-all-1280.png", WIDTHS[0])

    # One organization: its activities only, and the chart is redrawn.
    organization = names[0]
    before = _chart_src(page)
    organizations.select_option(label=organization)
    _wait_for_new_chart(page, before)
    page.wait_for_function("n => document.querySelector('.closeframe-explorer').innerText.includes(n)",
                           arg=f"{_store_activities(sandbox, organization):,} of {everything:,} activities",
                           timeout=30_000)

    # And one outcome of it: the status line and the table's row give the store's count.
    outcome = "Qualified"
    expected = _store_activities(sandbox, organization, outcome)
    assert expected > 0
    before = _chart_src(page)
    outcomes.select_option(label=outcome)
    _wait_for_new_chart(page, before)
    page.wait_for_function("n => document.querySelector('.closeframe-explorer').innerText.includes(n)",
                           arg=f"{expected:,} of {everything:,} activities", timeout=30_000)
    rows = explorer.locator("table.closeframe-table tbody tr")
    cells = [c.replace("\xa0", " ") for c in rows.first.locator("td").all_inner_texts()]
    assert cells[:2] == [organization, outcome] and f"{expected:,}" in cells
    assert rows.count() == 1
    assert page.locator(".closeframe-explorer img").first.evaluate("img => img.complete && img.naturalWidth > 0")
    _screenshot(page, shots / "dashboard-usage-picked-1280.png", WIDTHS[0])

    # Every view, wide and narrow, with nothing picked; the page itself never scrolls sideways.
    explorer.get_by_role("button", name="Clear").nth(0).click()
    explorer.get_by_role("button", name="Clear").nth(1).click()
    page.wait_for_function("n => document.querySelector('.closeframe-explorer').innerText.includes(n)",
                           arg=f"{everything:,} of {everything:,} activities", timeout=30_000)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        for view in VIEWS:
            before = _chart_src(page)
            explorer.get_by_role("button", name=view, exact=True).click()
            if view != "Usage" or width != WIDTHS[0]:
                try:
                    _wait_for_new_chart(page, before)
                except Exception:  # noqa: BLE001 - a view without a chart (e.g. nothing unused) keeps the old one
                    pass
            overflow = page.evaluate("document.documentElement.scrollWidth")
            assert overflow <= width, (view, width, overflow)
            # The chart shown (the wide one, or the narrow one on a phone) fits its box, with no sideways
            # scrolling, and its text is 10 px or more as displayed (its font sizes times shown / drawn width).
            if view != "Unused & deleted":  # a table only
                page.wait_for_function(_CHART_SHOWN, timeout=30_000)
                chart = page.evaluate(_CHART_TEXT_PX)
                assert chart["shown"] <= chart["box"] + 1, (view, width, chart)
                assert chart["sizes"] and min(chart["sizes"]) >= 10, (view, width, min(chart["sizes"]))
            _screenshot(page, shots / f"dashboard-{re.sub(r'[^a-z]+', '-', view.lower())}-{width}.png", width)
    assert len(list(shots.glob("dashboard-*.png"))) == 2 + len(VIEWS) * len(WIDTHS)
    page.close()


def test_report_renders_offline_and_readable_wide_and_narrow(browser, tmp_path, sandbox):
    from closeframe import cli

    shots = _shots_dir(tmp_path)
    out = tmp_path / "report.html"
    assert cli.main(["report", "--out", str(out)]) == 0
    for width in WIDTHS:
        page = browser.new_page(viewport={"width": width, "height": 900})
        requested = []
        page.on("request", lambda request: requested.append(request.url))
        page.goto(out.as_uri())
        page.wait_for_load_state("load")
        assert all(url.startswith(("file:", "data:")) for url in requested)
        body = page.inner_text("body")
        assert all(org["name"] in body for org in sandbox.store.organizations)
        assert page.evaluate("document.documentElement.scrollWidth") <= width  # tables scroll in their own box
        # Chart text is text, drawn at 10 px or more at this width.
        sizes = page.eval_on_selector_all("svg text", """texts => texts.map(t => {
            const svg = t.ownerSVGElement, box = svg.viewBox.baseVal;
            const scale = svg.getBoundingClientRect().width / box.width;
            return parseFloat(getComputedStyle(t).fontSize) * scale; })""")
        assert sizes and min(sizes) >= 10, (width, min(sizes))
        page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        path = shots / f"report-{width}.png"
        page.screenshot(path=str(path), full_page=True)
        _keep(path)
        page.close()


def test_dashboard_answers_a_period_question_downloads_what_it_shows_and_drills_down(browser, dashboard, sandbox,
                                                                                       tmp_path):
    import csv
    import io

    shots = _shots_dir(tmp_path)
    page = _open_dashboard(browser, dashboard)
    explorer = page.locator(".closeframe-explorer")
    organization = sorted((org["name"] for org in sandbox.store.organizations), key=str.casefold)[0]
    before = _chart_src(page)
    explorer.locator("select").nth(0).select_option(label=organization)
    _wait_for_new_chart(page, before)
    # Picking an organization narrows the users offered to its own.
    own_users = {u["first_name"] + " " + u["last_name"] for u in sandbox.store.users(organization)} \
        if hasattr(sandbox.store, "users") else None
    offered = [o.replace("\xa0", " ") for o in explorer.locator("select").nth(4).locator("option").all_inner_texts()]
    assert offered and (own_users is None or all(name.split(" (")[0] in own_users for name in offered)), offered

    # A period: the last whole month, compared with the month before.
    explorer.locator("select", has=page.locator("option", has_text="Last whole month")).select_option(
        label="Last whole month")
    _wait_for_text(page, " before 20")  # the status line names the range picked
    before = _chart_src(page)
    explorer.get_by_role("button", name="Period vs period", exact=True).click()
    _wait_for_new_chart(page, before)
    _wait_for_text(page, " against ")
    table = explorer.locator(".closeframe-view-table table.closeframe-table").first
    shown = _screen_rows(table)
    assert shown and all(row[0] == organization for row in shown)
    headings = [h.strip() for h in table.locator("thead th").all_inner_texts()]
    _screenshot(page, shots / "dashboard-period-picked-1280.png", WIDTHS[0])

    # The download holds the rows on screen: the same cells, numbers unformatted. The button writes the CSV, then
    # offers it as a link.
    explorer.locator(".closeframe-table-download button").click()
    with page.expect_download() as info:
        explorer.locator(".closeframe-table-download .closeframe-download a").first.click()
    text = Path(info.value.path()).read_bytes().decode("utf-8-sig")
    downloaded = list(csv.reader(io.StringIO(text)))
    assert downloaded[0] == headings
    assert len(downloaded) - 1 == len(shown)  # a short table: every row is on screen

    assert all(_same(cell, raw) for screen, saved in zip(shown, downloaded[1:]) for cell, raw in zip(screen, saved)
               ), (shown[:3], downloaded[1:4])
    assert [len(row) for row in shown] == [len(row) for row in downloaded[1:]]

    # Sorting by a heading reorders the rows in the browser.
    table.locator("thead th").nth(4).click()  # "change"
    changes = [int(row[4].replace(",", "").replace("+", "")) for row in _screen_rows(table)]
    assert changes == sorted(changes, reverse=True)

    # The activities behind a row (the first as first shown): as many as its count, each linked to its lead.
    row = shown[0]
    current = int(row[3].replace(",", ""))
    drill = explorer.locator(".closeframe-drill select")
    label = next(o for o in drill.locator("option").all_inner_texts()
                 if o.replace("\xa0", " ") == f"{organization} · {row[1]} · {headings[3]}")
    drill.select_option(label=label)
    _wait_for_text(page, "newest first", ".closeframe-drill")
    behind = explorer.locator(".closeframe-drill table.closeframe-table")
    assert f"{current:,} activit" in explorer.locator(".closeframe-drill").inner_text()
    links = behind.locator("a").all()
    assert len(links) == min(current, 60)
    assert all(re.fullmatch(r"https://app\.close\.com/lead/lead_\w+/", a.get_attribute("href")) for a in links)
    _screenshot(page, shots / "dashboard-drill-down-1280.png", WIDTHS[0])

    # A phone: the first chart is high on the page.
    page.set_viewport_size({"width": WIDTHS[1], "height": 900})
    explorer.get_by_role("button", name="Usage", exact=True).click()
    page.wait_for_function(_CHART_SHOWN, timeout=30_000)
    top = page.evaluate("""() => [...document.querySelectorAll('.closeframe-explorer img')]
        .filter(i => getComputedStyle(i).display !== 'none')[0].getBoundingClientRect().top
        - document.querySelector('#rendered_cells, body').getBoundingClientRect().top""")
    assert top < 700, top
    _screenshot(page, shots / "dashboard-phone-first-chart-420.png", WIDTHS[1])
    page.close()
