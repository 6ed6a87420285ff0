"""Where usage reads activities from beyond memory: Parquet files, hive-partitioned Parquet datasets, the local store.

A source is turned into what an engine reads: a frame stays a frame; a Parquet file or dataset folder becomes a
DuckDB table expression (:func:`activity_source`) or a Spark path (:func:`parquet_path`); the loaders' store
(``dataset={"cache": folder}``) is a :class:`CacheSource` whose ``frame()`` reads the store's tables, so another
store can plug in by offering the same method. A dataset folder must have one partitioning throughout (:func:`check_layout`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from closeframe.errors import ConfigurationError
from closeframe.usage.definition import AUTOFILL_FIELDS

__all__ = ["CacheSource", "activity_source", "check_layout", "parquet_path", "sources_from"]


class CacheSource:
    """The stored calls or meetings of a cache folder's store (:mod:`closeframe.store`), each row once.

    Only loads without ``fields=``/``filters=`` are read (the store keeps those in scopes of their own, other
    records); rows are keyed by id in the store, so an upcoming meeting stored by several loads, or a load killed
    mid-write, is never counted twice. The columns usage reads are fetched under the store's lock, in one short
    connection, into a frame the engine then aggregates.
    """

    def __init__(self, folder: Path, kind: str) -> None:
        self.folder, self.kind = folder, kind

    def frame(self) -> pd.DataFrame | None:
        """The columns usage reads of every stored row; ``None`` when the folder has no store or no such rows."""
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
            wanted = ("id", "organization_id", "outcome_id", "user_id", "date_created", *AUTOFILL_FIELDS, "status",
                      "disposition")
            columns = ", ".join(f't."{c}"' for c in wanted if c in present)
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
    pattern = parquet_path(source, name)
    if Path(pattern).is_dir():
        pattern = str(Path(pattern) / "**" / "*.parquet")
    quoted = pattern.replace("'", "''")
    return f"read_parquet('{quoted}', hive_partitioning = true, hive_types_autocast = false, union_by_name = true)"


def parquet_path(source: Any, name: str) -> str:
    """The path of a Parquet file or dataset folder, checked: it exists, holds Parquet, has one partitioning.

    Raises
    ------
    ConfigurationError
        Not a path, a path that does not exist, a folder without Parquet files, or one that mixes partitionings.
    """
    if not isinstance(source, (str, os.PathLike)):
        raise ConfigurationError(f"{name} must be a DataFrame or the path of a Parquet file or dataset folder, "
                                 f"got {type(source).__name__}.")
    path = Path(source).expanduser()
    if path.is_file():
        return str(path)
    if not path.is_dir():
        raise ConfigurationError(f"{name}={str(source)!r} does not exist: pass a Parquet file or dataset folder.")
    check_layout(path, name)
    return str(path)


def check_layout(folder: Path, name: str) -> tuple[str, ...]:
    """The hive partition columns of a dataset folder (``("organization_id", "month")``), the same for every file.

    Raises
    ------
    ConfigurationError
        No Parquet file, or files under two partitionings (say ``organization_id=/month=`` and
        ``organization_id=``): DuckDB and Spark would refuse or misread them, so the message names both.
    """
    layouts: dict[tuple[str, ...], Path] = {}
    for file in folder.rglob("*.parquet"):
        parts = file.relative_to(folder).parts[:-1]
        layout = tuple(part.split("=", 1)[0] if "=" in part else "(folder)" for part in parts)
        layouts.setdefault(layout, file)
    if not layouts:
        raise ConfigurationError(f"{name}={str(folder)!r} holds no .parquet files; write one with "
                                 f"cf.export({name}, {str(folder)!r}, partition_by=['organization_id', 'month']).")
    if len(layouts) > 1:
        (one, first), (two, second) = sorted(layouts.items())[:2]

        def words(layout: tuple[str, ...]) -> str:
            return "/".join(f"{p}=" for p in layout) or "no partitioning"

        raise ConfigurationError(
            f"{name}={str(folder)!r} mixes two partitionings: {words(one)} (e.g. {first.relative_to(folder)}) and "
            f"{words(two)} (e.g. {second.relative_to(folder)}); write the dataset again with one partition_by, "
            "or pass one of its folders.")
    return next(iter(layouts))


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
