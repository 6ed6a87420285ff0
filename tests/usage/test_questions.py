"""The usage questions (closeframe.usage.questions) against counts made by hand from the recorded JSON records.

tests/fixtures/usage: two organizations in October 2025 (a deleted outcome, a shared name spelled two ways);
tests/fixtures/usage_real: one organization in November 2025 with an upcoming meeting in 2099, a call without a
user and meetings without a status. Every expected number below is counted from those records.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from closeframe.errors import ConfigurationError
from closeframe.shape.frames import calls_frame, meetings_frame, outcomes_frame
from closeframe.usage import questions as q
from closeframe.usage.selection import NO_OUTCOME, OTHER_OUTCOMES, Selection, prepare
from closeframe.usage.tables import normalize_outcome_name
from usage_fixtures import ORGANIZATION_NAMES, frames, records

REAL = Path(__file__).parents[1] / "fixtures" / "usage_real"
ALPHA, BETA = ORGANIZATION_NAMES.values()
ORG_NAME = ORGANIZATION_NAMES


@pytest.fixture(scope="module")
def data():
    return prepare(*frames())


@pytest.fixture(scope="module")
def real_pages():
    return {k: json.loads((REAL / f"{k}_gamma.json").read_text(encoding="utf-8"))["data"]
            for k in ("outcomes", "calls", "meetings")}


@pytest.fixture(scope="module")
def real(real_pages):
    return prepare(outcomes_frame(real_pages["outcomes"]), calls_frame(real_pages["calls"]),
                   meetings_frame(real_pages["meetings"]))


def _activities(calls, meetings):
    return [("call", r) for r in calls] + [("meeting", r) for r in meetings]


def _recorded():
    return _activities(records("calls"), records("meetings"))


def _names():
    """{(organization_id, outcome_id): normalized name} of the recorded catalogue."""
    return {(o["organization_id"], o["id"]): normalize_outcome_name(o["name"]) for o in records("outcomes")}


def _label(record, names):
    """An activity's outcome as the views label it, normalized: name, deleted or none."""
    if record["outcome_id"] is None:
        return NO_OUTCOME
    return names.get((record["organization_id"], record["outcome_id"]), q.DELETED_OUTCOME_LABEL)


def _when(record):
    return pd.Timestamp(record["date_created"])


def _key(label):
    return label if label.startswith("(") else normalize_outcome_name(label)


def test_now_is_the_day_after_the_last_activity_that_happened(real, real_pages):
    happened = [_when(r) for r in real_pages["calls"]] + [
        _when(r) for r in real_pages["meetings"] if r["status"] not in (None, "upcoming")]
    expected = max(happened).normalize() + pd.Timedelta(days=1)
    assert q.as_of(real) == expected  # the 2099 upcoming meeting does not move "now"
    assert q.as_of(real, now="2025-11-08") == pd.Timestamp("2025-11-08", tz="UTC")
    assert f"data through {(expected - pd.Timedelta(days=1)).date()}" in q.as_of_note(real)
    assert q.DATE_RULE in q.as_of_note(real)


def test_trends_name_each_organizations_own_top_outcomes_per_period(data):
    trend = q.organization_trends(data, freq="W", n=1, now="2025-11-01")
    names = _names()
    counts, per_period = Counter(), Counter()
    for _, r in _recorded():
        org = ORG_NAME[r["organization_id"]]
        week = _when(r).tz_localize(None).to_period("W").start_time.tz_localize("UTC")
        counts[(org, _label(r, names))] += 1
        per_period[(org, week)] += 1
    for org in (ALPHA, BETA):
        mine = trend[trend["organization"] == org]
        named = {k: c for (o, k), c in counts.items() if o == org and k != NO_OUTCOME}
        top = sorted(named, key=lambda k: (-named[k], k))[0]
        assert [_key(x) for x in dict.fromkeys(mine["outcome"])][0] == top  # its own top outcome, not a global one
        assert set(mine["outcome"]) <= {mine["outcome"].iloc[0], OTHER_OUTCOMES, NO_OUTCOME}
        by_label = mine.groupby("outcome")["total"].sum()
        assert by_label[mine["outcome"].iloc[0]] == named[top]
        assert by_label.get(OTHER_OUTCOMES, 0) == sum(c for k, c in named.items() if k != top)
        assert by_label.get(NO_OUTCOME, 0) == counts[(org, NO_OUTCOME)]
        # Shares: of all the organization's activities in that week; an empty week has none ("–"), not 0 %.
        for row in mine.itertuples():
            den = per_period[(org, row.period)]
            if den:
                assert row.share == pytest.approx(row.total / den)
            else:
                assert np.isnan(row.share) and q.format_share(row.share) == q.EMPTY
    # Every panel spans the same weeks; one y scale for all.
    assert trend.groupby("organization")["period"].nunique().nunique() == 1
    assert trend.attrs["y_max"] == trend["total"].max()
    assert trend[trend["organization"] == BETA]["share"].isna().any()  # beta logged nothing in week of Oct 20


