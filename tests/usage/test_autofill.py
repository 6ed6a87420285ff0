"""Outcomes set by Close (autofilled, voicemail drops) are told apart from people's picks however Close marks them.

Close documents the values (``outcome_reason`` ``autofilled | user-selected | voicemail-dropped``,
``outcome_autofill_confidence``, ``outcome_autofill_reasoning``) but not which of the fields an organization's answers
carry, so the sandbox's ``autofill_marking`` knob plays each plausible shape (and ``call_outcome_reason`` adds them to
calls) and the client must be right under every one. The definition: set by Close when ``outcome_reason`` is
``autofilled`` or ``voicemail-dropped``; without a reason, when a confidence or reasoning is present; a person's
``user-selected`` wins over leftovers. Over HTTP; the expectation comes from the sandbox's storage (which rows it
generated as set by Close) and what the marking lets a client see, not from the rendered fields the client reads.
"""

from __future__ import annotations

from collections import Counter

import pandas as pd
import pytest

import closeframe as cf
from closeframe.sandbox.tables import AUTOFILL_MARKINGS, OUTCOME_REASONS

_BY_CLOSE = {OUTCOME_REASONS.index("autofilled"), OUTCOME_REASONS.index("voicemail-dropped")}
_AUTOFILLED = {OUTCOME_REASONS.index("autofilled")}
#: What a client can see as set by Close under each marking (stored reason codes): without outcome_reason a voicemail
#: drop carries no mark at all.
_VISIBLE = {"reason-and-text": _BY_CLOSE, "text-kept": _BY_CLOSE, "reason-only": _BY_CLOSE,
            "text-only": _AUTOFILLED, "none": set()}


@pytest.fixture(scope="module")
def sandbox_with_outcomes():
    from closeframe.sandbox import serve

    with serve(seed=31, organizations=1, calls=600, meetings=150, rate_limit=None, call_outcome_reason=True) as sb:
        yield sb


def _set_by_close(sb, codes: set) -> Counter:
    """Outcome id -> how many activities the sandbox stored with an outcome set by Close (reason in ``codes``)."""
    name = next(iter(sb.api_keys))
    counts = Counter()
    for kind in ("call", "meeting"):
        table = sb.store.table(name, kind)
        for code, reason in zip(table.cols["outcome"].tolist(), table.cols["reason"].tolist()):
            if code >= 0 and reason in codes:
                counts[table.context.codes[code]] += 1
    return counts


@pytest.mark.parametrize("marking", list(AUTOFILL_MARKINGS))
def test_autofilled_counts_are_right_under_every_marking(sandbox_with_outcomes, marking):
    sb = sandbox_with_outcomes
    sb.set_autofill_marking(marking)
    options = dict(base_url=sb.base_url, progress=False)
    outcomes = cf.load_outcomes(sb.api_keys, **options)
    calls = cf.load_calls(sb.api_keys, **options)
    meetings = cf.load_meetings(sb.api_keys, **options)
    usage = cf.outcome_usage(outcomes, calls, meetings)
    expected = _set_by_close(sb, _VISIBLE[marking])
    if marking == "none":  # nothing tells Close's outcomes from people's: no column rather than a wrong zero
        assert "autofilled" not in usage.columns
        assert cf.usage_events(outcomes, calls, meetings)["autofilled"].isna().all()
        return
    assert sum(expected.values()) > 10
    if marking == "text-kept":  # people's picks that kept the replaced autofill's text: not set by Close
        kept = calls["outcome_autofill_reasoning"].notna() & (calls["outcome_reason"] == "user-selected")
        assert kept.any()
    got = {i: int(a) for i, a in zip(usage["outcome_id"], usage["autofilled"]) if pd.notna(i) and a}
    assert (usage["autofilled"] <= usage["total"]).all()
    assert got == dict(expected)


def test_calls_without_the_fields_count_only_meetings(fresh_sandbox):
    """The documented call schema has no outcome fields: only meetings can say who set their outcome."""
    sb = fresh_sandbox(seed=32, organizations=1, calls=300, meetings=400)
    options = dict(base_url=sb.base_url, progress=False)
    frames = cf.load_outcomes(sb.api_keys, **options), cf.load_calls(sb.api_keys, **options), cf.load_meetings(
        sb.api_keys, **options)
    name = next(iter(sb.api_keys))
    table = sb.store.table(name, "meeting")
    expected = Counter(table.context.codes[code] for code, reason in
                       zip(table.cols["outcome"].tolist(), table.cols["reason"].tolist())
                       if code >= 0 and reason in _BY_CLOSE)
    assert OUTCOME_REASONS.index("voicemail-dropped") in table.cols["reason"].tolist()
    events = cf.usage_events(*frames)
    assert events.loc[events["activity"] == "call", "autofilled"].isna().all()
    got = events[events["autofilled"].fillna(False).astype(bool)]
    assert sorted(got["outcome_id"]) == sorted(expected.elements())


def test_unknown_marking_is_refused_with_the_valid_ones():
    from closeframe.sandbox import Sandbox

    with pytest.raises(ValueError, match=r"autofill_marking='magic' is not one of 'reason-and-text'"):
        Sandbox(organizations=1, calls=1, meetings=1, autofill_marking="magic")
