"""Progress bars of real loads against the sandbox: records, pages and rate-limit waits; silent when asked."""

from __future__ import annotations

import re

import closeframe as cf
from closeframe import cli
from closeframe.http.progress import progress_enabled


def test_bar_counts_records_pages_and_rate_limit_waits(fresh_sandbox, capsys):
    sb = fresh_sandbox(organizations=[{"outcomes": 250}], calls=0, meetings=0, rate_limit=2.0)
    (name, key), = sb.api_keys.items()
    df = cf.load_outcomes(key, base_url=sb.base_url, progress=True)
    err = capsys.readouterr().err
    final = err.replace("\r", "\n").strip().splitlines()[-1]
    assert f"{len(sb.store.outcomes(name))}" in final and len(df) == len(sb.store.outcomes(name))
    assert "pages=3" in final  # 250 outcomes at Close's 100 per page
    waited = float(re.search(r"rate_wait=([0-9.]+)s", final).group(1))
    assert waited > 0  # 2 requests per second with a burst of 2: the third page waited


def test_progress_false_is_silent(sandbox, capsys):
    key = next(iter(sandbox.api_keys.values()))
    cf.load_outcomes(key, base_url=sandbox.base_url, progress=False)
    assert capsys.readouterr().err == ""


def test_default_is_off_outside_notebooks_and_terminals():
    # pytest captures stderr, so it is not a terminal, and no Jupyter kernel runs here.
    assert progress_enabled(None) is False
    assert progress_enabled(True) is True and progress_enabled(False) is False


def test_cli_shows_no_bar_when_not_on_a_terminal(tmp_path, capsys):
    assert cli.main(["demo", "--out", str(tmp_path)]) == 0
    assert "rate_wait" not in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------------------------
# Calls and meetings: dates covered, ETA, rate-limit waiting as wall time
# ---------------------------------------------------------------------------------------------------------------

def _postfixes(err: str) -> list[dict[str, str]]:
    """The key=value pairs of every redraw of the bar."""
    lines = [line for line in err.replace("\r", "\n").splitlines() if "pages=" in line]
    return [dict(re.findall(r"(\w+)=([^,\]]+)", line)) for line in lines]


def test_calls_bar_shows_dates_covered_done_and_eta(fresh_sandbox, capsys):
    import time

    import pandas as pd

    sb = fresh_sandbox(seed=1, organizations=1, calls=4000, meetings=0, latency=0.02, rate_limit=15.0)
    (name, key), = sb.api_keys.items()
    started = time.monotonic()
    calls = cf.load_calls(key, base_url=sb.base_url, since="2025-06-01", progress=True)
    elapsed = time.monotonic() - started
    redraws = _postfixes(capsys.readouterr().err)
    expected = [c for c in sb.store.calls(name) if pd.Timestamp(c["date_created"]) >= pd.Timestamp("2025-06-01",
                                                                                                   tz="UTC")]
    assert len(calls) == len(expected)
    newest = max(pd.Timestamp(c["date_created"]) for c in expected)
    final = redraws[-1]
    assert final["dates"] == f"2025-06-01..{newest:%Y-%m-%d}" and final["done"] == "100%"
    # While it ran, the bar said how far it was and how long the rest would take.
    running = [r for r in redraws if r.get("done", "").rstrip("%").isdigit() and 0 < int(r["done"][:-1]) < 100]
    assert running and all(re.fullmatch(r"\d+:\d\d", r["eta"]) for r in running)
    # Two windows waited side by side; the bar counts the wall time once, never more than the load took.
    waited = float(final["rate_wait"].rstrip("s"))
    assert 0 < waited <= elapsed


def test_without_since_the_eta_waits_for_the_open_window(fresh_sandbox, capsys):
    sb = fresh_sandbox(seed=1, organizations=1, calls=3000, meetings=0, latency=0.02, rate_limit=15.0)
    key = next(iter(sb.api_keys.values()))
    cf.load_calls(key, base_url=sb.base_url, progress=True)
    redraws = _postfixes(capsys.readouterr().err)
    # Its oldest date is unknown until the oldest window is read to its end: no made-up ETA before that.
    assert any(r["eta"] == "?" for r in redraws[:-1])
    assert redraws[-1]["done"] == "100%"


def test_wait_clock_counts_overlapping_waits_once():
    from closeframe.http.progress import WaitClock

    now = [0.0]
    clock = WaitClock(lambda: now[0])
    first, second = clock.waiting(), clock.waiting()
    first.__enter__()
    now[0] = 1.0
    second.__enter__()      # a second thread waits from t=1
    now[0] = 3.0
    first.__exit__(None, None, None)
    assert clock.seconds == 3.0  # still waiting: the time so far counts
    now[0] = 4.0
    second.__exit__(None, None, None)
    now[0] = 10.0
    assert clock.seconds == 4.0  # 0-4 once, not 3 + 3


def test_window_tracker_estimates_from_the_span_read():
    import pandas as pd

    from closeframe.http.progress import DATE_EVERY, LoadProgress

    now = [0.0]
    bar = LoadProgress(False, "calls", clock=lambda: now[0])
    track = bar.window(pd.Timestamp("2026-01-01", tz="UTC"), pd.Timestamp("2026-01-11", tz="UTC"))
    days = pd.date_range("2026-01-10", "2026-01-06", freq="-1D", tz="UTC")  # newest first, 5 of 10 days
    for day in days:
        for _ in range(DATE_EVERY):
            track.reached({"date_created": day.isoformat()})
    now[0] = 8.0
    info = bar.coverage()
    # Read from 11 Jan back to 6 Jan: 5 of the window's 10 days in 8 s, so 8 s more to go.
    assert info["done"] == 0.5 and info["eta"] == 8.0
    track.finish()
    assert bar.coverage()["done"] == 1.0
