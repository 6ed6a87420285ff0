"""Issue 17, the transactional store: cached loads equal fresh ones (unknown fields and nested lists included), the
silent-stale cases 1, 2, 6 and 7, the pinned storage version and the migration of the old cache format.
Expectations come from fresh loads and the sandbox's store.
"""

from __future__ import annotations

import copy
import json
import threading
import time
import warnings

import pandas as pd
import pytest
import requests
from pandas.testing import assert_frame_equal

import closeframe as cf
from closeframe.shape.frames import calls_frame, meetings_frame
from closeframe.store.activities import MIN_TIME, OVERLAP, ActivityStore
from closeframe.store.cache import CacheWarning
from closeframe.store.database import STORAGE_VERSION, connect
from closeframe.store.refresh import EventRefreshWarning

LOADERS = {"call": cf.load_calls, "meeting": cf.load_meetings}


def _sandbox(fresh_sandbox, **sizes):
    orgs = [{"name": "Org", "outcomes": 8, "calls": sizes.get("calls", 600), "meetings": sizes.get("meetings", 300)}]
    return fresh_sandbox(organizations=orgs, quirks=False)


@pytest.mark.parametrize("kind", LOADERS)
def test_a_cached_load_equals_a_fresh_one_with_unknown_fields_and_nested_lists(fresh_sandbox, tmp_path, kind):
    sb = _sandbox(fresh_sandbox)
    records = (sb.store.calls if kind == "call" else sb.store.meetings)("Org")
    # Fields the schema does not know (a nested one, mixed types) and a lone surrogate in a nested value.
    for number, record in enumerate(records[:40]):
        sb.store.update_activity("Org", kind, record["id"], **{
            "x_custom": {"tags": [number, "a"], "deep": [{"k": None}]} if number % 3 else None,
            "x_score": number if number % 2 else number + 0.5})
    load, key = LOADERS[kind], sb.api_keys["Org"]
    kwargs = dict(base_url=sb.base_url, progress=False)
    fresh = load(key, **kwargs)
    assert {"x_custom", "x_score"} <= set(fresh.columns)
    first = load(key, cache=tmp_path, **kwargs)
    second = load(key, cache=tmp_path, **kwargs)
    assert_frame_equal(first, fresh)
    assert_frame_equal(second, fresh)
    nested = "attendees" if kind == "meeting" else "users"
    assert second[nested].map(repr).tolist() == fresh[nested].map(repr).tolist()


def test_refresh_with_a_narrower_since_vouches_only_for_what_it_reread(fresh_sandbox, tmp_path):
    """Case 1: an outcome set on an old call before a narrow refresh is still seen afterwards."""
    sb = _sandbox(fresh_sandbox)
    key, kwargs = sb.api_keys["Org"], dict(base_url=sb.base_url, progress=False, cache=tmp_path)
    cf.load_calls(key, **kwargs)
    records = sb.store.calls("Org")
    old = records[-5]
    target = sb.store.outcomes("Org")[0]["id"]
    requests.put(f"{sb.base_url}activity/call/{old['id']}/", json={"outcome_id": target}, auth=(key, ""), timeout=10)
    sb.store.advance_clock(600)  # past the overlap: only a sync that vouches for too much misses the change
    since = pd.Timestamp(records[50]["date_created"])
    cf.load_calls(key, refresh=True, since=since, **kwargs)
    again = cf.load_calls(key, **kwargs)
    assert again.set_index("id").loc[old["id"], "outcome_id"] == target
    assert_frame_equal(again, cf.load_calls(key, base_url=sb.base_url, progress=False))


def test_duckdb_usage_over_the_store_counts_each_row_once(fresh_sandbox, tmp_path):
    """Case 2: upcoming meetings stored by several loads are counted once."""
    sb = _sandbox(fresh_sandbox, calls=300, meetings=400)
    source = dict(api_key=sb.api_keys["Org"], base_url=sb.base_url, progress=False)
    for _ in range(3):
        calls = cf.load_calls(**source, cache=tmp_path)
        meetings = cf.load_meetings(**source, cache=tmp_path)
        sb.store.advance_clock(3600)
    upcoming = meetings["date_created"] > pd.Timestamp(sb.store.now_us(), unit="us", tz="UTC")
    assert upcoming.any()  # the case: meetings dated after every load
    outcomes = cf.load_outcomes(**source)
    expected = cf.outcome_usage(outcomes, calls, meetings)
    got = cf.outcome_usage(outcomes, dataset={"cache": tmp_path})
    assert int(got["meetings"].sum()) == int(expected["meetings"].sum()) == len(meetings)
    assert_frame_equal(got, expected)


def _store(sb, tmp_path, kind="call"):
    build = calls_frame if kind == "call" else meetings_frame
    return ActivityStore(tmp_path, sb.base_url, sb.store.org_id("Org"), kind, build,
                         variant={"fields": None, "filters": {}})


