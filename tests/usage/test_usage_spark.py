"""The Spark engine runs the definition's SQL text and gives the in-memory engine's table (Spark local mode).

One local Spark session for the module (``local[1]``, one shuffle partition, no UI): Java must be on the machine
(it is on the project's machines and in CI); without it the module is skipped and says why. Nothing is downloaded.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pandas.testing as tm
import pytest
from hypothesis import HealthCheck, given, settings

import closeframe as cf
from closeframe.errors import ConfigurationError
from usage_fixtures import frames
from usage_strategies import organizations

pytest.importorskip("pyspark")
if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
    pytest.skip("Spark needs Java: no `java` on PATH and no JAVA_HOME", allow_module_level=True)


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[1]").appName("closeframe-tests")
               .config("spark.sql.shuffle.partitions", "1").config("spark.default.parallelism", "1")
               .config("spark.ui.enabled", "false").config("spark.sql.session.timeZone", "UTC")
               .config("spark.driver.memory", "512m").getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def data():
    return frames()


@pytest.fixture(scope="module")
def datasets(data, tmp_path_factory):
    _, calls, meetings = data
    folder = tmp_path_factory.mktemp("lake")
    return {"calls": cf.export(calls, folder / "calls", partition_by=["organization_id", "month"]),
            "meetings": cf.export(meetings, folder / "meetings", partition_by=["organization_id", "month"])}


def test_spark_over_a_hive_dataset_equals_the_in_memory_engine(spark, data, datasets):
    outcomes, calls, meetings = data
    # "connected": every column of the default table, and the connected ones (one Spark query: they cost seconds).
    expected = cf.outcome_usage(outcomes, calls, meetings, denominator="connected")
    got = cf.outcome_usage(outcomes, dataset=datasets, engine="spark", spark=spark, denominator="connected")
    tm.assert_frame_equal(got, expected)
    assert expected["deleted"].any() and expected["outcome_id"].isna().any()


def test_spark_over_frames_and_spark_dataframes(spark, data, datasets):
    outcomes, calls, meetings = data
    expected = cf.outcome_usage(outcomes, calls, meetings)
    tm.assert_frame_equal(cf.outcome_usage(outcomes, calls, meetings, engine="spark", spark=spark), expected)
    lake = spark.read.parquet(str(datasets["calls"]))
    tm.assert_frame_equal(cf.outcome_usage(outcomes, lake, engine="spark", spark=spark),
                          cf.outcome_usage(outcomes, calls))


def test_spark_refuses_what_it_cannot_read(spark, data, tmp_path):
    outcomes = data[0]
    with pytest.raises(ConfigurationError, match="read by engine='duckdb'"):
        cf.outcome_usage(outcomes, dataset={"cache": tmp_path}, engine="spark", spark=spark)
    with pytest.raises(ConfigurationError, match="does not exist"):
        cf.outcome_usage(outcomes, dataset=tmp_path / "nowhere", engine="spark", spark=spark)
    with pytest.raises(ConfigurationError, match="DuckDB options"):
        cf.outcome_usage(outcomes, dataset=tmp_path, engine="spark", memory_limit="1GB")


@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(generated=organizations())
def test_spark_equals_the_in_memory_engine_on_generated_organizations(spark, generated):
    outcomes, calls, meetings = generated["outcomes"], generated["calls"], generated["meetings"]
    expected = cf.outcome_usage(outcomes, calls, meetings)
    tm.assert_frame_equal(cf.outcome_usage(outcomes, calls, meetings, engine="spark", spark=spark), expected)
    with tempfile.TemporaryDirectory() as folder:
        stored = {name: cf.export(frame, Path(folder) / name, partition_by=["organization_id", "month"])
                  for name, frame in (("calls", calls), ("meetings", meetings)) if len(frame)}
        tm.assert_frame_equal(cf.outcome_usage(outcomes, dataset=stored, engine="spark", spark=spark), expected)
