"""Usage on the real recorded Close answers (tests/fixtures/real), replayed over HTTP: the inferred "connected"
calls and "meetings that took place" with Close's nulls, and the views of an organization without outcomes.

Expectations are computed from the recorded JSON files, not from the code under test.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import matplotlib
import pandas as pd
import pytest

import closeframe as cf
from closeframe.errors import ConfigurationError
from closeframe.sandbox.replay import load_recordings, serve_recordings

matplotlib.use("Agg")

REAL = Path(__file__).parent / "fixtures" / "real"


@pytest.fixture(scope="module")
def recordings():
    return load_recordings(REAL)


@pytest.fixture(scope="module")
def loaded(recordings):
    with serve_recordings(recordings) as replay:
        source = dict(api_key=replay.api_key, base_url=replay.base_url, progress=False)
        return cf.load_outcomes(**source), cf.load_calls(**source), cf.load_meetings(**source)


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
    got = usage.groupby(usage["organization_id"].astype(object))["total"].sum()
    assert {k: v for k, v in got.items() if v} == dict(kept)
    assert sum(kept.values()) < len(recordings.calls) + len(recordings.meetings)  # some left out
    shares = usage[usage["total"] > 0].groupby(usage["organization_id"].astype(object), observed=True)["share"].sum()
    assert shares.to_numpy() == pytest.approx(1.0)


def test_connected_with_both_fields_null_is_not_connected(recordings, loaded):
    outcomes, calls, meetings = loaded
    blanked = calls["id"].iloc[0]
    blank = calls.copy()
    blank.loc[blank.index[0], ["status", "disposition"]] = pd.NA
    events = cf.usage_events(outcomes, blank, meetings)
    assert not events.loc[events["activity_id"] == blanked, "connected"].iloc[0]
    usage = cf.outcome_usage(outcomes, blank, meetings, denominator="connected")
    assert usage["calls"].sum() == sum(_connected_call(r) for r in recordings.calls if r["id"] != blanked)


def test_connected_refuses_calls_loaded_without_status_or_disposition(loaded):
    outcomes, calls, meetings = loaded
    bare = calls.drop(columns=["status", "disposition"])
    with pytest.raises(ConfigurationError, match=r"needs the calls' status or disposition.*3 calls.*'all'"):
        cf.outcome_usage(outcomes, bare, meetings, denominator="connected")
    assert cf.outcome_usage(outcomes, bare, meetings)["total"].sum() == len(calls) + len(meetings)
    # Meetings alone are fine: a meeting without a status took place once it started.
    assert cf.outcome_usage(outcomes, None, meetings, denominator="connected")["meetings"].sum() >= 1
