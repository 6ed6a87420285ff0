"""The explorer's tables, built from arrays, against the usage definitions they show (closeframe.usage).

The Users and "Organizations side by side" views build their tables from arrays rather than frames; these tests
check the cells on screen and the CSVs against the library's definitions, recomputed here with pandas pivots.
"""

from __future__ import annotations

import html
import io
import re

import numpy as np
import pandas as pd
import pytest

import closeframe as cf
from closeframe.usage.definition import SHARE_COLUMNS
from closeframe.usage.ordering import natural_key
from closeframe.usage.questions import (
    format_share,
    organization_trends,
    users_by_outcome,
    users_grid,
    users_matrix,
)
from closeframe.usage.tables import compare_grid, normalize_outcome_name
from usage_fixtures import ORGANIZATION_NAMES, frames


@pytest.fixture(scope="module")
def source():
    return frames()


def _rows(table_html: str) -> list[list[str]]:
    """The text of each body row's cells."""
    body = table_html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [[html.unescape(re.sub(r"<[^>]+>", "", cell)) for cell in re.findall(r"<td[^>]*>.*?</td>", row)]
            for row in re.findall(r"<tr>(.*?)</tr>", body)]


def _pivot_compare(usage: pd.DataFrame, value: str) -> pd.DataFrame:
    """compare_outcomes recomputed with a pivot table: outcome names keyed, organizations as columns."""
    named = usage[usage["outcome_name"].notna() & ~(usage["deleted"].astype(bool)
                                                    & (usage["outcome_name"] == cf.DELETED_OUTCOME_LABEL))]
    named = named.assign(key=named["outcome_name"].astype(object).map(normalize_outcome_name),
                         org=named["organization_name"].astype(str)).dropna(subset=["key"])
    return named.pivot_table(index="key", columns="org", values=value, aggfunc="sum", observed=True)


@pytest.mark.parametrize("value", ["total", "share"])
def test_compare_grid_is_a_pivot_of_the_usage_table(source, value):
    usage = cf.outcome_usage(*source)
    grid = compare_grid(usage, value=value)
    pivot = _pivot_compare(usage, value)
    assert sorted(grid.keys) == sorted(pivot.index)
    assert sorted(grid.organizations) == sorted(pivot.columns)
    for i, key in enumerate(grid.keys):
        for j, org in enumerate(grid.organizations):
            expected = pivot.loc[key, org]
            assert grid.present[i, j] == (not pd.isna(expected)), (key, org)
            if grid.present[i, j]:
                assert grid.values[i, j] == pytest.approx(expected), (key, org)
    # The frame compare_outcomes returns is the grid's.
    frame = cf.compare_outcomes(usage, value=value)
    assert list(frame.index) == list(grid.keys) and list(frame["organizations"]) == list(grid.counts)


@pytest.mark.parametrize("denominator", ["all", "with_outcome", "connected"])
def test_side_by_side_view_shows_compare_outcomes_of_the_definition(source, denominator):
    explorer = cf.explore(*source, now="2025-10-22")
    explorer.select(view="Organizations side by side")
    explorer.share_of.value = denominator
    expected = cf.compare_outcomes(cf.outcome_usage(*source, denominator=denominator),
                                   value=SHARE_COLUMNS[denominator])
    orgs = sorted((c for c in expected.columns if c not in ("outcome_name", "organizations")), key=natural_key)
    rows = _rows(explorer.table.value)
    assert len(rows) == min(len(expected), 60) > 0
    for row, (_, want) in zip(rows, expected.iterrows()):
        assert row == [str(want["outcome_name"]), f"{int(want['organizations']):,}",
                       *(format_share(want[org]) for org in orgs)]
    (name, data), = explorer.build_downloads()
    csv = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig")
    assert list(csv.columns) == ["outcome", "organizations", *orgs]
    assert csv["outcome"].tolist() == expected["outcome_name"].astype(str).tolist()
    for org in orgs:
        np.testing.assert_allclose(csv[org].to_numpy(dtype=float),
                                   expected[org].to_numpy(dtype=float, na_value=np.nan), equal_nan=True)