def test_trends_leave_out_periods_after_now_and_mark_the_one_under_way(real, real_pages):
    trend = q.organization_trends(real, freq="W")
    stamp = q.as_of(real)
    happened = [r for _, r in _activities(real_pages["calls"], real_pages["meetings"]) if _when(r) < stamp]
    assert trend["total"].sum() == len(happened)  # the 2099 meeting is not in a trend
    weeks = sorted(trend["period"].unique())
    assert weeks[-1] <= stamp < weeks[-1] + pd.Timedelta(days=7)
    assert trend.groupby("period")["partial"].all().tolist() == [False] * (len(weeks) - 1) + [True]
    earlier = q.organization_trends(real, freq="W", now="2025-11-08")
    assert earlier["period"].max() < pd.Timestamp("2025-11-08", tz="UTC")
    assert earlier["total"].sum() == sum(_when(r) < pd.Timestamp("2025-11-10", tz="UTC") for r in happened)
    with_outcome = q.organization_trends(real, freq="M", denominator="with_outcome")
    assert "share_of_outcomes" in with_outcome.columns and "share" not in with_outcome.columns
    named = with_outcome[with_outcome["outcome"] != NO_OUTCOME]
    assert named["share_of_outcomes"].sum() == pytest.approx(1.0)  # one month: the named shares add up to 1


def test_period_against_period_counts_shares_and_change(data):
    now = "2025-10-29"
    (current, previous) = q.default_periods(data, freq="W", now=now)
    assert current == (pd.Timestamp("2025-10-20", tz="UTC"), pd.Timestamp("2025-10-27", tz="UTC"))
    assert previous == (pd.Timestamp("2025-10-13", tz="UTC"), pd.Timestamp("2025-10-20", tz="UTC"))
    table = q.compare_periods(data, freq="W", now=now)
    names = _names()
    for org in (ALPHA, BETA):
        expect = {}
        for which, (since, until) in (("previous", previous), ("current", current)):
            inside = [r for _, r in _recorded() if ORG_NAME[r["organization_id"]] == org and since <= _when(r) < until]
            for label, count in Counter(_label(r, names) for r in inside).items():
                expect.setdefault(label, {"previous": 0, "current": 0, "den": {}})[which] = count
            for entry in expect.values():
                entry["den"][which] = len(inside)
        mine = table[table["organization"] == org]
        assert {_key(o): (p, c) for o, p, c in zip(mine["outcome"], mine["previous"], mine["current"])} == {
            k: (v["previous"], v["current"]) for k, v in expect.items()}
        for row in mine.itertuples():
            den = expect[_key(row.outcome)]["den"]
            assert row.change == row.current - row.previous
            if den["current"]:
                assert row.share_current == pytest.approx(row.current / den["current"])
            else:  # the organization logged nothing this week: no share, shown as "–"
                assert np.isnan(row.share_current) and q.format_share(row.share_current) == "–"
                assert q.format_points(row.share_change) == "–"
    assert table.attrs["labels"] == {"current": "week of 2025-10-20", "previous": "week of 2025-10-13"}
    assert not table.attrs["current_partial"]


def test_default_periods_are_calendar_periods_or_equal_lengths(data):
    october = Selection(since="2025-10-01", until="2025-11-01")
    assert q.default_periods(data, october)[1] == (pd.Timestamp("2025-09-01", tz="UTC"),
                                                   pd.Timestamp("2025-10-01", tz="UTC"))
    ten_days = Selection(since="2025-10-11", until="2025-10-21")
    assert q.default_periods(data, ten_days)[1] == (pd.Timestamp("2025-10-01", tz="UTC"),
                                                    pd.Timestamp("2025-10-11", tz="UTC"))
    running = q.compare_periods(data, Selection(since="2025-10-27", until="2025-11-03"), now="2025-10-29")
    assert running.attrs["current_partial"]
    with pytest.raises(ConfigurationError, match="since must be before until"):
        q.compare_periods(data, current=("2025-10-02", "2025-10-01"), previous=("2025-09-01", "2025-09-02"))


