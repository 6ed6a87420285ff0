"""Exact incremental refresh of cached calls and meetings from Close's event log (``GET /event/``).

A cached load remembers when it started, by the API's clock (see :func:`closeframe.store.eventlog.sync_time`).
The next cached load, if that was less than the log's 30-day retention ago, reads the ``activity.call`` (or
``activity.meeting``) events of every action since then and refetches the ids they name
(:func:`closeframe.store.eventlog.read_changes`: what changed, deleted or left the load's filters), applies that
change set to the store, and trusts every other stored row: only the new ``date_created`` range is paged. The
result equals a fresh load, including outcomes set on years-old calls and deleted calls.

Where that cannot be done, the load falls back to the lookback re-scan (``lookback=``, default 30 days) and warns
with :class:`EventRefreshWarning` how stale the older cached rows may be: the last sync is older than the log's
retention, the key may not read the log (any 4xx refusal but 401: 400, 402, 403, 404, ...), or the list endpoint
ignores ``id__in``. Stored rows the log could not bring up to date stay marked stale in the store (their range's
``exact_as_of``, :mod:`closeframe.store.activities`): every load that serves them warns again and says since when
in ``frame.attrs["stale_since"]``, until they are re-read (``refresh=True``, or the lookback).

This module decides (:func:`begin_sync`); :mod:`closeframe.store.eventlog` finds what changed; the store applies the
change set with the new sync state in one transaction (:func:`apply_sync`, with
:meth:`closeframe.store.activities.ActivityStore.apply_changes`).

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

import logging
import warnings
from dataclasses import dataclass, replace
from typing import Any, Mapping

import pandas as pd

from closeframe.errors import CloseAPIError
from closeframe.http.client import CloseClient
from closeframe.store.activities import MAX_TIME, ActivityStore
from closeframe.store.eventlog import (OVERLAP, RETENTION, EventRefreshWarning, log_refused, newest_event,
                                       read_changes, read_events, server_time, sync_time)

__all__ = ["EventRefreshWarning", "SyncPlan", "apply_sync", "begin_sync", "warn_stale"]

log = logging.getLogger("closeframe.store.refresh")

#: A last sync must be this much younger than the retention to be trusted (time to run, clocks).
SAFETY = pd.Timedelta(hours=6)


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
    changes : ChangeSet or None
        What the event log said changed, until :func:`apply_sync` stores it (``None`` when the log was not read
        for changes).
    last_synced : Timestamp or None
        The scope's sync the changes were read from.
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
    changes: Any = None
    last_synced: pd.Timestamp | None = None

    @property
    def fresh_from(self) -> pd.Timestamp:
        """Stored ranges exact as of this time or later are up to date for this load; older ones may be stale."""
        return (self.started if self.started is not None else self.local_started) - OVERLAP


def begin_sync(client: CloseClient, store: ActivityStore, kind: str, path: str, params: Mapping[str, Any],
               fields: list[str] | None, options: Any) -> SyncPlan:
    """Read from the event log what changed since the scope's last sync, before a cached load (:func:`apply_sync`
    stores it); see the module docstring.

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
        The changes the log shows, for :func:`apply_sync` to store with the new sync state (the first sync's state
        and the fallbacks are stored already).
    """
    # The sync's time is Close's: the Date of the answers so far (its /me/ answer dated it), else the newest
    # change the log shows (see eventlog.sync_time); our clock only measures how long ago the last sync was.
    local_started = pd.Timestamp.now(tz="UTC")
    server_started = server_time(client)
    coverage = store.coverage()
    trusted = [r for r in coverage.ranges if r.trusted]
    plan = SyncPlan(options, "full" if not trusted else "lookback", store, None, local_started)
    last = coverage.synced_at
    try:
        local_last = coverage.local_synced_at
        age = server_started - last if server_started is not None and last is not None else \
            (local_started - local_last if local_last is not None else None)
        if not trusted or last is None or age is None or age > RETENTION - SAFETY:
            # Nothing to bring up to date, no record of when it was loaded, or too long ago: one event read (the
            # newest of any kind) dates the sync and tells whether this key may read the log at all.
            newest = newest_event(read_events(client, {}, page_size=1, pages=1))
            plan.requests += 1
            plan.started = sync_time(client, newest, at=server_started)
            if trusted and last is None:
                plan.reason = "no earlier sync with the event log is recorded for these stored rows"
            elif trusted:
                plan.reason = (f"the last sync ({last:%Y-%m-%d %H:%M} UTC) is older than the event log's "
                               f"{RETENTION.days}-day retention")
            # Whatever is fetched from now on is read after `started`: the log vouches for it from here. Stored
            # rows older than that stay marked stale (their exact_as_of) until they are re-read.
            store.start_sync(plan.started, local_started, plan.mode)
            return plan
        covered_until = max((r.end for r in trusted), default=MAX_TIME)
        changes = read_changes(client, kind, path, params, fields, last - OVERLAP, covered_until)
        plan.requests += changes.requests
        plan.started = sync_time(client, changes.newest, last, at=server_started)
        if not changes.complete:
            plan.reason = f"GET /{path.strip('/')}/ ignored the id__in filter"
            return plan
    except CloseAPIError as exc:
        # Any refusal of the log (400, 402, 403, 404, ...) means no log for this key: re-scan instead. 401 is a key
        # Close does not accept at all and 429 a limit waited out in vain: those are the load's errors.
        if not log_refused(exc):
            raise
        plan.started = None  # nothing proves when this load started: the next one cannot use the log either
        if trusted:
            plan.reason = f"the event log could not be read ({type(exc).__name__}: {exc})"
        return plan
    plan.changes, plan.last_synced = changes, last
    return plan


def apply_sync(client: CloseClient, plan: SyncPlan, kind: str) -> None:
    """Store what :func:`begin_sync` read from the event log: the refetched rows, the deletions and the new sync
    state in one transaction; the plan then trusts every stored row (no lookback). Nothing when the log was not
    read for changes.

    Apart from :func:`begin_sync` so that the loader can run it on the connection its reads use next (a connection
    costs about 25 ms to open) without holding one while the log is read.
    """
    changes, store = plan.changes, plan.store
    if changes is None:
        return
    records = list(changes.fresh.values())
    applied = store.apply_changes(records, store.build(records) if records else None, changes.gone,
                                  since=plan.last_synced - OVERLAP, synced_at=plan.started,
                                  local_synced_at=plan.local_started, expected=plan.last_synced)
    plan.changes = None
    plan.mode = "events"
    plan.changed, plan.deleted = len(changes.fresh), len(changes.gone)
    plan.options = replace(plan.options, lookback=pd.Timedelta(0))
    log.info("%s: %d %ss refetched, %d dropped from the event log in %d requests%s", client.label, plan.changed,
             kind, plan.deleted, plan.requests, "" if applied else " (another load had synced later)")


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
