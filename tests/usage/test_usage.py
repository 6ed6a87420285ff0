"""Tests for closeframe.usage.tables on frames built from recorded pages; expectations counted over the raw records."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import pandas as pd
import pandas.testing as tm
import pytest

from closeframe.errors import ConfigurationError
from closeframe.shape.frames import calls_frame, meetings_frame, outcomes_frame
from closeframe.usage.tables import (
    DELETED_OUTCOME_LABEL,
    USAGE_COLUMNS,
    compare_outcomes,
    filter_usage,
    normalize_outcome_name,
    outcome_usage,
    usage_by_user,
    usage_by_week,
    usage_events,
)
from usage_fixtures import ORGANIZATION_NAMES, frames, records, set_by_close


@pytest.fixture(scope="module")
def data():
    return frames()


def activities() -> list[tuple[str, dict]]:
    return [("call", r) for r in records("calls")] + [("meeting", r) for r in records("meetings")]


def known_outcomes() -> dict[tuple[str, str], dict]:
    return {(o["organization_id"], o["id"]): o for o in records("outcomes")}


def test_usage_has_the_columns_and_one_row_per_outcome_deleted_id_and_no_outcome(data):
    usage = outcome_usage(*data)
    assert list(usage.columns) == list(USAGE_COLUMNS)
    known = known_outcomes()
    used = {(r["organization_id"], r["outcome_id"]) for _, r in activities() if r["outcome_id"]}
    expected_keys = set(known) | used
    outcome_rows = usage[usage["outcome_id"].notna()]
    assert set(zip(outcome_rows["organization_id"].astype(str), outcome_rows["outcome_id"])) == expected_keys
    assert len(outcome_rows) == len(expected_keys)
    orgs_without = {r["organization_id"] for _, r in activities() if not r["outcome_id"]}
    assert set(usage.loc[usage["outcome_id"].isna(), "organization_id"].astype(str)) == orgs_without


def test_usage_counts_match_the_records(data):
    usage = outcome_usage(*data)
    calls, meetings, users, dates = Counter(), Counter(), defaultdict(set), defaultdict(list)
    for kind, r in activities():
        key = (r["organization_id"], r["outcome_id"])
        (calls if kind == "call" else meetings)[key] += 1
        users[key].add(r["user_id"])
        dates[key].append(pd.Timestamp(r["date_created"]))
    per_org = Counter(r["organization_id"] for _, r in activities())
    for row in usage.itertuples(index=False):
        key = (str(row.organization_id), None if pd.isna(row.outcome_id) else row.outcome_id)
        assert (row.calls, row.meetings) == (calls[key], meetings[key])
        assert row.total == calls[key] + meetings[key]
        assert row.users == len(users[key])
        assert row.share == pytest.approx((calls[key] + meetings[key]) / per_org[key[0]])
        if dates[key]:
            assert (row.first_used, row.last_used) == (min(dates[key]), max(dates[key]))
        else:
            assert pd.isna(row.first_used) and pd.isna(row.last_used)
    shares = usage.groupby("organization_id", observed=True)["share"].sum()
    assert shares.to_numpy() == pytest.approx([1.0] * len(shares))


def test_unused_outcome_has_zeros_and_deleted_ids_are_flagged(data):
    usage = outcome_usage(*data)
    known = known_outcomes()
    used = {(r["organization_id"], r["outcome_id"]) for _, r in activities() if r["outcome_id"]}
    unused = set(known) - used
    assert unused
    for org, oid in unused:
        row = usage[(usage["organization_id"] == org) & (usage["outcome_id"] == oid)].iloc[0]
        assert row.total == 0 and row.users == 0 and not row.deleted and row.outcome_name == known[org, oid]["name"]
    deleted = used - set(known)
    assert deleted
    flagged = usage[usage["deleted"]]
    assert set(zip(flagged["organization_id"].astype(str), flagged["outcome_id"])) == deleted
    assert (flagged["outcome_name"] == DELETED_OUTCOME_LABEL).all()
    assert not usage.loc[usage["outcome_id"].isna(), "deleted"].any()


def test_no_outcome_counts_in_attrs_and_names_and_types(data):
    usage = outcome_usage(*data)
    without = Counter(r["organization_id"] for _, r in activities() if not r["outcome_id"])
    assert usage.attrs["no_outcome"] == dict(without)
    assert dict(zip(usage["organization_id"].astype(str), usage["organization_name"].astype(str))) == \
        ORGANIZATION_NAMES
    types = {(o["organization_id"], o["id"]): o["type"] for o in records("outcomes")}
    for row in usage[usage["outcome_id"].notna() & ~usage["deleted"]].itertuples():
        assert row.outcome_type == types[str(row.organization_id), row.outcome_id]


def test_events_one_row_per_activity(data):
    events = usage_events(*data)
    assert len(events) == len(activities())
    by_id = {r["id"]: (kind, r) for kind, r in activities()}
    known = known_outcomes()
    assert set(events["activity_id"]) == set(by_id)
    for row in events.itertuples():
        kind, r = by_id[row.activity_id]
        assert row.activity == kind and row.user_id == r["user_id"]
        outcome = known.get((r["organization_id"], r["outcome_id"]))
        name = DELETED_OUTCOME_LABEL if r["outcome_id"] and outcome is None else (outcome or {}).get("name")
        assert (None if pd.isna(row.outcome_name) else row.outcome_name) == name
        assert row.deleted == (r["outcome_id"] is not None and outcome is None)
    assert events["date_created"].is_monotonic_increasing or events["organization_id"].nunique() > 1


def test_calls_or_meetings_alone(data):
    outcomes, calls, meetings = data
    only_calls = outcome_usage(outcomes, calls)
    assert only_calls["meetings"].sum() == 0 and only_calls["calls"].sum() == len(records("calls"))
    only_meetings = outcome_usage(outcomes, meetings=meetings)
    assert only_meetings["total"].sum() == len(records("meetings"))
    nothing = outcome_usage(outcomes)
    assert len(nothing) == len(records("outcomes")) and nothing["total"].sum() == 0


def test_usage_by_user_counts(data):
    by_user = usage_by_user(*data)
    expected = Counter((r["user_id"], r["outcome_id"]) for _, r in activities())
    got = {(row.user_id, None if pd.isna(row.outcome_id) else row.outcome_id): row.total
           for row in by_user.itertuples()}
    assert got == dict(expected)
    per_user = by_user.groupby("user_id")["share_of_user"].sum()
    assert per_user.to_numpy() == pytest.approx([1.0] * len(per_user))


@pytest.mark.parametrize("freq", ["W", "M"])
def test_usage_by_week_counts(data, freq):
    by_week = usage_by_week(*data, freq=freq)

    def start(ts):
        ts = pd.Timestamp(ts).tz_convert("UTC")
        if freq == "W":
            return (ts - pd.Timedelta(days=ts.weekday())).normalize()
        return ts.normalize().replace(day=1)

    expected = Counter((r["organization_id"], start(r["date_created"]), r["outcome_id"]) for _, r in activities())
    got = {(str(row.organization_id), row.period, None if pd.isna(row.outcome_id) else row.outcome_id): row.total
           for row in by_week.itertuples()}
    assert got == dict(expected)


def test_bad_freq_and_bad_frames(data):
    with pytest.raises(ConfigurationError, match="'fortnight'"):
        usage_by_week(*data, freq="fortnight")
    with pytest.raises(ConfigurationError, match="DataFrame"):
        outcome_usage([{"id": 1}])
    with pytest.raises(ConfigurationError, match="outcome_id"):
        outcome_usage(data[0], calls=data[1].drop(columns="outcome_id"))


@pytest.mark.parametrize("raw, key", [
    ("  Demo   BOOKED ✅", "demo booked"),
    ("Bad timing – Q3", "bad timing - q3"),
    ("Rückruf vereinbart", "rückruf vereinbart"),
    ("デモ予約", "デモ予約"),
    ("ＱＵＡＬＩＦＩＥＤ", "qualified"),
    ("🎉", None),
    (None, None),
])
def test_normalize_outcome_name(raw, key):
    assert normalize_outcome_name(raw) == key


def test_compare_outcomes_side_by_side(data):
    usage = outcome_usage(*data)
    compared = compare_outcomes(usage)
    totals = defaultdict(Counter)
    known = known_outcomes()
    for _, r in activities():
        outcome = known.get((r["organization_id"], r["outcome_id"]))
        if outcome:
            totals[normalize_outcome_name(outcome["name"])][ORGANIZATION_NAMES[r["organization_id"]]] += 1
    names_per_key = defaultdict(set)
    for o in records("outcomes"):
        names_per_key[normalize_outcome_name(o["name"])].add(ORGANIZATION_NAMES[o["organization_id"]])
    assert set(compared.index) == set(names_per_key)
    for key, orgs in names_per_key.items():
        assert compared.loc[key, "organizations"] == len(orgs)
        for org in ORGANIZATION_NAMES.values():
            cell = compared.loc[key, org]
            assert (pd.isna(cell) if org not in orgs else cell == totals[key][org])
    shared = compare_outcomes(usage, min_organizations=2)
    assert list(shared.index) == [k for k, orgs in names_per_key.items() if len(orgs) == 2]
    assert compared["organizations"].is_monotonic_decreasing
    with pytest.raises(ConfigurationError, match="'median'"):
        compare_outcomes(usage, value="median")


def test_filter_usage(data):
    usage = outcome_usage(*data)
    beta = filter_usage(usage, organizations="ベータ株式会社")
    assert set(beta["organization_name"].astype(str)) == {"ベータ株式会社"}
    assert len(beta) == (usage["organization_name"] == "ベータ株式会社").sum()
    by_id = filter_usage(usage, organizations=[next(iter(ORGANIZATION_NAMES))])
    assert set(by_id["organization_name"].astype(str)) == {"Alpha GmbH"}
    customs = filter_usage(usage, types="custom")
    assert len(customs) == sum(o["type"] == "custom" for o in records("outcomes"))
    clean = filter_usage(usage, include_deleted=False, include_no_outcome=False, min_total=1)
    assert clean["outcome_id"].notna().all() and not clean["deleted"].any() and (clean["total"] >= 1).all()
    assert len(clean) == (usage["outcome_id"].notna() & ~usage["deleted"] & (usage["total"] >= 1)).sum()
    events = filter_usage(usage_events(*data), types=["vm-dropped"])
    assert len(events) == 1
    with pytest.raises(ConfigurationError, match="Gamma"):
        filter_usage(usage, organizations="Gamma")
    with pytest.raises(ConfigurationError, match="custom"):
        filter_usage(usage, types="nope")


# ----------------------------------------------------------------------------------------------------------------
# No outcome anywhere; denominators, autofill and credit on recorded-style pages with Close's real fields
# ----------------------------------------------------------------------------------------------------------------

REAL = Path(__file__).parents[1] / "fixtures" / "usage_real"


def real_records(kind: str) -> list[dict]:
    return json.loads((REAL / f"{kind}_gamma.json").read_text(encoding="utf-8"))["data"]


@pytest.fixture(scope="module")
def real():
    return (outcomes_frame(real_records("outcomes")), calls_frame(real_records("calls")),
            meetings_frame(real_records("meetings")))


@pytest.mark.parametrize("function", [outcome_usage, usage_by_user, usage_by_week])
def test_no_activity_with_an_outcome_gives_zero_filled_tables(data, function):
    outcomes = data[0]
    calls = calls_frame([dict(r, outcome_id=None) for r in records("calls")])
    meetings = meetings_frame([dict(r, outcome_id=None) for r in records("meetings")])
    table = function(outcomes, calls, meetings)
    assert table["total"].sum() == len(records("calls")) + len(records("meetings"))
    with_outcome = table[table["outcome_id"].notna()]
    assert (with_outcome["total"] == 0).all()
    if function is outcome_usage:
        assert len(with_outcome) == len(records("outcomes"))
        assert set(table.attrs["no_outcome"].values()) == set(Counter(
            r["organization_id"] for _, r in activities()).values())


def test_denominators_count_connected_calls_and_held_meetings(real):
    calls, meetings = real_records("calls"), real_records("meetings")

    def connected_call(r):
        return r["disposition"] == "answered" if r["disposition"] else r["status"] == "completed"

    def held_meeting(r):
        if r["status"] is None:
            return pd.Timestamp(r["date_created"]) <= pd.Timestamp.now(tz="UTC")
        return r["status"] in ("completed", "in-progress")

    kept = [r for r in calls if connected_call(r)] + [r for r in meetings if held_meeting(r)]
    usage = outcome_usage(*real, denominator="connected")
    assert usage["connected"].sum() == len(kept)
    assert usage["total"].sum() == len(calls) + len(meetings)  # total keeps one meaning: every activity
    assert usage["share_of_connected"].sum() == pytest.approx(1.0)
    expected = Counter(r["outcome_id"] for r in kept)
    assert {(None if pd.isna(i) else i): t for i, t in zip(usage["outcome_id"], usage["connected"]) if t} == \
        dict(expected)
    everything = outcome_usage(*real)
    assert "share_of_connected" not in everything.columns and everything["share"].sum() == pytest.approx(1.0)
    named = everything[everything["outcome_id"].notna()]
    assert named["share_of_outcomes"].sum() == pytest.approx(1.0)
    assert everything.loc[everything["outcome_id"].isna(), "share_of_outcomes"].isna().all()
    tm.assert_frame_equal(outcome_usage(*real, denominator="with_outcome"), everything)
    with pytest.raises(ConfigurationError, match="connected"):
        outcome_usage(*real, denominator="answered")


def test_autofilled_outcomes_are_counted_apart_when_close_sends_the_fields(real, data):
    usage = outcome_usage(*real)
    auto = Counter(r["outcome_id"] for r in real_records("calls") + real_records("meetings") if set_by_close(r))
    assert {i: a for i, a in zip(usage["outcome_id"], usage["autofilled"]) if a} == dict(auto)
    assert "autofilled" not in outcome_usage(*data).columns  # the older pages have no autofill field


def test_usage_by_user_credits_every_user_of_a_meeting(real):
    owner = usage_by_user(*real)
    everyone = usage_by_user(*real, credit="all")
    calls, meetings = real_records("calls"), real_records("meetings")
    assert owner["total"].sum() == len(calls) + len(meetings)
    credited = Counter()
    for r in calls + meetings:
        users = dict.fromkeys(([r["user_id"]] if r["user_id"] else []) + list(r.get("users") or []))
        for user in users or [None]:
            credited[user] += 1
    got = {(None if pd.isna(u) else u): t for u, t in everyone.groupby(everyone["user_id"].astype(object),
                                                                      dropna=False)["total"].sum().items()}
    assert got == dict(credited)
    assert set(everyone["user_name"].dropna()) == {"Lena Wolf", "Omar Haddad", "Priya Nair"}
    with pytest.raises(ConfigurationError, match="owner"):
        usage_by_user(*real, credit="everyone")


def test_usage_events_are_sorted_by_organization_time_and_id_with_ties_and_missing_dates():
    from usage_fixtures import frames as usage_frames

    outcomes, calls, meetings = usage_frames()
    calls = calls.copy()
    # Ties: several calls of one organization at one instant (decided by activity id), and calls without a date.
    calls["date_created"] = calls["date_created"].iloc[0]
    calls.loc[calls.index[::3], "date_created"] = pd.NaT
    events = usage_events(outcomes, calls, meetings)
    assert len(events) == len(calls) + len(meetings)
    resorted = events.sort_values(["organization_id", "date_created", "activity_id"], kind="stable")
    assert resorted.index.tolist() == list(range(len(events)))
    assert events["date_created"].isna().sum() == calls["date_created"].isna().sum()
