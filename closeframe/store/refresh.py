"""Exact incremental refresh of cached calls and meetings from Close's event log (``GET /event/``).

A cached load remembers when it started, by the API's clock (the ``Date`` header of its first event-log answer).
The next cached load, if that was less than the log's 30-day retention ago, reads the ``activity.call`` (or
``activity.meeting``) events ``created``, ``updated`` and ``deleted`` since then, refetches the changed ids in
batches of 100 (``id__in``, with the load's own filters and fields), drops the deleted ones (and the ids the
refetch no longer returns) from the store, and trusts every other stored row: only the new ``date_created`` range
is paged. The result equals a fresh load, including outcomes set on years-old calls and deleted calls.

Where that cannot be done, the load falls back to the lookback re-scan (``lookback=``, default 30 days) and warns
with :class:`EventRefreshWarning` how stale the older cached rows may be: the last sync is older than the log's
retention, the key may not read the log (403/404), the log refuses the filters (400), or the list endpoint ignores
``id__in``. Stored rows the log could not bring up to date stay marked stale in the store (their range's
``exact_as_of``, :mod:`closeframe.store.activities`): every load that serves them warns again and says since when
in ``frame.attrs["stale_since"]``, until they are re-read (``refresh=True``, or the lookback).

The changes found here are applied to the store, with the new sync state, in one transaction
(:meth:`closeframe.store.activities.ActivityStore.apply_changes`): this module finds what changed, the store
applies it.

What the event log cannot tell, and how this copes:

- A change older than the retention: the fallback above.
- When exactly "now" is on Close's side: the sync's time is the ``Date`` of Close's first answer (our clock if
  there is none), events are read from 5 minutes before it (:data:`OVERLAP`), and re-applying an event is harmless
  (a refetch by id is idempotent). The retention is judged on Close's clock too.
- Quick changes merge into one event whose ``date_updated`` moves, possibly into the ``created`` event: every
  action is read, and the event only names the id, which is refetched.
- ``data`` is missing for non-admins after an hour, and is not the list endpoint's representation anyway: it is
  never used for the rows, only the ids.
"""

from __future__ import annotations

import logging
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Iterator, Mapping

import pandas as pd

from closeframe.store.activities import MAX_TIME, OVERLAP, ActivityStore
from closeframe.http.client import CloseClient, list_query
from closeframe.http.paging import record_created
from closeframe.errors import AuthenticationError, NotFoundError, ValidationError

__all__ = ["EVENT_ACTIONS", "ID_BATCH", "OVERLAP", "RETENTION", "EventRefreshWarning", "SyncPlan", "begin_sync",
           "read_events", "server_time", "warn_stale"]

log = logging.getLogger("closeframe.store.refresh")

#: How long Close keeps events.
RETENTION = pd.Timedelta(days=30)
#: A last sync must be this much younger than the retention to be trusted (time to run, clocks).
SAFETY = pd.Timedelta(hours=6)
#: Ids per ``id__in`` refetch (one page of Close's maximum ``_limit``).
ID_BATCH = 100
#: The actions read for calls and meetings.
EVENT_ACTIONS = ("created", "updated", "deleted")


class EventRefreshWarning(UserWarning):
    """A cached load could not use the event log and re-read only its lookback: older rows may be stale."""


def read_events(client: CloseClient, params: Mapping[str, Any], *, page_size: int = 50) -> Iterator[dict]:
    """Yield every event of ``GET /event/`` matching ``params``, newest first, following ``cursor_next``.

    Parameters
    ----------
    client : CloseClient
    params : mapping
        A filter combination Close supports, e.g. ``{"object_type": "activity.call", "action": "updated",
        "date_updated__gte": "2026-11-01T00:00:00+00:00"}``; sent again with every cursor, as Close asks.
    page_size : int, default 50
        ``_limit`` (Close's maximum for events is 50).
    """
    cursor, seen_cursors = None, set()
    while True:
        query = {**params, "_limit": page_size, **({"_cursor": cursor} if cursor else {})}
        page = client.get("event/", query)
        events = page.get("data") if isinstance(page, dict) else None
        if not isinstance(events, list):
            raise ValidationError(400, "GET /event/ answered without a 'data' list.", path="/event/")
        yield from (e for e in events if isinstance(e, dict))
        cursor = page.get("cursor_next")
        if not cursor or not events or cursor in seen_cursors:  # a repeated cursor would loop forever
            return
        seen_cursors.add(cursor)


