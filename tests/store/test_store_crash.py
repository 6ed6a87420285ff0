"""Issue 17, cases 3 and 6 across processes: a load killed (SIGKILL) at every write point of the store leaves it
exact, and two or four processes loading from one store at once each get a fresh load's frame, none failing for a
lock. A Ctrl-C at any moment ends a load with KeyboardInterrupt alone. Expectations come from fresh loads against the
sandbox.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
import requests
from pandas.testing import assert_frame_equal

import closeframe as cf
from closeframe.store.database import connect
from tests.interrupts import ctrl_c_after, keyboard_interrupt_alone, script_env

# One cached load of calls; with CLOSEFRAME_STORE_CRASH_AT=k it kills itself at the k-th write point. From a store
# the event log can bring up to date, it writes at each kind of write point: the event-log patch (delete, insert,
# sync state, commit) and a window (delete, insert, ranges, commit). Meetings take the very same code.
LOAD = textwrap.dedent("""
    import sys
    import closeframe as cf

    key, base_url, cache = sys.argv[1:4]
    cf.load_calls(key, base_url=base_url, cache=cache, progress=False)
""")


def _change(sb, key: str, step: int) -> None:
    """Outcomes set, changed and cleared on old and new calls and meetings (PUT), a deletion, a new call."""
    outcomes = [o["id"] for o in sb.store.outcomes("Org")]
    for kind, records in (("call", sb.store.calls("Org")), ("meeting", sb.store.meetings("Org"))):
        for n, record in enumerate(records[step::37][:4]):
            value = None if n % 3 == 0 else outcomes[(step + n) % len(outcomes)]
            requests.put(f"{sb.base_url}activity/{kind}/{record['id']}/", json={"outcome_id": value},
                         auth=(key, ""), timeout=10)
    sb.store.delete_activity("Org", "call", sb.store.calls("Org")[step * 7 + 3]["id"])
    sb.store.add_call("Org")
    sb.store.advance_clock(60)


@pytest.mark.parametrize("log", [True, False])
def test_a_kill_at_every_write_point_leaves_the_store_exact(fresh_sandbox, tmp_path, log):
    """Every write point, with the event log (its patch and a window) and without (the lookback re-scan rewrites the
    windows it overlaps: where the cache before the store counted 682 calls of 501 after a kill, case 3)."""
    sb = fresh_sandbox(organizations=[{"name": "Org", "outcomes": 6, "calls": 500, "meetings": 10}], quirks=False)
    key = sb.api_keys["Org"]
    kwargs = dict(base_url=sb.base_url, progress=False)
    initial = tmp_path / "initial"
    first = cf.load_calls(key, cache=initial, **kwargs)
    _change(sb, key, 1)
    outcomes = cf.load_outcomes(key, **kwargs)
    # DuckDB usage over the store right after a kill counts each call once, stored before the kill or after it.
    ever = len(set(first["id"]) | set(cf.load_calls(key, **kwargs)["id"]))
    if not log:  # the key may not read the log: cached loads warn and re-scan their lookback
        sb.store.events.access = "none"
    # What the next load returns when nothing was killed: a fresh load with the log, the re-scan's frame without.
    shutil.copytree(initial, tmp_path / "unkilled")
    expected = _cached_load(key, tmp_path / "unkilled", kwargs, log)
    if log:
        assert_frame_equal(expected, cf.load_calls(key, **kwargs))
    point, killed = 0, 0
    while True:
        point += 1
        cache = tmp_path / f"at-{point}"
        shutil.copytree(initial, cache)  # each run starts from the same store; the sandbox changed since
        run = subprocess.run([sys.executable, "-c", LOAD, key, sb.base_url, str(cache)], capture_output=True,
                             text=True, timeout=120, env=script_env(CLOSEFRAME_STORE_CRASH_AT=str(point)))
        if run.returncode == 0:
            break  # fewer write points than `point`: every one was tried
        assert run.returncode == -signal.SIGKILL, run.stderr[-2000:]
        killed += 1
        counted = int(cf.outcome_usage(outcomes, dataset={"cache": cache})["calls"].sum())
        assert 0 < counted <= ever
        assert_frame_equal(_cached_load(key, cache, kwargs, log), expected)
        shutil.rmtree(cache)
    assert killed >= (9 if log else 4)  # the patch's and a window write's points, and their commits


INTERRUPTED = textwrap.dedent("""
    import sys
    import time
    import closeframe as cf

    key, base_url, cache = sys.argv[1:4]
    print("start", flush=True)
    started = time.monotonic()
    cf.load_calls(key, base_url=base_url, cache=cache, progress=False)
    print(f"finished {time.monotonic() - started}", flush=True)
