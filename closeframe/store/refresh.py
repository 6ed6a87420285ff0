"""Exact incremental refresh of cached calls and meetings from Close's event log (``GET /event/``).

A cached load remembers when it started, by the API's clock (see :func:`closeframe.store.eventlog.sync_time`).
The next cached load, if that was less than the log's 30-day retention ago, reads the ``activity.call`` (or
``activity.meeting``) events of every action since then and refetches the ids they name
(:func:`closeframe.store.eventlog.read_changes`: what changed, deleted or left the load's filters), applies that
change set to the cache, and trusts every other cached row: only the new ``date_created`` range is paged. The
result equals a fresh load, including outcomes set on years-old calls and deleted calls.

Where that cannot be done, the load falls back to the lookback re-scan (``lookback=``, default 30 days) and warns
with :class:`EventRefreshWarning` how stale the older cached rows may be: the last sync is older than the log's
retention, the key may not read the log (any 4xx refusal but 401: 400, 402, 403, 404, ...), or the list endpoint
ignores ``id__in``. The next load that can read the log is exact again from then on; ``refresh=True`` reloads
everything.

What the event log cannot tell, and how this copes:

- A change older than the retention: the fallback above.
- When exactly "now" is on Close's side: the sync's time comes from Close (its ``Date``, its stamps), events are
  read from 5 minutes before it (:data:`OVERLAP`), and re-applying an event is harmless (a refetch by id is
  idempotent). The retention is judged on Close's clock too (our clock measures only the time since the last sync
  when Close sends no ``Date``).
- Quick changes merge into one event whose ``date_updated`` moves, possibly into the ``created`` event: every
  action is read, and the event only names the id, which is refetched.
- ``data`` is missing for non-admins after an hour, and is not the list endpoint's representation anyway: it is
  never used for the rows, only the ids.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from closeframe.errors import CloseAPIError
from closeframe.http.client import CloseClient
from closeframe.http.paging import record_created
from closeframe.store.cache import MAX_TIME, ActivityCache
from closeframe.store.eventlog import (OVERLAP, RETENTION, EventRefreshWarning, log_refused, newest_event,
                                       read_changes, read_events, server_time, sync_time)
from closeframe.store.locking import folder_lock

__all__ = ["EventRefreshWarning", "SyncPlan", "begin_sync", "write_json_atomic"]

log = logging.getLogger("closeframe.store.refresh")

#: A last sync must be this much younger than the retention to be trusted (time to run, clocks).
SAFETY = pd.Timedelta(hours=6)
_STATE_FILE = "sync.json"
_STATE_VERSION = 1


def _iso(stamp: pd.Timestamp | None) -> str | None:
    return None if stamp is None else stamp.isoformat()


def _stamp(text: Any) -> pd.Timestamp | None:
    try:
        return pd.Timestamp(text).tz_convert("UTC") if isinstance(text, str) else None
    except (ValueError, TypeError):
        return None


def _read_state(folder: Path) -> dict:
    try:
        state = json.loads((folder / _STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) and state.get("version") == _STATE_VERSION else {}


def write_json_atomic(path: Path, value: Any) -> None:
    """Write ``value`` as JSON to ``path`` through a temporary file and a rename, so a reader never sees half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".partial-", suffix=".json")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(value, out, ensure_ascii=False)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _write_state(folder: Path, state: dict) -> None:
    write_json_atomic(folder / _STATE_FILE, {**state, "version": _STATE_VERSION})


