"""Outcome history: catalogue snapshots kept in the store plus Close's outcome events, as changes and a catalogue
that remembers deleted outcomes.

Close forgets a deleted outcome (``GET /outcome/{id}/`` answers 404) while its calls and meetings keep its id, and
its event log keeps changes for 30 days only. Each :func:`outcome_changes` or :func:`outcome_catalogue` run with a
cache therefore stores the catalogue it lists (a *snapshot*, when it differs from the last one) and every outcome
event it reads (an archive that outlives the log's retention), in the store's outcome tables
(:mod:`closeframe.store.history`).
From both:

- :func:`changes_from_history` (pure): one row per outcome event (created, renamed, type or applies_to changed,
  deleted), when and by whom. Changes the log did not give (no outcome events, or older than its retention) are
  read from consecutive snapshots instead (``source="snapshot"``): a creation at the outcome's ``date_created``
  by its ``created_by``, an edit at its ``date_updated`` by its ``updated_by`` (only the last edit between two
  snapshots shows), and a deletion only as "some time before this snapshot" (``exact=False``).
- :func:`catalogue_from_history` (pure): the live outcomes plus every deleted one whose last state a snapshot or a
  ``deleted`` event (``previous_data``) kept, with ``deleted_at``/``deleted_by``; :func:`closeframe.outcome_usage`
  then gives a deleted outcome its last known name and type.

Whether Close logs outcome events at all is not documented: no public source shows one, and Close's list of event
object types has no ``outcome``. Without them the history comes from the snapshots alone, and says so: a deletion's
row has ``exact=False`` and ``attrs["history_source"]`` maps the organization to ``"snapshots"``; when events
appear (a later run), they are used, and the map says ``"events"``. A log that cannot be read at all is warned
about with :class:`OutcomeHistoryWarning`.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd

from closeframe.load.activities import _organization_key
from closeframe.store.activities import host_of
from closeframe.store.cache import check_cache_dir, resolve_cache_dir
from closeframe.store.history import read_history, write_history
from closeframe.store.migrate import migrate_folder
from closeframe.http.client import CloseClient
from closeframe.http.paging import paginate_verified
from closeframe.errors import CloseAPIError
from closeframe.shape.frames import STRING_DTYPE, UTC_DATETIME_DTYPE, outcomes_frame
from closeframe.load.outcomes import ON_ERROR_MODES, check_choice, frame_from_results, load_records
from closeframe.http.progress import LoadProgress
from closeframe.store.eventlog import event_time, log_refused, read_events, server_time

__all__ = ["CHANGE_COLUMNS", "CHANGE_KINDS", "OutcomeHistoryWarning", "catalogue_from_history",
           "changes_from_history", "outcome_catalogue", "outcome_changes"]

#: The columns of :func:`outcome_changes`, in order (``organization_name`` when known).
CHANGE_COLUMNS = ("organization_id", "organization_name", "outcome_id", "date", "change", "user_id", "user_name",
                  "name", "previous_name", "type", "previous_type", "applies_to", "previous_applies_to", "source",
                  "exact")
#: What a change row can say (an edit of several fields joins them: ``"renamed, type changed"``).
CHANGE_KINDS = ("created", "renamed", "type changed", "applies_to changed", "edited", "deleted")
_TRACKED = (("name", "renamed"), ("type", "type changed"), ("applies_to", "applies_to changed"))
_ACTIONS = ("created", "updated", "deleted")


class OutcomeHistoryWarning(UserWarning):
    """Outcome events could not be read: the history comes from catalogue snapshots alone."""


# -- pure: snapshots and events in, frames out ------------------------------------------------------------------
def _when(value: Any) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        return pd.NaT
    if stamp is pd.NaT:
        return pd.NaT
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _applies(value: Any) -> str | None:
    return ", ".join(sorted(map(str, value))) if isinstance(value, list) else None


def _change_row(organization_id, outcome_id, date, change, user_id, now: Mapping | None, before: Mapping | None,
                source: str, exact: bool) -> dict:
    now, before = now or {}, before or {}
    return {"organization_id": organization_id, "outcome_id": outcome_id, "date": _when(date), "change": change,
            "user_id": user_id, "name": now.get("name"), "previous_name": before.get("name"),
            "type": now.get("type"), "previous_type": before.get("type"),
            "applies_to": _applies(now.get("applies_to")), "previous_applies_to": _applies(before.get("applies_to")),
            "source": source, "exact": exact}


def _edit_kind(now: Mapping, before: Mapping) -> str:
    kinds = [kind for field, kind in _TRACKED if field in now and field in before and now[field] != before[field]]
    return ", ".join(kinds) if kinds else "edited"


def _event_rows(organization_id: str, events: Iterable[Mapping]) -> list[dict]:
    rows = []
    for event in events:
        action = event.get("action")
        if action not in _ACTIONS:
            continue
        data, before = event.get("data") or {}, event.get("previous_data") or {}
        if action == "created":
            change, before = "created", {}
        elif action == "deleted":
            change = "deleted"
            data = before = before or data  # the last state, wherever the log put it
        elif data and before:
            change = _edit_kind(data, before)
        else:
            # Without data (a non-admin, an hour later) only the names of the changed fields are known.
            fields = set(event.get("changed_fields") or [])
            change = ", ".join(kind for field, kind in _TRACKED if field in fields) or "edited"
        rows.append(_change_row(organization_id, event.get("object_id"), event.get("date_updated"), change,
                                event.get("user_id"), data, before, "event", True))
    return rows


def _snapshot_rows(organization_id: str, snapshots: Sequence[Mapping], event_rows: list[dict]) -> list[dict]:
    """Changes between consecutive snapshots that no event row reported."""
    reported = {(r["outcome_id"], r["change"]) for r in event_rows if r["change"] in ("created", "deleted")}
    edits: dict[str, list[pd.Timestamp]] = {}
    for r in event_rows:
        if r["change"] not in ("created", "deleted"):
            edits.setdefault(r["outcome_id"], []).append(r["date"])
    rows = []
    previous: dict[str, Mapping] = {}
    previous_time = None
    for snapshot in sorted(snapshots, key=lambda s: _when(s.get("taken_at"))):
        taken = _when(snapshot.get("taken_at"))
        current = {r.get("id"): r for r in snapshot.get("outcomes") or [] if isinstance(r, Mapping)}
        for outcome_id, record in current.items():
            before = previous.get(outcome_id)
            if before is None:
                if (outcome_id, "created") not in reported:
                    rows.append(_change_row(organization_id, outcome_id, record.get("date_created"), "created",
                                            record.get("created_by"), record, None, "snapshot", True))
            elif any(record.get(f) != before.get(f) for f, _ in _TRACKED) and not any(
                    previous_time is None or previous_time < when <= taken for when in edits.get(outcome_id, [])):
                rows.append(_change_row(organization_id, outcome_id, record.get("date_updated"),
                                        _edit_kind(record, before), record.get("updated_by"), record, before,
                                        "snapshot", True))
        for outcome_id, before in previous.items():
            if outcome_id not in current and (outcome_id, "deleted") not in reported:
                # Deleted some time between the two snapshots: the later one's time is all that is known.
                rows.append(_change_row(organization_id, outcome_id, snapshot.get("taken_at"), "deleted", None,
                                        before, before, "snapshot", False))
        previous, previous_time = current, taken
    return rows


def _org_change_rows(organization_id: str, snapshots: Sequence[Mapping], events: Iterable[Mapping]) -> list[dict]:
    event_rows = _event_rows(organization_id, events)
    return event_rows + _snapshot_rows(organization_id, snapshots, event_rows)


def changes_from_history(history: Mapping[str, Mapping[str, Any]], *,
                         organization_names: Mapping[str, str] | None = None) -> pd.DataFrame:
    """One row per outcome change, from snapshots and events (pure).

    Parameters
    ----------
    history : mapping
        ``{organization_id: {"snapshots": [{"taken_at": iso, "outcomes": [records]}], "events": [events],
        "users": {user_id: name}}}``, events as ``GET /event/`` returns them (``object_type`` ``outcome``).
    organization_names : mapping, optional
        Adds ``organization_name``.

    Returns
    -------
    pandas.DataFrame
        :data:`CHANGE_COLUMNS`, sorted by organization and ``date``. ``date`` is when the change happened (UTC);
        for a deletion seen only between two snapshots it is the later snapshot's time and ``exact`` is False.
        ``attrs["history_source"]``: ``{organization_id: "events" | "snapshots"}``.
    """
    rows = [{**row, "user_name": (parts.get("users") or {}).get(row["user_id"])} for org, parts in history.items()
            for row in _org_change_rows(org, parts.get("snapshots") or [], parts.get("events") or [])]
    frame = pd.DataFrame(rows, columns=[c for c in CHANGE_COLUMNS if c != "organization_name"])
    for column in ("organization_id", "outcome_id", "user_id", "user_name", "name", "previous_name", "type",
                   "previous_type", "applies_to", "previous_applies_to"):
        frame[column] = frame[column].astype(object).where(frame[column].notna(), None).astype(STRING_DTYPE)
    frame["date"] = pd.to_datetime(frame["date"], utc=True).astype(UTC_DATETIME_DTYPE)
    frame["exact"] = frame["exact"].astype(bool)
    frame = frame.sort_values(["organization_id", "date", "outcome_id"], kind="stable").reset_index(drop=True)
    for column in ("change", "source"):
        frame[column] = pd.Categorical(frame[column].astype(object))
    frame["organization_id"] = pd.Categorical(frame["organization_id"].astype(object))
    frame.attrs["history_source"] = {str(org): _source(parts) for org, parts in history.items()}
    if organization_names:
        frame.insert(1, "organization_name", pd.Categorical(
            frame["organization_id"].astype(object).map(dict(organization_names))))
    return frame


def catalogue_from_history(live: Sequence[Mapping], history: Mapping[str, Mapping[str, Any]]) -> list[dict]:
    """The live outcome records plus each deleted outcome's last known record with ``deleted_at``/``deleted_by``.

    Parameters
    ----------
    live : sequence of dict
        The outcomes ``GET /outcome/`` lists now (all organizations).
    history : mapping
        As for :func:`changes_from_history`.

    Returns
    -------
    list of dict
        Outcome records; a deleted one's ``deleted_at`` is its event's time, else the first snapshot without it.
    """
    live_ids = {r.get("id") for r in live}
    records = [dict(r, deleted_at=None, deleted_by=None) for r in live]
    for org, parts in history.items():
        last_known: dict[str, dict] = {}
        for snapshot in sorted(parts.get("snapshots") or [], key=lambda s: _when(s.get("taken_at"))):
            for record in snapshot.get("outcomes") or []:
                if isinstance(record, Mapping) and record.get("id") not in live_ids:
                    last_known[record["id"]] = dict(record)
        for row in _org_change_rows(org, parts.get("snapshots") or [], parts.get("events") or []):
            if row["change"] != "deleted" or row["outcome_id"] in live_ids:
                continue
            known = last_known.setdefault(row["outcome_id"], {"id": row["outcome_id"], "organization_id": org})
            for field, column in (("name", "name"), ("type", "type")):
                if known.get(field) is None and row[column] is not None:
                    known[field] = row[column]
            if known.get("applies_to") is None and row["applies_to"] is not None:
                known["applies_to"] = row["applies_to"].split(", ")
            previous = known.get("deleted_at")
            if previous is None or (row["exact"] and not known.get("_exact")):
                known["deleted_at"] = row["date"].isoformat() if row["date"] is not pd.NaT else None
                known["deleted_by"] = row["user_id"]
                known["_exact"] = row["exact"]
        for record in last_known.values():
            record.pop("_exact", None)
            record.setdefault("organization_id", org)
            if record.get("deleted_at") is not None:
                records.append(record)
    return records


# -- loading: the stored snapshots and events ---------------------------------------------------------------------
def _load_history(client: CloseClient, bar: LoadProgress, root: Path | None) -> tuple[str, list, dict]:
    """List the outcomes, read the outcome events, store both; return (organization, live records, history)."""
    live = list(paginate_verified(client, "outcome/", on_page=bar.page))
    # The organization the key reads (its outcomes say so when /me/ lists several); None: nothing is kept.
    organization = _organization_key(client, "outcome/")
    users = {u.get("id"): " ".join(filter(None, (u.get("first_name"), u.get("last_name")))) or u.get("email")
             for u in paginate_verified(client, "user/") if isinstance(u, dict)}
    taken_at = (server_time(client) or pd.Timestamp.now(tz="UTC")).isoformat()
    stored = root is not None and organization is not None
    host = host_of(client.base_url)
    snapshots, archive = read_history(root, host, organization) if stored else ([], {})
    archive_before = dict(archive)
    try:
        for action in _ACTIONS:
            for event in read_events(client, {"object_type": "outcome", "action": action}):
                kept = archive.get(event.get("id"))
                if kept is None or _later_or_same(event, kept):
                    # A later read of a merged event has its later state; one without data keeps the old data.
                    archive[event.get("id")] = {**(kept or {}), **{k: v for k, v in event.items() if v is not None}}
    except CloseAPIError as exc:
        if not log_refused(exc):  # any refusal of the log (400, 402, 403, 404, ...) leaves the snapshots
            raise
        warnings.warn(f"Outcome events could not be read for {client.label} ({type(exc).__name__}: {exc}); the "
                      "history comes from catalogue snapshots alone, so deletion times are only known to lie "
                      "between two snapshots.", OutcomeHistoryWarning, stacklevel=2)
    latest = max((_when(s.get("taken_at")) for s in snapshots), default=pd.NaT)
    if latest is not pd.NaT and _when(taken_at) <= latest:
        # Date has whole seconds and a new client estimates Close's clock afresh: two runs in one second could
        # stamp the later snapshot earlier and turn a deletion into a creation. Snapshots are taken in turn.
        taken_at = (latest + pd.Timedelta(microseconds=1)).isoformat()
    snapshot = {"taken_at": taken_at, "outcomes": live}
    new = [] if snapshots and snapshots[-1].get("outcomes") == live else [snapshot]
    snapshots += new
    if stored:
        # The new snapshot and the events read are stored together, in one transaction.
        write_history(root, host, organization, new,
                      {k: v for k, v in archive.items() if archive_before.get(k) != v})
    history_org = live[0].get("organization_id") if live and live[0].get("organization_id") else \
        (organization or "unknown")
    return history_org, live, {history_org: {"snapshots": snapshots, "events": list(archive.values()),
                                             "users": users}}


def _later_or_same(event: Mapping, kept: Mapping) -> bool:
    """Whether ``event`` is as new as the archived copy ``kept`` (dates compared as UTC: Close writes them naive)."""
    new, old = event_time(event.get("date_updated")), event_time(kept.get("date_updated"))
    return old is None or (new is not None and new >= old)


def _load(what: str, api_key, token, base_url, cache, progress, on_error, client_options, build):
    check_choice("on_error", on_error, ON_ERROR_MODES)
    root = resolve_cache_dir(cache)
    if root is not None:
        root = migrate_folder(check_cache_dir(root))

    def fetch(client: CloseClient, bar: LoadProgress):
        return [_load_history(client, bar, root)]

    results = load_records(api_key, token=token, base_url=base_url, fetch=fetch, progress=progress, desc=what,
                           client_options=client_options)
    frame = frame_from_results(results, build, on_error=on_error, what=what)
    frame.attrs["history_source"] = {str(org): _source(parts) for result in results if result.error is None
                                     for part in result.records or [] for org, parts in part[2].items()}
    return frame


def _source(parts: Mapping[str, Any]) -> str:
    """Where an organization's history came from: events when the log gave any outcome event, else snapshots."""
    return "events" if parts.get("events") else "snapshots"


