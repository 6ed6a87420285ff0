"""Usage computed by DuckDB (frames, Parquet files and datasets, the loaders' store) equals the in-memory engine."""

from __future__ import annotations

import os
import textwrap

import pandas as pd
import pandas.testing as tm
import pytest

import closeframe as cf
from closeframe.errors import ConfigurationError
from tests.interrupts import ROOT, reports_of_ctrl_c, script_env
from usage_fixtures import frames

pytest.importorskip("duckdb")


def outcome_usage_sql(outcomes, calls=None, meetings=None):
    return cf.outcome_usage(outcomes, calls, meetings, engine="duckdb")


@pytest.fixture(scope="module")
def data():
    return frames()


@pytest.fixture
def datasets(data, tmp_path):
    _, calls, meetings = data
    return (cf.export(calls, tmp_path / "calls", partition_by=["organization_id", "month"]),
            cf.export(meetings, tmp_path / "meetings", partition_by=["organization_id", "month"]))


def test_dataset_usage_equals_pandas_usage(data, datasets):
    outcomes, calls, meetings = data
    expected = cf.outcome_usage(outcomes, calls, meetings)
    got = cf.outcome_usage(outcomes, dataset={"calls": datasets[0], "meetings": datasets[1]})
    tm.assert_frame_equal(got, expected)
    assert got.attrs == expected.attrs and expected.attrs["no_outcome"]


def test_calls_dataset_alone_and_as_a_string(data, datasets):
    outcomes, calls, _ = data
    expected = cf.outcome_usage(outcomes, calls)
    tm.assert_frame_equal(cf.outcome_usage(outcomes, dataset=str(datasets[0])), expected)
    tm.assert_frame_equal(cf.outcome_usage(outcomes, dataset=datasets[0], memory_limit="256MB", threads=1),
                          expected)


def test_frames_and_single_files_through_duckdb_equal_pandas(data, tmp_path):
    outcomes, calls, meetings = data
    expected = cf.outcome_usage(outcomes, calls, meetings)
    tm.assert_frame_equal(outcome_usage_sql(outcomes, calls, meetings), expected)
    tm.assert_frame_equal(outcome_usage_sql(outcomes, cf.export(calls, tmp_path / "calls.parquet"),
                                            cf.export(meetings, tmp_path / "meetings.parquet")), expected)


def test_a_catalogue_with_deleted_outcomes_gives_the_same_table(data, datasets):
    # cf.outcome_catalogue adds deleted outcomes with deleted_at: both paths keep their names the same way.
    outcomes, calls, meetings = data
    used = set(calls["outcome_id"].dropna().astype(str))
    catalogue = outcomes.assign(deleted_at=pd.Series(pd.NaT, index=outcomes.index, dtype="datetime64[ns, UTC]"))
    deleted = catalogue["id"].astype(str).isin(sorted(used)[:1]) | ~catalogue["id"].astype(str).isin(used)
    catalogue.loc[deleted, "deleted_at"] = pd.Timestamp("2026-01-02", tz="UTC")
    expected = cf.outcome_usage(catalogue, calls, meetings)
    assert expected["deleted"].any() and "deleted_at" in expected.columns
    got = cf.outcome_usage(catalogue, dataset={"calls": datasets[0], "meetings": datasets[1]})
    tm.assert_frame_equal(got, expected)


def test_no_activities_gives_the_zero_table(data):
    outcomes = data[0]
    tm.assert_frame_equal(outcome_usage_sql(outcomes), cf.outcome_usage(outcomes))


def test_bad_dataset_arguments_say_what_to_pass(data, tmp_path, datasets):
    outcomes, calls, _ = data
    with pytest.raises(ConfigurationError, match="does not exist"):
        cf.outcome_usage(outcomes, dataset=tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigurationError, match="no .parquet files"):
        cf.outcome_usage(outcomes, dataset=tmp_path / "empty")
    with pytest.raises(ConfigurationError, match="'calls', 'meetings' or 'cache'"):
        cf.outcome_usage(outcomes, dataset={"call": datasets[0]})
    with pytest.raises(ConfigurationError, match="given twice"):
        cf.outcome_usage(outcomes, calls, dataset=datasets[0])
    with pytest.raises(ConfigurationError, match="DataFrame or the path"):
        outcome_usage_sql(outcomes, 42)
    with pytest.raises(ConfigurationError, match="engine='nope' is not one of 'pandas', 'duckdb', 'spark'"):
        cf.outcome_usage(outcomes, calls, engine="nope")
    with pytest.raises(ConfigurationError, match="DuckDB options"):
        cf.outcome_usage(outcomes, calls, engine="pandas", threads=1)
    with pytest.raises(ConfigurationError, match="unknown options"):
        cf.outcome_usage(outcomes, calls, memory=1)


