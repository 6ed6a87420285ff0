"""The store's DuckDB file: where it lives, its schema and its migrations, and short locked connections to it.

One file per cache folder, ``<folder>/closeframe.duckdb``. DuckDB lets one process at a time open a file for
writing and refuses a second one at once instead of waiting, so every use of the file is a short connection taken
under the folder's lock (:func:`closeframe.store.locking.folder_lock`, which waits across threads and processes):
connect, one transaction, close. A write is one DuckDB transaction (rows and the sync state that vouches for them
together), so a crash, a kill -9 or a power loss leaves the file as it was before or after it, never between.

The file is created with a pinned storage version (:data:`STORAGE_VERSION`), so that a newer duckdb writes what the
oldest supported one (``duckdb>=1.4``, see ``pyproject.toml``) can still open: upgrading never strands a store.
"""

from __future__ import annotations

import os
import signal
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from closeframe.errors import ConfigurationError, StoreDamagedError  # raised here; also exported from here
from closeframe.store.cache import CacheWarning
from closeframe.store.interrupts import ctrl_c_is_keyboard_interrupt
from closeframe.store.locking import folder_lock

__all__ = ["SCHEMA_VERSION", "STORAGE_VERSION", "STORE_FILE", "StoreDamagedError", "connect", "crash_point",
           "store_path", "transaction"]

#: The store's file name inside the cache folder.
STORE_FILE = "closeframe.duckdb"
#: DuckDB's on-disk format the file is written in: the oldest duckdb of the supported range reads it.
STORAGE_VERSION = "v1.4.0"
#: The version of the tables below; :func:`_migrate` brings an older file up to it.
SCHEMA_VERSION = 1

#: The tables: one ``scopes`` row per (API host, organization, kind, variant of fields/filters); rows of calls and
#: meetings keyed by (scope, id); ``ranges``: which ``date_created`` spans of a scope are stored, fetched when
#: (``as_of``) and exact up to when (``exact_as_of``), and whether a load may serve them (``trusted``: not the
#: part dated after the fetch began, e.g. upcoming meetings, which is stored but always fetched again); ``sync``: per scope, when the event log was last read;
#: outcome snapshots and outcome events for the outcome history. Activity tables are created by
#: :mod:`closeframe.store.activities` from the loader's schema.
_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
    "CREATE SEQUENCE IF NOT EXISTS scope_ids START 1",
    """CREATE TABLE IF NOT EXISTS scopes (scope INTEGER PRIMARY KEY, host VARCHAR NOT NULL,
        organization_id VARCHAR NOT NULL, kind VARCHAR NOT NULL, variant VARCHAR NOT NULL,
        UNIQUE (host, organization_id, kind, variant))""",
    """CREATE TABLE IF NOT EXISTS ranges (scope INTEGER NOT NULL, "start" TIMESTAMPTZ NOT NULL,
        "end" TIMESTAMPTZ NOT NULL, as_of TIMESTAMPTZ NOT NULL, exact_as_of TIMESTAMPTZ NOT NULL,
        trusted BOOLEAN NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS sync (scope INTEGER PRIMARY KEY, synced_at TIMESTAMPTZ,
        local_synced_at TIMESTAMPTZ, mode VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS outcome_snapshots (host VARCHAR NOT NULL, organization_id VARCHAR NOT NULL,
        taken_at VARCHAR NOT NULL, digest VARCHAR NOT NULL, outcomes VARCHAR NOT NULL,
        PRIMARY KEY (host, organization_id, taken_at, digest))""",
    """CREATE TABLE IF NOT EXISTS outcome_events (host VARCHAR NOT NULL, organization_id VARCHAR NOT NULL,
        event_id VARCHAR NOT NULL, event VARCHAR NOT NULL, PRIMARY KEY (host, organization_id, event_id))""",
]

#: Store files this process has already checked or migrated (by path and inode): later connections skip it.
_MIGRATED: set = set()
_CRASH_ENV = "CLOSEFRAME_STORE_CRASH_AT"
_crash_count = 0


def crash_point() -> None:
    """A write point: with ``$CLOSEFRAME_STORE_CRASH_AT=k`` the process kills itself (SIGKILL) at the k-th one.

    The crash tests run a load in a subprocess once per write point and check that the next load is exact. Off
    (the variable unset) this is one dictionary lookup.
    """
    global _crash_count
    target = os.environ.get(_CRASH_ENV)
    if not target:
        return
    _crash_count += 1
    if _crash_count == int(target):
        os.kill(os.getpid(), signal.SIGKILL)


