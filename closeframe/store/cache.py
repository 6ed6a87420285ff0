"""A local Parquet cache of loaded activities: one file per (API host, organization, kind, date_created range).

Layout: ``<root>/<host>/<organization_id>/<kind>s[/<variant>]/<start>__<end>.parquet``. Each file holds the
records whose ``date_created`` lies in its half-open range ``[start, end)`` as they were when fetched (columns
``id``, ``date_created`` and ``record``, the record's JSON, so a cached load returns exactly what a fresh load
returns); records without a readable ``date_created`` ride along with the file they were fetched into. Ranges in one
folder never overlap: writing a range trims the files it overlaps. ``variant`` is a hash of ``fields=``/``filters=``
when given, since such loads hold other records.

The folder is named by the organization the key reads (its records' ``organization_id``), never by a key; nothing
secret is written. Every file records that organization and every read checks it, so a cache never serves one
organization's rows to another. A file that cannot be read whole (truncated, empty, garbage, other columns) is
dropped with a :class:`CacheWarning` and its range fetched again. Files are written durably (temporary file,
fsync, rename, fsync of the folder) as each window completes, under a lock that holds across processes
(:mod:`closeframe.store.locking`), so an interrupted load keeps the windows it finished and several processes can share
one folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import logging
import tempfile
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping
from urllib.parse import urlsplit

import pandas as pd
import pyarrow as pa

from closeframe.store.durable import write_durably
from closeframe.errors import ConfigurationError
from closeframe.store.locking import folder_lock

__all__ = ["CACHE_ENV", "CACHE_FILE_NAME", "MAX_TIME", "MIN_TIME", "ActivityCache", "CacheWarning", "CachedRange",
           "check_cache_dir", "default_cache_dir", "parse_lookback", "resolve_cache_dir", "stored_end"]

#: The environment variable naming the cache folder used by ``cache=True``.
CACHE_ENV = "CLOSEFRAME_CACHE"
#: Stand-ins for an open start / end of a range (so ranges compare without special cases).
MIN_TIME = pd.Timestamp("1900-01-01", tz="UTC").as_unit("ns")
MAX_TIME = pd.Timestamp("2200-01-01", tz="UTC").as_unit("ns")
_ONE_MICROSECOND = pd.Timedelta(microseconds=1)
_NAME = re.compile(r"^(open|\d{8}T\d{6}\.\d{9}Z)__(\d{8}T\d{6}\.\d{9}Z)\.parquet$")
#: The name of a cache file (what DuckDB usage reads: closeframe.usage.sources).
CACHE_FILE_NAME = _NAME
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
log = logging.getLogger("closeframe.store.cache")


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


def check_cache_dir(root: Path) -> Path:
    """Make sure ``root`` is a folder this process can write, before any request; return it.

    Raises
    ------
    ConfigurationError
        When ``root`` or a folder above it is a file, or the folder cannot be created or written.
    """
    for place in (root, *root.parents):
        if place.exists():
            if not place.is_dir():
                raise ConfigurationError(f"cache={str(root)!r} cannot be a cache folder: {str(place)!r} is a file. "
                                         "Pass a folder path (it is created if missing), or cache=None.")
            break
    try:
        root.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(dir=root, prefix=".probe-")
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        raise ConfigurationError(f"The cache folder {str(root)!r} cannot be written ({exc.strerror or exc}): pass "
                                 "a folder you can write with cache=, or cache=None.") from None
    return root


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


class CacheWarning(UserWarning):
    """A cache entry was damaged, or held another organization's rows: it was dropped and is fetched again."""


class _Damaged(Exception):
    """Why a cache file cannot be used."""


_ORGANIZATION_KEY = b"closeframe.organization_id"
_COLUMNS = {"id": "string", "date_created": "timestamp", "record": "string"}


