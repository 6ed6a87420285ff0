"""The sandbox's event log, and cached loads refreshed from it: exact, cheap, and honest when they cannot be."""

from __future__ import annotations

import pandas as pd
import pytest
import requests
from pandas.testing import assert_frame_equal

import closeframe as cf
from closeframe.store.database import connect
from closeframe.store.refresh import EventRefreshWarning, read_events
from closeframe.sandbox.events import EVENT_PAGE_LIMIT

DAY = 86_400


def _get(sb, key, path, **params):
    return requests.get(sb.base_url + path, auth=(key, ""), params=params, timeout=10)


def _first(sb):
    name = next(iter(sb.api_keys))
    return name, sb.api_keys[name]


# -- the sandbox's event log -----------------------------------------------------------------------------------
def test_writes_over_http_log_events_with_who_and_what(fresh_sandbox):
    sb = fresh_sandbox(seed=1, organizations=1, calls=30, meetings=5)
    sb.store.events.outcome_events = True
    name, key = _first(sb)
    call, meeting = sb.store.calls(name)[3], sb.store.meetings(name)[2]
    outcome = sb.store.outcomes(name)[0]["id"]
    assert requests.put(f"{sb.base_url}activity/call/{call['id']}/", json={"outcome_id": outcome}, auth=(key, ""),
                        timeout=10).status_code == 200
    assert requests.delete(f"{sb.base_url}activity/meeting/{meeting['id']}/", auth=(key, ""),
                           timeout=10).status_code == 200
    assert sb.store.get_meeting(name, meeting["id"]) is None
    created = requests.post(f"{sb.base_url}outcome/", json={"name": "Booked"}, auth=(key, ""), timeout=10).json()
    requests.put(f"{sb.base_url}outcome/{created['id']}/", json={"name": "Demo booked"}, auth=(key, ""), timeout=10)
    requests.delete(f"{sb.base_url}outcome/{created['id']}/", auth=(key, ""), timeout=10)
    events = sb.store.events.events(sb.store.org_id(name))
    seen = {(e["object_type"], e["object_id"], e["action"]) for e in events}
    assert ("activity.call", call["id"], "updated") in seen
    assert ("activity.meeting", meeting["id"], "deleted") in seen
    assert {("outcome", created["id"], a) for a in ("created", "deleted")} <= seen
    update = next(e for e in events if e["object_id"] == call["id"])
    user = sb.store.users(name)[0]["id"]
    assert update["user_id"] == user and update["request_id"].startswith("req_")
    assert update["api_key_id"].startswith("api_") and key not in str(events)
    assert "outcome_id" in update["changed_fields"]
    assert update["previous_data"]["outcome_id"] == call["outcome_id"] and update["data"]["outcome_id"] == outcome
    assert update["lead_id"] == call["lead_id"]
    deleted = next(e for e in events if e["object_id"] == meeting["id"])
    assert deleted["previous_data"]["id"] == meeting["id"]


def test_unsupported_filter_combinations_answer_400(fresh_sandbox):
    sb = fresh_sandbox(seed=1, organizations=1, calls=5, meetings=1)
    _, key = _first(sb)
    for params in ({"object_type": "activity.call"}, {"action": "updated"},
                   {"object_type": "activity.call", "action": "updated", "user_id": "x", "object_id": "y"}):
        answer = _get(sb, key, "event/", **params)
        assert answer.status_code == 400 and "Unsupported combination" in answer.json()["error"]
    assert _get(sb, key, "event/", object_type="activity.call", action="updated",
                date_updated__gte="2026-01-01").status_code == 200
    assert _get(sb, key, "event/", _limit=EVENT_PAGE_LIMIT + 1).status_code == 400
    assert _get(sb, key, "event/", _cursor="nonsense").status_code == 400
    with pytest.raises(cf.ValidationError, match="Unsupported combination"):
        list(read_events(cf.CloseClient(key, base_url=sb.base_url), {"object_type": "activity.call"}))