@dataclass
class SyncPlan:
    """What :func:`begin_sync` decided for one cached load, and the state :meth:`commit` records after it.

    Attributes
    ----------
    options
        The load's cache options; ``lookback`` is 0 when the event log brought every cached row up to date.
    mode : {"events", "full", "lookback"}
        Refreshed from the log; everything loaded afresh; or the lookback fallback.
    requests : int
        Event-log and refetch requests made.
    changed, deleted : int
        Ids refetched, and ids dropped from the cache.
    """

    options: Any
    mode: str
    cache: ActivityCache
    started: pd.Timestamp | None
    local_started: pd.Timestamp
    exact: bool
    stale_since: str | None
    requests: int = 0
    changed: int = 0
    deleted: int = 0

    def commit(self) -> None:
        """Record the sync once the load completed (a failed load leaves the last state, so it is redone).

        The record is written whole (temporary file and rename) under the folder's lock, so another process
        never reads half of it, nor writes its own in the middle of a patch this record describes.
        """
        if self.started is None:
            return
        with folder_lock(self.cache.folder):
            _write_state(self.cache.folder, {
                "synced_at": _iso(self.started), "local_synced_at": _iso(self.local_started), "exact": self.exact,
                "stale_since": self.stale_since, "mode": self.mode})


def begin_sync(client: CloseClient, cache: ActivityCache, kind: str, path: str, params: Mapping[str, Any],
               fields: list[str] | None, options: Any) -> SyncPlan:
    """Bring the cache up to date from the event log before a cached load; see the module docstring.

    Parameters
    ----------
    client : CloseClient
    cache : ActivityCache
        The load's cache folder (organization, kind, variant).
    kind : {"call", "meeting"}
    path : str
        ``activity/call/`` or ``activity/meeting/``.
    params, fields
        The load's filters and ``_fields`` (the refetch sends them too).
    options : CacheOptions
        The load's cache options.

    Returns
    -------
    SyncPlan
        Call :meth:`SyncPlan.commit` when the load has completed.
    """
    # The sync's time is Close's: the Date of the answers so far (its /me/ answer dated it), else the newest
    # change the log shows (see eventlog.sync_time); our clock only measures how long ago the last sync was.
    local_started = pd.Timestamp.now(tz="UTC")
    server_started = server_time(client)
    state = {} if options.refresh else _read_state(cache.folder)
    ranges = [] if options.refresh else cache.ranges()
    plan = SyncPlan(options, "full" if not ranges else "lookback", cache, None, local_started, exact=not ranges,
                    stale_since=None)
    last = _stamp(state.get("synced_at"))
    try:
        local_last = _stamp(state.get("local_synced_at"))
        age = server_started - last if server_started is not None and last is not None else \
            (local_started - local_last if local_last is not None else None)
        if not ranges or last is None or age is None or age > RETENTION - SAFETY:
            # Nothing to bring up to date, no record of when it was loaded, or too long ago: one event read (the
            # newest of any kind) dates the sync and tells whether this key may read the log at all.
            newest = newest_event(read_events(client, {}, page_size=1, pages=1))
            plan.requests += 1
            plan.started = sync_time(client, newest, at=server_started)
            if ranges and last is None:
                _warn_stale(plan, cache, options, "no earlier sync with the event log is recorded for this cache",
                            kind, state)
            elif ranges:
                _warn_stale(plan, cache, options, f"the last sync ({last:%Y-%m-%d %H:%M} UTC) is older than the "
                            f"event log's {RETENTION.days}-day retention", kind, state)
                plan.stale_since = state.get("stale_since") or state.get("synced_at")
            elif not options.refresh:
                # An empty cache: whatever this load writes is fetched after it started, so the sync holds at once
                # (an interrupted load resumes from its checkpoints with the event log). refresh=True commits at
                # the end instead, since older files it has not replaced yet are still there.
                plan.commit()
            return plan
        covered_until = max((r.end for r in ranges), default=MAX_TIME)
        changes = read_changes(client, kind, path, params, fields, last - OVERLAP, covered_until)
        plan.requests += changes.requests
        plan.started = sync_time(client, changes.newest, last, at=server_started)
        if not changes.complete:
            _warn_stale(plan, cache, options, f"GET /{path.strip('/')}/ ignored the id__in filter", kind, state)
            return plan
    except CloseAPIError as exc:
        # Any refusal of the log (400, 402, 403, 404, ...) means no log for this key: re-scan instead. 401 is a key
        # Close does not accept at all and 429 a limit waited out in vain: those are the load's errors.
        if not log_refused(exc):
            raise
        plan.started = None  # nothing proves when this load started: the next one cannot use the log either
        if ranges:
            _warn_stale(plan, cache, options, f"the event log could not be read ({type(exc).__name__}: {exc})",
                        kind, state)
        return plan
    plan.mode, plan.exact = "events", bool(state.get("exact", False))
    plan.stale_since = state.get("stale_since")
    plan.options = replace(options, lookback=pd.Timedelta(0))
    # The patch reads entries and rewrites them: another process must not write between the read and the write
    # (its write would be lost) nor list the folder half-patched. The sync record is written in the same hold.
    with folder_lock(cache.folder):
        _patch_cache(cache, changes.fresh, changes.gone, plan)
        plan.commit()  # every cached row is now as of `started`, and what is paged next is read after it
    log.info("%s: %d %ss refetched, %d dropped from the event log in %d requests", client.label, plan.changed, kind,
             plan.deleted, plan.requests)
    return plan


