"""One organization's stored calls or meetings: rows keyed by id, the ``date_created`` ranges they cover, and the
sync state that vouches for them, each change one transaction.

A *scope* is (API host, organization, kind, variant): loads with ``fields=``/``filters=`` hold other records and
get a scope of their own (variant: a hash of both). A scope's rows are keyed by ``id``; its ``ranges`` say which
half-open ``date_created`` spans ``[start, end)`` are stored, ``as_of`` when (Close's clock when their fetch began)
and ``exact_as_of`` up to when they are known to be exact (the fetch, or a later event-log refresh that included
them). A range whose ``exact_as_of`` is older than the load reading it, and that the load did not refresh, may be
stale: the load warns and says since when (:attr:`Coverage.stale_since`), every time, until it is re-read.

Writes never let an older copy win: a window fetched before another load stored the same span (a newer
``as_of``) is stored only where nothing newer is, and a window fetched before the last event-log sync minus its
overlap is not stored at all (the sync could not vouch for it). Rows, ranges and sync state change together in one
transaction (:func:`closeframe.store.database.transaction`).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence
from urllib.parse import urlsplit

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from closeframe.store.columns import (READ_SETTINGS, READ_WORKERS, REST, column_kinds, frame_from_columns,
                                     read_column, rows_table, sql_type)
from closeframe.store.database import connect, crash_point, store_path, transaction
# Events are read from OVERLAP before the last sync started: a window fetched earlier than that is not stored.
from closeframe.store.eventlog import OVERLAP

__all__ = ["MAX_TIME", "MIN_TIME", "OVERLAP", "ActivityStore", "Coverage", "StoredRange", "host_of"]

#: Stand-ins for an open start / end of a range (so ranges compare without special cases).
MIN_TIME = pd.Timestamp("1900-01-01", tz="UTC").as_unit("us")
MAX_TIME = pd.Timestamp("2200-01-01", tz="UTC").as_unit("us")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_TABLES = {"call": "calls", "meeting": "meetings"}


def host_of(base_url: str) -> str:
    """The API host a store scope is named by (a sandbox's data stays apart from Close's)."""
    return _UNSAFE.sub("_", urlsplit(base_url).netloc) or "default"


def _utc(value: Any) -> pd.Timestamp:
    return pd.Timestamp(value).tz_convert("UTC").as_unit("us")


@dataclass(frozen=True)
class StoredRange:
    """One stored span ``[start, end)`` of a scope, fetched ``as_of``, exact up to ``exact_as_of``; a span dated
    after its fetch began is stored (so the store holds what the load returned) but not ``trusted``."""

    start: pd.Timestamp
    end: pd.Timestamp
    as_of: pd.Timestamp
    exact_as_of: pd.Timestamp
    trusted: bool = True


@dataclass
class Coverage:
    """What the store holds of one scope: its ranges (oldest first) and the last event-log sync."""

    ranges: list[StoredRange]
    synced_at: pd.Timestamp | None
    local_synced_at: pd.Timestamp | None = None


def _listing_order(keys: pa.Table) -> pa.Array:
    """Indices putting rows in Close's listing order: newest ``date_created`` first, ties by id descending."""
    try:  # pyarrow >= 25 takes the null placement per key (and deprecates the option)
        return pc.sort_indices(keys, sort_keys=[("date_created", "descending", "at_end"),
                                                ("id", "descending", "at_end")])
    except (TypeError, ValueError, pa.ArrowInvalid):
        return pc.sort_indices(keys, sort_keys=[("date_created", "descending"), ("id", "descending")],
                               null_placement="at_end")


def _in_spans(created: pa.Array | pa.ChunkedArray, spans: Iterable[tuple], *, undated: bool) -> pa.Array:
    """Which ``date_created`` values fall in one of the half-open ``spans``; ``undated``: missing ones too."""
    keep = pc.is_null(created) if undated else pa.repeat(False, len(created))
    for low, high in spans:
        low, high = (pa.scalar(bound.to_pydatetime(), created.type) for bound in (low, high))
        inside = pc.and_(pc.greater_equal(created, low), pc.less(created, high))
        keep = pc.or_(keep, pc.fill_null(inside, False))
    return keep