def test_cursor_paging_returns_every_event_once_newest_first(fresh_sandbox):
    sb = fresh_sandbox(seed=2, organizations=1, calls=130, meetings=0)
    name, key = _first(sb)
    sb.store.events.merge_seconds = 0
    outcome = sb.store.outcomes(name)[0]["id"]
    for call in sb.store.calls(name)[:120]:
        sb.store.set_call_outcome(name, call["id"], outcome)
    client = cf.CloseClient(key, base_url=sb.base_url)
    events = list(read_events(client, {"object_type": "activity.call", "action": "updated"}))
    expected = [e["id"] for e in sb.store.events.events(sb.store.org_id(name)) if e["action"] == "updated"]
    assert [e["id"] for e in events] == expected and len(expected) == 120
    assert client.requests_sent == 3  # 50 + 50 + 20
    stamps = [pd.Timestamp(e["date_updated"]) for e in events]
    assert stamps == sorted(stamps, reverse=True)
    page = _get(sb, key, "event/", object_type="activity.call", action="updated").json()
    back = _get(sb, key, "event/", object_type="activity.call", action="updated", _cursor=page["cursor_next"]).json()
    previous = _get(sb, key, "event/", object_type="activity.call", action="updated",
                    _cursor=back["cursor_previous"]).json()
    assert [e["id"] for e in previous["data"]] == [e["id"] for e in page["data"]]


def test_quick_changes_merge_into_one_event(fresh_sandbox):
    sb = fresh_sandbox(seed=3, organizations=1, calls=10, meetings=0)
    name, key = _first(sb)
    call = sb.store.calls(name)[0]
    first, second = (o["id"] for o in sb.store.outcomes(name)[:2])
    for outcome in (first, second):
        requests.put(f"{sb.base_url}activity/call/{call['id']}/", json={"outcome_id": outcome}, auth=(key, ""),
                     timeout=10)
    events = [e for e in sb.store.events.events(sb.store.org_id(name)) if e["object_id"] == call["id"]]
    assert len(events) == 1
    event = events[0]
    assert event["date_updated"] > event["date_created"]
    assert event["previous_data"]["outcome_id"] == call["outcome_id"] and event["data"]["outcome_id"] == second
    sb.store.advance_clock(120)  # past the merge window: a new event
    requests.put(f"{sb.base_url}activity/call/{call['id']}/", json={"outcome_id": first}, auth=(key, ""), timeout=10)
    assert len([e for e in sb.store.events.events(sb.store.org_id(name)) if e["object_id"] == call["id"]]) == 2


def test_retention_and_private_data(fresh_sandbox):
    sb = fresh_sandbox(seed=4, organizations=1, calls=10, meetings=0, keys_per_org=2)
    name = next(iter(sb.api_keys))
    admin, member = sb.keys_for(name)
    call = sb.store.calls(name)[0]
    sb.store.set_call_outcome(name, call["id"], None)
    params = dict(object_type="activity.call", action="updated")
    assert "data" in _get(sb, member, "event/", **params).json()["data"][0]  # within the hour: shown to all
    sb.store.advance_clock(2 * 3600)
    assert "data" not in _get(sb, member, "event/", **params).json()["data"][0]
    assert "previous_data" in _get(sb, admin, "event/", **params).json()["data"][0]
    event_id = _get(sb, admin, "event/", **params).json()["data"][0]["id"]
    assert _get(sb, admin, f"event/{event_id}/").json()["id"] == event_id
    sb.store.advance_clock(31 * DAY)
    assert _get(sb, admin, "event/", **params).json()["data"] == []
    assert _get(sb, admin, f"event/{event_id}/").status_code == 404


@pytest.mark.parametrize("refusal_status", [400, 403])
@pytest.mark.parametrize("access", ["admins", "none"])
def test_event_log_access_knob(fresh_sandbox, access, refusal_status):
    sb = fresh_sandbox(seed=4, organizations=1, calls=10, meetings=0, keys_per_org=2)
    admin, member = sb.keys_for(next(iter(sb.api_keys)))
    sb.store.events.access = access
    sb.store.events.refusal_status = refusal_status
    assert _get(sb, member, "event/").status_code == refusal_status
    assert _get(sb, admin, "event/").status_code == (200 if access == "admins" else refusal_status)


# -- refresh from the event log --------------------------------------------------------------------------------
def _change_everything(sb, name, key):
    """Outcome changes on calls and meetings older than 90 days, deletions, a new and a back-dated call."""
    org_calls, org_meetings = sb.store.calls(name), sb.store.meetings(name)
    newest = pd.Timestamp(org_calls[0]["date_created"])
    old_calls = [c for c in org_calls if pd.Timestamp(c["date_created"]) < newest - pd.Timedelta(days=90)]
    old_meetings = [m for m in org_meetings if pd.Timestamp(m["date_created"]) < newest - pd.Timedelta(days=90)]
    outcomes = [o["id"] for o in sb.store.outcomes(name) if "meetings" in o["applies_to"]]
    auth = (key, "")
    for i, call in enumerate(old_calls[:5]):
        requests.put(f"{sb.base_url}activity/call/{call['id']}/", json={"outcome_id": outcomes[i % len(outcomes)]},
                     auth=auth, timeout=10)
    requests.put(f"{sb.base_url}activity/call/{old_calls[6]['id']}/", json={"outcome_id": None}, auth=auth,
                 timeout=10)
    requests.put(f"{sb.base_url}activity/meeting/{old_meetings[0]['id']}/", json={"outcome_id": outcomes[0]},
                 auth=auth, timeout=10)
    requests.delete(f"{sb.base_url}activity/call/{old_calls[10]['id']}/", auth=auth, timeout=10)
    requests.delete(f"{sb.base_url}activity/call/{org_calls[1]['id']}/", auth=auth, timeout=10)
    requests.delete(f"{sb.base_url}activity/meeting/{old_meetings[3]['id']}/", auth=auth, timeout=10)
    sb.store.add_call(name)                                                    # new
    sb.store.add_call(name, date_created=old_calls[20]["date_created"][:19] + ".5+00:00")  # back-dated import
    return [c["id"] for c in old_calls[:5]]


