"""Outcomes filled in automatically are told apart from people's picks however Close marks them.

Close's field names are recorded (``outcome_reason``, ``outcome_autofill_reasoning``) but not their values ([I]),
so the sandbox's ``autofill_marking`` knob plays each possibility and the client must be right under every one.
Over HTTP; the expectation comes from the sandbox's storage (which rows it generated as automatic), not from the
rendered fields the client reads.
"""

from __future__ import annotations

from collections import Counter

import pandas as pd
import pytest

import closeframe as cf
from closeframe.sandbox.tables import AUTOFILL_MARKINGS
from closeframe.usage.definition import AUTOMATIC_REASONS


@pytest.fixture(scope="module")
def sandbox_with_outcomes():
    from closeframe.sandbox import serve

    with serve(seed=31, organizations=1, calls=600, meetings=150, rate_limit=None) as sb:
        yield sb


def _automatic_by_outcome(sb) -> Counter:
    """Outcome id -> how many activities the sandbox generated with an automatic outcome (storage truth)."""
    name = next(iter(sb.api_keys))
    counts = Counter()
    for kind in ("call", "meeting"):
        table = sb.store.table(name, kind)
        for code, reason in zip(table.cols["outcome"].tolist(), table.cols["reason"].tolist()):
            if code >= 0 and reason == 1:
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
    expected = _automatic_by_outcome(sb)
    if marking == "none":  # nothing tells automatic from manual: no column rather than a wrong zero
        assert "autofilled" not in usage.columns
        assert cf.usage_events(outcomes, calls, meetings)["autofilled"].isna().all()
        return
    assert sum(expected.values()) > 10
    got = {i: int(a) for i, a in zip(usage["outcome_id"], usage["autofilled"]) if pd.notna(i) and a}
    if marking == "reason-only":
        # "autodetected" is not one of Close's outcome_reason values (autofilled, user-selected,
        # voicemail-dropped): alone, without a reasoning text or confidence, it does not mark an automatic pick.
        assert AUTOFILL_MARKINGS[marking][1] not in AUTOMATIC_REASONS and got == {}
        return
    assert got == dict(expected)
    assert (usage["autofilled"] <= usage["total"]).all()
    if marking == "text-kept":  # people's picks that kept the replaced automatic pick's text: not automatic
        kept = calls["outcome_autofill_reasoning"].notna() & (calls["outcome_reason"] == "user-selected")
        assert kept.any()


def test_unknown_marking_is_refused_with_the_valid_ones():
    from closeframe.sandbox import Sandbox

    with pytest.raises(ValueError, match=r"autofill_marking='magic' is not one of 'reason-and-text'"):
        Sandbox(organizations=1, calls=1, meetings=1, autofill_marking="magic")
