"""Read Close's event log for a cached load: which calls or meetings changed since a time, refetched, and when "now"
is on Close's clock. Reads only; applying the :class:`ChangeSet` to the local store is the store's job.

What the log cannot tell, and how this copes:

- Which actions exist: Close lists ``answered`` and ``completed`` for calls besides created/updated/deleted, and may
  add more. Every action read is a change (the id is refetched); only ``deleted`` drops it.
- The event's own dates have no UTC offset (``2019-01-15T12:48:23.395000``): they are UTC (:func:`event_time`).
- Whether the key may read the log: any refusal (400, 402, 403, 404, another 4xx but 401 and 429) means "no log"
  (:func:`log_refused`); the caller falls back to its re-scan.
- The refetch (``id__in``, 100 ids a request) follows ``has_more`` (a server may page at 50) and asks again, together,
  for the ids it did not get until a pass returns none of them (a server may honour only the first id). An id still
  missing is out of the load's filters if Close lists it without them; else it counts as deleted only when the log
  says so or ``GET /activity/<kind>/<id>/`` answers 404. Both leave the load's rows; only deletions are counted so.
- "Now": :func:`sync_time` never trusts our clock. It takes the ``Date`` of Close's answers, and without one the
  newest ``date_updated`` the log showed (minus :data:`MARGIN`); a ``Date`` behind the dates Close stamps, or a
  change stamped in our clock's future, is a skew, warned with :class:`ClockSkewWarning`.
"""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping

import pandas as pd

from closeframe.errors import CloseAPIError, NotFoundError, ValidationError
from closeframe.http.client import CloseClient, list_query
from closeframe.http.paging import record_created

__all__ = ["ACTIONS", "ID_BATCH", "MARGIN", "OVERLAP", "RETENTION", "ChangeSet", "ClockSkewWarning",
           "EventRefreshWarning", "event_time", "log_refused", "newest_event", "read_changes", "read_events",
           "server_time", "sync_time"]

#: How long Close keeps events.
RETENTION = pd.Timedelta(days=30)
#: Events are read from this long before the last sync started.
OVERLAP = pd.Timedelta(minutes=5)
#: Taken off the newest ``date_updated`` seen when Close sends no ``Date``: changes stamped in the same instant by
#: another of its servers, a little behind, are still read next time.
MARGIN = pd.Timedelta(minutes=1)
#: A ``Date`` less than this ahead of the newest stamp may run ahead of Close's stamps: the stamp bounds the sync.
#: Further ahead, the log has been quiet and the ``Date`` is used (a ``Date`` ahead of the stamps by more than this
#: in a quiet organization is not seen).
STAMP_WINDOW = pd.Timedelta(hours=1)
#: A ``Date`` (whole seconds) this far behind a change's stamp is a skew, not rounding.
SKEW_TOLERANCE = pd.Timedelta(seconds=2)
#: Ids per ``id__in`` refetch (one page of Close's maximum ``_limit``).
ID_BATCH = 100
#: The actions read per kind: Close's list of event types (calls also log ``answered`` and ``completed``).
ACTIONS = {"call": ("created", "updated", "deleted", "answered", "completed"),
           "meeting": ("created", "updated", "deleted")}


class EventRefreshWarning(UserWarning):
    """A cached load could not use the event log and re-read only its lookback: older rows may be stale."""


class ClockSkewWarning(UserWarning):
    """Close's clocks disagree (its ``Date`` header is behind the dates it stamps), or ours is behind Close's: the
    sync's time was taken from the earliest of them, so nothing is missed, but say so."""


@dataclass
class ChangeSet:
    """What the event log says changed since a time: the store applies it.

    Attributes
    ----------
    fresh : dict
        Records refetched, by id (the list endpoint's representation, with the load's ``_fields``).
    deleted : set
        Ids the log says were deleted, or whose direct ``GET`` answered 404.
    left : set
        Ids that still exist but no longer match the load's filters: dropped from its rows, not deleted.
    newest : pandas.Timestamp or None
        The newest event ``date_updated`` of any kind, read before the changes (UTC): what :func:`sync_time` takes.
    requests : int
        Requests made.
    complete : bool
        False when the list endpoint ignored ``id__in`` (answered ids not asked for): nothing was refetched.
    """

    fresh: dict = field(default_factory=dict)
    deleted: set = field(default_factory=set)
    left: set = field(default_factory=set)
    newest: pd.Timestamp | None = None
    requests: int = 0
    complete: bool = True

    @property
    def gone(self) -> set:
        """Every id to drop from the load's rows."""
        return self.deleted | self.left


