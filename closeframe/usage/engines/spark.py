"""The Spark engine: usage counts by the definition's SQL text, run by Spark SQL, for activities in a lake.

The same :func:`closeframe.usage.definition.aggregate_sql` text DuckDB runs, with Spark's two words for time
(:data:`~closeframe.usage.definition.SPARK`), over temporary views of Parquet files or (hive-partitioned)
dataset folders, Spark DataFrames, or pandas frames. Only the per-(organization, outcome) counts come back to the
driver. Spark is an optional extra: ``pip install "closeframe[spark]"`` (pyspark 3.5 or later, and Java).
"""

from __future__ import annotations

import uuid
from typing import Any

import pandas as pd

from closeframe.errors import ConfigurationError
from closeframe.usage.definition import AUTOFILL_FIELDS, SPARK, activities_sql, aggregate_sql, empty_counts
from closeframe.usage.engines.frames import check_activities
from closeframe.usage.sources import CacheSource, parquet_path

__all__ = ["counts", "session"]

#: The columns a usage query reads (a pandas frame is sent to Spark with these only).
_READ = ("organization_id", "organization_name", "outcome_id", "user_id", "date_created", *AUTOFILL_FIELDS,
         "status", "disposition")
#: Partition folders such as ``organization_id=0123`` stay strings: ids must not become numbers.
_INFERENCE = "spark.sql.sources.partitionColumnTypeInference.enabled"


def session(spark: Any = None) -> Any:
    """``spark``, else the active Spark session, else a new local one (the driver's cores)."""
    if spark is not None:
        return spark
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ConfigurationError('engine="spark" needs pyspark: pip install "closeframe[spark]".') from None
    return SparkSession.getActiveSession() or SparkSession.builder.master("local[*]").appName(
        "closeframe").config("spark.sql.session.timeZone", "UTC").getOrCreate()


def _checked(source: Any, name: str) -> Any:
    """The source, checked before Spark starts: a frame with the needed columns, a Spark DataFrame, or the path
    of a Parquet file or one-partitioning dataset folder (as a string)."""
    if isinstance(source, CacheSource):
        raise ConfigurationError(f"{name} from the loaders' store is read by engine='duckdb'; engine='spark' reads "
                                 "frames, Spark DataFrames and Parquet files or dataset folders.")
    if isinstance(source, pd.DataFrame):
        return check_activities(source, name)
    if hasattr(source, "createOrReplaceTempView"):
        return source
    return parquet_path(source, name)


def _frame(spark: Any, source: Any) -> Any:
    """A Spark DataFrame of one checked source."""
    if isinstance(source, pd.DataFrame):
        return spark.createDataFrame(_arrow(source))
    if isinstance(source, str):
        return spark.read.option("mergeSchema", "true").parquet(source)
    return source


def _arrow(frame: pd.DataFrame) -> Any:
    """The columns usage reads as an Arrow table of strings and UTC microsecond times (Spark reads Arrow as is,
    without pandas' extension types)."""
    import pyarrow as pa

    arrays, fields = [], []
    for column in (c for c in _READ if c in frame.columns):
        values = frame[column]
        if column == "date_created":
            times = pd.to_datetime(values, utc=True).astype("datetime64[us, UTC]")
            arrays.append(pa.array(times, type=pa.timestamp("us", tz="UTC")))
        else:
            strings = values.astype(object).where(values.notna(), None)
            arrays.append(pa.array([v if v is None else str(v) for v in strings], type=pa.string()))
        fields.append(column)
    return pa.table(arrays, names=fields)


def counts(calls: Any, meetings: Any, *, now_us: int, spark: Any = None) -> tuple[pd.DataFrame, dict[str, str]]:
    """The definition's counts and the organization names seen, computed by Spark SQL.

    Parameters
    ----------
    calls, meetings : DataFrame, pyspark.sql.DataFrame, str, Path or None
        A pandas frame, a Spark DataFrame, a Parquet file or a (hive-partitioned) dataset folder.
    now_us : int
        "Now" in microseconds since the epoch (a meeting without a status took place if it started before).
    spark : pyspark.sql.SparkSession, optional
        The session (default: :func:`session`).
    """
    sources = [(_checked(source, name), name, kind) for source, name, kind in
               ((calls, "calls", "call"), (meetings, "meetings", "meeting")) if source is not None]
    if not sources:
        return empty_counts(), {}
    spark = session(spark)
    inference = spark.conf.get(_INFERENCE, "true")
    spark.conf.set(_INFERENCE, "false")
    views, parts, names = [], [], {}
    try:
        for source, name, kind in sources:
            frame = _frame(spark, source)
            view = f"closeframe_{name}_{uuid.uuid4().hex[:12]}"
            frame.createOrReplaceTempView(view)
            views.append(view)
            parts.append(activities_sql(view, kind, frame.columns, SPARK, now_us))
            if "organization_name" in frame.columns:
                rows = spark.sql(f"SELECT DISTINCT CAST(organization_id AS STRING) AS i, "
                                 f"CAST(organization_name AS STRING) AS n FROM {view} "
                                 "WHERE organization_id IS NOT NULL AND organization_name IS NOT NULL").collect()
                names.update((row["i"], row["n"]) for row in rows)
        rows = spark.sql(aggregate_sql(parts)).collect()
    finally:
        for view in views:
            spark.catalog.dropTempView(view)
        spark.conf.set(_INFERENCE, inference)
    result = pd.DataFrame([row.asDict() for row in rows], columns=list(empty_counts().columns))
    return (result if len(result) else empty_counts()), names
