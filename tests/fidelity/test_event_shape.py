"""The sandbox's event log answers in Close's documented shape (the webhook example of one event-log entry, the
event-log docs, Close's list of event types), and each knob the docs leave open changes what it says."""

from __future__ import annotations

import re

import pytest
import requests

NAIVE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?$")
OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00$")


def _events(sb, key, **params):
    answer = requests.get(sb.base_url + "event/", params=params, auth=(key, ""), timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]


def _first(sb):
    name = next(iter(sb.api_keys))
    return name, sb.api_keys[name]


@pytest.mark.parametrize("date_format", ["naive", "offset"])
def test_event_dates_have_no_offset_unless_the_knob_says(fresh_sandbox, date_format):
    sb = fresh_sandbox(seed=21, organizations=1, calls=40, meetings=5)
    sb.store.events.date_format = date_format
    _, key = _first(sb)
    events = _events(sb, key, object_type="activity.call", action="created")
    assert events
    pattern = NAIVE if date_format == "naive" else OFFSET
    for event in events:
        assert pattern.match(event["date_created"]) and pattern.match(event["date_updated"]), event
        assert OFFSET.match(event["data"]["date_created"])  # the object's own dates keep theirs


def test_previous_data_holds_the_changed_fields_the_created_nothing_the_deleted_the_last_state(fresh_sandbox):
    sb = fresh_sandbox(seed=22, organizations=1, calls=40, meetings=5)
    name, key = _first(sb)
    call = sb.store.calls(name)[5]
    outcome = next(o["id"] for o in sb.store.outcomes(name) if o["id"] != call["outcome_id"])
    auth = (key, "")
    requests.put(f"{sb.base_url}activity/call/{call['id']}/", json={"outcome_id": outcome}, auth=auth, timeout=10)
    created = sb.store.add_call(name)
    requests.delete(f"{sb.base_url}activity/call/{created['id']}/", auth=auth, timeout=10)
    events = {(e["object_id"], e["action"]): e for e in _events(sb, key)}
    update = events[(call["id"], "updated")]
    assert set(update["previous_data"]) == set(update["changed_fields"]) >= {"date_updated", "outcome_id"}
    assert "id" not in update["previous_data"]
    assert update["previous_data"]["outcome_id"] == call["outcome_id"] and update["data"]["outcome_id"] == outcome
    assert events[(created["id"], "created")]["previous_data"] == {}
    deleted = events[(created["id"], "deleted")]
    assert deleted["data"] is None and deleted["previous_data"]["id"] == created["id"]
    # The seeded history has the same shape.
    for event in _events(sb, key, object_type="activity.call", action="updated"):
        assert set(event["previous_data"]) == set(event["changed_fields"])


def test_merged_changes_keep_each_fields_first_previous_value(fresh_sandbox):
    sb = fresh_sandbox(seed=23, organizations=1, calls=20, meetings=0)
    name, key = _first(sb)
    call = sb.store.calls(name)[2]
    first, second = [o["id"] for o in sb.store.outcomes(name) if o["id"] != call["outcome_id"]][:2]
    for outcome in (first, second):
        requests.put(f"{sb.base_url}activity/call/{call['id']}/", json={"outcome_id": outcome}, auth=(key, ""),
                     timeout=10)
    [event] = [e for e in _events(sb, key, object_type="activity.call", object_id=call["id"])]
    assert event["previous_data"]["outcome_id"] == call["outcome_id"] and event["data"]["outcome_id"] == second


