"""load_calls / load_meetings against the sandbox over HTTP: windows, bounds, accounts, fields, and the cache."""

from __future__ import annotations

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

import closeframe as cf
from closeframe.errors import AuthenticationError, ConfigurationError
from closeframe.store.database import connect, store_path


def _ranges(folder) -> set:
    """The trusted stored ranges of a cache folder's store, with when each was fetched (empty before the store
    exists); the untrusted part dated after a fetch began (fetched again by every load) is left out."""
    if not store_path(folder).is_file():
        return set()
    with connect(folder) as connection:
        return set(connection.execute('SELECT scope, "start", "end", as_of FROM ranges WHERE trusted').fetchall())


def ids_of(records) -> list[str]:
    return [r["id"] for r in records]


@pytest.fixture(scope="module")
def small_cap():
    """Two organizations with a _skip cap far below their call counts, which offset paging could not pass."""
    from closeframe.sandbox import serve

    with serve(seed=3, organizations=2, calls=1500, meetings=300, rate_limit=None, max_skip=200) as sb:
        yield sb


def test_every_call_loaded_exactly_once_with_window_splits(small_cap):
    sb = small_cap
    sb.stats.reset()
    calls = cf.load_calls(sb.api_keys, base_url=sb.base_url, progress=False)
    expected = [i for name in sb.api_keys for i in ids_of(sb.store.calls(name))]
    assert calls["id"].is_unique
    assert sorted(calls["id"]) == sorted(expected)
    # Each later page asks for records older than the last one read, with _skip=0: the cap is never reached.
    assert sb.stats.by_status.get(400, 0) == 0
    # Per account, Close's listing order: newest first.
    for _, part in calls.groupby("organization_id", observed=True):
        assert part["date_created"].is_monotonic_decreasing


def test_meetings_loaded_with_typed_columns(small_cap):
    sb = small_cap
    meetings = cf.load_meetings(sb.api_keys, base_url=sb.base_url, progress=False)
    expected = {r["id"]: r for name in sb.api_keys for r in sb.store.meetings(name)}
    assert sorted(meetings["id"]) == sorted(expected)
    assert str(meetings["date_created"].dtype) == "datetime64[us, UTC]"
    assert str(meetings["duration"].dtype) == "Int64" and meetings["status"].dtype == "category"
    got = dict(zip(meetings["id"], meetings["outcome_id"]))
    assert all((None if pd.isna(got[i]) else got[i]) == r.get("outcome_id") for i, r in expected.items())


def test_since_until_bounds_until_exclusive(small_cap):
    sb = small_cap
    name = next(iter(sb.api_keys))
    records = sb.store.calls(name)
    stamps = sorted(pd.Timestamp(r["date_created"]) for r in records)
    since, until = stamps[100], stamps[700]
    calls = cf.load_calls(sb.api_keys[name], base_url=sb.base_url, since=since, until=until, progress=False)
    expected = [r["id"] for r in records if since <= pd.Timestamp(r["date_created"]) < until]
    assert sorted(calls["id"]) == sorted(expected)
    assert until not in set(calls["date_created"])
    as_text = cf.load_calls(sb.api_keys[name], base_url=sb.base_url, since=since.isoformat(),
                            until=until.isoformat(), progress=False)
    assert_frame_equal(as_text, calls)


def test_since_after_until_is_an_error(small_cap):
    with pytest.raises(ConfigurationError, match="until is exclusive"):
        cf.load_calls("api_x", base_url=small_cap.base_url, since="2025-02-01", until="2025-01-01")
    with pytest.raises(ConfigurationError, match="not a date"):
        cf.load_meetings("api_x", base_url=small_cap.base_url, since=3.5)


def test_fields_are_sent(small_cap):
    sb = small_cap
    name = next(iter(sb.api_keys))
    calls = cf.load_calls(sb.api_keys[name], base_url=sb.base_url, fields=["outcome_id", "date_created"],
                          progress=False)
    assert len(calls) == len(sb.store.calls(name))
    assert calls["user_id"].isna().all() and calls["id"].notna().all()


def test_labelled_accounts_add_names(small_cap):
    sb = small_cap
    calls = cf.load_calls(sb.api_keys, base_url=sb.base_url, progress=False)
    assert set(calls["organization_name"].astype(str)) == set(sb.api_keys)
    assert (calls["account"].astype(str) == calls["organization_name"].astype(str)).all()