def _first(result) -> tuple | None:
    """The first row of a query, reading it to the end (DuckDB refuses the next statement on an unread result)."""
    rows = result.fetchall()
    return rows[0] if rows else None


def _subtract(span: tuple, others: Iterable[tuple]) -> list[tuple]:
    """``span`` minus the spans ``others``: the pieces left, oldest first."""
    pieces = [span]
    for low, high in others:
        pieces = [part for a, b in pieces for part in ((a, min(b, low)), (max(a, high), b)) if part[0] < part[1]]
    return sorted(pieces)


class ActivityStore:
    """The stored calls or meetings of one organization, under a cache folder.

    Parameters
    ----------
    root : Path
        The cache folder; the store is its ``closeframe.duckdb``.
    base_url : str
        The API's base URL (its host names the scope).
    organization : str
        The organization the key reads; rows of others are never written here.
    kind : {"call", "meeting"}
    build : callable
        The loader's shaper (:func:`closeframe.shape.frames.calls_frame` or ``meetings_frame``).
    variant : mapping, optional
        ``fields``/``filters`` of the load; a non-empty one is a scope of its own.
    """

    def __init__(self, root: Path, base_url: str, organization: str, kind: str, build: Callable[[list], pd.DataFrame],
                 variant: Mapping[str, Any] | None = None) -> None:
        self.root, self.organization, self.kind, self.build = Path(root), organization, kind, build
        self.host = host_of(base_url)
        self.table = _TABLES[kind]
        self.variant = "" if not variant or not any(variant.values()) else \
            hashlib.sha1(json.dumps(variant, sort_keys=True, default=str).encode()).hexdigest()[:12]
        self.kinds = column_kinds(build([]))
        self._scope: int | None = None
        self._held = None  # (thread id, connection) of a session() block

    @property
    def path(self) -> Path:
        """The store file."""
        return store_path(self.root)

    # -- schema -------------------------------------------------------------------------------------------------
    def _layout(self) -> str:
        return ",".join(f"{name}:{kind}" for name, kind in self.kinds.items())

    def _ensure(self, connection) -> int:
        """Create this kind's table (or rebuild it when the loader's schema changed) and this scope; its id."""
        layout = _first(connection.execute("SELECT value FROM meta WHERE key = ?", [f"layout:{self.table}"]))
        if layout is None or layout[0] != self._layout():
            # A closeframe with other pinned columns wrote this table: its rows would read back differently, so
            # they are dropped (and fetched again) rather than served.
            connection.execute(f"DROP TABLE IF EXISTS {self.table}")
            connection.execute("DELETE FROM ranges WHERE scope IN (SELECT scope FROM scopes WHERE kind = ?)",
                               [self.kind])
            columns = ", ".join(f'"{name}" {sql_type(kind)}' for name, kind in self.kinds.items())
            connection.execute(f"CREATE TABLE {self.table} (scope INTEGER NOT NULL, {columns}, {REST} VARCHAR)")
            connection.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [f"layout:{self.table}", self._layout()])
        key = [self.host, self.organization, self.kind, self.variant]
        found = _first(connection.execute("SELECT scope FROM scopes WHERE host = ? AND organization_id = ? AND "
                                          "kind = ? AND variant = ?", key))
        if found is None:
            connection.execute("INSERT INTO scopes SELECT nextval('scope_ids'), ?, ?, ?, ?", key)
            found = _first(connection.execute("SELECT scope FROM scopes WHERE host = ? AND organization_id = ? "
                                              "AND kind = ? AND variant = ?", key))
        return int(found[0])

    # -- reading ------------------------------------------------------------------------------------------------
    @contextmanager
    def session(self) -> Iterator[None]:
        """Hold one connection for the block: this thread's reads (:meth:`coverage`, :meth:`newest`, :meth:`read`)
        and writes (:meth:`apply_changes`, ...) in it share it, instead of opening one each (about 25 ms). Each write
        is still its own transaction; other threads open their own connections (and wait for the folder's lock)."""
        if self._connection() is not None:
            yield
            return
        with connect(self.root) as connection:
            self._scope_id(connection)
            self._held = (threading.get_ident(), connection)
            try:
                yield
            finally:
                self._held = None

    def _connection(self):
        """The connection of this thread's :meth:`session`, if one is open."""
        held = self._held
        return held[1] if held is not None and held[0] == threading.get_ident() else None

    @contextmanager
    def _reader(self) -> Iterator:
        held = self._connection()
        if held is not None:
            yield held
        else:
            with connect(self.root) as connection:
                yield connection

    def _transaction(self):
        return transaction(self.root, self._connection())

    def coverage(self) -> Coverage:
        """The stored ranges of this scope (oldest first) and its last sync."""
        with self._reader() as connection:
            return self._coverage(connection, self._scope_id(connection))

    @staticmethod
    def _coverage(connection, scope: int) -> Coverage:
        rows = connection.execute('SELECT "start", "end", as_of, exact_as_of, trusted FROM ranges WHERE scope = ? '
                                  'ORDER BY "start"', [scope]).fetchall()
        sync = _first(connection.execute("SELECT synced_at, local_synced_at FROM sync WHERE scope = ?", [scope]))
        return Coverage([StoredRange(*(_utc(v) for v in row[:4]), bool(row[4])) for row in rows],
                        None if sync is None or sync[0] is None else _utc(sync[0]),
                        None if sync is None or sync[1] is None else _utc(sync[1]))

    def read(self, spans: Sequence[tuple], *, undated: bool = False) -> list[tuple[tuple, pd.DataFrame]]:
        """The stored rows of each span ``(start, end)``, as ``(span, frame)`` newest first within the frame.

        The rows are read column by column (:func:`~closeframe.store.columns.read_column`): the sort keys first,
        those inside the spans sorted in Arrow (newest ``date_created`` first, ties by id descending: the order of
        Close's listings; an SQL ``ORDER BY`` held several times the frame), then each column, two at a time, put
        in that order and converted as it is read, so the rows are never held twice (a whole Arrow table beside the
        frame was 1.3 to 2.3 times the frame at once, and the memory it let go was not reused for the frame). The
        frame is cut into the spans. ``undated``: rows without a ``date_created`` come with the oldest span.
        """
        if not spans:
            return []
        with self._reader() as connection:
            # Every column is scanned whole for the scope (no filter to evaluate again per column); the keys' scan
            # says which rows are inside the spans, and the order takes only those.
            rows = f"FROM {self.table} WHERE scope = {self._scope_id(connection)}"
            local, cursors = threading.local(), []
            for setting, value in READ_SETTINGS.items():
                connection.execute(f"SET {setting} = {value}")
            try:
                keys = read_column(connection, rows, ["date_created", "id"])
                inside = pc.indices_nonzero(_in_spans(keys.column("date_created"), spans, undated=undated))
                order = _listing_order(keys) if len(inside) == keys.num_rows else \
                    inside.take(_listing_order(keys.take(inside)))
                scanned = keys.column("rowid")
                del keys, inside

                def scan(name: str) -> pa.ChunkedArray:
                    # A DuckDB connection runs one query at a time: each reading thread has a cursor of its own.
                    if not hasattr(local, "cursor"):
                        local.cursor = connection.cursor()
                        cursors.append(local.cursor)
                    return read_column(local.cursor, rows, [name], scanned).column(name)

                frame = frame_from_columns(scan, self.kinds, self.build, order=order, workers=READ_WORKERS)
            finally:
                for cursor in cursors:
                    cursor.close()
                for setting in READ_SETTINGS:
                    connection.execute(f"RESET {setting}")
        if len(spans) == 1:  # the usual case (adjacent ranges joined): the rows as read, undated ones last
            return [(spans[0], frame)]
        created = frame["date_created"]
        pieces = []
        for start, end in sorted(spans, reverse=True):
            inside = ((created >= start) & (created < end)).fillna(False).to_numpy()
            pieces.append(((start, end), frame[inside].reset_index(drop=True)))
        if undated and pieces:
            oldest, part = pieces[-1]
            pieces[-1] = (oldest, pd.concat([part, frame[created.isna().to_numpy()]], ignore_index=True)
                          if created.isna().any() else part)
        return pieces

    def newest(self) -> pd.Timestamp | None:
        """The latest ``date_created`` stored inside this scope's ranges (which end where their fetch began, so
        upcoming meetings do not count); ``None`` when there is none."""
        with self._reader() as connection:
            scope = self._scope_id(connection)
            found = _first(connection.execute(
                f"SELECT max(t.date_created) FROM {self.table} t JOIN ranges r ON r.scope = t.scope AND "
                't.date_created >= r."start" AND t.date_created < r."end" AND r.trusted WHERE t.scope = ?', [scope]))
        return None if found is None or found[0] is None else _utc(found[0])

    def _scope_id(self, connection) -> int:
        if self._scope is None:
            self._scope = self._ensure(connection)
        return self._scope

    # -- writing ------------------------------------------------------------------------------------------------
    def write(self, start: pd.Timestamp, end: pd.Timestamp, records: Sequence[Mapping], piece: pd.DataFrame,
              as_of: pd.Timestamp, trusted_until: pd.Timestamp | None = None) -> bool:
        """Store the rows of a window ``[start, end)`` fetched from ``as_of`` on; whether anything was stored.

        ``[trusted_until, end)`` (what is dated after the fetch began) is stored but not trusted: loads fetch it
        again. Parts of the span that another load stored from a later fetch keep theirs; a fetch that began
        before the last event-log sync minus :data:`OVERLAP` is not stored (the sync did not see its rows' later
        changes).
        """
        start, end, as_of = _utc(start), _utc(end), _utc(as_of)
        trusted_until = end if trusted_until is None else min(max(_utc(trusted_until), start), end)
        rows = rows_table(piece, records, self.kinds) if len(piece) else None
        with self._transaction() as connection:
            scope = self._scope_id(connection)
            coverage = self._coverage(connection, scope)
            if coverage.synced_at is not None and as_of < coverage.synced_at - OVERLAP:
                return False
            newer = [(r.start, r.end) for r in coverage.ranges if r.as_of > as_of and r.start < end and start < r.end]
            free = _subtract((start, end), newer)
            if not free:
                return False
            self._replace(connection, scope, free, rows, undated=not newer)
            self._set_ranges(connection, scope, coverage.ranges, free, as_of, trusted_until)
        return True

    def _replace(self, connection, scope: int, spans: list[tuple], rows: pa.Table | None, *,
                 undated: bool) -> None:
        """DELETE the rows of ``spans`` (and the incoming ids anywhere), INSERT the incoming rows inside them."""
        for low, high in spans:
            connection.execute(f"DELETE FROM {self.table} WHERE scope = ? AND date_created >= ? AND "
                               "date_created < ?", [scope, low.to_pydatetime(), high.to_pydatetime()])
        crash_point()
        if rows is None:
            return
        incoming = rows.filter(_in_spans(rows.column("date_created"), spans, undated=undated))
        if not incoming.num_rows:
            return
        connection.register("incoming", incoming)
        try:
            connection.execute(f"DELETE FROM {self.table} WHERE scope = ? AND id IN (SELECT id FROM incoming)",
                               [scope])
            crash_point()
            names = ", ".join(f'"{name}"' for name in self.kinds) + f", {REST}"
            connection.execute(f"INSERT INTO {self.table} (scope, {names}) SELECT {scope}, {names} FROM incoming")
        finally:
            connection.unregister("incoming")
        crash_point()

    @staticmethod
    def _set_ranges(connection, scope: int, existing: list[StoredRange], spans: list[tuple], as_of: pd.Timestamp,
                    trusted_until: pd.Timestamp) -> None:
        """Record ``spans`` as stored ``as_of`` (trusted before ``trusted_until``), trimming the (older) ranges
        they overlap."""
        spans = [(a, b, trusted) for low, high in spans
                 for a, b, trusted in ((low, min(high, trusted_until), True), (max(low, trusted_until), high, False))
                 if a < b]
        for low, high, trusted in spans:
            for old in existing:
                if old.start < high and low < old.end:
                    connection.execute('DELETE FROM ranges WHERE scope = ? AND "start" = ? AND "end" = ?',
                                       [scope, old.start.to_pydatetime(), old.end.to_pydatetime()])
                    for a, b in ((old.start, min(old.end, low)), (max(old.start, high), old.end)):
                        if a < b:
                            connection.execute("INSERT INTO ranges VALUES (?, ?, ?, ?, ?, ?)", [
                                scope, a.to_pydatetime(), b.to_pydatetime(), old.as_of.to_pydatetime(),
                                old.exact_as_of.to_pydatetime(), old.trusted])
            existing = [r for r in existing if not (r.start < high and low < r.end)] + [
                StoredRange(a, b, r.as_of, r.exact_as_of, r.trusted) for r in existing
                if r.start < high and low < r.end
                for a, b in ((r.start, min(r.end, low)), (max(r.start, high), r.end)) if a < b]
            connection.execute("INSERT INTO ranges VALUES (?, ?, ?, ?, ?, ?)", [
                scope, low.to_pydatetime(), high.to_pydatetime(), as_of.to_pydatetime(), as_of.to_pydatetime(),
                trusted])
        crash_point()

    def apply_changes(self, fresh: Sequence[Mapping], piece: pd.DataFrame | None, gone: set, *,
                      since: pd.Timestamp, synced_at: pd.Timestamp, local_synced_at: pd.Timestamp,
                      expected: pd.Timestamp | None) -> bool:
        """Apply an event-log refresh: drop ``gone`` ids, put the ``fresh`` records (shaped as ``piece``) in place,
        and move the sync to ``synced_at``, in one transaction; whether it was applied.

        Every range that was exact from ``since`` on (the events read cover its changes) becomes exact as of
        ``synced_at``; older ones stay as stale as they were. A fresh record outside every stored range is not
        stored: its range is paged when it is loaded. When another load synced this scope meanwhile (its sync is no
        longer ``expected``) and later than this one, nothing is applied: its refresh saw everything this one did.
        """
        since, synced_at = _utc(since), _utc(synced_at)
        rows = rows_table(piece, fresh, self.kinds) if fresh else None
        with self._transaction() as connection:
            scope = self._scope_id(connection)
            coverage = self._coverage(connection, scope)
            if coverage.synced_at is not None and coverage.synced_at != expected and coverage.synced_at > synced_at:
                return False
            ids = sorted(gone | ({r.get("id") for r in fresh} if fresh else set()))
            if ids:
                connection.register("changed_ids", pa.table({"id": pa.array(ids, type=pa.string())}))
                try:
                    connection.execute(f"DELETE FROM {self.table} WHERE scope = ? AND id IN "
                                       "(SELECT id FROM changed_ids)", [scope])
                finally:
                    connection.unregister("changed_ids")
                crash_point()
            if rows is not None:
                spans = [(r.start, r.end) for r in coverage.ranges]
                self._insert_inside(connection, scope, rows, spans)
            connection.execute("UPDATE ranges SET exact_as_of = greatest(exact_as_of, ?) WHERE scope = ? AND "
                               "exact_as_of >= ?",
                               [synced_at.to_pydatetime(), scope, since.to_pydatetime()])
            self._set_sync(connection, scope, synced_at, local_synced_at, "events")
        return True

    def _insert_inside(self, connection, scope: int, rows: pa.Table, spans: list[tuple]) -> None:
        # Undated rows belong to no range: they are kept with the scope.
        incoming = rows.filter(_in_spans(rows.column("date_created"), spans, undated=True))
        if not incoming.num_rows:
            return
        connection.register("incoming", incoming)
        try:
            names = ", ".join(f'"{name}"' for name in self.kinds) + f", {REST}"
            connection.execute(f"INSERT INTO {self.table} (scope, {names}) SELECT {scope}, {names} FROM incoming")
        finally:
            connection.unregister("incoming")
        crash_point()

    def start_sync(self, synced_at: pd.Timestamp, local_synced_at: pd.Timestamp, mode: str) -> None:
        """Record when the event log is to be read from next time (a first load, or after the lookback fallback)."""
        with self._transaction() as connection:
            self._set_sync(connection, self._scope_id(connection), _utc(synced_at), local_synced_at, mode)

    @staticmethod
    def _set_sync(connection, scope: int, synced_at: pd.Timestamp, local_synced_at: pd.Timestamp | None,
                  mode: str) -> None:
        connection.execute("INSERT OR REPLACE INTO sync VALUES (?, ?, ?, ?)", [
            scope, synced_at.to_pydatetime(),
            None if local_synced_at is None else _utc(local_synced_at).to_pydatetime(), mode])
        crash_point()

    def clear(self) -> None:
        """Forget this scope's sync record (its rows and ranges stay; they become stale until re-read)."""
        with self._transaction() as connection:
            connection.execute("DELETE FROM sync WHERE scope = ?", [self._scope_id(connection)])