def _is_damage(exc: Exception) -> bool:
    """Whether a DuckDB error means the file itself is damaged (not a mistake in a statement)."""
    duckdb = _duckdb()
    return isinstance(exc, (duckdb.IOException, duckdb.SerializationException, duckdb.InternalException)) or \
        "corrupt" in str(exc).lower()


def _drop(path: Path, exc: Exception) -> None:
    """Remove a damaged store (and its write-ahead log), saying so: it is a cache, its rows are fetched again."""
    for leftover in (path, path.with_name(path.name + ".wal")):
        leftover.unlink(missing_ok=True)
    _MIGRATED.difference_update({entry for entry in _MIGRATED if entry[0] == str(path)})
    warnings.warn(f"closeframe store: dropped the damaged {str(path)!r} ({type(exc).__name__}: "
                  f"{str(exc).splitlines()[0][:200]}). Its rows are fetched again.", CacheWarning, stacklevel=4)


def store_path(folder: Path) -> Path:
    """The store file of a cache folder."""
    return Path(folder) / STORE_FILE


def _duckdb():
    try:
        import duckdb
    except ImportError:  # pragma: no cover - a dependency
        raise ConfigurationError("The local store needs DuckDB: pip install 'duckdb>=1.4,<3'.") from None
    return duckdb


@contextmanager
def connect(folder: Path, *, read_only: bool = False) -> Iterator:
    """A connection to ``folder``'s store, held under the folder's lock for the block, closed after it.

    The file and its tables are created (or migrated) on first use. ``read_only`` opens an existing file without
    creating it (the caller checks it exists).
    """
    duckdb = _duckdb()
    path = store_path(folder)
    with folder_lock(Path(folder)), ctrl_c_is_keyboard_interrupt(duckdb):
        connection = _open(duckdb, path, read_only)
        try:
            yield connection
        except duckdb.Error as exc:
            if read_only or not _is_damage(exc):
                raise
            connection.close()
            _drop(path, exc)
            raise StoreDamagedError(f"The store {str(path)!r} was damaged; it was dropped and is built again."
                                    ) from None
        finally:
            connection.close()


def _open(duckdb, path: Path, read_only: bool):
    """Open (create, migrate) the store file; a damaged one is dropped and a new one created in its place."""
    config = {} if read_only else {"storage_compatibility_version": STORAGE_VERSION}
    for attempt in (1, 2):
        connection = None
        try:
            connection = duckdb.connect(str(path), read_only=read_only, config=config)
            identity = (str(path), path.stat().st_ino)
            if not read_only and identity not in _MIGRATED:
                _migrate(connection)
                _MIGRATED.add(identity)
            return connection
        except BaseException as exc:
            if connection is not None:
                connection.close()  # a migration stopped half-way (Ctrl-C, an error) is rolled back with it
            if not isinstance(exc, duckdb.Error):
                raise
            if read_only or attempt == 2 or not _is_damage(exc):
                raise ConfigurationError(f"The store {str(path)!r} cannot be opened ({type(exc).__name__}: {exc}); "
                                         "delete it (it is a cache: the next load fetches again) or pass another "
                                         "cache= folder.") from None
            _drop(path, exc)


@contextmanager
def transaction(folder: Path, connection=None) -> Iterator:
    """:func:`connect` with one transaction around the block: committed at its end, rolled back on an error.

    ``connection``: one already open (by :func:`connect` on ``folder``, in this thread) to run it on instead.
    """
    if connection is None:
        with connect(folder) as connection, transaction(folder, connection):
            yield connection
        return
    connection.execute("BEGIN TRANSACTION")
    try:
        yield connection
        crash_point()  # before the commit
        connection.execute("COMMIT")
    except BaseException:
        try:
            connection.execute("ROLLBACK")
        except Exception:  # a damaged file may refuse even that; connect() deals with it
            pass
        raise
    crash_point()  # after the commit


def _migrate(connection) -> None:
    """Create the tables of :data:`SCHEMA_VERSION` (a new file), or refuse a file written by a newer closeframe."""
    found = connection.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'meta'"
                               ).fetchall()[0][0]
    version = next(iter(connection.execute("SELECT value FROM meta WHERE key = 'schema'").fetchall()), None) \
        if found else None
    if version is not None and int(version[0]) == SCHEMA_VERSION:
        return
    if version is not None and int(version[0]) > SCHEMA_VERSION:
        raise ConfigurationError(f"The store was written by a newer closeframe (schema {version[0]}, this one reads "
                                 f"{SCHEMA_VERSION}): upgrade closeframe, or pass another cache= folder.")
    connection.execute("BEGIN TRANSACTION")
    for statement in _SCHEMA:
        connection.execute(statement)
    connection.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", [str(SCHEMA_VERSION)])
    connection.execute("COMMIT")