# ----------------------------------------------------------------------------------------------------------------
# The cache
# ----------------------------------------------------------------------------------------------------------------


def test_cache_equals_no_cache_and_second_run_is_cheap(small_cap, tmp_path):
    sb = small_cap
    kwargs = dict(base_url=sb.base_url, progress=False)
    sb.stats.reset()
    plain = cf.load_calls(sb.api_keys, **kwargs)
    uncached_requests = sb.stats.requests
    first = cf.load_calls(sb.api_keys, cache=tmp_path, **kwargs)
    sb.stats.reset()
    second = cf.load_calls(sb.api_keys, cache=tmp_path, **kwargs)
    assert_frame_equal(first, plain)
    assert_frame_equal(second, plain)
    # Reading the event log costs a fixed 6 requests per organization: the newest event that dates the sync, and
    # one per call action (created, updated, deleted, answered, completed).
    assert sb.stats.requests < uncached_requests / 4 + 6 * len(sb.api_keys)
    # The cache is named by organization id; no key is ever written.
    written = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    names = "".join(str(p) for p in tmp_path.rglob("*"))
    for key in sb.api_keys.values():
        assert key.encode() not in written and key not in names
    with connect(tmp_path) as connection:
        scoped = {row[0] for row in connection.execute("SELECT organization_id FROM scopes").fetchall()}
    assert {sb.store.org_id(n) for n in sb.api_keys} == scoped


def test_refresh_reloads_everything(small_cap, tmp_path):
    sb = small_cap
    name = next(iter(sb.api_keys))
    kwargs = dict(base_url=sb.base_url, progress=False, cache=tmp_path)
    sb.stats.reset()
    cf.load_meetings(sb.api_keys[name], **kwargs)
    full = sb.stats.requests
    sb.stats.reset()
    again = cf.load_meetings(sb.api_keys[name], refresh=True, **kwargs)
    assert sb.stats.requests >= full - 1  # every window again (the cache's own /me/ aside)
    assert sorted(again["id"]) == sorted(ids_of(sb.store.meetings(name)))


def test_outcome_changed_inside_lookback_is_picked_up(fresh_sandbox, tmp_path):
    sb = fresh_sandbox(seed=5, organizations=1, calls=400, meetings=0)
    name = next(iter(sb.api_keys))
    kwargs = dict(base_url=sb.base_url, progress=False, cache=tmp_path)
    cf.load_calls(sb.api_keys[name], **kwargs)
    records = sb.store.calls(name)  # newest first
    newest = pd.Timestamp(records[0]["date_created"])
    recent = next(r for r in records if pd.Timestamp(r["date_created"]) < newest - pd.Timedelta(days=2))
    old = next(r for r in reversed(records) if pd.Timestamp(r["date_created"]) < newest - pd.Timedelta(days=90))
    target = sb.store.outcomes(name)[0]["id"]
    sb.store.set_call_outcome(name, recent["id"], target)
    sb.store.set_call_outcome(name, old["id"], target)
    added = sb.store.add_call(name)
    calls = cf.load_calls(sb.api_keys[name], **kwargs).set_index("id")
    assert calls.loc[recent["id"], "outcome_id"] == target           # within the 30-day lookback: fresh
    assert calls.loc[old["id"], "outcome_id"] == target              # older: the event log names it
    assert added["id"] in calls.index                                 # new activities always come
    refreshed = cf.load_calls(sb.api_keys[name], refresh=True, **kwargs).set_index("id")
    assert refreshed.loc[old["id"], "outcome_id"] == target
    # After the refresh, the cache holds the server's state: a cached run equals a plain one.
    assert_frame_equal(cf.load_calls(sb.api_keys[name], **kwargs),
                       cf.load_calls(sb.api_keys[name], base_url=sb.base_url, progress=False))


