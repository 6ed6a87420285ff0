"""The sandbox answers like the recorded real Close answers, knob by knob, and the frames keep every real field.

Over HTTP against the sandbox; expectations from Close's docs and the recordings in tests/fixtures/real.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import requests

import closeframe as cf
from closeframe.shape.frames import CALL_FIELDS, MEETING_FIELDS, calls_frame, meetings_frame
from closeframe.sandbox.common import NOW_US, parse_us
from closeframe.sandbox.tables import (CALL_METHODS, CALL_STATUSES, MEETING_STATUSES, OUTCOME_REASONS,
                                      OUTCOME_SOURCE_FIELDS, coarsen_bounds)

REAL = Path(__file__).parents[1] / "fixtures" / "real"


@pytest.fixture(scope="module")
def real_like(request):
    from closeframe.sandbox import serve

    with serve(seed=21, organizations=1, calls=3000, meetings=600, rate_limit=None) as sb:
        yield sb


def _get(sb, path, **params):
    key = next(iter(sb.api_keys.values()))
    response = requests.get(sb.base_url + path, params=params, auth=(key, ""), timeout=10)
    response.raise_for_status()
    return response.json()


def _all(sb, kind):
    return getattr(sb.store, kind)(next(iter(sb.api_keys)))


def test_call_values_follow_close(real_like):
    calls = _all(real_like, "calls")
    assert {c["status"] for c in calls} <= set(CALL_STATUSES) and {"completed", "no-answer"} <= {
        c["status"] for c in calls}
    assert {c["call_method"] for c in calls} == set(CALL_METHODS) == {"regular", "power", "predictive", "external"}
    assert any(c["disposition"] is None for c in calls)
    inbound_vm = [c for c in calls if c["direction"] == "inbound" and c["disposition"] == "vm-left"]
    assert inbound_vm and all(c["user_id"] is None and c["user_name"] is None for c in inbound_vm)
    assert all(c["activity_at"] == c["date_created"] for c in calls)
    assert all(c["cost"] is None or (isinstance(c["cost"], str) and c["cost"].isdigit()) for c in calls)
    assert any(c["cost"] is None for c in calls) and any(c["cost"] for c in calls)
    answered = [c for c in calls if c["date_answered"] is not None]
    assert answered and all(parse_us(c["date_answered"]) > parse_us(c["date_created"]) for c in answered)
    for name in ("voicemail_duration", "users", "phone", "local_phone", "remote_phone", "created_by"):
        assert all(name in c for c in calls)
    # Millisecond precision, and more than a page of calls at one instant (the default burst).
    stamps = pd.Series([parse_us(c["date_created"]) for c in calls])
    assert (stamps % 1000 == 0).all() and stamps.value_counts().max() > 100


def test_transcripts_only_when_asked(real_like):
    plain = _get(real_like, "activity/call/", _limit=100)["data"]
    assert all("recording_transcript" not in c and "voicemail_transcript" not in c for c in plain)
    asked = _get(real_like, "activity/call/", _limit=100,
                 _fields="id,disposition,duration,recording_transcript,voicemail_transcript")["data"]
    assert all(set(c) == {"id", "disposition", "duration", "recording_transcript", "voicemail_transcript"}
               for c in asked)
    assert any(isinstance(c["recording_transcript"], dict) and c["recording_transcript"]["utterances"] for c in asked)
    meetings = _get(real_like, "activity/meeting/", _limit=100)["data"]
    assert all("transcripts" not in m for m in meetings)
    with_transcripts = _get(real_like, "activity/meeting/", _limit=100, _fields="id,transcripts")["data"]
    assert all(isinstance(m["transcripts"], list) for m in with_transcripts)


def test_meeting_values_follow_close(real_like):
    meetings = _all(real_like, "meetings")
    manual = [m for m in meetings if m["source"] == "manual"]
    assert manual and all(m["status"] is None for m in manual)
    calendar = [m for m in meetings if m["source"] == "calendar"]
    assert calendar and {m["status"] for m in calendar} <= set(MEETING_STATUSES)
    future = [m for m in meetings if parse_us(m["date_created"]) > NOW_US]
    assert future and all(m["date_created"] == m["starts_at"] for m in meetings)
    assert all(m["status"] in ("upcoming", None) and m["outcome_id"] is None for m in future)
    assert any(len(m["users"]) > 1 for m in meetings)
    call_ids = {c["id"] for c in _all(real_like, "calls")}
    attached = [i for m in meetings for i in m["attached_call_ids"]]
    assert attached and set(attached) <= call_ids
    assert any(m["actual_duration"] is not None for m in meetings) and any(
        m["actual_duration"] is None for m in meetings)
    assert all("contact_id" in m and set(OUTCOME_SOURCE_FIELDS) <= set(m) for m in meetings)
    # Close's documented outcome_reason values; confidence and reasoning exactly on the autofilled ones.
    assert {m["outcome_reason"] for m in meetings if m["outcome_id"]} == set(OUTCOME_REASONS)
    auto = [m for m in meetings if m["outcome_reason"] == "autofilled"]
    assert auto and all(m["outcome_autofill_reasoning"] and m["outcome_autofill_confidence"] for m in auto)
    assert all(m["outcome_autofill_reasoning"] is None and m["outcome_autofill_confidence"] is None
               for m in meetings if m["outcome_reason"] != "autofilled")


def test_comma_separated_filters_and_id_in(real_like):
    calls = _all(real_like, "calls")
    users = sorted({c["user_id"] for c in calls if c["user_id"]})[:2]
    page = _get(real_like, "activity/call/", user_id=",".join(users), _limit=100)["data"]
    assert page == [c for c in calls if c["user_id"] in users][:100]
    leads = [calls[3]["lead_id"], calls[40]["lead_id"]]
    page = _get(real_like, "activity/call/", lead_id=",".join(leads), _limit=100)["data"]
    assert [c["id"] for c in page] == [c["id"] for c in calls if c["lead_id"] in leads][:100]
    contacts = [c["contact_id"] for c in calls[:3] if c["contact_id"]]
    page = _get(real_like, "activity/call/", contact_id=",".join(contacts), _limit=100)["data"]
    assert [c["id"] for c in page] == [c["id"] for c in calls if c["contact_id"] in contacts][:100]
    wanted = [calls[5]["id"], calls[500]["id"], calls[2999]["id"]]
    page = _get(real_like, "activity/call/", id__in=",".join(wanted))["data"]
    assert [c["id"] for c in page] == wanted  # listing order, newest first


@pytest.mark.parametrize("rounding", ["bucket", "value"])
def test_coarse_filters_compare_as_configured(rounding):
    second = 1_000_000
    bounds = coarsen_bounds((None, None, 41 * second + 123_000, None), second, rounding)
    assert bounds == (None, None, 41 * second, None)
    lte = coarsen_bounds((None, None, None, 41 * second + 5), second, rounding)
    assert lte[2] == (42 * second if rounding == "bucket" else 41 * second + 1)
    assert coarsen_bounds((5, None, None, None), 1, rounding) == (5, None, None, None)


def test_filter_precision_loses_the_sub_second_part(fresh_sandbox):
    """At second precision ``date_created__lt=<a call's date>`` leaves out the earlier calls of that second."""
    sb = fresh_sandbox(seed=22, organizations=1, calls=400, meetings=2, bursts=(30,), filter_precision="second")
    calls = _all(sb, "calls")
    burst = pd.Series([c["date_created"] for c in calls]).value_counts().index[0]
    same_second = [c for c in calls if c["date_created"][:19] == burst[:19]]
    page = _get(sb, "activity/call/", date_created__lt=burst, _limit=100)["data"]
    assert not {c["id"] for c in page} & {c["id"] for c in same_second}
    sb.set_filter_precision("microsecond")
    page = _get(sb, "activity/call/", date_created__lte=burst, _limit=100)["data"]
    assert {c["id"] for c in same_second if c["date_created"] == burst} <= {c["id"] for c in page}