def server_time(client: CloseClient) -> pd.Timestamp | None:
    """The API's clock now, from the ``Date`` of its answers so far (a lower bound; ``None`` before any)."""
    now = client.server_now()
    return None if now is None else pd.Timestamp(now).tz_convert("UTC")


@dataclass
class SyncPlan:
    """What :func:`begin_sync` decided for one cached load.

    Attributes
    ----------
    options
        The load's cache options; ``lookback`` is 0 when the event log brought every stored row up to date.
    mode : {"events", "full", "lookback"}
        Refreshed from the log; nothing stored yet; or the lookback fallback.
    started : Timestamp or None
        Close's clock when the sync began (``None`` when the log could not be read).
    local_started : Timestamp
        Our clock then.
    reason : str or None
        Why the event log could not bring the stored rows up to date (for the stale warning).
    requests : int
        Event-log and refetch requests made.
    changed, deleted : int
        Ids refetched, and ids dropped from the store.
    """

    options: Any
    mode: str
    store: ActivityStore
    started: pd.Timestamp | None
    local_started: pd.Timestamp
    reason: str | None = None
    requests: int = 0
    changed: int = 0
    deleted: int = 0

    @property
    def fresh_from(self) -> pd.Timestamp:
        """Stored ranges exact as of this time or later are up to date for this load; older ones may be stale."""
        return (self.started if self.started is not None else self.local_started) - OVERLAP


def begin_sync(client: CloseClient, store: ActivityStore, kind: str, path: str, params: Mapping[str, Any],
               fields: list[str] | None, options: Any) -> SyncPlan:
    """Bring the store up to date from the event log before a cached load; see the module docstring.

    Parameters
    ----------
    client : CloseClient
    store : ActivityStore
        The load's scope of the store (organization, kind, variant).
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
        The changes and the sync state are already stored, in one transaction.
    """
    # The sync's time: Close's clock before anything below is read (its /me/ answer dated it), else our own.
    local_started = pd.Timestamp.now(tz="UTC")
    server_started = server_time(client)
    coverage = store.coverage()
    object_type = f"activity.{kind}"
    plan = SyncPlan(options, "full" if not coverage.ranges else "lookback", store, None, local_started)
    last = coverage.synced_at
    try:
        if not coverage.ranges or last is None:
            # Nothing to bring up to date (or no record of when it was loaded): one event read starts the clock
            # and tells whether this key may read the log at all.
            next(iter(read_events(client, {"object_type": object_type, "action": "created"}, page_size=1)), None)
            plan.requests += 1
            # HTTP servers date their answers; without a Date, our clock (the overlap absorbs a little skew).
            plan.started = server_started or server_time(client) or local_started
            if coverage.ranges:
                plan.reason = "no earlier sync with the event log is recorded for these stored rows"
            # Whatever is fetched from now on is read after `started`: the log vouches for it from here.
            store.start_sync(plan.started, local_started, plan.mode)
            return plan
        since = last - OVERLAP
        before = client.requests_sent
        # The three actions are read at once (each its own cursor chain): one round trip instead of three.
        with ThreadPoolExecutor(max_workers=len(EVENT_ACTIONS), thread_name_prefix="closeframe-events") as pool:
            reads = [pool.submit(lambda a: list(read_events(client, {
                "object_type": object_type, "action": a, "date_updated__gte": since.isoformat()})), action)
                for action in EVENT_ACTIONS]
            events = [event for read in reads for event in read.result()]
        plan.requests += client.requests_sent - before
        plan.started = server_started or server_time(client) or local_started
        server_now = server_time(client)
        local_last = coverage.local_synced_at
        age = server_now - last if server_now is not None else \
            (local_started - local_last if local_last is not None else None)
        if age is None or age > RETENTION - SAFETY:
            plan.reason = (f"the last sync ({last:%Y-%m-%d %H:%M} UTC) is older than the event log's "
                           f"{RETENTION.days}-day retention")
            store.start_sync(plan.started, local_started, "lookback")
            return plan
        requests_before = client.requests_sent
        refetched = _refetch_changed(client, path, params, fields, events, [r for r in coverage.ranges if r.trusted])
        plan.requests += client.requests_sent - requests_before
        if refetched is None:
            plan.reason = f"GET /{path.strip('/')}/ ignored the id__in filter"
            return plan
    except (AuthenticationError, NotFoundError, ValidationError) as exc:
        # 403: the key may not read the log (plan or role); 404: no log here; 400: it refuses the filters.
        # 401 is a key Close does not accept at all: that is the load's error, not the log's.
        if exc.status == 401:
            raise
        plan.started = None  # nothing proves when this load started: the next one cannot use the log either
        if coverage.ranges:
            plan.reason = f"the event log could not be read ({type(exc).__name__}: {exc})"
        return plan
    fresh, gone = refetched
    records = list(fresh.values())
    applied = store.apply_changes(records, store.build(records) if records else None, gone, since=since,
                                  synced_at=plan.started, local_synced_at=local_started, expected=last)
    plan.mode = "events"
    plan.changed, plan.deleted = len(fresh), len(gone)
    plan.options = replace(options, lookback=pd.Timedelta(0))
    log.info("%s: %d %ss refetched, %d dropped from the event log in %d requests%s", client.label, plan.changed,
             kind, plan.deleted, plan.requests, "" if applied else " (another load had synced later)")
    return plan