def test_a_duckdb_option_with_frames_takes_the_duckdb_path_and_agrees(data):
    outcomes, calls, meetings = data
    tm.assert_frame_equal(cf.outcome_usage(outcomes, calls, meetings, memory_limit="512MB"),
                          cf.outcome_usage(outcomes, calls, meetings))


def test_usage_from_the_loaders_cache_equals_pandas_usage(fresh_sandbox, tmp_path):
    sb = fresh_sandbox(seed=21, organizations=2, calls=3_000, meetings=800)
    source = dict(api_key=sb.api_keys, base_url=sb.base_url, progress=False)
    outcomes = cf.load_outcomes(**source)
    calls = cf.load_calls(**source, cache=tmp_path)
    meetings = cf.load_meetings(**source, cache=tmp_path)
    expected = cf.outcome_usage(outcomes, calls, meetings)
    assert expected["deleted"].any() and expected.attrs["no_outcome"]
    tm.assert_frame_equal(cf.outcome_usage(outcomes, dataset={"cache": tmp_path}), expected)
    tm.assert_frame_equal(cf.outcome_usage(outcomes, calls=calls, dataset={"cache": tmp_path}), expected)
    with pytest.raises(ConfigurationError, match="not a folder"):
        cf.outcome_usage(outcomes, dataset={"cache": tmp_path / "nowhere"})


def test_every_denominator_through_duckdb_equals_the_in_memory_engine(data, datasets):
    outcomes, calls, meetings = data
    for denominator in ("all", "with_outcome", "connected"):
        expected = cf.outcome_usage(outcomes, calls, meetings, denominator=denominator)
        got = cf.outcome_usage(outcomes, dataset={"calls": datasets[0], "meetings": datasets[1]},
                               denominator=denominator)
        tm.assert_frame_equal(got, expected)
    assert {"connected", "share_of_connected"} <= set(expected.columns)


def test_a_dataset_with_two_partitionings_names_both(data, tmp_path):
    # An export by organization and month, and an older one by organization only, written into one folder.
    _, calls, _ = data
    folder = tmp_path / "calls"
    cf.export(calls, folder, partition_by=["organization_id", "month"])
    cf.export(calls, tmp_path / "older", partition_by=["organization_id"])
    for file in (tmp_path / "older").rglob("*.parquet"):
        target = folder / file.relative_to(tmp_path / "older")
        file.rename(target.with_name("older-" + target.name))
    for engine in ("duckdb", "spark"):  # refused before any engine reads (Spark is not even started)
        with pytest.raises(ConfigurationError, match=r"mixes two partitionings: organization_id= \(e\.g\. .*\) and "
                                                     r"organization_id=/month="):
            cf.outcome_usage(data[0], dataset=folder, engine=engine)


# Counts usage over 300,000 calls with DuckDB again and again; each Ctrl-C stops it and says how.
COUNTING = textwrap.dedent("""
    import pandas as pd
    import closeframe as cf
    from usage_fixtures import frames

    outcomes, calls, meetings = frames()
    calls = pd.concat([calls] * (300_000 // len(calls)), ignore_index=True)
    cf.outcome_usage(outcomes, calls, meetings, engine="duckdb")  # DuckDB imported and warm
    print("start", flush=True)
    while True:
        try:
            while True:
                cf.outcome_usage(outcomes, calls, meetings, engine="duckdb")
        except KeyboardInterrupt:
            print("KeyboardInterrupt", flush=True)
        except BaseException as exc:
            print(f"{type(exc).__name__}: {exc}".replace("\\n", " "), flush=True)
""")


def test_ctrl_c_during_a_duckdb_count_is_a_keyboard_interrupt_that_is_never_lost():
    """DuckDB reports a Ctrl-C during a query as ``RuntimeError: Query interrupted`` (now and then ``std::bad_cast``),
    or lets the query finish as if nothing was pressed: the user gets KeyboardInterrupt, at every key press."""
    env = script_env(PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "tests")]))
    delays = [0.02 + (0.047 * n) % 0.6 for n in range(30)]  # spread over a count's moments (one takes about 0.6 s)
    reports = reports_of_ctrl_c(COUNTING, [], delays, env=env)
    assert reports == ["KeyboardInterrupt"] * len(delays), [r for r in reports if r != "KeyboardInterrupt"]