def test_events_say_who_with_what_credential_and_request(fresh_sandbox):
    sb = fresh_sandbox(seed=24, organizations=1, calls=20, meetings=0)
    name, key = _first(sb)
    calls = sb.store.calls(name)
    outcome = sb.store.outcomes(name)[0]["id"]
    path = f"/api/v1/activity/call/{calls[1]['id']}/"
    requests.put(f"{sb.base_url}activity/call/{calls[1]['id']}/", json={"outcome_id": outcome}, auth=(key, ""),
                 timeout=10)
    token = sb.tokens[name]
    requests.put(f"{sb.base_url}activity/call/{calls[2]['id']}/", json={"outcome_id": None},
                 headers={"Authorization": f"Bearer {token}"}, timeout=10)
    events = {e["object_id"]: e for e in _events(sb, key, object_type="activity.call", action="updated")}
    by_key, by_token = events[calls[1]["id"]], events[calls[2]["id"]]
    for event in (by_key, by_token):
        assert {"api_key_id", "oauth_client_id", "oauth_scope", "request_id", "lead_id", "user_id", "meta",
                "organization_id"} <= set(event)
        assert event["request_id"].startswith("req_") and event["meta"]["request_method"] == "PUT"
    assert by_key["meta"]["request_path"] == path and by_key["lead_id"] == calls[1]["lead_id"]
    assert by_key["api_key_id"].startswith("api_") and by_key["oauth_client_id"] is None
    assert by_token["api_key_id"] is None and by_token["oauth_client_id"].startswith("oa2client_")
    assert by_token["oauth_scope"]
    assert key not in str(events) and token not in str(events)
    with sb.store.events.acting(None, meta={"bulk_action_id": "bulk_x", "merge_source_lead_id": None}):
        sb.store.set_call_outcome(name, calls[3]["id"], outcome)
    bulk = next(e for e in _events(sb, key, object_type="activity.call", object_id=calls[3]["id"]))
    assert bulk["meta"]["bulk_action_id"] == "bulk_x" and bulk["user_id"] is None


def test_date_updated_gt_and_lt_exclude_their_bound(fresh_sandbox):
    sb = fresh_sandbox(seed=25, organizations=1, calls=60, meetings=0)
    name, key = _first(sb)
    for _ in range(9):
        sb.store.add_call(name)
    listing = _events(sb, key, object_type="activity.call", action="created")
    middle = listing[len(listing) // 2]["date_updated"]
    inclusive = {e["id"] for e in _events(sb, key, object_type="activity.call", action="created",
                                           date_updated__gte=middle)}
    strict = {e["id"] for e in _events(sb, key, object_type="activity.call", action="created",
                                        date_updated__gt=middle)}
    at = {e["id"] for e in listing if e["date_updated"] == middle}
    assert at and strict == inclusive - at
    below = {e["id"] for e in _events(sb, key, object_type="activity.call", action="created",
                                       date_updated__lt=middle)}
    assert below == {e["id"] for e in listing} - inclusive


def test_calls_log_answered_and_completed(fresh_sandbox):
    sb = fresh_sandbox(seed=26, organizations=1, calls=20, meetings=0)
    name, key = _first(sb)
    call = sb.store.add_call(name, status="in-progress", date_answered=None)
    sb.store.advance_clock(120)
    sb.store.update_activity(name, "call", call["id"], date_answered="2026-11-01T00:05:00.000000+00:00")
    sb.store.advance_clock(120)
    sb.store.update_activity(name, "call", call["id"], status="completed")
    actions = [e["action"] for e in _events(sb, key, object_type="activity.call", object_id=call["id"])]
    assert sorted(actions) == ["answered", "completed", "created"]
    for action in ("answered", "completed"):
        assert [e["object_id"] for e in _events(sb, key, object_type="activity.call", action=action)] == [call["id"]]


@pytest.mark.parametrize("outcome_events", [False, True])
def test_outcome_events_only_behind_the_knob(fresh_sandbox, outcome_events):
    sb = fresh_sandbox(seed=27, organizations=1, calls=20, meetings=0)
    if outcome_events:
        sb.store.events.outcome_events = True
    name, key = _first(sb)
    booked = requests.post(f"{sb.base_url}outcome/", json={"name": "Booked"}, auth=(key, ""), timeout=10).json()
    logged = {(e["object_id"], e["action"]) for action in ("created", "updated", "deleted")
              for e in _events(sb, key, object_type="outcome", action=action)}
    if outcome_events:  # the new one, and the seeded one deleted 10 days ago
        assert {(booked["id"], "created"), (sb.store.deleted_outcome_ids(name)[0], "deleted")} <= logged
    else:
        assert logged == set()


@pytest.mark.parametrize("refusal_status", [400, 403])
def test_no_access_answers_the_refusal_status(fresh_sandbox, refusal_status):
    sb = fresh_sandbox(seed=28, organizations=1, calls=5, meetings=0)
    if refusal_status != 400:
        sb.store.events.refusal_status = refusal_status
    sb.store.events.access = "none"
    _, key = _first(sb)
    answer = requests.get(sb.base_url + "event/", auth=(key, ""), timeout=10)
    assert answer.status_code == refusal_status and "event log" in answer.json()["error"]