class ActivityCache:
    """The cached ranges of one organization's calls or meetings.

    Parameters
    ----------
    root : Path
        The cache root (see :func:`resolve_cache_dir`).
    base_url : str
        The API's base URL; its host keeps a sandbox's data apart from Close's.
    organization : str
        The id of the organization the key reads (its records carry it); every entry is checked against it.
    kind : {"call", "meeting"}
    variant : mapping, optional
        ``fields``/``filters`` of the load; a non-empty one gets its own sub-folder.

    Notes
    -----
    :meth:`load` reads and checks every entry once, under the folder's lock (:mod:`closeframe.store.locking`), and keeps
    them in memory for :meth:`read`; :meth:`write` takes the same lock, so other threads and processes on the folder
    never see it half rewritten. Writes are durable: the file and the folder are fsynced around the rename.
    """

    def __init__(self, root: Path, base_url: str, organization: str, kind: str,
                 variant: Mapping[str, Any] | None = None):
        host = _UNSAFE.sub("_", urlsplit(base_url).netloc) or "default"
        folder = Path(root) / host / _UNSAFE.sub("_", organization) / f"{kind}s"
        if variant and any(variant.values()):
            digest = hashlib.sha1(json.dumps(variant, sort_keys=True, default=str).encode()).hexdigest()[:12]
            folder = folder / f"variant-{digest}"
        self.folder = folder
        self.organization = organization
        # path -> (date_created, records): the records are not kept after the check (a million cached calls as
        # dicts would cost gigabytes); reads parse them again, a file at a time.
        self._entries: dict[Path, tuple[pd.Series, list[dict] | None]] = {}
        self._written: dict[Path, pd.Timestamp] = {}  # path -> when the file was written

    def ranges(self) -> list[CachedRange]:
        """The cached ranges, oldest first (files that are not ours, e.g. leftover temporary files, are ignored)."""
        if not self.folder.is_dir():
            return []
        found = []
        for path in self.folder.iterdir():
            match = _NAME.match(path.name)
            if match:
                found.append(CachedRange(_parse(match[1]), _parse(match[2]), path))
        return sorted(found, key=lambda r: r.start)

    def load(self) -> list[CachedRange]:
        """Read and check every entry; return the usable ranges, oldest first.

        A damaged entry (truncated, empty, not Parquet, other columns, records that are not JSON) or one holding
        another organization's records is deleted with a :class:`CacheWarning`: its range is then simply not
        cached, and the load fetches it again.
        """
        usable = []
        with folder_lock(self.folder):
            for cached in self.ranges():
                try:
                    self._entries[cached.path] = (_read_entry(cached.path, self.organization)[0], None)
                    self._written[cached.path] = pd.Timestamp(cached.path.stat().st_mtime, unit="s", tz="UTC")
                except _Damaged as problem:
                    warnings.warn(f"closeframe cache: dropped {cached.path.name} in {str(self.folder)!r}: "
                                  f"{problem}. Its range is fetched again.", CacheWarning, stacklevel=2)
                    cached.path.unlink(missing_ok=True)
                    continue
                usable.append(cached)
        return usable

    def newest(self, ranges: Iterable[CachedRange]) -> pd.Timestamp | None:
        """The latest ``date_created`` cached in ``ranges`` (from :meth:`load`) that was already past when its file
        was written.

        A meeting's ``date_created`` is its start, so upcoming meetings are cached with dates in the future; they
        say nothing about how far loading has come. Each file's write time bounds what it held in the past.
        ``None`` when no such record is cached.
        """
        latest = None
        for cached in ranges:
            created, written = self._entries[cached.path][0].dropna(), self._written[cached.path]
            past = created[created <= written]
            if len(past):
                value = past.max()
                latest = value if latest is None else max(latest, value)
        return None if latest is None else pd.Timestamp(latest).tz_convert("UTC")

    def read(self, cached: CachedRange, start: pd.Timestamp, end: pd.Timestamp) -> list[dict]:
        """The records of ``cached`` (from :meth:`load`) whose ``date_created`` is in ``[start, end)``.

        Records without a readable ``date_created`` belong to no range: they come with every read of their file
        (the loader keeps each id once).
        """
        created, records = self._entries[cached.path]
        if records is None:
            with folder_lock(self.folder):
                try:
                    created, records = _read_entry(cached.path, self.organization)
                except (_Damaged, OSError):
                    # Another process wrote a range over it since load(), trimming it into other files: the
                    # records of [start, end) are now in the files whose ranges overlap it.
                    parts = []
                    for current in self.ranges():
                        if current.start < end and start < current.end:
                            try:
                                parts.append(_read_entry(current.path, self.organization))
                            except (_Damaged, OSError):
                                continue
                    created = pd.concat([part[0] for part in parts], ignore_index=True) if parts else \
                        pd.Series([], dtype="datetime64[ns, UTC]")
                    records = [record for part in parts for record in part[1]]
        keep = (((created >= start) & (created < end)) | created.isna()).to_numpy()
        return [record for record, kept in zip(records, keep) if kept]

    def records(self, cached: CachedRange) -> list[dict] | None:
        """All the records of one entry, read now (without :meth:`load`); ``None`` when it is damaged."""
        try:
            with folder_lock(self.folder):
                return _read_entry(cached.path, self.organization)[1]
        except (_Damaged, OSError):
            return None

    def read_batches(self, cached: CachedRange, start: pd.Timestamp, end: pd.Timestamp,
                     size: int) -> Iterator[list[dict]]:
        """The records of :meth:`read`, ``size`` at a time; one file's records at most are held as dicts."""
        records = self.read(cached, start, end)
        for first in range(0, len(records), size):
            yield records[first:first + size]

    def write(self, start: pd.Timestamp, end: pd.Timestamp, records: list[dict]) -> None:
        """Store ``records`` as the range ``[start, end)``, trimming cached ranges that overlap it."""
        new = _records_frame(records)
        with folder_lock(self.folder):
            carried = []
            for cached in self.ranges():
                if not (cached.start < end and start < cached.end):
                    continue
                try:
                    frame = _read_frame(cached.path)
                except _Damaged as problem:
                    log.warning("closeframe cache: dropped the damaged %s (%s)", cached.path, problem)
                    cached.path.unlink(missing_ok=True)
                    continue
                # Undated records have no place by date: they stay with a piece of their file, unless refetched.
                undated = frame["date_created"].isna() & ~frame["id"].isin(new["id"].dropna())
                pieces = [(a, b) for a, b in ((cached.start, start), (end, cached.end)) if a < b]
                for number, (piece_start, piece_end) in enumerate(pieces):
                    keep = (frame["date_created"] >= piece_start) & (frame["date_created"] < piece_end)
                    self._write_frame(piece_start, piece_end, frame[keep.fillna(False) | (undated & (number == 0))])
                if not pieces:
                    carried.append(frame[undated])
                cached.path.unlink(missing_ok=True)
            if carried:
                new = pd.concat([new, *carried], ignore_index=True)
            self._write_frame(start, end, new)

    def _write_frame(self, start: pd.Timestamp, end: pd.Timestamp, frame: pd.DataFrame) -> None:
        import pyarrow.parquet as pq

        target = self.folder / f"{_format(start)}__{_format(end)}.parquet"
        table = pa.Table.from_pandas(frame.reset_index(drop=True), preserve_index=False)
        table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                               _ORGANIZATION_KEY: self.organization.encode()})
        write_durably(target, lambda temporary: pq.write_table(table, temporary))