_SHARED = """
    Parameters
    ----------
    api_key, token, base_url
        As for :func:`closeframe.load_outcomes`.
    cache : bool, str or Path, default True
        Where snapshots and events are kept (``True``: ``$CLOSEFRAME_CACHE`` or ``~/.cache/closeframe``);
        ``None``: nothing is kept, so only this run's catalogue and the log's last 30 days are known.
    progress : bool, optional
    on_error : {"raise", "warn"}
    client_options : mapping, optional
"""


def outcome_changes(api_key: Any = None, *, token: Any = None, base_url: str | None = None, cache: Any = True,
                    progress: bool | None = None, on_error: str = "raise",
                    client_options: Mapping[str, Any] | None = None) -> pd.DataFrame:
    def build(parts, organization_names=None, accounts=None):
        history = {org: h for part in parts for org, h in part[2].items()}
        return changes_from_history(history, organization_names=organization_names)

    return _load("outcome changes", api_key, token, base_url, cache, progress, on_error, client_options, build)


def outcome_catalogue(api_key: Any = None, *, token: Any = None, base_url: str | None = None, cache: Any = True,
                      progress: bool | None = None, on_error: str = "raise",
                      client_options: Mapping[str, Any] | None = None) -> pd.DataFrame:
    def build(parts, organization_names=None, accounts=None):
        records = [r for part in parts for r in catalogue_from_history(part[1], part[2])]
        frame = outcomes_frame(records, organization_names=organization_names)
        for column in ("deleted_at", "deleted_by"):
            if column not in frame.columns:
                frame[column] = None
        frame["deleted_at"] = pd.to_datetime(frame["deleted_at"], utc=True, format="ISO8601").astype(
            UTC_DATETIME_DTYPE)
        frame["deleted_by"] = frame["deleted_by"].astype(STRING_DTYPE)
        return frame

    return _load("outcome catalogue", api_key, token, base_url, cache, progress, on_error, client_options, build)


outcome_changes.__doc__ = """One row per change of each organization's outcome catalogue: created, renamed, type or
    applies_to changed, deleted; when and by whom (see :mod:`closeframe.load.history`).
""" + _SHARED + """
    Returns
    -------
    pandas.DataFrame
        :data:`CHANGE_COLUMNS`; see :func:`changes_from_history`.
"""
outcome_catalogue.__doc__ = """Every outcome of each organization, the deleted ones included with their last known
    name, type and ``deleted_at``/``deleted_by``: pass it to :func:`closeframe.outcome_usage` instead of
    :func:`closeframe.load_outcomes` so deleted outcomes keep their names.
""" + _SHARED + """
    Returns
    -------
    pandas.DataFrame
        The frame of :func:`closeframe.load_outcomes` plus ``deleted_at`` (UTC; missing for live outcomes) and
        ``deleted_by``.
"""
