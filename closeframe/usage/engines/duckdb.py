"""The DuckDB engine: usage counts by the definition's SQL over frames, Parquet files and datasets, or the store.

DuckDB scans only the columns usage needs and aggregates as it streams, so memory is bounded by ``memory_limit``
however many activities a dataset holds. Only the small per-(organization, outcome) counts come back.

DuckDB is an optional extra: ``pip install "closeframe[duckdb]"``.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from closeframe.errors import ConfigurationError
from closeframe.store.interrupts import ctrl_c_is_keyboard_interrupt
from closeframe.usage.definition import AUTOFILL_FIELDS, DUCKDB, activities_sql, aggregate_sql, empty_counts
from closeframe.usage.engines.frames import check_activities
from closeframe.usage.sources import activity_source

__all__ = ["DEFAULT_MEMORY_LIMIT", "OPTIONS", "counts"]

#: DuckDB's memory limit for one usage query; beyond it DuckDB spills to its temporary folder.
DEFAULT_MEMORY_LIMIT = "1GB"
#: The keyword options of :func:`counts` (what ``cf.outcome_usage(..., **options)`` passes to DuckDB).
OPTIONS = ("memory_limit", "threads", "temp_directory")
#: The columns read from a frame (the rest are never copied to DuckDB).
_READ = ("organization_id", "organization_name", "outcome_id", "user_id", "date_created", *AUTOFILL_FIELDS,
         "status", "disposition")


def _duckdb():
    try:
        import duckdb
    except ImportError:
        raise ConfigurationError('engine="duckdb" needs DuckDB: pip install "closeframe[duckdb]".') from None
    return duckdb


def _columns(connection, table: str) -> list[str]:
    return [row[0] for row in connection.execute(f"DESCRIBE SELECT * FROM {table}").fetchall()]


def counts(calls: Any, meetings: Any, *, now_us: int, memory_limit: str = DEFAULT_MEMORY_LIMIT,
           threads: int | None = None, temp_directory: str | None = None) -> tuple[pd.DataFrame, dict[str, str]]:
    """The definition's counts and the organization names seen, computed by DuckDB.

    Parameters
    ----------
    calls, meetings : DataFrame, str, Path, CacheSource or None
        A frame, a Parquet file, a (hive-partitioned) dataset folder, or the store's source.
    now_us : int
        "Now" in microseconds since the epoch (a meeting without a status took place if it started before).
    memory_limit, threads, temp_directory
        DuckDB's settings for this query.
    """
    duckdb = _duckdb()
    sources = {"calls": activity_source(calls, "calls"), "meetings": activity_source(meetings, "meetings")}
    with ctrl_c_is_keyboard_interrupt(duckdb), duckdb.connect() as connection:
        connection.execute(f"SET memory_limit = '{memory_limit}'")
        connection.execute("SET preserve_insertion_order = false")  # lets the aggregation stream
        if threads is not None:
            connection.execute(f"SET threads = {int(threads)}")
        if temp_directory is not None:
            connection.execute(f"SET temp_directory = '{str(temp_directory)}'")
        parts, names = [], {}
        for (name, source), kind in zip(sources.items(), ("call", "meeting")):
            if source is None:
                continue
            table = source
            if isinstance(source, pd.DataFrame):
                check_activities(source, name)
                table = f"{name}_frame"
                connection.register(table, source[[c for c in _READ if c in source.columns]])
            columns = _columns(connection, table)
            parts.append(activities_sql(table, kind, columns, DUCKDB, now_us))
            if "organization_name" in columns:
                names.update(connection.execute(
                    f"SELECT DISTINCT CAST(organization_id AS STRING), CAST(organization_name AS STRING) FROM {table} "
                    "WHERE organization_id IS NOT NULL AND organization_name IS NOT NULL").fetchall())
        result = connection.execute(aggregate_sql(parts)).df() if parts else empty_counts()
    return result, names
