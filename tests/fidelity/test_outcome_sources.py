"""Who set an outcome, as Close documents it, and calls logged by other phone systems: the sandbox's values.

Close's OpenAPI documents ``outcome_reason`` (``autofilled | user-selected | voicemail-dropped``) and
``outcome_autofill_confidence`` (``low | medium | high``) on meetings, with an ``outcome_autofill_reasoning`` text;
the call schema has none of them (``call_outcome_reason`` knob). Which fields an organization's answers carry is
not documented: the ``autofill_marking`` knob plays each plausible shape. Close's documented call answer shows
``call_method`` ``external`` with ``source`` ``External``. Over HTTP; expectations from the sandbox's storage.
"""

from __future__ import annotations

import pandas as pd
import pytest
import requests

import closeframe as cf
from closeframe.sandbox.tables import (AUTOFILL_CONFIDENCES, AUTOFILL_MARKINGS, OUTCOME_REASONS,
                                      OUTCOME_SOURCE_FIELDS)


@pytest.fixture(scope="module")
def sandbox():
    from closeframe.sandbox import serve

    with serve(seed=41, organizations=1, calls=1500, meetings=600, rate_limit=None) as sb:
        yield sb


def _listed(sb, kind: str) -> list[dict]:
    """Every call or meeting as the HTTP listing serves it (newest first)."""
    key = next(iter(sb.api_keys.values()))
    records, skip = [], 0
    while True:
        page = requests.get(f"{sb.base_url}activity/{kind}/", params={"_skip": skip, "_limit": 100},
                            auth=(key, ""), timeout=10).json()
        records += page["data"]
        if not page["has_more"]:
            return records
        skip += 100


def _stored(sb, kind: str) -> dict:
    """Record id -> (outcome id, stored reason code, outcome type) from the sandbox's columns."""
    name = next(iter(sb.api_keys))
    table = sb.store.table(name, kind)
    types = {o["id"]: o["type"] for o in sb.store.outcomes(name)}
    found = {}
    for raw, code, reason in zip(table.cols["id"].tolist(), table.cols["outcome"].tolist(),
                                 table.cols["reason"].tolist()):
        outcome = None if code < 0 else table.context.codes[code]
        found["acti_" + raw.decode("ascii")] = (outcome, reason, types.get(outcome))
    return found


@pytest.fixture(autouse=True)
def _defaults(sandbox):
    yield
    sandbox.set_autofill_marking("reason-and-text")
    sandbox.set_call_outcome_reason(False)


def test_meetings_carry_the_documented_reason_confidence_and_reasoning(sandbox):
    meetings = _listed(sandbox, "meeting")
    stored = _stored(sandbox, "meeting")
    assert all(set(OUTCOME_SOURCE_FIELDS) <= set(m) for m in meetings)
    for meeting in meetings:
        outcome, code, _ = stored[meeting["id"]]
        assert meeting["outcome_id"] == outcome
        assert meeting["outcome_reason"] == (None if outcome is None else OUTCOME_REASONS[code])
        autofilled = meeting["outcome_reason"] == "autofilled"
        assert (meeting["outcome_autofill_confidence"] in AUTOFILL_CONFIDENCES) == autofilled
        assert bool(meeting["outcome_autofill_reasoning"]) == autofilled
    reasons = pd.Series([m["outcome_reason"] for m in meetings]).value_counts()
    assert set(reasons.index) == set(OUTCOME_REASONS) and "autodetected" not in reasons
    assert reasons["user-selected"] > reasons["autofilled"] > reasons["voicemail-dropped"] > 0
    confidences = {m["outcome_autofill_confidence"] for m in meetings} - {None}
    assert confidences == set(AUTOFILL_CONFIDENCES)


