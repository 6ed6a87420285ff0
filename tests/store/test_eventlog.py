"""Cached loads refreshed from the event log stay exact against servers that differ from the happy path: other
actions, any refusal, an ``id__in`` that pages or reads one id, no ``Date`` header or one apart from Close's stamps,
naive event dates; and a lone surrogate in an answer loads."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest
import requests
from pandas.testing import assert_frame_equal

import closeframe as cf
from closeframe.store.eventlog import event_time, log_refused, read_changes
from tests.store.test_refresh import _change_everything, _expected_from_store

ClockSkewWarning, EventRefreshWarning = cf.ClockSkewWarning, cf.EventRefreshWarning


def _first(sb):
    name = next(iter(sb.api_keys))
    return name, sb.api_keys[name]


def _outcomes_by_id(frame):
    return dict(zip(frame["id"], frame["outcome_id"].astype(object).where(frame["outcome_id"].notna(), None)))


def test_event_dates_without_an_offset_are_utc():
    assert event_time("2019-01-15T12:48:23.395000") == pd.Timestamp("2019-01-15T12:48:23.395000Z")
    assert event_time("2019-01-15T13:48:23.395000+01:00") == pd.Timestamp("2019-01-15T12:48:23.395000Z")
    assert event_time("not a date") is None and event_time(None) is None


def test_a_call_completed_after_it_was_cached_is_refetched(fresh_sandbox, tmp_path):
    sb = fresh_sandbox(seed=31, organizations=1, calls=1500, meetings=0)
    name, key = _first(sb)
    older = sb.store.calls(name)[40]["date_created"]
    call = sb.store.add_call(name, status="in-progress", date_created=older[:19] + ".25+00:00")
    sb.store.advance_clock(3600)  # its "created" event is older than what the next load reads
    kwargs = dict(base_url=sb.base_url, progress=False)
    cf.load_calls(key, cache=tmp_path, **kwargs)
    sb.store.advance_clock(3600)
    sb.store.update_activity(name, "call", call["id"], status="completed")  # logged as "completed" only
    actions = {e["action"] for e in sb.store.events.events(sb.store.org_id(name)) if e["object_id"] == call["id"]}
    assert "completed" in actions and "updated" not in actions
    cached = cf.load_calls(key, cache=tmp_path, **kwargs)
    assert cached.set_index("id").loc[call["id"], "status"] == "completed"
    assert_frame_equal(cached, cf.load_calls(key, **kwargs))


@pytest.mark.parametrize("status", [400, 402, 403, 404, 405])
def test_any_refusal_of_the_log_falls_back_to_the_rescan(fresh_sandbox, tmp_path, status):
    sb = fresh_sandbox(seed=32, organizations=1, calls=1500, meetings=0)
    name, key = _first(sb)
    sb.store.events.access, sb.store.events.refusal_status = "none", status
    kwargs = dict(base_url=sb.base_url, progress=False, cache=tmp_path)
    first = cf.load_calls(key, **kwargs)  # nothing cached yet: nothing to warn about
    recent = sb.store.calls(name)[2]
    outcome = next(o["id"] for o in sb.store.outcomes(name) if o["id"] != recent["outcome_id"])
    sb.store.set_call_outcome(name, recent["id"], outcome)
    with pytest.warns(EventRefreshWarning, match=f"could not be read.*{status}"):
        second = cf.load_calls(key, **kwargs).set_index("id")
    assert second.loc[recent["id"], "outcome_id"] == outcome and len(second) == len(first)


def test_only_refusals_of_the_log_fall_back():
    refusals = [cf.errors.error_for_status(s, path="/event/") for s in (400, 402, 403, 404, 405, 409, 422)]
    failures = [cf.errors.error_for_status(s, path="/event/") for s in (401, 429, 500, 503)]
    assert all(map(log_refused, refusals)) and not any(map(log_refused, failures))
    assert not log_refused(cf.TransportError("cut"))


@pytest.mark.parametrize("knob, value", [("page_cap", 50), ("id_in", "first")])
def test_refetch_by_id_against_a_server_that_pages_or_reads_one_id(fresh_sandbox, tmp_path, knob, value):
    sb = fresh_sandbox(seed=33, organizations=1, calls=3000, meetings=0)
    name, key = _first(sb)
    kwargs = dict(base_url=sb.base_url, progress=False)
    cf.load_calls(key, cache=tmp_path, **kwargs)
    outcomes = [o["id"] for o in sb.store.outcomes(name)]
    old = sb.store.calls(name)[500:740]
    for i, call in enumerate(old):  # 240 changed ids: more than two id__in batches, each more than a page of 50
        sb.store.set_call_outcome(name, call["id"], outcomes[i % len(outcomes)])
    for call in old[200:205]:
        sb.store.delete_activity(name, "call", call["id"])
    setattr(sb, knob, value)
    cached = cf.load_calls(key, cache=tmp_path, **kwargs)
    setattr(sb, knob, None if knob == "page_cap" else "all")
    assert _outcomes_by_id(cached) == _expected_from_store(sb, name, "call")
    assert_frame_equal(cached, cf.load_calls(key, **kwargs))


def test_an_id_the_refetch_misses_is_deleted_only_if_close_says_so(fresh_sandbox, tmp_path):
    sb = fresh_sandbox(seed=34, organizations=1, calls=1500, meetings=0)
    name, key = _first(sb)
    user = sb.store.users(name)[0]["id"]
    kwargs = dict(base_url=sb.base_url, progress=False, filters={"user_id": user})
    cf.load_calls(key, cache=tmp_path, **kwargs)
    calls = sb.store.calls(name)
    mine = [c for c in calls[300:] if c["user_id"] == user][:3]
    other = [c for c in calls[300:] if c["user_id"] not in (user, None)][:3]
    for call in mine + other:
        sb.store.set_call_outcome(name, call["id"], None)
    sb.store.delete_activity(name, "call", mine[0]["id"])
    sb.id_in = "first"
    sb.stats.reset()
    cached = cf.load_calls(key, cache=tmp_path, **kwargs)
    sb.id_in = "all"
    expected = {c["id"]: c["outcome_id"] for c in sb.store.calls(name) if c["user_id"] == user}
    assert _outcomes_by_id(cached) == expected
    assert_frame_equal(cached, cf.load_calls(key, **kwargs))


@pytest.mark.parametrize("date_format", ["naive", "offset"])
def test_without_a_date_header_the_time_comes_from_closes_stamps(fresh_sandbox, tmp_path, date_format):
    # The sandbox's clock stands a month or more behind this computer's: a sync timed by our clock misses it all.
    sb = fresh_sandbox(seed=35, organizations=1, calls=2000, meetings=100)
    sb.date_header = False
    sb.store.events.date_format = date_format
    name, key = _first(sb)
    kwargs = dict(base_url=sb.base_url, progress=False)
    cf.load_calls(key, cache=tmp_path, **kwargs)
    cf.load_meetings(key, cache=tmp_path, **kwargs)
    _change_everything(sb, name, key)
    sb.store.advance_clock(600)
    for load, kind in ((cf.load_calls, "call"), (cf.load_meetings, "meeting")):
        cached = load(key, cache=tmp_path, **kwargs)
        assert _outcomes_by_id(cached) == _expected_from_store(sb, name, kind)
        assert_frame_equal(cached, load(key, **kwargs))


@pytest.mark.parametrize("offset", [600, -600])
def test_a_date_header_apart_from_closes_stamps_loses_nothing(fresh_sandbox, tmp_path, offset):
    sb = fresh_sandbox(seed=36, organizations=1, calls=2000, meetings=50)
    sb.clock_offset = offset
    name, key = _first(sb)
    kwargs = dict(base_url=sb.base_url, progress=False, cache=tmp_path)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        cf.load_calls(key, **kwargs)
        _change_everything(sb, name, key)
        cached = cf.load_calls(key, **kwargs)
    skews = [w for w in seen if issubclass(w.category, ClockSkewWarning)]
    assert [str(w.message) for w in seen if w not in skews] == []
    # A Date behind the stamps is seen and said; one ahead of them cannot be seen, but the stamps bound the sync.
    assert bool(skews) == (offset < 0)
    assert _outcomes_by_id(cached) == _expected_from_store(sb, name, "call")


@pytest.mark.parametrize("path, load", [("/activity/call/", "load_calls"), ("/activity/meeting/", "load_meetings"),
                                        ("/outcome/", "load_outcomes")])
def test_a_lone_surrogate_in_an_answer_loads(fresh_sandbox, tmp_path, path, load):
    sb = fresh_sandbox(seed=37, organizations=1, calls=120, meetings=40)
    _, key = _first(sb)
    kwargs = dict(base_url=sb.base_url, progress=False, **({} if load == "load_outcomes" else {"cache": tmp_path}))
    column = "name" if load == "load_outcomes" else ("user_name" if load == "load_calls" else "title")
    sb.faults.script({"kind": "lone-surrogate", "field": column}, path=path)
    frame = getattr(cf, load)(key, **kwargs)
    mended = [v for v in frame[column].dropna() if "half an emoji" in v]
    assert len(mended) == 1 and mended[0].endswith("half an emoji \ufffd")
    if load != "load_outcomes":  # the cache kept it too
        assert_frame_equal(getattr(cf, load)(key, **kwargs), frame)


@pytest.mark.parametrize("id_in", ["all", "first"])
def test_the_change_set_tells_deleted_from_out_of_scope(fresh_sandbox, id_in):
    sb = fresh_sandbox(seed=38, organizations=1, calls=1500, meetings=0)
    name, key = _first(sb)
    user = sb.store.users(name)[0]["id"]
    calls = sb.store.calls(name)[300:]
    mine = [c for c in calls if c["user_id"] == user][:4]
    other = [c for c in calls if c["user_id"] not in (user, None)][:3]
    sb.store.advance_clock(3600)
    since = pd.Timestamp(sb.store.clock_us(), unit="us", tz="UTC")  # after every seeded event
    for call in mine + other:
        sb.store.set_call_outcome(name, call["id"], None)
    sb.store.delete_activity(name, "call", mine[0]["id"])  # logged
    with sb.store.lock:  # gone without an event: only a direct GET's 404 can say so
        table = sb.store.table(name, "call")
        table.delete(table.find(mine[1]["id"]))
    sb.id_in = id_in
    client = cf.CloseClient(key, base_url=sb.base_url)
    changes = read_changes(client, "call", "activity/call/", {"user_id": user}, None, since)
    assert changes.complete and set(changes.fresh) == {c["id"] for c in mine[2:]}
    assert changes.deleted == {mine[0]["id"], mine[1]["id"]}
    assert changes.left == {c["id"] for c in other} and changes.gone == changes.deleted | changes.left
