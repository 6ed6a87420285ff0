"""Outcome usage computed by DuckDB, straight from Parquet datasets on disk (or frames), in bounded memory.

:func:`closeframe.outcome_usage` on frames needs every activity in memory. For more calls and meetings than fit,
this module lets DuckDB scan the hive-partitioned Parquet dataset that ``cf.export(calls, "calls/",
partition_by=["organization_id", "month"])`` (or ``closeframe export calls --partition-by ...``) writes, reading
only the four columns usage needs, and aggregating as it streams: memory is bounded by ``memory_limit`` however
many activities there are. Only the small per-outcome table comes back into pandas, where it is finished by the
same rules as the pandas path, so both give the same table on the same data.

DuckDB is an optional extra: ``pip install "closeframe[duckdb]"``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from closeframe.errors import ConfigurationError
from closeframe.shape.frames import UTC_DATETIME_DTYPE
from closeframe.usage.tables import AUTOFILL_FIELDS, _outcome_lookup, _usage_from_counts

__all__ = ["DEFAULT_MEMORY_LIMIT", "CacheSource", "activity_source", "outcome_usage_sql", "sources_from"]

#: DuckDB's memory limit for one usage query; beyond it DuckDB spills to its temporary folder.
DEFAULT_MEMORY_LIMIT = "1GB"
_KEY = ["organization_id", "outcome_id"]
_NEEDED = ("organization_id", "outcome_id", "user_id", "date_created")


def _duckdb():
    try:
        import duckdb
    except ImportError:
        raise ConfigurationError('Usage from a dataset needs DuckDB: pip install "closeframe[duckdb]".') from None
    return duckdb


class CacheSource:
    """The stored calls or meetings of a cache folder's store (:mod:`closeframe.store`), each row once.

    Only loads without ``fields=``/``filters=`` are read (the store keeps those in scopes of their own, other
    records); rows are keyed by id in the store, so an upcoming meeting stored by several loads, or a load killed
    mid-write, is never counted twice. The columns usage needs are read under the store's lock, in one short
    connection, into a frame DuckDB then aggregates.
    """

    def __init__(self, folder: Path, kind: str) -> None:
        self.folder, self.kind = folder, kind

    def frame(self) -> pd.DataFrame | None:
        """(id, organization_id, outcome_id, user_id, date_created and the autofill fields) of every stored row;
        ``None`` when the folder has no store or no rows of this kind."""
        from closeframe.store.database import connect, store_path

        if not store_path(self.folder).is_file():
            return None
        table = f"{self.kind}s"
        with connect(self.folder) as connection:
            found = connection.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                                       [table]).fetchall()[0][0]
            if not found:
                return None
            present = {row[0] for row in connection.execute(f"DESCRIBE {table}").fetchall()}
            columns = ", ".join(f't."{c}"' for c in ("id", *_NEEDED, *AUTOFILL_FIELDS) if c in present)
            arrow = connection.sql(f"SELECT {columns} FROM {table} t JOIN scopes s ON s.scope = t.scope "
                                   "WHERE s.variant = ''").to_arrow_table()
        return arrow.to_pandas() if arrow.num_rows else None


def activity_source(source: Any, name: str) -> str | pd.DataFrame | None:
    """The SQL table expression of a calls or meetings source, or the frame itself.

    Parameters
    ----------
    source : DataFrame, str, Path or None
        A frame, one Parquet file, or a folder holding a (hive-partitioned) Parquet dataset.
    name : str
        ``"calls"`` or ``"meetings"``, for messages.

    Raises
    ------
    ConfigurationError
        A path that does not exist, or a folder without Parquet files.
    """
    if source is None or isinstance(source, pd.DataFrame):
        return source
    if isinstance(source, CacheSource):
        return source.frame()
    if not isinstance(source, (str, os.PathLike)):
        raise ConfigurationError(f"{name} must be a DataFrame or the path of a Parquet file or dataset folder, "
                                 f"got {type(source).__name__}.")
    path = Path(source).expanduser()
    if path.is_file():
        pattern = str(path)
    elif path.is_dir():
        if not any(path.rglob("*.parquet")):
            raise ConfigurationError(f"{name}={str(source)!r} holds no .parquet files; write one with "
                                     f"cf.export({name}, {str(source)!r}, partition_by=['organization_id', 'month']).")
        pattern = str(path / "**" / "*.parquet")
    else:
        raise ConfigurationError(f"{name}={str(source)!r} does not exist: pass a Parquet file or dataset folder.")
    quoted = pattern.replace("'", "''")
    return f"read_parquet('{quoted}', hive_partitioning = true, hive_types_autocast = false, union_by_name = true)"


def sources_from(dataset: Any, calls: Any = None, meetings: Any = None) -> tuple[Any, Any]:
    """``(calls, meetings)`` from :func:`closeframe.outcome_usage`'s ``dataset=``: a path (the calls) or a mapping
    ``{"calls": ..., "meetings": ..., "cache": folder}`` (``cache``: the loaders' cache folder, for whichever kind is
    not given otherwise); ``calls``/``meetings`` given beside it are used where it has none.

    Raises
    ------
    ConfigurationError
        A mapping with other keys, or a source given both ways.
    """
    if dataset is None:
        return calls, meetings
    given = dict(dataset) if isinstance(dataset, dict) else {"calls": dataset}
    unknown = sorted(set(given) - {"calls", "meetings", "cache"})
    if unknown:
        raise ConfigurationError(f"dataset has the keys {unknown}; use 'calls', 'meetings' or 'cache'.")
    if given.get("cache") is not None:
        folder = Path(given.pop("cache")).expanduser()
        if not folder.is_dir():
            raise ConfigurationError(f"cache={str(folder)!r} is not a folder: pass the loaders' cache folder.")
        # A frame or dataset given as calls=/meetings= (or under its key) is used instead of the cached one.
        if calls is None:
            given.setdefault("calls", CacheSource(folder, "call"))
        if meetings is None:
            given.setdefault("meetings", CacheSource(folder, "meeting"))
    for name, value in (("calls", calls), ("meetings", meetings)):
        if value is not None and given.get(name) is not None:
            raise ConfigurationError(f"{name} is given twice (as {name}= and in dataset=); pass it once.")
    return (given.get("calls", calls) if given.get("calls") is not None else calls,
            given.get("meetings") if given.get("meetings") is not None else meetings)


def _select(source: str | pd.DataFrame, alias: str, kind: str, columns: list[str]) -> str:
    """One activity kind as (organization_id, outcome_id, user_id, date_created, kind), missing columns NULL."""
    table = alias if isinstance(source, pd.DataFrame) else source
    expressions = [f"CAST({c} AS VARCHAR) AS {c}" if c in columns else f"CAST(NULL AS VARCHAR) AS {c}"
                   for c in ("organization_id", "outcome_id", "user_id")]
    created = "date_created" if "date_created" in columns else "NULL"
    expressions.append(f"CAST({created} AS TIMESTAMPTZ) AS date_created")  # the cache's are nanoseconds
    expressions.append(f"{_autofilled(columns, table)} AS autofilled")
    return f"SELECT {', '.join(expressions)}, '{kind}' AS kind FROM {table}"


def _autofilled(columns: list[str], table: str) -> str:
    """SQL for :func:`closeframe.usage.tables.autofilled_mask`: NULL when no activity of ``table`` has a value in an
    autofill field, else whether the outcome is set and was filled in automatically."""
    present = [c for c in AUTOFILL_FIELDS if c in columns]
    if not present:
        return "CAST(NULL AS BOOLEAN)"
    known = " OR ".join(f"{c} IS NOT NULL" for c in present)
    tests = [f"coalesce(trim(CAST({c} AS VARCHAR)) <> '', false)" for c in
             ("outcome_autofill_reasoning", "outcome_autofill_confidence") if c in present]
    if "outcome_reason" in present:
        reason = "lower(trim(CAST(outcome_reason AS VARCHAR)))"
        tests.append(f"coalesce(starts_with({reason}, 'auto') OR starts_with({reason}, 'ai'), false)")
    return (f"CASE WHEN EXISTS (SELECT 1 FROM {table} WHERE {known}) "
            f"THEN (outcome_id IS NOT NULL AND ({' OR '.join(tests)})) END")


def _columns(connection, source: str | pd.DataFrame, alias: str) -> list[str]:
    if isinstance(source, pd.DataFrame):
        return list(source.columns)
    return [row[0] for row in connection.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]


def _names_frame(connection, source: str | pd.DataFrame | None, alias: str) -> pd.DataFrame | None:
    """The distinct (organization_id, organization_name) pairs of a source that has names."""
    if source is None or "organization_name" not in _columns(connection, source, alias):
        return None
    table = alias if isinstance(source, pd.DataFrame) else source
    return connection.execute(f"SELECT DISTINCT CAST(organization_id AS VARCHAR) AS organization_id, "
                              f"CAST(organization_name AS VARCHAR) AS organization_name FROM {table}").df()


def outcome_usage_sql(outcomes: pd.DataFrame, calls: Any = None, meetings: Any = None, *,
                      memory_limit: str = DEFAULT_MEMORY_LIMIT, threads: int | None = None,
                      temp_directory: str | None = None) -> pd.DataFrame:
    """:func:`closeframe.outcome_usage` computed by DuckDB, from Parquet datasets (or frames) of any size.

    Parameters
    ----------
    outcomes : pandas.DataFrame
        From :func:`closeframe.load_outcomes` (small: every outcome of the organizations).
    calls, meetings : DataFrame, str or Path, optional
        A frame, a Parquet file, or a dataset folder (e.g. written by ``cf.export(calls, "calls/",
        partition_by=["organization_id", "month"])``). Only ``organization_id``, ``outcome_id``, ``user_id``,
        ``date_created`` (and ``organization_name`` when present) are read.
    memory_limit : str, default "1GB"
        DuckDB's memory limit; the aggregation spills to disk beyond it.
    threads : int, optional
        DuckDB's worker threads (default: its own choice, the number of cores).
    temp_directory : str, optional
        Where DuckDB spills (default: its own, ``.tmp`` beside an in-memory database).

    Returns
    -------
    pandas.DataFrame
        The table of :func:`closeframe.outcome_usage`: same columns, dtypes, order and ``attrs``.

    Raises
    ------
    ConfigurationError
        DuckDB is not installed, or a source is not a frame or an existing Parquet path.
    """
    duckdb = _duckdb()
    lookup = _outcome_lookup(outcomes)
    sources = {"calls": activity_source(calls, "calls"), "meetings": activity_source(meetings, "meetings")}
    connection = duckdb.connect()
    try:
        connection.execute(f"SET memory_limit = '{memory_limit}'")
        connection.execute("SET preserve_insertion_order = false")  # lets the aggregation stream
        if threads is not None:
            connection.execute(f"SET threads = {int(threads)}")
        if temp_directory is not None:
            connection.execute(f"SET temp_directory = '{str(temp_directory)}'")
        parts, names = [], []
        for (name, source), kind in zip(sources.items(), ("call", "meeting")):
            if source is None:
                continue
            alias = f"{name}_frame"
            if isinstance(source, pd.DataFrame):
                missing = [c for c in ("id", "organization_id", "date_created", "outcome_id") if c not in source]
                if missing:
                    raise ConfigurationError(f"{name} lacks the columns {missing}; it has {list(source.columns)}.")
                connection.register(alias, source[[c for c in (*_NEEDED, "organization_name", *AUTOFILL_FIELDS)
                                                    if c in source]])
            parts.append(_select(source, alias, kind, _columns(connection, source, alias)))
            names.append(_names_frame(connection, source, alias))
        counts, per_org = _aggregate(connection, parts)
    finally:
        connection.close()
    autofill = counts.attrs["autofill"]
    counts = counts if autofill else counts.drop(columns="autofilled")
    return _usage_from_counts(outcomes, lookup, counts, per_org, autofill=autofill, denominator="all", names=names)


def _aggregate(connection, parts: list[str]) -> tuple[pd.DataFrame, pd.Series]:
    """Per (organization, outcome): calls, meetings, first and last use, distinct users; and per organization."""
    if not parts:
        empty = pd.DataFrame({"organization_id": pd.Series(dtype=object), "outcome_id": pd.Series(dtype=object)})
        for column in ("calls", "meetings", "users", "total", "autofilled"):
            empty[column] = pd.Series(dtype=np.int64)
        empty.attrs["autofill"] = False
        for column in ("first_used", "last_used"):
            empty[column] = pd.Series(dtype=UTC_DATETIME_DTYPE)
        return empty, pd.Series(dtype=np.int64)
    union = " UNION ALL ".join(parts)
    counts = connection.execute(f"""
        SELECT organization_id, outcome_id,
               count(*) FILTER (WHERE kind = 'call') AS calls,
               count(*) FILTER (WHERE kind = 'meeting') AS meetings,
               epoch_us(min(date_created)) AS first_us, epoch_us(max(date_created)) AS last_us,
               count(DISTINCT user_id) AS users,
               count(*) FILTER (WHERE autofilled) AS autofilled,
               count(autofilled) AS autofill_known
        FROM ({union}) GROUP BY ALL""").df()
    # As the pandas path: an autofilled column only when some activity says whether it was autofilled.
    counts.attrs["autofill"] = bool(counts.pop("autofill_known").sum())
    per_org = counts.groupby(counts["organization_id"].astype(object), dropna=False, sort=False)[
        ["calls", "meetings"]].sum().sum(axis=1)
    for column, source in (("first_used", "first_us"), ("last_used", "last_us")):
        micros = pd.array(counts.pop(source), dtype="Int64")
        counts[column] = pd.to_datetime(micros, unit="us", utc=True).astype(UTC_DATETIME_DTYPE)
    for key in _KEY:
        counts[key] = counts[key].astype(object).where(counts[key].notna(), pd.NA)
    for column in ("calls", "meetings", "users", "autofilled"):
        counts[column] = counts[column].astype(np.int64)
    counts["total"] = counts["calls"] + counts["meetings"]
    return counts, per_org
