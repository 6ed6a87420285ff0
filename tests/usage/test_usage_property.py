"""One definition, every engine and face: generated organizations give the same usage table everywhere.

For generated organizations, outcomes and activities (see ``tests/usage_strategies.py``): the in-memory engine,
DuckDB over the frames and DuckDB over a hive-partitioned Parquet dataset give the same :func:`cf.outcome_usage`
table for every denominator; its counts agree with a plain count of the raw records; the selection model's
``usage_table`` (the explorer's, the dashboard's and the report's numbers) of a random selection equals
``cf.outcome_usage`` of the records that selection keeps read plainly; CSV and Parquet exports keep every share
column. Spark runs the same comparison in ``test_usage_spark.py`` (fewer examples: a Spark query costs seconds).
"""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

import pandas as pd
import pandas.testing as tm
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import closeframe as cf
from closeframe.errors import ConfigurationError
from closeframe.shape.frames import calls_frame, meetings_frame, outcomes_frame
from closeframe.usage.definition import DENOMINATORS, SHARE_COLUMNS
from closeframe.usage.selection import prepare, usage_table
from usage_strategies import organizations, picked, selected_records, selections

pytest.importorskip("duckdb")

# Few examples each, as CI time is shared: every example runs five engines or paths (about 1 s on a loaded 2-core
# machine); a failure shrinks to a small case on its own.
SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def usage_or_error(*args, **kwargs):
    """The table, or the ConfigurationError's class (connected shares of calls that cannot tell connected)."""
    try:
        return cf.outcome_usage(*args, **kwargs)
    except ConfigurationError:
        return ConfigurationError


def dataset(frame: pd.DataFrame, folder: Path) -> Path | None:
    """``frame`` written as closeframe.export writes a dataset (None for no rows: nothing to write)."""
    if not len(frame):
        return None
    return cf.export(frame, folder, partition_by=["organization_id", "month"])


def same(got, expected) -> None:
    if expected is ConfigurationError or got is ConfigurationError:
        assert got is expected
    else:
        tm.assert_frame_equal(got, expected)


@SETTINGS
@given(data=organizations())
def test_every_engine_gives_the_same_table(data):
    outcomes, calls, meetings = data["outcomes"], data["calls"], data["meetings"]
    with tempfile.TemporaryDirectory() as folder:
        stored = {"calls": dataset(calls, Path(folder) / "calls"),
                  "meetings": dataset(meetings, Path(folder) / "meetings")}
        for denominator in DENOMINATORS:
            expected = usage_or_error(outcomes, calls, meetings, denominator=denominator)
            same(usage_or_error(outcomes, calls, meetings, denominator=denominator, engine="duckdb"), expected)
            same(usage_or_error(outcomes, dataset=stored, denominator=denominator), expected)
    usage = cf.outcome_usage(outcomes, calls, meetings)
    # The counts against a plain count of the records; shares against their definitions.
    records = data["records"]["calls"] + data["records"]["meetings"]
    assert {(str(o), None if pd.isna(i) else i): t for o, i, t in
            zip(usage["organization_id"], usage["outcome_id"], usage["total"]) if t} == \
        dict(Counter((r["organization_id"], r["outcome_id"]) for r in records))
    for org, rows in usage.groupby(usage["organization_id"].astype(object), observed=True):
        mine = [r for r in records if r["organization_id"] == org]
        with_outcome = sum(1 for r in mine if r["outcome_id"])
        if mine:
            assert rows["share"].sum() == pytest.approx(1.0)
        named = rows[rows["outcome_id"].notna()]
        assert named["share_of_outcomes"].sum() == pytest.approx(1.0 if with_outcome else 0.0)
    # A deleted outcome is named by the catalogue (deleted_at) or labelled; a live one never is.
    labelled = (usage["outcome_name"] == cf.DELETED_OUTCOME_LABEL).fillna(False).to_numpy(dtype=bool)
    dated = usage["deleted_at"].notna().to_numpy() if "deleted_at" in usage.columns else False
    assert (usage["deleted"].to_numpy() == (labelled | dated)).all()


@SETTINGS
@given(st.data())
def test_a_selection_is_outcome_usage_of_what_it_selects(draw):
    data = draw.draw(organizations())
    selection = draw.draw(selections(data))
    prepared = prepare(data["outcomes"], data["calls"], data["meetings"])
    names = data["names"]
    outcomes, calls, meetings = selected_records(data, selection)
    kept = [outcomes_frame(outcomes, organization_names=names), calls_frame(calls, organization_names=names),
            meetings_frame(meetings, organization_names=names)]
    if "deleted_at" in data["outcomes"].columns:
        kept[0]["deleted_at"] = pd.to_datetime(pd.Series([r.get("deleted_at") for r in outcomes], dtype=object),
                                               utc=True).astype("datetime64[us, UTC]")
    for denominator in ("all", "connected"):
        got = usage_table(prepared, selection, denominator=denominator)
        expected = usage_or_error(*kept, denominator=denominator)
        if expected is ConfigurationError:  # the explorer shows a note instead of refusing
            continue
        expected = picked(expected, selection)
        assert_same_rows(got, expected)


def assert_same_rows(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Equal tables, categories aside (a filtered table keeps the categories of every row it had)."""
    def plain(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.astype({c: object for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)})

    if "organization_name" in got.columns and "organization_name" not in expected.columns and not len(expected):
        got = got.drop(columns="organization_name")
    tm.assert_frame_equal(plain(got).reset_index(drop=True), plain(expected).reset_index(drop=True),
                          check_like=False)


@settings(max_examples=5, deadline=None)
@given(data=organizations())
def test_exports_keep_every_share_as_a_column(data):
    usage = cf.outcome_usage(data["outcomes"], data["calls"], data["meetings"])
    with tempfile.TemporaryDirectory() as folder:
        csv = pd.read_csv(cf.export(usage, Path(folder) / "usage.csv"))
        parquet = pd.read_parquet(cf.export(usage, Path(folder) / "usage.parquet"))
    for share in (SHARE_COLUMNS["all"], SHARE_COLUMNS["with_outcome"]):
        assert share in csv.columns and share in parquet.columns
        assert parquet[share].to_numpy() == pytest.approx(usage[share].to_numpy(), nan_ok=True)
    assert (parquet["outcome_name"] == cf.DELETED_OUTCOME_LABEL).sum() == \
        (usage["outcome_name"] == cf.DELETED_OUTCOME_LABEL).sum()