def _expected_from_store(sb, name, kind):
    """The sandbox's own records: id -> outcome_id."""
    records = sb.store.calls(name) if kind == "call" else sb.store.meetings(name)
    return {r["id"]: r["outcome_id"] for r in records}


@pytest.mark.parametrize("merge_seconds", [0, 3600])
def test_cached_reload_equals_a_fresh_load_after_old_changes_and_deletions(fresh_sandbox, tmp_path, merge_seconds):
    sb = fresh_sandbox(seed=7, organizations=1, calls=30_000, meetings=3000)
    sb.store.events.merge_seconds = merge_seconds
    name, key = _first(sb)
    kwargs = dict(base_url=sb.base_url, progress=False)
    sb.stats.reset()
    cf.load_calls(key, cache=tmp_path, **kwargs)
    cf.load_meetings(key, cache=tmp_path, **kwargs)
    full_requests = sb.stats.requests
    changed = _change_everything(sb, name, key)
    sb.stats.reset()
    calls = cf.load_calls(key, cache=tmp_path, **kwargs)
    meetings = cf.load_meetings(key, cache=tmp_path, **kwargs)
    refresh_requests = sb.stats.requests
    for kind, frame in (("call", calls), ("meeting", meetings)):
        expected = _expected_from_store(sb, name, kind)
        assert set(frame["id"]) == set(expected) and frame["id"].is_unique
        got = dict(zip(frame["id"], frame["outcome_id"].astype(object).where(frame["outcome_id"].notna(), None)))
        assert got == expected
    assert all(calls.set_index("id").loc[changed, "outcome_id"].notna())
    assert_frame_equal(calls, cf.load_calls(key, **kwargs))        # every field, and the order
    assert_frame_equal(meetings, cf.load_meetings(key, **kwargs))
    assert refresh_requests < full_requests / 10


def test_refresh_with_a_member_key_that_sees_no_event_data(fresh_sandbox, tmp_path):
    sb = fresh_sandbox(seed=8, organizations=1, calls=2000, meetings=50, keys_per_org=2)
    name = next(iter(sb.api_keys))
    admin, member = sb.keys_for(name)
    kwargs = dict(base_url=sb.base_url, progress=False, cache=tmp_path)
    cf.load_calls(member, **kwargs)
    _change_everything(sb, name, admin)
    sb.store.advance_clock(2 * 3600)  # the events' data is hidden from the member by now
    assert_frame_equal(cf.load_calls(member, **kwargs), cf.load_calls(member, base_url=sb.base_url, progress=False))


def test_beyond_retention_falls_back_to_the_lookback_and_warns(fresh_sandbox, tmp_path):
    sb = fresh_sandbox(seed=9, organizations=1, calls=2000, meetings=50)
    name, key = _first(sb)
    kwargs = dict(base_url=sb.base_url, progress=False, cache=tmp_path)
    cf.load_calls(key, **kwargs)
    changed = _change_everything(sb, name, key)
    sb.store.advance_clock(31 * DAY)
    with pytest.warns(EventRefreshWarning, match=r"older than the event log's 30-day retention.*refresh=True"):
        stale = cf.load_calls(key, **kwargs).set_index("id")
    # The re-scan cannot see a change older than its lookback: the warning was right to say so.
    assert stale.loc[changed, "outcome_id"].isna().any() or \
        list(stale.loc[changed, "outcome_id"]) != [_expected_from_store(sb, name, "call")[i] for i in changed]
    # Staleness is a state: from this sync on the event log works again, but the rows it could not vouch for
    # are still as they were, so every later load warns again and says since when.
    call = sb.store.calls(name)[-3]
    sb.store.set_call_outcome(name, call["id"], sb.store.outcomes(name)[0]["id"])
    with pytest.warns(EventRefreshWarning, match="refresh=True"):
        again = cf.load_calls(key, **kwargs)
    assert again.set_index("id").loc[call["id"], "outcome_id"] == sb.store.outcomes(name)[0]["id"]
    assert set(again.attrs["stale_since"]) == {sb.store.org_id(name)}
    # A refresh re-reads them: exact again, no warning, no stale_since.
    cf.load_calls(key, refresh=True, **kwargs)
    exact = cf.load_calls(key, **kwargs)
    assert "stale_since" not in exact.attrs
    assert_frame_equal(exact, cf.load_calls(key, base_url=sb.base_url, progress=False))