def test_an_older_fetch_never_overwrites_a_newer_one_nor_is_vouched_for(fresh_sandbox, tmp_path):
    """Case 6 at the store: two loads write one window; the one fetched earlier loses, whenever it writes."""
    sb = _sandbox(fresh_sandbox)
    store = _store(sb, tmp_path)
    records = sb.store.calls("Org")
    start, end = pd.Timestamp("1900-01-01", tz="UTC"), pd.Timestamp(records[0]["date_created"]) + pd.Timedelta(1, "s")
    newer_at = pd.Timestamp("2026-11-01 12:00", tz="UTC")
    older = [dict(r, outcome_id=None) for r in records]
    newer = [dict(r, outcome_id="outcome_newer") for r in records]
    assert store.write(start, end, newer, calls_frame(newer), newer_at)
    assert not store.write(start, end, older, calls_frame(older), newer_at - pd.Timedelta(minutes=1))
    [(_, frame)] = store.read([(start, end)])
    assert (frame["outcome_id"] == "outcome_newer").all() and len(frame) == len(records)
    # A fetch that began before the last sync (minus the overlap) is not stored at all: the sync cannot vouch.
    store.start_sync(newer_at + pd.Timedelta(hours=1), newer_at, "events")
    later = newer_at + pd.Timedelta(hours=1) - OVERLAP - pd.Timedelta(seconds=1)
    assert not store.write(end, end + pd.Timedelta(days=1), [], calls_frame([]), later)
    assert [(r.start, r.end) for r in store.coverage().ranges] == [(start, end)]


def test_a_read_of_some_spans_has_only_their_rows_labels_and_fields(fresh_sandbox, tmp_path):
    """Columns are scanned whole for the scope: what only rows outside the spans read have (a label, a field the
    schema does not know) is not in the frame, which is the one shaped from the rows read."""
    sb = _sandbox(fresh_sandbox, calls=200)
    store = _store(sb, tmp_path)
    records = copy.deepcopy(sb.store.calls("Org"))  # newest first, as the store reads them
    cut = pd.Timestamp(records[100]["date_created"])
    newer = [r for r in records if pd.Timestamp(r["date_created"]) >= cut]
    older = [dict(r, status="only-in-older", x_older={"tags": [1]}) for r in records
             if pd.Timestamp(r["date_created"]) < cut]
    at = pd.Timestamp(sb.store.now_us(), unit="us", tz="UTC")
    start, end = MIN_TIME, pd.Timestamp(records[0]["date_created"]) + pd.Timedelta(seconds=1)
    assert store.write(start, cut, older, calls_frame(copy.deepcopy(older)), at)
    assert store.write(cut, end, newer, calls_frame(copy.deepcopy(newer)), at)
    [(_, frame)] = store.read([(cut, end)])
    assert "x_older" not in frame.columns and "only-in-older" not in frame["status"].cat.categories
    assert_frame_equal(frame, calls_frame(copy.deepcopy(newer)))
    [(_, everything)] = store.read([(start, end)])
    assert_frame_equal(everything, calls_frame(copy.deepcopy(newer + older)))


def test_staleness_is_a_state_every_load_warns_and_says_since_when(fresh_sandbox, tmp_path):
    """Case 7: once the log's retention has passed, every later load warns, until refresh=True."""
    sb = _sandbox(fresh_sandbox)
    key, kwargs = sb.api_keys["Org"], dict(base_url=sb.base_url, progress=False, cache=tmp_path)
    cf.load_calls(key, **kwargs)
    synced = pd.Timestamp(sb.store.now_us(), unit="us", tz="UTC")
    sb.store.advance_clock(31 * 86400)
    for _ in range(3):
        with pytest.warns(EventRefreshWarning, match="refresh=True"):
            frame = cf.load_calls(key, **kwargs)
        [since] = frame.attrs["stale_since"].values()
        assert abs(since - synced) < pd.Timedelta(minutes=10)
    cf.load_calls(key, refresh=True, **kwargs)
    assert "stale_since" not in cf.load_calls(key, **kwargs).attrs


def test_the_store_is_written_in_the_pinned_storage_version(fresh_sandbox, tmp_path):
    sb = _sandbox(fresh_sandbox, calls=50, meetings=5)
    cf.load_calls(sb.api_keys["Org"], base_url=sb.base_url, progress=False, cache=tmp_path)
    with connect(tmp_path) as connection:
        tags = connection.execute("SELECT tags FROM duckdb_databases() WHERE path IS NOT NULL").fetchall()
    assert tags and tags[0][0]["storage_version"].startswith(STORAGE_VERSION)