def event_time(value: Any) -> pd.Timestamp | None:
    """An event's ``date_created``/``date_updated`` as a UTC timestamp: Close writes them without an offset, in UTC."""
    if not isinstance(value, str) or not value:
        return None
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        return None
    if stamp is pd.NaT:
        return None
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def log_refused(error: BaseException) -> bool:
    """Whether an error from ``GET /event/`` means "no event log for this key" (fall back) rather than a failure.

    Any 4xx does: 400 (the Singer tap's probe reads it as no access), 402 (a plan limit), 403, 404, ... but 401 (a
    key Close rejects everywhere: the load's error) and 429 (rate limited: waiting gave up, not a refusal).
    """
    status = getattr(error, "status", None)
    return isinstance(error, CloseAPIError) and isinstance(status, int) and 400 <= status < 500 \
        and status not in (401, 429)


def read_events(client: CloseClient, params: Mapping[str, Any], *, page_size: int = 50,
                pages: int | None = None) -> Iterator[dict]:
    """Yield every event of ``GET /event/`` matching ``params``, newest first, following ``cursor_next``.

    Parameters
    ----------
    client : CloseClient
    params : mapping
        A filter combination Close supports, e.g. ``{"object_type": "activity.call", "action": "updated",
        "date_updated__gte": "2026-11-01T00:00:00+00:00"}``; sent again with every cursor, as Close asks.
    page_size : int, default 50
        ``_limit`` (Close's maximum for events is 50).
    pages : int, optional
        Stop after this many pages (``None``: all).
    """
    cursor, seen_cursors, read = None, set(), 0
    while pages is None or read < pages:
        read += 1
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


def newest_event(events: Iterable[Mapping]) -> pd.Timestamp | None:
    """The newest ``date_updated`` of ``events`` (UTC), ``None`` for none."""
    return max(filter(None, (event_time(e.get("date_updated")) for e in events)), default=None)


def sync_time(client: CloseClient, newest: pd.Timestamp | None, last: pd.Timestamp | None = None, *,
              at: pd.Timestamp | None = None) -> pd.Timestamp | None:
    """When this sync happened by Close's clock: every change stamped before it is already known.

    Parameters
    ----------
    client : CloseClient
        Its ``Date`` headers so far.
    newest : Timestamp or None
        The newest event ``date_updated`` the log showed before this sync read its changes.
    last : Timestamp, optional
        The previous sync's time (still a lower bound when nothing newer was seen).
    at : Timestamp, optional
        The ``Date``-based time when the sync began (default: now, from the ``Date`` headers so far).

    Returns
    -------
    Timestamp or None
        The ``Date``-based time, or the newest stamp seen (``max(last, newest - MARGIN)``) when that is earlier and
        within :data:`STAMP_WINDOW` of it: both are Close's, and a ``Date`` running ahead of Close's stamps must not
        skip changes. Without a ``Date``, the stamp. Our clock is never used. ``None`` when neither is known
        (nothing vouches for this sync: the next load re-scans).
    """
    dated = at if at is not None else server_time(client)
    stamped = max([t for t in (last, None if newest is None else newest - MARGIN) if t is not None], default=None)
    if dated is not None and newest is not None and newest > dated + SKEW_TOLERANCE:
        warnings.warn(f"Close's Date header for {client.label} is {_span(newest - dated)} behind the dates it "
                      "stamps on changes; the sync takes the earlier time, so nothing is missed.",
                      ClockSkewWarning, stacklevel=3)
    elif dated is None and newest is not None and newest > pd.Timestamp.now(tz="UTC") + SKEW_TOLERANCE:
        warnings.warn(f"Close ({client.label}) stamped a change "
                      f"{_span(newest - pd.Timestamp.now(tz='UTC'))} after this computer's clock; without a Date "
                      "header the sync's time comes from Close's own dates.", ClockSkewWarning, stacklevel=3)
    if dated is not None and (stamped is None or dated - stamped > STAMP_WINDOW):
        # The log has been quiet for a while: the Date is all there is (taking the old stamp would make the next
        # sync look older than the log's retention).
        return dated
    return min([t for t in (dated, stamped) if t is not None], default=None)


def _span(delta: pd.Timedelta) -> str:
    seconds = delta.total_seconds()
    return f"{seconds / 60:.1f} minutes" if seconds >= 120 else f"{seconds:.0f} s"