def _warn_stale(plan: SyncPlan, cache: ActivityCache, options: Any, reason: str, kind: str, state: dict) -> None:
    """Fall back to the lookback re-scan, saying since when the cached rows it does not re-read may be stale."""
    plan.mode, plan.exact = "lookback", False
    as_of = _stamp(state.get("stale_since")) or _stamp(state.get("synced_at"))
    if as_of is not None:
        since = f"as Close had them on {as_of:%Y-%m-%d %H:%M} UTC"
    else:
        oldest = min((r.path.stat().st_mtime for r in cache.ranges()), default=None)
        written = "" if oldest is None else f" (the oldest file on {pd.Timestamp(oldest, unit='s'):%Y-%m-%d %H:%M} UTC)"
        since = "as they were when cached" + written
    scope = f"the {options.lookback.days} days before the newest cached {kind}" if options.lookback else \
        f"only {kind}s newer than the cache (lookback=None)"
    warnings.warn(
        f"Cached {kind}s were refreshed by re-reading {scope}, because {reason}. Older cached {kind}s are {since}: "
        "outcome changes and deletions on them since then are missing. Pass refresh=True to reload everything.",
        EventRefreshWarning, stacklevel=2)


def _patch_cache(cache: ActivityCache, fresh: dict[str, dict], gone: set, plan: SyncPlan) -> None:
    """Drop ``gone`` and put the ``fresh`` records into the cache files they belong to; call it holding the folder.

    The folder is listed again here: another process may have rewritten it since this load first looked.
    """
    plan.changed, plan.deleted = len(fresh), 0
    touched = gone | set(fresh)
    for cached in cache.ranges():
        added = [r for r in fresh.values() if _inside(r, cached)]
        ids = _cached_ids(cached.path)
        if ids is None or (not added and touched.isdisjoint(ids)):
            continue  # most files: only their id column is read; a damaged one is the load's to drop
        records = cache.records(cached)
        if records is None:
            continue  # a damaged file: the load drops it (with a warning) and fetches its range again
        kept = [r for r in records if r.get("id") not in gone and r.get("id") not in fresh]
        plan.deleted += sum(1 for r in records if r.get("id") in gone)
        patched = _listing_order(kept + added)
        if patched != records:  # a refetch that changed nothing leaves the file as it was
            cache.write(cached.start, cached.end, patched)


def _cached_ids(path: Path) -> set | None:
    """The ids a cache file holds (its ``id`` column; see :mod:`closeframe.store.cache` for the layout); ``None`` when
    it cannot be read (damaged, or replaced by another process just now)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return set(pq.read_table(path, columns=["id"]).column(0).to_pylist())
    except (OSError, pa.ArrowException, KeyError):
        return None


def _inside(record: dict, cached) -> bool:
    created = record_created(record)
    return created is not None and cached.start <= pd.Timestamp(created) < cached.end


def _listing_order(records: list[dict]) -> list[dict]:
    """Newest ``date_created`` first, ties by id descending: the order of Close's activity lists."""
    return sorted(records, key=lambda r: (pd.Timestamp(record_created(r)).value, str(r.get("id"))), reverse=True)