def test_knobs_refuse_bad_values(fresh_sandbox):
    from closeframe.sandbox import Sandbox

    with pytest.raises(ValueError, match="filter_precision='minute' is not one of"):
        Sandbox(organizations=1, calls=1, meetings=1, filter_precision="minute")
    with pytest.raises(ValueError, match="rate_limit_headers='weird'"):
        Sandbox(organizations=1, calls=1, meetings=1, rate_limit_headers="weird")
    with pytest.raises(ValueError, match="date_resolution='nanosecond'"):
        Sandbox(organizations=1, calls=1, meetings=1, date_resolution="nanosecond")


def test_loaded_frames_type_the_real_fields(real_like):
    sb = real_like
    calls = cf.load_calls(sb.api_keys, base_url=sb.base_url, progress=False)
    assert str(calls["date_answered"].dtype) == "datetime64[us, UTC]"
    assert calls["cost"].dtype == "float64" and calls["cost"].max() >= 1 and calls["cost"].isna().any()
    assert calls["user_id"].isna().any() and calls["disposition"].isna().any()
    assert str(calls["voicemail_duration"].dtype) == "Int64"
    assert calls["outcome_reason"].isna().all()  # the documented call schema has no outcome_reason
    meetings = cf.load_meetings(sb.api_keys, base_url=sb.base_url, progress=False)
    assert set(meetings["outcome_reason"].cat.categories) == set(OUTCOME_REASONS)
    assert meetings["status"].isna().any() and set(meetings["source"].cat.categories) == {"calendar", "manual"}
    assert meetings["users"].map(len).max() > 1
    assert str(meetings["actual_duration"].dtype) == "Int64"