def test_users_grid_is_a_pivot_of_users_by_outcome(source):
    explorer = cf.explore(*source, now="2025-10-22")
    long = users_by_outcome(explorer.data)
    for org in ORGANIZATION_NAMES:
        mine = long[long["organization"] == org]
        users, outcomes, grids, totals = users_grid(long, org, ("total", "share_of_user"))
        for value in ("total", "share_of_user"):
            pivot = mine.pivot_table(index="user", columns="outcome", values=value, aggfunc="sum", sort=False)
            assert list(users) == list(dict.fromkeys(mine["user"]))
            for j, outcome in enumerate(outcomes):
                np.testing.assert_allclose(grids[value][:, j], pivot.loc[list(users), outcome].fillna(0).to_numpy())
        assert totals.tolist() == mine.groupby("user", sort=False)["total"].sum().loc[list(users)].tolist()
        matrix = users_matrix(long, org)
        assert list(matrix.columns) == outcomes + ["total"] and matrix.index.tolist() == list(users)


def test_users_view_cells_are_counts_and_shares_of_users_by_outcome(source):
    explorer = cf.explore(*source, now="2025-10-22")
    explorer.select(view="Users")
    long = users_by_outcome(explorer.data, n=explorer.top_n.value)
    tables = explorer.table.value.split("<h4")[1:]
    assert [html.unescape(re.search(r">([^<]*)</h4>", t).group(1)) for t in tables] == \
        list(dict.fromkeys(long["organization"]))
    for table in tables:
        org = html.unescape(re.search(r">([^<]*)</h4>", table).group(1))
        mine = long[long["organization"] == org]
        for row in _rows(table):
            user = row[0]
            theirs = mine[mine["user"] == user]
            assert row[1:-1] == [f"{t:,} · {format_share(s)}" for t, s in zip(theirs["total"], theirs["share_of_user"])]
            assert row[-1] == f"{int(theirs['total'].sum()):,}"


def _download(explorer) -> pd.DataFrame:
    (_, data), = explorer.build_downloads()
    return pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", keep_default_na=False, na_values=[""])


@pytest.mark.parametrize("n", [1, 3, 5])
def test_top_per_organization_view_ranks_the_usage_table(source, n):
    explorer = cf.explore(*source, now="2025-10-22")
    explorer.select(view="Top per organization")
    explorer.share_of.value = "all"
    explorer.top_n.value = n
    usage = cf.outcome_usage(*source)
    used = usage[usage["outcome_id"].notna() & (usage["total"] > 0)]
    used = used.assign(org=used["organization_name"].astype(str)).sort_values(
        ["total", "outcome_name"], ascending=[False, True], kind="stable")
    used = used.assign(rank=used.groupby("org", sort=False).cumcount() + 1)
    used = used[used["rank"] <= n]
    used = used.sort_values("rank", kind="stable")
    order = sorted(dict.fromkeys(used["org"]), key=natural_key)
    used = pd.concat([used[used["org"] == org] for org in order])
    got = _download(explorer)
    assert len(got) == len(used) > 0
    assert got["organization"].tolist() == used["org"].tolist()
    assert got["rank"].tolist() == used["rank"].tolist() and got["total"].tolist() == used["total"].tolist()
    np.testing.assert_allclose(got["share"].to_numpy(dtype=float), used["share"].to_numpy(dtype=float))


def test_trend_view_lists_organization_trends_newest_period_first(source):
    explorer = cf.explore(*source, now="2025-10-22")
    explorer.select(view="Trend")
    explorer.share_of.value = "all"
    trend = organization_trends(explorer.data, explorer.selection, freq=explorer.freq.value,
                                                   n=explorer.top_n.value, now=explorer.now)
    got = _download(explorer)
    assert len(got) == len(trend) > 0
    organizations = list(dict.fromkeys(trend["organization"]))
    expected = trend.assign(_o=trend["organization"].map(organizations.index)).sort_values(
        ["_o", "period", "rank"], ascending=[True, False, True], kind="stable")
    assert got["organization"].tolist() == expected["organization"].tolist()
    assert got["outcome"].tolist() == expected["outcome"].tolist()
    assert got["total"].tolist() == expected["total"].tolist()
    assert got["partial"].fillna("").tolist() == ["partial" if p else "" for p in expected["partial"]]
