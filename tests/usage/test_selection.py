"""The selection layer behind the explorer, dashboard and report, on frames built from recorded pages.

Expectations are counted over the raw JSON records, never taken from the code under test.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest

from closeframe.errors import ConfigurationError
from closeframe.usage.selection import (
    NO_OUTCOME,
    OTHER_OUTCOMES,
    OTHER_USERS,
    Selection,
    by_user_table,
    catalogue_table,
    compare_table,
    describe,
    headline_table,
    options,
    prepare,
    selected_events,
    selection_mask,
    top_outcomes,
    trend_table,
    unused_and_deleted,
    usage_table,
)
from closeframe.usage.tables import USAGE_COLUMNS, normalize_outcome_name, outcome_usage
from usage_fixtures import ORGANIZATION_NAMES, frames, records

ALPHA, BETA = ORGANIZATION_NAMES


@pytest.fixture(scope="module")
def source():
    return frames()


@pytest.fixture(scope="module")
def data(source):
    return prepare(*source)


def activities(kinds=("call", "meeting")) -> list[tuple[str, dict]]:
    out = []
    if "call" in kinds:
        out += [("call", r) for r in records("calls")]
    if "meeting" in kinds:
        out += [("meeting", r) for r in records("meetings")]
    return out


def outcome_names() -> dict[tuple[str, str], str]:
    return {(o["organization_id"], o["id"]): o["name"] for o in records("outcomes")}


def test_no_selection_is_outcome_usage(data, source):
    pd.testing.assert_frame_equal(usage_table(data), outcome_usage(*source), check_categorical=False)
    for denominator in ("connected", "with_outcome"):
        pd.testing.assert_frame_equal(usage_table(data, denominator=denominator),
                                      outcome_usage(*source, denominator=denominator), check_categorical=False)


def test_calls_of_one_organization_since_a_date_counted_from_the_records(data):
    since = pd.Timestamp("2025-10-10", tz="UTC")
    picks = Selection(organizations=ALPHA, kinds="calls", since="2025-10-10")
    usage = usage_table(data, picks)
    assert list(usage.columns) == list(USAGE_COLUMNS)
    assert set(usage["organization_id"].astype(str)) == {ALPHA}
    assert (usage["meetings"] == 0).all()
    kept = [r for _, r in activities(("call",)) if r["organization_id"] == ALPHA
            and pd.Timestamp(r["date_created"]) >= since]
    expected = Counter(r["outcome_id"] for r in kept)
    got = {(None if pd.isna(k) else k): v for k, v in zip(usage["outcome_id"], usage["total"]) if v}
    assert got == dict(expected)
    assert usage["share"].sum() == pytest.approx(1.0)
    # Outcomes of Alpha that no selected call uses are listed with zeros.
    catalogue = {o["id"] for o in records("outcomes") if o["organization_id"] == ALPHA}
    assert catalogue <= set(usage["outcome_id"].dropna())


def test_outcomes_match_by_normalized_name_across_organizations_and_keep_the_denominator(data):
    picks = Selection(outcomes=["DEMO booked"])
    usage = usage_table(data, picks)
    names = outcome_names()
    wanted = {k for k, name in names.items() if normalize_outcome_name(name) == "demo booked"}
    assert {(str(o), i) for o, i in zip(usage["organization_id"], usage["outcome_id"])} == wanted
    per_org = Counter(r["organization_id"] for _, r in activities())
    for row in usage.itertuples():
        count = sum(1 for _, r in activities() if (r["organization_id"], r["outcome_id"]) == (str(row.organization_id),
                                                                                              row.outcome_id))
        assert row.total == count
        assert row.share == pytest.approx(count / per_org[str(row.organization_id)])
    events = selected_events(data, picks)
    assert len(events) == sum(usage["total"])
    assert set(compare_table(data, picks).index) == {"demo booked"}


def test_users_statuses_and_mask_agree_with_the_records(data):
    user = "Anna Smith"
    mask = selection_mask(data, Selection(users=user))
    assert mask.sum() == sum(1 for _, r in activities() if r["user_name"] == user)
    by_id = selection_mask(data, Selection(users=[r["user_id"] for _, r in activities()
                                                  if r["user_name"] == user][:1]))
    assert (mask == by_id).all()
    assert selection_mask(data, Selection(statuses="completed")).sum() == sum(
        1 for _, r in activities() if r.get("status") == "completed")


def test_an_empty_or_inverted_range_selects_nothing_and_says_so(data):
    picks = Selection(since="2025-10-20", until="2025-10-10")
    assert picks.empty_range
    assert selection_mask(data, picks).sum() == 0
    usage = usage_table(data, picks)
    assert usage["total"].sum() == 0
    assert "nothing" in describe(picks)
    assert headline_table(data, picks)["activities"].sum() == 0
    assert trend_table(data, picks).empty
    assert by_user_table(data, picks).empty


def test_headline_per_organization(data):
    table = headline_table(data)
    assert list(table.index) == ["Alpha GmbH", "ベータ株式会社"]
    for org_id, label in ORGANIZATION_NAMES.items():
        mine = [r for _, r in activities() if r["organization_id"] == org_id]
        row = table.loc[label]
        assert row["activities"] == len(mine)
        assert row["with_outcome"] == sum(1 for r in mine if r["outcome_id"])
        assert row["share_with_outcome"] == pytest.approx(row["with_outcome"] / len(mine))
        catalogue = {o["id"] for o in records("outcomes") if o["organization_id"] == org_id}
        used = {r["outcome_id"] for r in mine if r["outcome_id"]}
        assert row["outcomes"] == len(catalogue)
        assert row["outcomes_unused"] == len(catalogue - used)
        assert row["deleted_in_use"] == len(used - catalogue)


def test_top_outcomes_ranks_within_each_organization(data):
    top = top_outcomes(data, n=2)
    for label, group in top.groupby("organization"):
        assert list(group["rank"]) == list(range(1, len(group) + 1))
        assert list(group["total"]) == sorted(group["total"], reverse=True)
        assert len(group) <= 2


def test_trend_leaves_out_future_periods_and_marks_the_current_one(data):
    trend = trend_table(data, freq="W", now="2025-10-22")
    assert trend["period"].max() == pd.Timestamp("2025-10-20", tz="UTC")
    assert trend.loc[trend["period"] == pd.Timestamp("2025-10-20", tz="UTC"), "partial"].all()
    assert not trend.loc[trend["period"] < pd.Timestamp("2025-10-20", tz="UTC"), "partial"].any()
    before = [r for _, r in activities() if pd.Timestamp(r["date_created"]) < pd.Timestamp("2025-10-27", tz="UTC")]
    assert trend["total"].sum() == len(before)
    assert set(trend["outcome"]) >= {NO_OUTCOME}
    assert trend_table(data, freq="W", now="2025-10-22", include_partial=False)["partial"].sum() == 0
    assert trend.attrs["freq_word"] == "week"
    few = trend_table(data, n=1, now="2030-01-01")
    assert OTHER_OUTCOMES in set(few["outcome"])


def test_by_user_top_n_plus_others_adds_up(data):
    table = by_user_table(data, n=1)
    for org_id, label in ORGANIZATION_NAMES.items():
        mine = table[table["organization"] == label]
        assert mine["total"].sum() == sum(1 for _, r in activities() if r["organization_id"] == org_id)
        users = {r["user_id"] for _, r in activities() if r["organization_id"] == org_id}
        assert (OTHER_USERS in set(mine["user"])) == (len(users) > 1)


def test_unused_and_deleted_from_the_records(data):
    table = unused_and_deleted(data)
    catalogue = {(o["organization_id"], o["id"]) for o in records("outcomes")}
    used = {(r["organization_id"], r["outcome_id"]) for _, r in activities() if r["outcome_id"]}
    assert set(table.loc[table["state"] == "unused", "outcome_id"]) == {i for _, i in catalogue - used}
    assert set(table.loc[table["state"] == "deleted", "outcome_id"]) == {i for _, i in used - catalogue}


def test_catalogue_and_options(data, source):
    outcomes = source[0]
    assert len(catalogue_table(data)) == len(outcomes)
    assert set(catalogue_table(data, Selection(organizations=BETA))["organization_id"].astype(str)) == {BETA}
    choices = options(data)
    assert [label for label, _ in choices.organizations] == ["Alpha GmbH", "ベータ株式会社"]
    assert {key for _, key in choices.outcomes} == {normalize_outcome_name(o["name"]) for o in records("outcomes")}
    assert [k for k, _ in choices.kinds] == ["calls", "meetings"]


def test_strict_names_and_bad_values_say_what_is_valid(data):
    with pytest.raises(ConfigurationError, match="Alpha GmbH"):
        selection_mask(data, Selection(organizations="Nope Inc"), strict=True)
    with pytest.raises(ConfigurationError, match="calls"):
        Selection(kinds="emails")
    with pytest.raises(ConfigurationError, match="since"):
        Selection(since="not a date")
    assert selection_mask(data, Selection(organizations="Nope Inc")).sum() == 0


def test_missing_organization_names_fall_back_to_the_id(source):
    outcomes, calls, meetings = (frame.copy() for frame in source)
    for frame in (outcomes, calls, meetings):
        frame["organization_name"] = frame["organization_name"].astype(object).where(
            frame["organization_id"].astype(str) != BETA).astype("category")
    data = prepare(outcomes, calls, meetings)
    assert list(data.organizations["label"]) == ["Alpha GmbH", BETA]
    assert headline_table(data, Selection(organizations=BETA))["activities"].iloc[0] == sum(
        1 for _, r in activities() if r["organization_id"] == BETA)


def test_natural_order_of_organizations():
    outcomes = pd.DataFrame({"id": [f"o{i}" for i in (10, 7, 1)], "organization_id": ["a", "b", "c"],
                             "organization_name": ["Org 10", "Org 7", "Org 1"], "name": ["x", "y", "z"],
                             "type": ["custom"] * 3})
    data = prepare(outcomes)
    assert list(data.organizations["label"]) == ["Org 1", "Org 7", "Org 10"]
    assert usage_table(data)["total"].sum() == 0
    assert np.array_equal(selection_mask(data), np.zeros(0, dtype=bool))


def test_by_user_credit_all_counts_every_user_of_a_meeting():
    import json
    from pathlib import Path

    from closeframe.shape.frames import calls_frame, meetings_frame, outcomes_frame

    folder = Path(__file__).parents[1] / "fixtures" / "usage_real"
    pages = {k: json.loads((folder / f"{k}_gamma.json").read_text(encoding="utf-8"))["data"]
             for k in ("outcomes", "calls", "meetings")}
    data = prepare(outcomes_frame(pages["outcomes"]), calls_frame(pages["calls"]), meetings_frame(pages["meetings"]))
    credited = Counter()
    for r in pages["calls"] + pages["meetings"]:
        for user in dict.fromkeys(([r["user_id"]] if r["user_id"] else []) + list(r.get("users") or [])) or [None]:
            credited[user] += 1
    table = by_user_table(data, n=10, credit="all")
    assert {(None if pd.isna(u) else u): t for u, t in zip(table["user_id"], table["total"])} == dict(credited)
    owner = by_user_table(data, n=10)
    assert owner["total"].sum() == len(pages["calls"]) + len(pages["meetings"])
    with pytest.raises(ConfigurationError, match="owner"):
        by_user_table(data, credit="everyone")