def test_interrupted_load_resumes_without_refetching_finished_windows(fresh_sandbox, tmp_path, monkeypatch):
    # Checkpoints every 500 records instead of 5,000, so a small load already has finished parts to keep.
    monkeypatch.setattr("closeframe.load.activities.CHECKPOINT_RECORDS", 500)
    sb = fresh_sandbox(seed=4, organizations=1, calls=3000, meetings=0, max_skip=300)
    name, key = next(iter(sb.api_keys.items()))
    kwargs = dict(base_url=sb.base_url, progress=False, cache=tmp_path, lookback=None)
    plain = cf.load_calls(key, base_url=sb.base_url, progress=False)
    sb.stats.reset()
    sb.faults.revoke_after(key, 25)
    with pytest.raises(AuthenticationError):
        cf.load_calls(key, **kwargs)
    finished = _ranges(tmp_path)
    assert finished  # some windows, or parts of them, completed before the key was revoked
    sb.faults.clear()
    sb.stats.reset()
    resumed = cf.load_calls(key, **kwargs)
    resumed_requests = sb.stats.requests
    assert_frame_equal(resumed, plain)
    # Finished windows were neither refetched nor rewritten; the resume cost less than a full load.
    assert finished <= _ranges(tmp_path)  # each kept range is still there, with the time it was fetched
    sb.stats.reset()
    cf.load_calls(key, base_url=sb.base_url, progress=False)
    assert resumed_requests < sb.stats.requests


def test_bad_cache_arguments(small_cap):
    with pytest.raises(ConfigurationError, match="cache=42"):
        cf.load_calls("api_x", base_url=small_cap.base_url, cache=42)
    with pytest.raises(ConfigurationError, match="lookback='soon'"):
        cf.load_calls("api_x", base_url=small_cap.base_url, cache=True, lookback="soon")


def test_cache_true_uses_the_environment_folder(small_cap, tmp_path, monkeypatch):
    monkeypatch.setenv("CLOSEFRAME_CACHE", str(tmp_path / "env-cache"))
    sb = small_cap
    name = next(iter(sb.api_keys))
    cf.load_meetings(sb.api_keys[name], base_url=sb.base_url, progress=False, cache=True)
    assert store_path(tmp_path / "env-cache").is_file()


_INTERRUPTED_LOAD = """
import sys
import closeframe as cf
import closeframe.load.activities

closeframe.load.activities.CHECKPOINT_RECORDS = 1000  # checkpoints early, so a short load has some to keep
key, base_url, cache = sys.argv[1:4]
cf.load_calls(key, base_url=base_url, cache=cache, lookback=None, progress=False)
print("finished without being interrupted")
"""


def test_ctrl_c_stops_a_load_promptly_and_it_resumes_from_the_cache(fresh_sandbox, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    sb = fresh_sandbox(seed=6, organizations=1, calls=12_000, meetings=0, latency=0.02)
    name, key = next(iter(sb.api_keys.items()))
    root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen([sys.executable, "-c", _INTERRUPTED_LOAD, key, sb.base_url, str(tmp_path)],
                               env={**os.environ, "PYTHONPATH": str(root)}, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not _ranges(tmp_path) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)  # Ctrl-C, once the first checkpoint is on disk
    interrupted_at = time.monotonic()
    out, err = process.communicate(timeout=30)
    stopped_after = time.monotonic() - interrupted_at
    assert process.returncode != 0 and "KeyboardInterrupt" in err and "finished" not in out
    assert stopped_after < 5  # it stopped at the next page, not at the end of a 120-page load
    kept = _ranges(tmp_path)
    assert kept
    sb.stats.reset()
    resumed = cf.load_calls(key, base_url=sb.base_url, cache=tmp_path, lookback=None, progress=False)
    resumed_requests = sb.stats.requests
    assert kept <= _ranges(tmp_path)  # what was kept was not fetched again
    sb.stats.reset()
    plain = cf.load_calls(key, base_url=sb.base_url, progress=False)
    assert_frame_equal(resumed, plain)
    assert resumed_requests < sb.stats.requests


@pytest.mark.parametrize("fields", [None, ["id", "outcome_id"]])
def test_calls_past_the_skip_cap_load_once_each(fresh_sandbox, fields):
    # Without date_created in the fields the listing's order cannot be checked: the window is split instead.
    sb = fresh_sandbox(organizations=[{"name": "Org", "calls": 1234, "meetings": 0}], max_skip=300,
                       rate_limit=None)
    df = cf.load_calls(sb.api_keys["Org"], base_url=sb.base_url, fields=fields, progress=False)
    expected = [r["id"] for r in sb.store.activity_page("Org", "call", 0, 10**9)[0]]
    assert sorted(df["id"]) == sorted(expected) and df["id"].is_unique
