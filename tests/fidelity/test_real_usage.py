"""Usage on the real recorded Close answers (tests/fixtures/real), replayed over HTTP: the inferred "connected"
calls and "meetings that took place" with Close's nulls, and the views of an organization without outcomes.

Expectations are computed from the recorded JSON files, not from the code under test.
"""

from __future__ import annotations

from collections import Counter

import matplotlib
import pandas as pd
import pytest

import closeframe as cf
from closeframe.errors import ConfigurationError
from test_real_recordings import (BUILT, REAL, _raw, loaded, loaded_with_built,  # noqa: F401 - loaded once
                                  recordings, with_built)

matplotlib.use("Agg")


def _connected_call(record: dict) -> bool:
    if record.get("disposition") is not None:
        return record["disposition"] == "answered"
    return record.get("status") == "completed"


def _meeting_took_place(record: dict) -> bool:
    if record.get("status") is None:
        return pd.Timestamp(record["date_created"]) <= pd.Timestamp.now(tz="UTC")
    return record["status"] in ("completed", "in-progress")


def test_connected_denominator_on_real_nulls(recordings, loaded):
    assert any(r.get("disposition") is None for r in recordings.calls)  # the recordings hold the nulls tested
    assert any(r.get("status") is None for r in recordings.meetings)
    kept = Counter(r["organization_id"] for r in recordings.calls if _connected_call(r))
    kept += Counter(r["organization_id"] for r in recordings.meetings if _meeting_took_place(r))
    usage = cf.outcome_usage(*loaded, denominator="connected")
    got = usage.groupby(usage["organization_id"].astype(object))["connected"].sum()
    assert {k: v for k, v in got.items() if v} == dict(kept)
    assert sum(kept.values()) < len(recordings.calls) + len(recordings.meetings)  # some left out
    shares = usage[usage["connected"] > 0].groupby(usage["organization_id"].astype(object),
                                                   observed=True)["share_of_connected"].sum()
    assert shares.to_numpy() == pytest.approx(1.0)


def test_connected_with_both_fields_null_is_not_connected(recordings, loaded):
    outcomes, calls, meetings = loaded
    blanked = calls["id"].iloc[0]
    blank = calls.copy()
    blank.loc[blank.index[0], ["status", "disposition"]] = pd.NA
    events = cf.usage_events(outcomes, blank, meetings)
    assert not events.loc[events["activity_id"] == blanked, "connected"].iloc[0]
    usage = cf.outcome_usage(outcomes, blank, None, denominator="connected")
    assert usage["connected"].sum() == sum(_connected_call(r) for r in recordings.calls if r["id"] != blanked)


def test_connected_refuses_calls_loaded_without_status_or_disposition(loaded):
    outcomes, calls, meetings = loaded
    bare = calls.drop(columns=["status", "disposition"])
    with pytest.raises(ConfigurationError, match=r"needs the calls' status or disposition.*3 calls.*'all'"):
        cf.outcome_usage(outcomes, bare, meetings, denominator="connected")
    assert cf.outcome_usage(outcomes, bare, meetings)["total"].sum() == len(calls) + len(meetings)
    # Meetings alone are fine: a meeting without a status took place once it started.
    assert cf.outcome_usage(outcomes, None, meetings, denominator="connected")["connected"].sum() >= 1


# ----------------------------------------------------------------------------------------------------------------
# An organization without outcomes yet (the real calls predate outcomes): a plain note, not empty bars
# ----------------------------------------------------------------------------------------------------------------

def _texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


def test_outcome_charts_say_no_activity_has_an_outcome_yet(recordings, loaded):
    import matplotlib.pyplot as plt

    from closeframe.views.usage_plots import plot_outcome_mix, plot_top_outcomes

    count = len(recordings.calls) + len(recordings.meetings)
    assert not any(r.get("outcome_id") for r in recordings.calls + recordings.meetings)
    note = f"No activity has an outcome yet ({count} activities selected)"
    usage = cf.outcome_usage(*loaded)
    for include_no_outcome in (False, True):  # 100 % "(no outcome)" bars would read as data
        ax = plot_outcome_mix(usage, include_no_outcome=include_no_outcome, ax=plt.figure().subplots())
        assert _texts(ax) == [note] and not ax.patches and ax.get_legend() is None
    ax = plot_top_outcomes(usage, ax=plt.figure().subplots())
    assert _texts(ax) == [note] and not ax.patches


