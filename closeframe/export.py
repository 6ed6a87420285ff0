"""Writes frames to CSV, a Parquet file, or a Parquet dataset partitioned by organization.

CSV and Parquet both get lists and dicts (``attendees``, unknown nested fields) as JSON text, so every tool reads
them the same way; datetimes stay UTC (ISO 8601 with ``+00:00`` in CSV). ``excel=True`` starts a CSV with a UTF-8
byte order mark, which Excel needs to read ``東京`` or ``Rückruf`` as written (other tools skip it).

A file is written beside its target and renamed over it (all or nothing), and gets the permissions any new file
gets under the process's umask (``0644`` under the usual ``022``): colleagues who may read the folder may read the
export, as with a file saved by any other program.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Sequence

import pandas as pd

from closeframe.store.durable import replace_folder, write_durably
from closeframe.errors import CloseError, ConfigurationError

__all__ = ["EXCEL_ENCODING", "EXPORT_FORMATS", "MONTH_SOURCE", "check_export_target", "check_partition_by", "export",
           "export_format", "to_csv", "to_parquet", "to_parquet_dataset"]

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
        if _arrow_nested(df[col].dtype)
        or df[col].dtype == object and df[col].map(lambda v: isinstance(v, (list, dict, tuple))).any()
    ]
    if not nested:
        return df
    out = df.copy()
    for col in nested:
        out[col] = out[col].astype(object).map(
            lambda v: json.dumps(v, ensure_ascii=False, default=str) if isinstance(v, (list, dict, tuple)) else v
        ).astype("string")
    return out


def _arrow_nested(dtype: object) -> bool:
    """An Arrow list or struct column (the loaders' ``attendees``, ``users``...)."""
    if not isinstance(dtype, pd.ArrowDtype):
        return False
    import pyarrow as pa

    return pa.types.is_list(dtype.pyarrow_dtype) or pa.types.is_large_list(dtype.pyarrow_dtype) or \
        pa.types.is_struct(dtype.pyarrow_dtype)


def _iso_datetimes(df: pd.DataFrame) -> pd.DataFrame:
    """Tz-aware datetime columns as ISO 8601 text in UTC with a ``+00:00`` offset (strftime's ``%z`` gives +0000)."""
    zoned = [col for col in df.columns if isinstance(df[col].dtype, pd.DatetimeTZDtype)]
    if not zoned:
        return df
    out = df.copy()
    for col in zoned:
        text = out[col].dt.tz_convert("UTC").dt.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
        out[col] = text.astype("string").where(out[col].notna())
    return out


#: The CSV encoding of ``excel=True``: UTF-8 with a byte order mark.
EXCEL_ENCODING = "utf-8-sig"


def _umask() -> int:
    """The process's umask, read without changing it where Linux says it (else set and restored at once)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _as_new_file(path: str | Path, mode: int = 0o666) -> None:
    """Give ``path`` the mode a newly created file (``0o666``) or folder (``0o777``) gets under the umask.

    The temporary file an atomic write starts from is private (``0600``, :func:`tempfile.mkstemp`); an export is
    meant to be shared like any file the user saves.
    """
    os.chmod(path, mode & ~_umask())


def _writing(path: Path, write) -> Path:
    """Write through :func:`closeframe.store.durable.write_durably` with the umask's permissions; an OS failure
    becomes one clear CloseError."""

    def write_shared(temporary: str) -> None:
        write(temporary)
        _as_new_file(temporary)

    try:
        return write_durably(path, write_shared)
    except OSError as exc:
        raise CloseError(f"Could not write {str(path)!r}: {exc.strerror or exc}. Any file that was there is "
                         "unchanged.") from None


def to_csv(df: pd.DataFrame, path: str | Path, *, excel: bool = False) -> Path:
    """Write ``df`` as UTF-8 CSV without the index, atomically; return the path.

    Parameters
    ----------
    df : pandas.DataFrame
    path : str or Path
    excel : bool, default False
        Start the file with a UTF-8 byte order mark (:data:`EXCEL_ENCODING`), so Excel opens non-ASCII text as
        written; pandas, DuckDB and Spark read either.
    """
    path = check_export_target(path, "csv")
    frame = _iso_datetimes(_flatten_nested(_check_frame(df)))
    encoding = EXCEL_ENCODING if excel else "utf-8"
    return _writing(path, lambda temporary: frame.to_csv(temporary, index=False, encoding=encoding))


def to_parquet(df: pd.DataFrame, path: str | Path) -> Path:
    """Write ``df`` as one Parquet file (pyarrow, dtypes kept: categories as dictionaries), atomically."""
    path = check_export_target(path, "parquet")
    frame = _flatten_nested(_check_frame(df))
    return _writing(path, lambda temporary: frame.to_parquet(temporary, index=False, engine="pyarrow"))


def _nearest_existing(path: Path) -> Path:
    for place in (path, *path.parents):
        if place.exists():
            return place
    return Path.cwd()


def _check_writable_parent(path: Path, shown: str) -> None:
    """The folder that will hold ``path`` exists or can be made, and a file can be created in it."""
    existing = _nearest_existing(path.parent)
    if not existing.is_dir():
        raise ConfigurationError(f"Cannot write {shown}: {str(existing)!r} is a file, not a folder. Choose a path "
                                 "in a folder.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.probe-")
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        raise ConfigurationError(f"Cannot write {shown}: {exc.strerror or exc} in {str(path.parent)!r}. Choose a "
                                 "folder you can write.") from None


def _is_dataset_folder(folder: Path) -> bool:
    """Only a folder of Parquet files under ``column=value`` folders (or an empty one) is replaced by an export."""
    for path in folder.rglob("*"):
        relative = path.relative_to(folder)
        if path.is_dir():
            if "=" not in path.name:
                return False
        elif len(relative.parts) < 2 or path.suffix not in (".parquet", ".pq") or \
                not all("=" in part for part in relative.parts[:-1]):
            return False
    return True


def check_partition_by(partition_by: Sequence[str] | str) -> list[str]:
    """``partition_by=`` as a list of column names; a clear error for an empty or malformed one."""
    columns = [partition_by] if isinstance(partition_by, str) else partition_by
    if not isinstance(columns, Sequence) or isinstance(columns, str) or \
            not all(isinstance(c, str) and c.strip() for c in columns):
        raise ConfigurationError(f"partition_by={partition_by!r} is not valid: pass column names, e.g. "
                                 "'organization_id' or ['organization_id', 'month'].")
    if not columns:
        raise ConfigurationError("partition_by is empty: name at least one column, e.g. 'organization_id' or "
                                 "['organization_id', 'month'], or leave it out for a single file.")
    return [c.strip() for c in columns]


def check_export_target(path: str | Path, format: str | None = None,
                        partition_by: Sequence[str] | str | None = None) -> Path:
    """Check an export's destination before anything is loaded or written; return it as a Path.

    A file export needs a path that is not a folder, in a folder that exists (or can be made) and can be written;
    a dataset export (``partition_by``) needs a new folder, an empty one, or a former dataset (never a folder of
    other files: it is replaced).

    Raises
    ------
    ConfigurationError
        Naming the path and what is wrong with it.
    """
    if not isinstance(path, (str, os.PathLike)) or not str(path).strip():
        raise ConfigurationError(f"path={path!r} is not a file path: pass e.g. 'calls.csv' or 'calls.parquet'.")
    path = Path(path).expanduser()
    shown = repr(str(path))
    if partition_by is not None:
        check_partition_by(partition_by)
        if path.exists() and not path.is_dir():
            raise ConfigurationError(f"Cannot write a dataset to {shown}: it is a file. A dataset is a folder; "
                                     "choose a new folder name.")
        if path.is_dir() and not _is_dataset_folder(path):
            raise ConfigurationError(f"Cannot write a dataset to {shown}: it is a folder of other files, not a "
                                     "Parquet dataset, and the export would replace it. Choose a new folder.")
    elif path.is_dir():
        raise ConfigurationError(f"Cannot write {format or 'a file'} to {shown}: it is a folder. Name a file in it, "
                                 f"e.g. {str(path / ('export.' + (format or 'csv')))!r}.")
    _check_writable_parent(path, shown)
    return path


#: The column a ``month`` partition is derived from, when the frame has no ``month`` column of its own.
MONTH_SOURCE = "date_created"


def _with_month(df: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Add ``month`` (``YYYY-MM`` of ``date_created`` in UTC) when it is asked for and not already there."""
    if "month" not in columns or "month" in df.columns or MONTH_SOURCE not in df.columns:
        return df
    created = pd.to_datetime(df[MONTH_SOURCE], utc=True)
    return df.assign(month=created.dt.strftime("%Y-%m").astype("string"))


def _write_dataset(pq, table, folder: str, columns: list[str]) -> None:
    """``pq.write_to_dataset`` into ``folder``, then the folder and everything in it with the umask's permissions."""
    pq.write_to_dataset(table, root_path=folder, partition_cols=columns)
    _as_new_file(folder, 0o777)
    for place in Path(folder).rglob("*"):
        _as_new_file(place, 0o777 if place.is_dir() else 0o666)


def to_parquet_dataset(df: pd.DataFrame, path: str | Path, partition_by: Sequence[str]) -> Path:
    """Write ``df`` as a hive-partitioned Parquet dataset (``organization_id=…/part-0.parquet``).

    ``"month"`` among ``partition_by`` partitions activities by the month (``YYYY-MM``, UTC) of their
    ``date_created``, derived when the frame has no ``month`` column.

    pyarrow.dataset, DuckDB (``read_parquet('…/**/*.parquet', hive_partitioning=true)``) and Spark read the folder
    as one table. An existing dataset folder is replaced, so a re-export never doubles rows.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = check_partition_by(partition_by)
    path = check_export_target(path, "parquet", columns)
    df = _with_month(_flatten_nested(_check_frame(df)), columns)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ConfigurationError(
            f"partition_by={columns!r}: {', '.join(map(repr, missing))} not in the frame's columns; "
            f"choose from {', '.join(map(str, df.columns))}."
        )
    table = pa.Table.from_pandas(df, preserve_index=False)
    try:
        # Written complete in a folder beside it, then put in its place: a re-export never mixes with the old one.
        return replace_folder(path, lambda temporary: _write_dataset(pq, table, temporary, columns))
    except OSError as exc:
        raise CloseError(f"Could not write the dataset {str(path)!r}: {exc.strerror or exc}. Any dataset that was "
                         "there is unchanged.") from None


def export(df: pd.DataFrame, path: str | Path, *, format: str | None = None,
           partition_by: Sequence[str] | str | None = None, excel: bool = False) -> Path:
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
    excel : bool, default False
        CSV only: start the file with a UTF-8 byte order mark so Excel reads ``東京`` or ``Rückruf`` as written.

    Returns
    -------
    pathlib.Path
        Where it was written.
    """
    format = export_format(path, format, partition_by)
    if excel and format != "csv":
        raise ConfigurationError(f"excel=True writes a CSV for Excel; {str(path)!r} would be {format}. Name a .csv "
                                 "file (or pass format='csv'), or leave excel out.")
    if partition_by is not None:
        return to_parquet_dataset(df, path, partition_by)
    if format == "csv":
        return to_csv(df, path, excel=excel)
    return to_parquet(df, path)


def export_format(path: str | Path, format: str | None, partition_by: Sequence[str] | str | None) -> str:
    """The format an export of ``path`` will use, or a ConfigurationError saying what to pass (checked up front)."""
    if partition_by is not None:
        if format not in (None, "parquet"):
            raise ConfigurationError(f"partition_by= writes a Parquet dataset; format={format!r} cannot be used.")
        return "parquet"
    if format is None:
        format = _SUFFIXES.get(Path(path).suffix.lower())
        if format is None:
            raise ConfigurationError(
                f"Cannot tell the format of {str(path)!r}: end it in .csv or .parquet, or pass format= "
                f"({', '.join(EXPORT_FORMATS)})."
            )
    if format not in EXPORT_FORMATS:
        raise ConfigurationError(f"format={format!r} is not one of {', '.join(map(repr, EXPORT_FORMATS))}.")
    return format