def test_users_by_outcome_counts_and_shares(data):
    users = q.users_by_outcome(data, n=1)
    names = _names()
    for org in (ALPHA, BETA):
        mine = users[users["organization"] == org]
        top = mine["outcome"].iloc[0]
        cells, per_user = Counter(), Counter()
        for _, r in _recorded():
            if ORG_NAME[r["organization_id"]] != org:
                continue
            label = _label(r, names)
            group = _key(top) if label == _key(top) else (NO_OUTCOME if label == NO_OUTCOME else OTHER_OUTCOMES)
            cells[(r["user_name"], group)] += 1
            per_user[r["user_name"]] += 1
        got = {(u.split(" (")[0], _key(o)): t for u, o, t in zip(mine["user"], mine["outcome"], mine["total"]) if t}
        assert got == dict(cells)
        assert mine.groupby("user")["share_of_user"].sum().tolist() == pytest.approx([1.0] * len(per_user))
        matrix = q.users_matrix(users, org)
        assert list(matrix.columns)[0] == top and list(matrix.columns)[-1] == "total"
        assert {u.split(" (")[0]: t for u, t in matrix["total"].items()} == dict(per_user)
        assert list(matrix["total"]) == sorted(matrix["total"], reverse=True)  # most active first
    with pytest.raises(ConfigurationError, match="value="):
        q.users_matrix(users, ALPHA, value="count")


def test_activities_behind_a_row_link_to_their_leads(data, real, real_pages):
    demo = q.activities_behind(data, organization=ALPHA, outcome="Demo booked")
    names = _names()
    expected = [r for _, r in _recorded() if ORG_NAME[r["organization_id"]] == ALPHA
                and _label(r, names) == "demo booked"]
    assert sorted(demo["lead_id"]) == sorted(r["lead_id"] for r in expected)
    assert list(demo["date_created"]) == sorted(demo["date_created"], reverse=True)  # newest first
    assert all(url == f"https://app.close.com/lead/{lead}/" for url, lead in zip(demo["lead_url"], demo["lead_id"]))
    others = q.activities_behind(data, organization=ALPHA, outcome=OTHER_OUTCOMES, n=1)
    assert len(others) == sum(1 for _, r in _recorded() if ORG_NAME[r["organization_id"]] == ALPHA
                              and _label(r, names) not in ("demo booked", NO_OUTCOME))
    week = q.activities_behind(data, organization=BETA, since="2025-10-06", until="2025-10-13", limit=1)
    assert week.attrs["total"] == sum(1 for _, r in _recorded() if ORG_NAME[r["organization_id"]] == BETA
                                      and _when(r) < pd.Timestamp("2025-10-13", tz="UTC")) and len(week) == 1
    nobody = q.activities_behind(real, user=q.NO_USER)
    assert list(nobody["activity_id"]) == [r["id"] for _, r in _activities(real_pages["calls"],
                                                                             real_pages["meetings"])
                                           if r["user_id"] is None]
    with pytest.raises(ConfigurationError, match="valid values"):
        q.activities_behind(data, organization="Gamma Ltd")


def test_pickers_narrow_each_other(data):
    picked = q.picker_options(data, Selection(organizations=(ALPHA,)))
    alpha = [r for _, r in _recorded() if ORG_NAME[r["organization_id"]] == ALPHA]
    assert sorted(label.split(" (")[0] for label, _ in picked.users) == sorted({r["user_name"] for r in alpha})
    keys = {normalize_outcome_name(o["name"]) for o in records("outcomes")
            if ORG_NAME[o["organization_id"]] == ALPHA}
    assert {value for _, value in picked.outcomes} == keys
    assert len(picked.organizations) == 2  # the organizations picker itself is not narrowed
    assert len(q.picker_options(data).users) == len({r["user_id"] for _, r in _recorded()})


def test_formats_say_empty_not_zero():
    assert q.format_share(float("nan")) == q.format_points(None) == q.format_count(pd.NA) == "–"
    assert q.format_share(0.1234) == "12.3 %" and q.format_points(-0.021) == "-2.1 pp"
    assert q.format_change(0) == "0" and q.format_change(3) == "+3" and q.format_change(-12) == "-12"
    assert q.lead_url(None) is None and q.share_column("connected") == "share_of_connected"
    with pytest.raises(ConfigurationError, match="denominator"):
        q.share_column("people")
