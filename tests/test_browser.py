"""The dashboard and the report in real headless Chromium (Debian's, driven by playwright).

Skipped only when Chromium, playwright or Voilà is not installed; ``.ci/run`` installs all three, so CI runs it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ROOT = Path(__file__).resolve().parent.parent
SCREENSHOT = os.environ.get("CLOSEFRAME_SCREENSHOT")  # e.g. /tmp/dashboard.png while developing

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


def _wait_until_served(url: str, process: subprocess.Popen, seconds: float = 45) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"closeframe dashboard exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
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
        process.send_signal(signal.SIGTERM)  # the dashboard stops Voilà (and its kernel) and its sandbox
        try:
            output, _ = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the group this test started, by its id
            output, _ = process.communicate()
        # The dashboard's sandbox has the session sandbox's seed, hence its keys: none may reach the log.
        assert not [name for name, key in sandbox.api_keys.items() if key.encode() in output]


def _text(value: str) -> str:
    return value.replace("\xa0", " ")


def test_dashboard_picker_lists_organizations_and_choosing_one_redraws(browser, dashboard, sandbox):
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    page.goto(dashboard, timeout=45_000)
    explorer = page.locator(".closeframe-explorer")
    picker = explorer.locator("select").first
    picker.wait_for(timeout=45_000)
    table = explorer.locator("table.closeframe-summary")
    chart = explorer.locator("img").first
    table.wait_for()
    expected = sorted(org["name"] for org in sandbox.store.organizations)  # same seed as the dashboard's
    assert [_text(o) for o in picker.locator("option").all_inner_texts()] == expected

    rows_before = [_text(t) for t in table.locator("tbody th").all_inner_texts()]
    assert rows_before == [*expected, "total"]
    chart_before = chart.get_attribute("src")
    chosen = expected[1]
    picker.select_option(index=1)
    page.wait_for_function(
        "([img, src]) => document.querySelector(img).getAttribute('src') !== src",
        arg=[".closeframe-explorer img", chart_before], timeout=15_000)
    page.wait_for_function(
        "n => document.querySelectorAll('.closeframe-explorer table.closeframe-summary tbody th').length === n",
        arg=2, timeout=15_000)
    assert [_text(t) for t in table.locator("tbody th").all_inner_texts()] == [chosen, "total"]
    assert chart.evaluate("img => img.complete && img.naturalWidth > 0")
    if SCREENSHOT:
        page.screenshot(path=SCREENSHOT, full_page=True)
    page.close()


def test_report_renders_offline_in_the_browser(browser, tmp_path, sandbox):
    from closeframe import cli

    out = tmp_path / "report.html"
    assert cli.main(["report", "--out", str(out)]) == 0
    page = browser.new_page()
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(out.as_uri())
    page.wait_for_load_state("load")
    sizes = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)")
    assert len(sizes) == 3 and all(width > 0 for width in sizes)
    assert all(url.startswith(("file:", "data:")) for url in requested)
    body = page.inner_text("body")
    assert all(org["name"] in body for org in sandbox.store.organizations)
    page.close()