def warn_stale(plan: SyncPlan, kind: str, stale_since: pd.Timestamp) -> None:
    """Warn that stored rows served by this load may be stale since ``stale_since``; every load warns again
    until they are re-read (``refresh=True``)."""
    options = plan.options
    because = f", because {plan.reason}" if plan.reason else ""
    scope = f"re-read the {options.lookback.days} days before the newest stored {kind}" if options.lookback else \
        f"re-read only {kind}s newer than the store"
    warnings.warn(
        f"This load {scope}{because}. Older stored {kind}s are as Close had them on {stale_since:%Y-%m-%d %H:%M} "
        f"UTC: outcome changes and deletions on them since then may be missing (frame.attrs['stale_since']). "
        "Pass refresh=True to reload them.", EventRefreshWarning, stacklevel=2)


def _refetch_changed(client: CloseClient, path: str, params: Mapping[str, Any], fields: list[str] | None,
                     events: list[dict], ranges: list) -> tuple[dict[str, dict], set] | None:
    """Refetch the ids the events name: ``(fresh records by id, ids to drop)``, or ``None`` if the server ignores
    ``id__in``. Only reads Close, so the folder is not held over these requests."""
    deleted = {e.get("object_id") for e in events if e.get("action") == "deleted"} - {None}
    covered_until = max((r.end for r in ranges), default=MAX_TIME)
    changed = set()
    for event in events:
        object_id = event.get("object_id")
        if event.get("action") == "deleted" or object_id is None or object_id in deleted:
            continue
        data = event.get("data") or {}
        created = record_created(data)
        # A new activity dated after everything cached is read with the new date range anyway.
        if event.get("action") == "created" and created is not None and created >= covered_until:
            continue
        changed.add(object_id)
    fresh: dict[str, dict] = {}
    query = list_query(params, fields, also=("date_created",))
    ordered = sorted(changed)
    for start in range(0, len(ordered), ID_BATCH):
        batch = ordered[start:start + ID_BATCH]
        records, _ = client.get_page(path, {**query, "id__in": ",".join(batch), "_skip": 0, "_limit": ID_BATCH})
        wanted = set(batch)
        if any(not isinstance(r, dict) or r.get("id") not in wanted for r in records):
            return None
        fresh.update((r["id"], r) for r in records)
    # Ids asked for and not returned were deleted or no longer match the load's filters: both leave the cache.
    return fresh, deleted | (changed - set(fresh))
