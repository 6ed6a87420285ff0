"""The explorer says which denominator its shares use, so ``explorer.usage["share"]`` is never misread.

The explorer's "Share of" menu defaults to activities *with an outcome*, while :func:`closeframe.outcome_usage`
defaults to all activities. On recorded-style pages (tests/fixtures/usage_real); the expected shares come from
:func:`closeframe.outcome_usage` with the named denominator.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import closeframe as cf
from closeframe.shape.frames import calls_frame, meetings_frame, outcomes_frame
from closeframe.usage.definition import SHARE_COLUMNS
from closeframe.views.usage_explorer import SHARE_OF

FOLDER = Path(__file__).parents[1] / "fixtures" / "usage_real"


@pytest.fixture(scope="module")
def frames():
    def page(kind):
        return json.loads((FOLDER / f"{kind}_gamma.json").read_text(encoding="utf-8"))["data"]

    return outcomes_frame(page("outcomes")), calls_frame(page("calls")), meetings_frame(page("meetings"))


def _shares(usage: pd.DataFrame, column: str) -> dict:
    return {(str(o), None if pd.isna(i) else str(i)): (None if pd.isna(s) else round(float(s), 9))
            for o, i, s in zip(usage["organization_id"], usage["outcome_id"], usage[column])}


def test_default_share_is_of_activities_with_an_outcome_and_says_so(frames):
    explorer = cf.explore(*frames)
    assert explorer.share_of.value == "with_outcome" and explorer.share_column == "share_of_outcomes"
    assert explorer.share_label == "share of activities with an outcome"
    # The column is named as in every face (share_of_outcomes), and the note says it in words.
    assert ">share_of_outcomes</th>" in explorer.table.value
    assert "share_of_outcomes = share of activities with an outcome" in explorer.table.value
    assert ">share</th>" not in explorer.table.value


@pytest.mark.parametrize("label, denominator", SHARE_OF)
def test_every_share_of_choice_is_named_in_status_and_headers(frames, label, denominator):
    explorer = cf.explore(*frames)
    explorer.share_of.value = denominator
    column = SHARE_COLUMNS[denominator]  # the meaning travels as the column's name
    assert explorer.share_column == column and "denominator" not in explorer.usage.attrs
    assert _shares(explorer.usage, column) == _shares(cf.outcome_usage(*frames, denominator=denominator), column)
    assert f"Shares are of {label}." in explorer.status.value
    column = {"all": "share", "with_outcome": "share_of_outcomes", "connected": "share_of_connected"}[denominator]
    for view in ("Usage", "Top per organization", "Trend"):
        explorer.select(view=view)
        assert f">{column}</th>" in explorer.table.value, view
        assert f"{column} = share of {label}" in explorer.table.value, view
    explorer.select(view="Organizations side by side")
    assert explorer.share_of.value == denominator  # select() leaves the menu as it was
    assert f"share of {label} per outcome name" in explorer.table.value


def test_connected_share_says_when_calls_cannot_tell_it(frames):
    outcomes, calls, meetings = frames
    bare = calls.drop(columns=["status", "disposition"])
    explorer = cf.explore(outcomes, bare, meetings)
    assert "connected" not in explorer.status.value
    explorer.share_of.value = "connected"
    # What the note explains: no call counts as connected, only the meetings that took place.
    assert explorer.usage["connected"].sum() == cf.outcome_usage(outcomes, meetings=meetings,
                                                                 denominator="connected")["connected"].sum()
    assert "No call has a status or disposition (were they loaded?)" in explorer.status.value
    full = cf.explore(*frames)
    full.share_of.value = "connected"
    assert "No call has a status" not in full.status.value and \
        full.usage["connected"].sum() > explorer.usage["connected"].sum()
