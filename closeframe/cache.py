"""A local Parquet cache of loaded activities: one file per (API host, organization, kind, date_created range).

Layout: ``<root>/<host>/<organization_id>/<kind>s[/<variant>]/<start>__<end>.parquet``. Each file holds the
records whose ``date_created`` lies in its half-open range ``[start, end)`` as they were when fetched (columns
``id``, ``date_created`` and ``record``, the record's JSON, so a cached load returns exactly what a fresh load
returns). Ranges in one folder never overlap: writing a range trims the files it overlaps. ``variant`` is a hash of
``fields=``/``filters=`` when given, since such loads hold other records.

The folder is named by the organization id that ``/me/`` reports, never by a key; nothing secret is written.
Files are written atomically (temporary file, then rename), as each window completes, so an interrupted load keeps
the windows it finished and a re-run resumes from them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping
from urllib.parse import urlsplit

import pandas as pd
import pyarrow as pa

from closeframe.errors import ConfigurationError

__all__ = ["CACHE_ENV", "CACHE_FILE_NAME", "MAX_TIME", "MIN_TIME", "ActivityCache", "CachedRange", "default_cache_dir",
           "parse_lookback", "resolve_cache_dir"]

#: The environment variable naming the cache folder used by ``cache=True``.
CACHE_ENV = "CLOSEFRAME_CACHE"
#: Stand-ins for an open start / end of a range (so ranges compare without special cases).
MIN_TIME = pd.Timestamp("1900-01-01", tz="UTC").as_unit("ns")
MAX_TIME = pd.Timestamp("2200-01-01", tz="UTC").as_unit("ns")
_ONE_MICROSECOND = pd.Timedelta(microseconds=1)
_NAME = re.compile(r"^(open|\d{8}T\d{6}\.\d{9}Z)__(\d{8}T\d{6}\.\d{9}Z)\.parquet$")
#: The name of a cache file (what DuckDB usage reads: closeframe.usage_sql).
CACHE_FILE_NAME = _NAME
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
# Writes trim other files of the same folder; one lock keeps concurrent windows from trimming each other.
_WRITE_LOCK = threading.Lock()


try:
    from orjson import loads as _fast_loads
except ImportError:  # pragma: no cover - orjson is a dependency
    _fast_loads = json.loads


def _loads(text: str) -> Any:
    """A stored record: orjson (faster), or the standard library for what orjson refuses (NaN)."""
    try:
        return _fast_loads(text)
    except ValueError:
        return json.loads(text)


def default_cache_dir() -> Path:
    """``$CLOSEFRAME_CACHE`` if set, else ``~/.cache/closeframe``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "closeframe").expanduser()


def resolve_cache_dir(cache: Any) -> Path | None:
    """The cache root for a loader's ``cache=`` argument: ``None``/``False`` (off), ``True`` (default) or a path.

    Raises
    ------
    ConfigurationError
        For any other value.
    """
    if cache is None or cache is False:
        return None
    if cache is True:
        return default_cache_dir()
    if isinstance(cache, (str, os.PathLike)) and str(cache).strip():
        return Path(cache).expanduser()
    raise ConfigurationError(
        f"cache={cache!r} is not valid: pass True (${CACHE_ENV} or ~/.cache/closeframe), a folder path, or None.")


def parse_lookback(lookback: Any) -> pd.Timedelta:
    """``lookback=``: a Timedelta, a string such as ``"30D"``, a number of days, or ``None`` (no lookback).

    Raises
    ------
    ConfigurationError
        For a value that is not a non-negative duration.
    """
    if lookback is None:
        return pd.Timedelta(0)
    try:
        value = pd.Timedelta(days=lookback) if isinstance(lookback, (int, float)) and not isinstance(lookback, bool) \
            else pd.Timedelta(lookback)
    except (ValueError, TypeError):
        value = pd.NaT
    if value is pd.NaT or value < pd.Timedelta(0):
        raise ConfigurationError(
            f"lookback={lookback!r} is not a duration: pass e.g. '30D', '12h', a number of days, or None.")
    return value


def _format(stamp: pd.Timestamp) -> str:
    if stamp <= MIN_TIME:
        return "open"
    stamp = stamp.tz_convert("UTC").as_unit("ns")
    return f"{stamp.strftime('%Y%m%dT%H%M%S')}.{stamp.value % 1_000_000_000:09d}Z"


def _parse(text: str) -> pd.Timestamp:
    if text == "open":
        return MIN_TIME
    whole, fraction = text[:-1].split(".")
    base = pd.Timestamp(datetime.strptime(whole, "%Y%m%dT%H%M%S").replace(tzinfo=timezone.utc)).as_unit("ns")
    return base + pd.Timedelta(int(fraction), unit="ns")


@dataclass(frozen=True)
class CachedRange:
    """One cache file: its range ``[start, end)`` (``MIN_TIME`` for an open start) and path."""

    start: pd.Timestamp
    end: pd.Timestamp
    path: Path