def _old_cache_folder(root, sb) -> None:
    """A cache folder in the format closeframe wrote before the store: JSON records in Parquet, JSON history."""
    org = root / sb.base_url.split("//")[1].strip("/").split("/")[0].replace(":", "_") / sb.store.org_id("Org")
    calls = org / "calls"
    calls.mkdir(parents=True)
    records = sb.store.calls("Org")[:5]
    pd.DataFrame({"id": [r["id"] for r in records],
                  "date_created": pd.to_datetime([r["date_created"] for r in records], utc=True),
                  "record": [json.dumps(r) for r in records]}).to_parquet(
        calls / "open__20261101T000000.000000000Z.parquet")
    (calls / "sync.json").write_text(json.dumps({"version": 1, "exact": False}))
    (org / "outcomes" / "snapshots").mkdir(parents=True)
    gone = {"id": "outcome_goneBefore", "name": "Only in the old history", "type": "custom",
            "organization_id": sb.store.org_id("Org"), "applies_to": ["calls"]}
    snapshot = {"taken_at": "2026-01-01T00:00:00+00:00", "outcomes": sb.store.outcomes("Org") + [gone]}
    (org / "outcomes" / "snapshots" / "20260101T000000.000000Z-abc.json").write_text(json.dumps(snapshot))
    (org / "outcomes" / "events.json").write_text("{}")


def test_an_old_cache_folder_is_migrated_once_never_silently_ignored(fresh_sandbox, tmp_path):
    sb = _sandbox(fresh_sandbox, calls=100, meetings=5)
    _old_cache_folder(tmp_path, sb)
    key, kwargs = sb.api_keys["Org"], dict(base_url=sb.base_url, progress=False, cache=tmp_path)
    with pytest.warns(CacheWarning, match="old cache format.*history was imported.*1 files"):
        calls = cf.load_calls(key, **kwargs)
    assert_frame_equal(calls, cf.load_calls(key, base_url=sb.base_url, progress=False))
    assert not [p for p in tmp_path.rglob("*.parquet")]
    catalogue = cf.outcome_catalogue(key, **kwargs)  # no warning: the migration happened once
    assert "Only in the old history" in set(catalogue["name"])


def test_store_damaged_error_is_in_the_error_tree_and_still_importable_from_the_store():
    from closeframe import errors
    from closeframe.store import database

    assert database.StoreDamagedError is errors.StoreDamagedError
    assert issubclass(errors.StoreDamagedError, errors.CloseError)
    assert "StoreDamagedError" in errors.__all__ and "StoreDamagedError" in database.__all__
    assert "StoreDamagedError" in errors.__doc__  # the tree drawn at the top of the module names it


def test_a_slow_load_never_writes_its_older_copy_over_a_newer_loads_rows(fresh_sandbox, tmp_path):
    """Case 6 through the loaders: two keys load one organization into one folder. The slow one (a member, who may
    not read the event log: it re-scans its lookback) read its first page before outcomes changed and writes it
    after the admin's load stored the change and its sync; the admin's next load is exact."""
    sb = fresh_sandbox(organizations=[{"name": "Org", "outcomes": 8, "calls": 600, "meetings": 0}], quirks=False,
                       keys_per_org=2)
    admin_key, member_key = sb.keys_for("Org")
    sb.store.events.access = "admins"
    kwargs = dict(base_url=sb.base_url, progress=False, cache=tmp_path)
    cf.load_calls(admin_key, **kwargs)
    # The slow load's first page of calls comes at once, every later one after a wait.
    sb.faults.script("pass", *[{"kind": "stall", "seconds": 1}] * 6, path="/activity/call/", key=member_key)
    errors = []
    # Its lookback spans every call: pages enough to still be running when the admin's load is done.
    slow = threading.Thread(target=_quietly, args=(errors, cf.load_calls, member_key),
                            kwargs=dict(kwargs, lookback="3000D"))
    slow.start()
    deadline = time.monotonic() + 30
    while sb.faults.describe()["scripted"] == 7 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)  # its first page is read
    outcome = sb.store.outcomes("Org")[0]["id"]
    for call in sb.store.calls("Org"):  # every call, so whichever page came first is stale now
        sb.store.set_call_outcome("Org", call["id"], outcome)
    sb.store.advance_clock(600)  # past the overlap
    cf.load_calls(admin_key, **kwargs)  # stores the change and its sync (from the event log)
    assert slow.is_alive()  # the case: the slow load writes after that
    slow.join(timeout=120)
    assert not slow.is_alive() and errors == []
    again = cf.load_calls(admin_key, **kwargs)
    assert (again["outcome_id"] == outcome).all() and len(again) == 600
    assert_frame_equal(again, cf.load_calls(admin_key, base_url=sb.base_url, progress=False))


def _quietly(errors, load, *args, **kwargs):
    """Run a load in a thread, its warnings (the member's stale-rows warning) ignored, its error kept."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            load(*args, **kwargs)
    except Exception as exc:  # reported by the test, not lost in the thread
        errors.append(exc)