def _records_frame(records: list[dict]) -> pd.DataFrame:
    created = pd.to_datetime(pd.Series([r.get("date_created") for r in records], dtype=object), utc=True,
                             errors="coerce", format="ISO8601")
    return pd.DataFrame({
        "id": pd.Series([r.get("id") for r in records], dtype="string"),
        "date_created": created.astype("datetime64[ns, UTC]"),
        "record": pd.Series([json.dumps(r, ensure_ascii=False) for r in records], dtype="string"),
    })


def _read_frame(path: Path) -> pd.DataFrame:
    """A cache file as a frame with its three columns typed; :class:`_Damaged` when it is not one."""
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException, ValueError) as exc:
        raise _Damaged(f"damaged, not a readable Parquet file ({type(exc).__name__})") from None
    types = {field.name: field.type for field in table.schema}
    for name, kind in _COLUMNS.items():
        found = types.get(name)
        if found is None or not (pa.types.is_timestamp(found) if kind == "timestamp" else
                                 pa.types.is_string(found) or pa.types.is_large_string(found)):
            raise _Damaged(f"damaged, column {name!r} is {found or 'missing'}, not {kind}")
    try:
        frame = table.select(list(_COLUMNS)).to_pandas()
    except (pa.ArrowException, ValueError) as exc:
        raise _Damaged(f"damaged ({type(exc).__name__})") from None
    frame["id"] = frame["id"].astype("string")
    frame["record"] = frame["record"].astype("string")
    frame["date_created"] = frame["date_created"].astype("datetime64[ns, UTC]")
    frame.attrs["organization"] = (table.schema.metadata or {}).get(_ORGANIZATION_KEY, b"").decode() or None
    return frame


def _read_entry(path: Path, organization: str) -> tuple[pd.Series, list[dict]]:
    """A cache file's dates and records, checked to be whole and of ``organization``."""
    frame = _read_frame(path)
    try:
        records = [_loads(text) for text in frame["record"]]
    except (TypeError, ValueError):
        raise _Damaged("damaged, its records are not JSON") from None
    if not all(isinstance(record, dict) for record in records):
        raise _Damaged("damaged, its records are not JSON objects")
    found = {frame.attrs["organization"]} | {r.get("organization_id") for r in records}
    others = sorted(str(org) for org in found - {None, organization})
    if others:
        raise _Damaged(f"it holds rows of organization {', '.join(others)}, not {organization}")
    return frame["date_created"], records


def stored_end(end: pd.Timestamp, started: pd.Timestamp, records: list[dict]) -> pd.Timestamp:
    """The end a fetched window may be cached with: activities created after the fetch began may be missing.

    ``started`` is the server's clock when the fetch began (from its ``Date`` header, see
    :meth:`closeframe.http.client.CloseClient.server_now`), so a server clock behind ours cannot hide the activities
    it stamps after our fetch. ``min(end, started)``; the dates of the records fetched do not move it, since a
    meeting's ``date_created`` is its start and may lie in the future. ``records`` is kept for the signature.
    """
    return min(end, started)