class ActivityCache:
    """The cached ranges of one organization's calls or meetings.

    Parameters
    ----------
    root : Path
        The cache root (see :func:`resolve_cache_dir`).
    base_url : str
        The API's base URL; its host keeps a sandbox's data apart from Close's.
    organization : str
        The organization id from ``/me/``.
    kind : {"call", "meeting"}
    variant : mapping, optional
        ``fields``/``filters`` of the load; a non-empty one gets its own sub-folder.
    """

    def __init__(self, root: Path, base_url: str, organization: str, kind: str,
                 variant: Mapping[str, Any] | None = None):
        host = _UNSAFE.sub("_", urlsplit(base_url).netloc) or "default"
        folder = Path(root) / host / _UNSAFE.sub("_", organization) / f"{kind}s"
        if variant and any(variant.values()):
            digest = hashlib.sha1(json.dumps(variant, sort_keys=True, default=str).encode()).hexdigest()[:12]
            folder = folder / f"variant-{digest}"
        self.folder = folder

    def ranges(self) -> list[CachedRange]:
        """The cached ranges, oldest first (files that are not ours are ignored)."""
        if not self.folder.is_dir():
            return []
        found = []
        for path in self.folder.iterdir():
            match = _NAME.match(path.name)
            if match:
                found.append(CachedRange(_parse(match[1]), _parse(match[2]), path))
        return sorted(found, key=lambda r: r.start)

    def newest(self, ranges: Iterable[CachedRange]) -> pd.Timestamp | None:
        """The latest ``date_created`` cached in ``ranges``, or ``None`` when they hold no records."""
        import pyarrow.parquet as pq

        latest = None
        for cached in ranges:
            column = pq.read_table(cached.path, columns=["date_created"]).column(0).to_pandas()
            if len(column):
                value = column.max()
                latest = value if latest is None else max(latest, value)
        return None if latest is None else pd.Timestamp(latest).tz_convert("UTC")

    @staticmethod
    def read(cached: CachedRange, start: pd.Timestamp, end: pd.Timestamp) -> list[dict]:
        """The records of ``cached`` whose ``date_created`` is in ``[start, end)``, in their stored order."""
        frame = _read_frame(cached.path)
        keep = (frame["date_created"] >= start) & (frame["date_created"] < end)
        return [json.loads(text) for text in frame.loc[keep, "record"]]

    @staticmethod
    def read_batches(cached: CachedRange, start: pd.Timestamp, end: pd.Timestamp,
                     size: int) -> Iterator[list[dict]]:
        """The records of :meth:`read`, ``size`` at a time: only the ``record`` texts of the rows in range are
        read (with pyarrow, a batch at a time), so the whole file is never held as dicts."""
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        with pq.ParquetFile(cached.path) as parquet:
            for batch in parquet.iter_batches(batch_size=size, columns=["date_created", "record"]):
                created = batch.column(0).cast(pa.timestamp("ns", tz="UTC"))
                keep = pc.and_(pc.greater_equal(created, pa.scalar(start.value, created.type)),
                               pc.less(created, pa.scalar(end.value, created.type)))
                texts = batch.column(1).filter(keep)
                if len(texts):
                    yield [_loads(text) for text in texts.to_pylist()]

    def write(self, start: pd.Timestamp, end: pd.Timestamp, records: list[dict]) -> None:
        """Store ``records`` as the range ``[start, end)``, trimming cached ranges that overlap it."""
        with _WRITE_LOCK:
            self.folder.mkdir(parents=True, exist_ok=True)
            for cached in self.ranges():
                if cached.start < end and start < cached.end:
                    frame = _read_frame(cached.path)
                    for piece_start, piece_end in ((cached.start, start), (end, cached.end)):
                        if piece_start < piece_end:
                            keep = (frame["date_created"] >= piece_start) & (frame["date_created"] < piece_end)
                            self._write_frame(piece_start, piece_end, frame[keep])
                    cached.path.unlink(missing_ok=True)
            self._write_frame(start, end, _records_frame(records))

    def _write_frame(self, start: pd.Timestamp, end: pd.Timestamp, frame: pd.DataFrame) -> None:
        target = self.folder / f"{_format(start)}__{_format(end)}.parquet"
        handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=".partial-", suffix=".parquet")
        os.close(handle)
        try:
            frame.to_parquet(temporary, index=False, engine="pyarrow")
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def _records_frame(records: list[dict]) -> pd.DataFrame:
    created = pd.to_datetime(pd.Series([r.get("date_created") for r in records], dtype=object), utc=True,
                             errors="coerce", format="ISO8601")
    return pd.DataFrame({
        "id": pd.Series([r.get("id") for r in records], dtype="string"),
        "date_created": created.astype("datetime64[ns, UTC]"),
        "record": pd.Series([json.dumps(r, ensure_ascii=False) for r in records], dtype="string"),
    })


def _read_frame(path: Path) -> pd.DataFrame:
    frame = pd.read_parquet(path, engine="pyarrow")
    frame["date_created"] = frame["date_created"].astype("datetime64[ns, UTC]")
    return frame


def stored_end(end: pd.Timestamp, started: pd.Timestamp, records: list[dict]) -> pd.Timestamp:
    """The end a fetched window may be cached with: activities created after the fetch began may be missing.

    ``min(end, max(started, newest record + 1 µs))``: the open end of the newest window is therefore refetched on
    the next run, even when the server's clock runs ahead of ours.
    """
    newest = _records_frame(records)["date_created"].max() if records else pd.NaT
    reached = started if pd.isna(newest) else max(started, newest + _ONE_MICROSECOND)
    return min(end, reached)
