"""Writes frames to CSV, a Parquet file, or a Parquet dataset partitioned by organization.

CSV and Parquet both get lists and dicts (``attendees``, unknown nested fields) as JSON text, so every tool reads
them the same way; datetimes stay UTC (ISO 8601 with ``+00:00`` in CSV).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import pandas as pd

from closeframe.errors import ConfigurationError

__all__ = ["EXPORT_FORMATS", "MONTH_SOURCE", "export", "to_csv", "to_parquet", "to_parquet_dataset"]

EXPORT_FORMATS = ("csv", "parquet")
_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def _check_frame(df: object) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise ConfigurationError(f"Expected a pandas DataFrame (from closeframe's loaders), got {type(df).__name__}.")
    return df


def _flatten_nested(df: pd.DataFrame) -> pd.DataFrame:
    """Return ``df`` with list/dict cells of object columns as JSON text (a copy only when needed)."""
    nested = [
        col for col in df.columns
        if df[col].dtype == object and df[col].map(lambda v: isinstance(v, (list, dict, tuple))).any()
    ]
    if not nested:
        return df
    out = df.copy()
    for col in nested:
        out[col] = out[col].map(
            lambda v: json.dumps(v, ensure_ascii=False, default=str) if isinstance(v, (list, dict, tuple)) else v
        ).astype("string")
    return out


def to_csv(df: pd.DataFrame, path: str | Path) -> Path:
    """Write ``df`` as UTF-8 CSV without the index; return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _flatten_nested(_check_frame(df)).to_csv(path, index=False, encoding="utf-8", date_format="%Y-%m-%dT%H:%M:%S.%f%z")
    return path


def to_parquet(df: pd.DataFrame, path: str | Path) -> Path:
    """Write ``df`` as one Parquet file (pyarrow, dtypes kept: categories as dictionaries); return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _flatten_nested(_check_frame(df)).to_parquet(path, index=False, engine="pyarrow")
    return path


#: The column a ``month`` partition is derived from, when the frame has no ``month`` column of its own.
MONTH_SOURCE = "date_created"


def _with_month(df: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Add ``month`` (``YYYY-MM`` of ``date_created`` in UTC) when it is asked for and not already there."""
    if "month" not in columns or "month" in df.columns or MONTH_SOURCE not in df.columns:
        return df
    created = pd.to_datetime(df[MONTH_SOURCE], utc=True)
    return df.assign(month=created.dt.strftime("%Y-%m").astype("string"))


def to_parquet_dataset(df: pd.DataFrame, path: str | Path, partition_by: Sequence[str]) -> Path:
    """Write ``df`` as a hive-partitioned Parquet dataset (``organization_id=…/part-0.parquet``).

    ``"month"`` among ``partition_by`` partitions activities by the month (``YYYY-MM``, UTC) of their
    ``date_created``, derived when the frame has no ``month`` column.

    pyarrow.dataset, DuckDB (``read_parquet('…/**/*.parquet', hive_partitioning=true)``) and Spark read the folder
    as one table. An existing dataset folder is replaced, so a re-export never doubles rows.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    df = _flatten_nested(_check_frame(df))
    columns = [partition_by] if isinstance(partition_by, str) else list(partition_by)
    df = _with_month(df, columns)
    missing = [c for c in columns if c not in df.columns]
    if missing or not columns:
        raise ConfigurationError(
            f"partition_by={columns!r}: {missing or 'nothing'} not in the frame's columns; "
            f"choose from {', '.join(map(str, df.columns))}."
        )
    path = Path(path)
    table = pa.Table.from_pandas(df, preserve_index=False)
    pq.write_to_dataset(table, root_path=str(path), partition_cols=columns,
                        existing_data_behavior="delete_matching")
    return path


def export(df: pd.DataFrame, path: str | Path, *, format: str | None = None,
           partition_by: Sequence[str] | str | None = None) -> Path:
    """Write a closeframe frame to CSV, Parquet, or a partitioned Parquet dataset.

    Parameters
    ----------
    df : pandas.DataFrame
        A frame from a loader (or any frame).
    path : str or Path
        The file, or the dataset folder when ``partition_by`` is given.
    format : {"csv", "parquet"}, optional
        Guessed from the suffix when omitted (``.csv``, ``.parquet``, ``.pq``).
    partition_by : str or list of str, optional
        Write a hive-partitioned Parquet dataset split by these columns, e.g. ``"organization_id"``, or
        ``["organization_id", "month"]`` for calls and meetings (``month`` derived from ``date_created``).

    Returns
    -------
    pathlib.Path
        Where it was written.
    """
    if partition_by is not None:
        if format not in (None, "parquet"):
            raise ConfigurationError(f"partition_by= writes a Parquet dataset; format={format!r} cannot be used.")
        return to_parquet_dataset(df, path, partition_by)
    if format is None:
        format = _SUFFIXES.get(Path(path).suffix.lower())
        if format is None:
            raise ConfigurationError(
                f"Cannot tell the format of {str(path)!r}: end it in .csv or .parquet, or pass format= "
                f"({', '.join(EXPORT_FORMATS)})."
            )
    if format not in EXPORT_FORMATS:
        raise ConfigurationError(f"format={format!r} is not one of {', '.join(map(repr, EXPORT_FORMATS))}.")
    return (to_csv if format == "csv" else to_parquet)(df, path)