@pytest.mark.parametrize("on", [False, True], ids=["documented-calls", "calls-with-reason"])
def test_calls_carry_the_outcome_fields_only_behind_the_knob(sandbox, on):
    sandbox.set_call_outcome_reason(on)
    calls = _listed(sandbox, "call")
    stored = _stored(sandbox, "call")
    if not on:  # Close's documented call schema: none of the three fields at all
        assert not any(set(OUTCOME_SOURCE_FIELDS) & set(c) for c in calls)
        frame = cf.load_calls(sandbox.api_keys, base_url=sandbox.base_url, progress=False)
        assert frame["outcome_reason"].isna().all() and len(frame) == len(calls)
        return
    assert all(set(OUTCOME_SOURCE_FIELDS) <= set(c) for c in calls)
    for call in calls:
        outcome, code, kind = stored[call["id"]]
        assert call["outcome_reason"] == (None if outcome is None else OUTCOME_REASONS[code])
        # Close sets a vm-dropped outcome itself on a voicemail drop, and nothing else is a voicemail drop.
        assert (call["outcome_reason"] == "voicemail-dropped") == (kind == "vm-dropped")
        assert bool(call["outcome_autofill_reasoning"]) == (call["outcome_reason"] == "autofilled")
    assert {c["outcome_reason"] for c in calls} == {None, *OUTCOME_REASONS}


_SHAPES = {  # marking -> (outcome_reason sent, confidence/reasoning on autofilled, leftovers on a person's pick)
    "reason-and-text": (True, True, False),
    "text-kept": (True, True, True),
    "text-only": (False, True, False),
    "reason-only": (True, False, False),
    "none": (False, False, False),
}


@pytest.mark.parametrize("marking", list(AUTOFILL_MARKINGS))
def test_each_autofill_marking_sends_its_shape(sandbox, marking):
    assert set(AUTOFILL_MARKINGS) == set(_SHAPES)  # a new marking needs its shape here ("ai-manual" had no source)
    sandbox.set_autofill_marking(marking)
    sends_reason, sends_text, leftovers = _SHAPES[marking]
    meetings = _listed(sandbox, "meeting")
    stored = _stored(sandbox, "meeting")
    with_text = {"autofilled": 0, "user-selected": 0, "voicemail-dropped": 0}
    for meeting in meetings:
        outcome, code, _ = stored[meeting["id"]]
        reason = None if outcome is None else OUTCOME_REASONS[code]
        assert meeting["outcome_reason"] == (reason if sends_reason else None)
        has_text = meeting["outcome_autofill_reasoning"] is not None
        assert has_text == (meeting["outcome_autofill_confidence"] is not None)  # they travel together
        if has_text:
            with_text[reason] += 1
    assert with_text["voicemail-dropped"] == 0
    assert (with_text["autofilled"] > 0) == sends_text
    assert (with_text["user-selected"] > 0) == leftovers  # a person's pick kept the replaced autofill's text


def test_external_calls_are_logged_by_another_phone_system(sandbox):
    sandbox.set_call_outcome_reason(True)
    calls = _listed(sandbox, "call")
    external = [c for c in calls if c["call_method"] == "external"]
    assert all(c["source"] == "External" for c in external)
    assert all(c["call_method"] == "external" for c in calls if c["source"] == "External")
    assert 0.05 < len(external) / len(calls) < 0.15
    assert all(c["cost"] is None for c in external)  # Close did not carry them, so it billed nothing
    assert not any(c["outcome_reason"] == "voicemail-dropped" for c in external)  # drops are Close's dialer
    frame = cf.load_calls(sandbox.api_keys, base_url=sandbox.base_url, progress=False)
    assert (frame["call_method"] == "external").sum() == len(external)


def test_same_seed_same_values():
    from closeframe.sandbox import Sandbox

    def rendered(seed):
        sb = Sandbox(seed=seed, organizations=1, calls=300, meetings=120, call_outcome_reason=True)
        name = next(iter(sb.api_keys))
        return sb.store.calls(name) + sb.store.meetings(name)

    first = rendered(5)
    assert first == rendered(5)
    assert [r["id"] for r in first] != [r["id"] for r in rendered(6)]


def test_bad_call_outcome_reason_is_refused():
    from closeframe.sandbox import Sandbox

    with pytest.raises(ValueError, match=r"call_outcome_reason='yes' is not one of True, False"):
        Sandbox(organizations=1, calls=1, meetings=1, call_outcome_reason="yes")