def test_fields_accepts_transcripts_and_every_documented_field(real_like):
    sb = real_like
    calls = cf.load_calls(sb.api_keys, base_url=sb.base_url, progress=False,
                          fields=["disposition", "duration", "recording_transcript", "voicemail_transcript"])
    assert calls["recording_transcript"].map(lambda t: isinstance(t, dict)).any()
    assert "voicemail_transcript" in calls
    meetings = cf.load_meetings(sb.api_keys, base_url=sb.base_url, progress=False, fields=["status", "transcripts"])
    assert meetings["transcripts"].map(lambda t: isinstance(t, list)).all()
    # Every documented name passes the check (an unknown one is refused, as before).
    cf.load_calls(sb.api_keys, base_url=sb.base_url, progress=False, fields=list(CALL_FIELDS), until="2020-01-01")
    cf.load_meetings(sb.api_keys, base_url=sb.base_url, progress=False, fields=list(MEETING_FIELDS),
                     until="2020-01-01")
    with pytest.raises(cf.ConfigurationError, match="'recording_transcrpt'"):
        cf.load_calls(sb.api_keys, base_url=sb.base_url, progress=False, fields=["recording_transcrpt"])


def test_recorded_pages_keep_every_field():
    """Shaping the recorded real records: every field of every record comes out as a column."""
    from closeframe.sandbox.replay import load_recordings

    recorded = load_recordings(REAL)
    for records, build in ((recorded.calls, calls_frame), (recorded.meetings, meetings_frame)):
        frame = build(records)
        assert set().union(*records) <= set(frame.columns)
        assert len(frame) == len(records)


def test_cached_meetings_pick_up_outcomes_set_later_despite_upcoming_ones(fresh_sandbox, tmp_path):
    """Upcoming meetings (date_created in the future) must not push the cache's lookback past today."""
    import os

    sb = fresh_sandbox(seed=23, organizations=1, calls=5, meetings=400)
    name = next(iter(sb.api_keys))
    kwargs = dict(base_url=sb.base_url, progress=False, cache=tmp_path)
    cf.load_meetings(sb.api_keys[name], **kwargs)
    # The cache was written at the sandbox's "now" (its files' write time), with a month of upcoming meetings.
    now = NOW_US / 1e6
    for path in tmp_path.rglob("*.parquet"):
        os.utime(path, (now, now))
    meetings = sb.store.meetings(name)
    assert parse_us(meetings[0]["date_created"]) > NOW_US + 7 * 86_400_000_000  # upcoming ones are cached
    past = next(m for m in meetings if NOW_US - 3 * 86_400_000_000 > parse_us(m["date_created"]))
    target = next(o["id"] for o in sb.store.outcomes(name) if "meetings" in o["applies_to"])
    sb.store.set_meeting_outcome(name, past["id"], target)
    frame = cf.load_meetings(sb.api_keys[name], **kwargs).set_index("id")
    assert frame.loc[past["id"], "outcome_id"] == target
    assert sorted(frame.index) == sorted(m["id"] for m in sb.store.meetings(name))