@pytest.mark.parametrize("chart_format", ["svg", "png"])
@pytest.mark.parametrize("share_of", ["with_outcome", "all"])
def test_explorer_top_view_says_no_activity_has_an_outcome_yet(recordings, loaded, chart_format, share_of):
    count = len(recordings.calls) + len(recordings.meetings)
    explorer = cf.explore(*loaded, chart_format=chart_format)
    explorer.select(view="Top per organization")
    explorer.share_of.value = share_of
    note = f"No activity has an outcome yet ({count} activities selected)"
    assert note in explorer.table.value and "No activity matches the pickers" not in explorer.table.value
    if chart_format == "svg":
        chart = bytes(explorer.chart.value)
        assert note.encode() in chart and b"<rect x=" not in chart
    explorer.select(view="Usage")
    assert note in explorer.table.value and "(no outcome)" in explorer.table.value


def test_mix_legend_lists_only_outcomes_in_use(loaded):
    from closeframe.views.usage_plots import plot_outcome_mix

    outcomes, calls, meetings = loaded
    # Both recorded outcomes, moved to the calls' organization; the first call carries the first of them.
    outcomes = outcomes.assign(organization_id=calls["organization_id"].iloc[0])
    used = outcomes["id"].iloc[0]
    calls = calls.assign(outcome_id=[used] + [None] * (len(calls) - 1)).astype({"outcome_id": "string"})
    ax = plot_outcome_mix(cf.outcome_usage(outcomes, calls, meetings), include_no_outcome=True)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == [outcomes["name"].iloc[0], "(no outcome)"]


# ----------------------------------------------------------------------------------------------------------------
# Outcomes set by Close, on the page built from Close's documented schemas (tests/fixtures/real/built)
# ----------------------------------------------------------------------------------------------------------------

def _set_by_close(record: dict) -> bool:
    """The agreed definition, on a raw record: ``outcome_reason`` autofilled or voicemail-dropped; without a reason,
    a reasoning text or a confidence; a person's user-selected wins over leftovers."""
    if not record.get("outcome_id"):
        return False
    reason = record.get("outcome_reason")
    if reason is not None:
        return reason in ("autofilled", "voicemail-dropped")
    return bool(str(record.get("outcome_autofill_reasoning") or "").strip()) or (
        record.get("outcome_autofill_confidence") is not None)


def _expected_autofilled() -> Counter:
    raw = _raw(REAL, BUILT)
    return Counter(r["outcome_id"] for r in raw["Call"] + raw["Meeting"] if _set_by_close(r))


def _autofilled(loaded, **engine) -> dict:
    usage = cf.outcome_usage(*loaded, **engine)
    return {i: int(a) for i, a in zip(usage["outcome_id"], usage["autofilled"]) if pd.notna(i) and a}


def test_autofill_fields_on_the_built_meetings(loaded_with_built):
    raw = _raw(BUILT)
    reasons = {r.get("outcome_reason") for r in raw["Meeting"]}
    assert {"autofilled", "user-selected", "voicemail-dropped", None} <= reasons  # every case is in the page
    assert not any("outcome_reason" in r for r in raw["Call"])  # the documented call schema
    events = cf.usage_events(*loaded_with_built).set_index("activity_id")
    assert events.loc[[r["id"] for r in raw["Call"]], "autofilled"].isna().all()  # calls can't say
    for record in raw["Meeting"]:  # missing: this meeting has no autofill field (Close said nothing about it)
        autofilled = events.loc[record["id"], "autofilled"]
        assert (False if pd.isna(autofilled) else bool(autofilled)) == _set_by_close(record), record["id"]


@pytest.mark.parametrize("engine", [{}, {"threads": 1}], ids=["pandas", "duckdb"])
def test_usage_counts_autofilled_as_set_by_close(loaded_with_built, engine):
    expected = _expected_autofilled()
    assert sum(expected.values()) >= 3
    assert _autofilled(loaded_with_built, **engine) == dict(expected)