def read_changes(client: CloseClient, kind: str, path: str, params: Mapping[str, Any], fields: list[str] | None,
                 since: pd.Timestamp, covered_until: Any = None) -> ChangeSet:
    """Read every ``activity.<kind>`` event since ``since`` and refetch the ids they name.

    Parameters
    ----------
    client : CloseClient
    kind : {"call", "meeting"}
    path : str
        ``activity/call/`` or ``activity/meeting/``.
    params, fields
        The load's filters and ``_fields`` (the refetch sends them too).
    since : Timestamp
        Events with ``date_updated`` from then on are read.
    covered_until : datetime, optional
        The end of what is stored: a new activity created after it is paged with the new range anyway.

    Returns
    -------
    ChangeSet
        Not :attr:`~ChangeSet.complete` when the list endpoint ignores ``id__in`` (it answered ids not asked for).

    Raises
    ------
    CloseAPIError
        As the client raises them; :func:`log_refused` tells a refusal of the log from a failure.
    """
    before = client.requests_sent
    # The newest event of any kind, read before the changes: a stamp of Close's clock this sync can vouch for even
    # when nothing of this kind changed. A stamp read with the changes cannot: a change made while the streams are
    # read could be newer than one stream's read and older than another's newest event.
    newest = newest_event(read_events(client, {}, page_size=1, pages=1))
    actions = ACTIONS[kind]
    # The actions are read at once (each its own cursor chain): one round trip instead of one per action.
    with ThreadPoolExecutor(max_workers=len(actions), thread_name_prefix="closeframe-events") as pool:
        reads = [pool.submit(lambda a: list(read_events(client, {
            "object_type": f"activity.{kind}", "action": a, "date_updated__gte": since.isoformat()})), action)
            for action in actions]
        events = [event for read in reads for event in read.result()]
    changes = ChangeSet(newest=newest)
    changes.deleted = {e.get("object_id") for e in events if e.get("action") == "deleted"} - {None}
    changed = set()
    for event in events:
        object_id = event.get("object_id")
        if object_id is None or object_id in changes.deleted:
            continue
        created = record_created(event.get("data") or {})
        # A new activity dated after everything stored is read with the new date range anyway.
        if event.get("action") == "created" and created is not None and covered_until is not None \
                and created >= covered_until:
            continue
        changed.add(object_id)  # any other action (updated, answered, completed, one Close adds later) is a change
    query = list_query(params, fields, also=("date_created",))
    fresh, partial = _refetch(client, path, query, sorted(changed))
    if fresh is None:
        changes.complete, changes.requests = False, client.requests_sent - before
        return changes
    # Not returned: deleted, out of the load's filters, or lost by the server. Only Close can say which: ids it
    # still lists without the load's filters exist; the others are deleted only if a direct GET answers 404.
    listed, partial_listing = _refetch(client, path, {"_fields": "id"}, sorted(changed - set(fresh)))
    listed = listed or {}
    if partial or partial_listing:
        # The server answered only part of an id__in list: an id it left out may match the load's filters after all.
        for object_id in sorted(set(listed) - set(fresh)):
            fresh.update(_by_ids(client, path, query, [object_id]) or {})
    for object_id in sorted(changed - set(fresh) - set(listed)):
        if not _exists(client, path, object_id):
            changes.deleted.add(object_id)
        else:  # there, yet not listed by id__in: a server that lost it; asked alone, with the load's filters
            fresh.update(_by_ids(client, path, query, [object_id]) or {})
    changes.fresh = fresh
    changes.left = changed - set(fresh) - changes.deleted
    changes.requests = client.requests_sent - before
    return changes


def _refetch(client: CloseClient, path: str, query: Mapping[str, Any], ids: list[str]
             ) -> tuple[dict[str, dict] | None, bool]:
    """The records of ``ids`` by ``id__in``, 100 a request, following ``has_more``, and whether the server answered
    only part of a list; ``(None, False)`` if it answers ids it was not asked for.

    The ids not returned are asked for again, together, until a pass returns none of them: one request more per
    100 missing ids from a server that honours ``id__in``; from one that reads only part of the list, every id
    that matches in the end, and ``True`` (a later pass found what an earlier one left out).
    """
    fresh: dict[str, dict] = {}
    pending, passes, partial = list(ids), 0, False
    while pending:
        found = 0
        for start in range(0, len(pending), ID_BATCH):
            got = _by_ids(client, path, query, pending[start:start + ID_BATCH])
            if got is None:
                return None, False
            fresh.update(got)
            found += len(got)
        if not found:
            break
        partial, passes = partial or passes > 0, passes + 1
        pending = [i for i in pending if i not in fresh]
    return fresh, partial


def _by_ids(client: CloseClient, path: str, query: Mapping[str, Any], batch: list[str]) -> dict[str, dict] | None:
    wanted, got, skip = set(batch), {}, 0
    while True:
        records, more = client.get_page(path, {**query, "id__in": ",".join(batch), "_skip": skip,
                                               "_limit": ID_BATCH})
        if any(not isinstance(r, dict) or r.get("id") not in wanted for r in records):
            return None
        got.update((r["id"], r) for r in records)
        skip += len(records)
        if not more or not records or len(got) == len(wanted):
            return got


def _exists(client: CloseClient, path: str, object_id: str) -> bool:
    """Whether ``GET <path><id>/`` finds the record (404: it was deleted)."""
    try:
        client.get(f"{path.rstrip('/')}/{object_id}/", {"_fields": "id"})
    except NotFoundError:
        return False
    return True