""")


def test_ctrl_c_at_any_moment_of_a_cached_load_is_a_keyboard_interrupt_and_keeps_the_store_exact(fresh_sandbox,
                                                                                                  tmp_path):
    """DuckDB stops a statement on Ctrl-C and reports its own error (then an aborted transaction): the load ends
    with KeyboardInterrupt alone, whether the key press came while the store was opened, during the event log's
    change set, the read or the window written after it, and the next load is exact."""
    sb = fresh_sandbox(organizations=[{"name": "Org", "outcomes": 6, "calls": 20_000, "meetings": 0}], quirks=False,
                       rate_limit=None)
    key, cache = sb.api_keys["Org"], tmp_path / "cache"
    kwargs = dict(base_url=sb.base_url, progress=False)
    cf.load_calls(key, cache=cache, **kwargs)
    args = [key, sb.base_url, str(cache)]
    _change(sb, key, 1)
    code, out, err = ctrl_c_after(INTERRUPTED, args, None)
    assert code == 0, err[-2000:]
    duration = float(out.split()[-1])
    outcomes = []
    for step, fraction in enumerate((0.05, 0.15, 0.25, 0.35, 0.45, 0.55, 0.7, 0.85), start=2):
        _change(sb, key, step)  # each load has a change set to apply
        code, out, err = ctrl_c_after(INTERRUPTED, args, fraction * duration)
        if "finished" not in out:  # else it ended first (or Python dropped the key press in a finalizer)
            assert keyboard_interrupt_alone(code, err), (code, out, err[-3000:])
        outcomes.append(code)
    assert outcomes.count(-signal.SIGINT) + outcomes.count(1) >= 4  # most were stopped
    assert_frame_equal(cf.load_calls(key, cache=cache, **kwargs), cf.load_calls(key, **kwargs))


# Opens new stores one after another: each is created and its tables made (a migration), the moments a cached load
# spends in DuckDB before its first read. It prints each folder before opening it.
OPENING = textwrap.dedent("""
    import sys
    from pathlib import Path
    from closeframe.store.database import connect

    base = Path(sys.argv[1])
    print("start", flush=True)
    for n in range(10_000):
        folder = base / str(n)
        folder.mkdir()
        print(folder, flush=True)
        with connect(folder) as connection:
            connection.execute("SELECT count(*) FROM meta").fetchall()
""")


def test_ctrl_c_while_a_store_is_created_is_a_keyboard_interrupt_and_the_store_opens_after_it(tmp_path):
    """The CI run of the test above caught ``RuntimeError: Query interrupted`` from the store's first connection:
    a Ctrl-C during the migration that makes the tables. It is a KeyboardInterrupt too, and the half-made store is
    rolled back: it opens the next time with all its tables."""
    for number, delay in enumerate((0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)):
        base = tmp_path / str(number)
        base.mkdir()
        code, out, err = ctrl_c_after(OPENING, [str(base)], delay)
        assert keyboard_interrupt_alone(code, err), (code, err[-3000:])
        last = Path(out.split()[-1])
        with connect(last) as connection:
            tables = {row[0] for row in connection.execute("SELECT table_name FROM information_schema.tables")
                      .fetchall()}
        assert {"meta", "scopes", "ranges", "sync"} <= tables


def _cached_load(key, cache, kwargs, log):
    if log:
        return cf.load_calls(key, cache=cache, **kwargs)
    with pytest.warns(cf.EventRefreshWarning):
        return cf.load_calls(key, cache=cache, **kwargs)


WORKER = textwrap.dedent("""
    import sys
    import closeframe as cf
    key, base_url, cache, out, since = sys.argv[1:6]
    for round_number in range(2):
        for kind, load in (("call", cf.load_calls), ("meeting", cf.load_meetings)):
            options = dict(refresh=round_number == 1) if since == "-" else dict(since=since)
            load(key, base_url=base_url, cache=cache, progress=False, **options).to_pickle(
                f"{out}-{round_number}-{kind}.pkl")
""")


@pytest.mark.parametrize("workers", [2, 4])
def test_processes_sharing_one_store_each_get_a_fresh_load(fresh_sandbox, tmp_path, workers):
    sb = fresh_sandbox(organizations=[{"name": "Org", "outcomes": 6, "calls": 400, "meetings": 60}], quirks=False)
    key = sb.api_keys["Org"]
    cache = tmp_path / "cache"
    cf.load_calls(key, base_url=sb.base_url, progress=False, cache=cache)
    _change(sb, key, 1)
    since = pd.Timestamp(sb.store.calls("Org")[150]["date_created"]).isoformat()
    sinces = ["-", since] * (workers // 2)
    prefixes = [tmp_path / f"worker{n}" for n in range(workers)]
    # -W error: a lock that times out, or any warning, fails the worker.
    running = [subprocess.Popen([sys.executable, "-W", "error", "-c", WORKER, key, sb.base_url, str(cache),
                                 str(prefix), option], env=script_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True) for prefix, option in zip(prefixes, sinces)]
    for worker in running:
        _, err = worker.communicate(timeout=240)
        assert worker.returncode == 0, err[-2000:]
    for prefix, option in zip(prefixes, sinces):
        for kind, load in (("call", cf.load_calls), ("meeting", cf.load_meetings)):
            fresh = load(key, base_url=sb.base_url, progress=False, **({} if option == "-" else {"since": option}))
            for round_number in range(2):
                assert_frame_equal(pd.read_pickle(f"{prefix}-{round_number}-{kind}.pkl"), fresh)