def test_key_that_may_not_read_the_log_falls_back_and_warns(fresh_sandbox, tmp_path):
    sb = fresh_sandbox(seed=10, organizations=1, calls=1500, meetings=0)
    name, key = _first(sb)
    sb.store.events.access = "none"
    kwargs = dict(base_url=sb.base_url, progress=False, cache=tmp_path)
    first = cf.load_calls(key, **kwargs)  # nothing cached yet: nothing to warn about
    recent = sb.store.calls(name)[2]
    sb.store.set_call_outcome(name, recent["id"], sb.store.outcomes(name)[0]["id"])
    with pytest.warns(EventRefreshWarning, match="could not be read"):
        second = cf.load_calls(key, **kwargs).set_index("id")
    assert second.loc[recent["id"], "outcome_id"] == sb.store.outcomes(name)[0]["id"]  # inside the lookback
    assert len(second) == len(first)


def test_refresh_interrupted_by_a_failure_is_redone(fresh_sandbox, tmp_path):
    sb = fresh_sandbox(seed=11, organizations=1, calls=1500, meetings=50)
    name, key = _first(sb)
    kwargs = dict(base_url=sb.base_url, progress=False, cache=tmp_path,
                  client_options={"max_retries": 0, "backoff": 0})
    cf.load_calls(key, **kwargs)
    _change_everything(sb, name, key)
    sb.faults.script("500", path="/activity/call/")  # the id__in refetch fails once
    with pytest.raises(cf.CloseError):
        cf.load_calls(key, **kwargs)
    assert_frame_equal(cf.load_calls(key, **kwargs), cf.load_calls(key, base_url=sb.base_url, progress=False))


def test_refresh_of_a_filtered_load_with_fields(fresh_sandbox, tmp_path):
    sb = fresh_sandbox(seed=15, organizations=1, calls=3000, meetings=50)
    name, key = _first(sb)
    user = sb.store.users(name)[0]["id"]
    kwargs = dict(base_url=sb.base_url, progress=False, filters={"user_id": user}, fields=["outcome_id", "user_id"])
    cf.load_calls(key, cache=tmp_path, **kwargs)
    _change_everything(sb, name, key)
    mine = next(c for c in sb.store.calls(name)[200:] if c["user_id"] == user)
    sb.store.set_call_outcome(name, mine["id"], None)
    refreshed = cf.load_calls(key, cache=tmp_path, **kwargs)
    assert_frame_equal(refreshed, cf.load_calls(key, **kwargs))
    expected = {c["id"]: c["outcome_id"] for c in sb.store.calls(name) if c["user_id"] == user}
    assert set(refreshed["id"]) == set(expected) and pd.isna(refreshed.set_index("id").loc[mine["id"], "outcome_id"])


def test_a_lost_sync_record_falls_back_and_stays_stale_until_refreshed(fresh_sandbox, tmp_path):
    sb = fresh_sandbox(seed=16, organizations=1, calls=1500, meetings=50)
    name, key = _first(sb)
    kwargs = dict(base_url=sb.base_url, progress=False, cache=tmp_path)
    cf.load_calls(key, **kwargs)
    sb.store.advance_clock(3600)  # later changes, well past the overlap
    _change_everything(sb, name, key)
    with connect(tmp_path) as connection:
        connection.execute("DELETE FROM sync")  # the sync state lost: nothing vouches for the rows any more
    with pytest.warns(EventRefreshWarning, match="no earlier sync"):
        cf.load_calls(key, **kwargs)
    # The rows nothing vouched for stay marked stale, load after load, until re-read.
    with pytest.warns(EventRefreshWarning, match="refresh=True"):
        assert cf.load_calls(key, **kwargs).attrs["stale_since"]
    cf.load_calls(key, refresh=True, **kwargs)
    assert_frame_equal(cf.load_calls(key, **kwargs), cf.load_calls(key, base_url=sb.base_url, progress=False))
