"""The sandbox's event log: what ``GET /event/`` serves, recorded by every write to the store.

Close's event log as documented (developer.close.com, "Event Log", "Retrieve a list of events" and the webhook
example of one event-log entry):

- One event per change of an object: ``object_type`` (``activity.call``, ``activity.meeting``; ``outcome`` only
  behind :attr:`EventLog.outcome_events`), ``object_id``, ``action`` (``created``, ``updated``, ``deleted``; a call
  also ``answered`` and ``completed``), ``changed_fields``, ``data`` (the object after) and ``previous_data``,
  ``user_id`` (``None`` when no user did it), ``request_id``, ``api_key_id``, ``oauth_client_id``,
  ``oauth_scope``, ``lead_id``, ``organization_id``, ``meta`` (``request_method``, ``request_path``, and
  ``merge_source_lead_id``/``bulk_action_id`` where a merge or bulk action did it), ``date_created`` and
  ``date_updated``.
- The event's own ``date_created``/``date_updated`` carry no UTC offset (``2019-01-15T12:48:23.395000``); the dates
  inside ``data`` do. On ``updated``, ``previous_data`` holds only the changed fields (``changed_fields``); on
  ``created`` it is ``{}``; on ``deleted`` ``data`` is null and ``previous_data`` holds the last state.
- Several quick changes of one object by one user merge into one event whose ``date_updated`` moves (its
  ``date_created`` stays, ``previous_data`` keeps each field's value before the first change).
- Listed newest ``date_updated`` first, cursor-paged: ``{"data": [...], "cursor_next": ..., "cursor_previous": ...}``;
  ``_limit`` defaults to 50 and is capped at 50; there is no ``_skip``.
- Only some filter combinations are supported (``object_type`` + ``action`` among them), each optionally with
  ``date_updated__gt|gte|lt|lte``; another combination answers 400.
- Events are kept 30 days. ``data``/``previous_data`` are shown to admins always, to other users for one hour.

Seeded organizations come with the events Close would still hold for their last 30 days (calls created, outcomes
set late, upcoming meetings synced; outcomes created and one deleted 10 days ago when outcome events are on), made
on the log's first read. Knobs the docs leave open: :attr:`EventLog.merge_seconds` (how quick "quick" is),
:attr:`EventLog.access` (who may read the log at all: ``"all"``, ``"admins"``, ``"none"``),
:attr:`EventLog.refusal_status` (what the others get: 400, as the Singer tap's probe expects, or 403),
:attr:`EventLog.outcome_events` (whether outcome changes are logged: no public source shows one),
:attr:`EventLog.deleted_state` (whether a ``deleted`` event keeps the object's last state in ``previous_data`` or
in ``data``) and :attr:`EventLog.date_format` (``"naive"`` as documented, or ``"offset"``).
"""

from __future__ import annotations

import base64
import bisect
import copy
import itertools
import json
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

import numpy as np

from closeframe.sandbox.common import DAY_US, NOW_US, format_us, json_copy, parse_us, random_id, random_ids

__all__ = ["CALL_ACTIONS", "EVENT_ACCESS", "EVENT_DATE_FORMATS", "EVENT_PAGE_LIMIT", "REFUSAL_STATUSES", "RETENTION_US",
           "SUPPORTED_FILTERS", "EventFilterError", "EventLog"]

#: Events older than this (by ``date_updated``) are gone.
RETENTION_US = 30 * DAY_US
#: Non-admins see ``data`` and ``previous_data`` of events younger than this.
PRIVATE_DATA_US = 3600 * 1_000_000
#: Default and largest ``_limit`` of ``GET /event/``.
EVENT_PAGE_LIMIT = 50
#: Who may read the log: everyone, admins only, nobody (the plan lacks it).
EVENT_ACCESS = ("all", "admins", "none")
#: What a key that may not read the log gets: 400 (what the Singer tap's probe expects) or 403.
REFUSAL_STATUSES = (400, 403)
#: How the event's own dates are written: without an offset (documented) or with ``+00:00``.
EVENT_DATE_FORMATS = ("naive", "offset")
#: The actions Close's list of event types has for ``activity.call`` (meetings: the first three).
CALL_ACTIONS = ("created", "updated", "deleted", "answered", "completed")
#: The filter combinations Close documents; ``date_updated__gte|lte`` may be added to any of them.
SUPPORTED_FILTERS = frozenset(frozenset(combo) for combo in (
    (), ("object_type", "object_id"), ("object_type", "action"), ("object_id", "action"), ("lead_id", "object_type"),
    ("lead_id", "object_type", "action"), ("lead_id", "user_id", "object_type"),
    ("lead_id", "user_id", "object_type", "action"), ("lead_id", "user_id"), ("user_id", "object_id"),
    ("user_id", "object_id", "action"), ("user_id", "object_type"), ("user_id", "object_type", "action"),
    ("lead_id",), ("user_id",), ("request_id",),
))
_FILTERS = ("object_type", "object_id", "action", "lead_id", "user_id", "request_id")


class EventFilterError(ValueError):
    """A request Close would answer 400 (unsupported filters, a bad cursor or date)."""


def _encode_cursor(direction: str, key: tuple[int, str], bounds: tuple) -> str:
    raw = json.dumps([direction, key[0], key[1], list(bounds)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(text: str) -> tuple[str, tuple[int, str], tuple]:
    try:
        direction, when, event_id, bounds = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        if direction not in ("next", "previous"):
            raise ValueError(direction)
        return direction, (int(when), str(event_id)), tuple(bounds)
    except (ValueError, TypeError, json.JSONDecodeError):
        raise EventFilterError(f"_cursor: {text!r} is not a cursor this endpoint gave out.") from None


class EventLog:
    """Every organization's events, newest change last; thread-safe.

    Parameters
    ----------
    clock : callable
        The store's current time in µs (read, not advanced).
    seed : int
        Seeds event and request ids.
    """

    def __init__(self, clock: Callable[[], int], *, seed: int = 0):
        self._clock = clock
        self._lock = threading.RLock()
        self._events: dict[str, list[dict]] = {}
        self._rng = np.random.default_rng([seed, 777])
        self._actor = threading.local()
        # Past events generated on the first read of an organization's log (seeded tables can be large).
        self._deferred: dict[str, list[Callable[[], list[dict]]]] = {}
        self._seed_lock = threading.Lock()
        #: Changes by one user to one object within this many seconds of its event's last update merge into it.
        self.merge_seconds = 60.0
        #: ``"all"``, ``"admins"`` or ``"none"``: who may read the log (the others get :attr:`refusal_status`).
        self.access = "all"
        #: The status of a refused read: 400 (the Singer tap's probe expects it) or 403.
        self.refusal_status = 400
        #: Whether outcome creations, updates and deletions are logged (no public source shows such an event).
        self.outcome_events = False
        #: ``"naive"``: the event's dates without a UTC offset, as documented; ``"offset"``: with ``+00:00``.
        self.date_format = "naive"
        #: Where a ``deleted`` event keeps the object's last state: ``"previous_data"`` or ``"data"``.
        self.deleted_state = "previous_data"

    # -- recording ----------------------------------------------------------------------------------------------
    @contextmanager
    def acting(self, user_id: str | None, api_key_id: str | None = None, *, oauth_client_id: str | None = None,
               oauth_scope: str | None = None, meta: dict | None = None) -> Iterator[None]:
        """Attribute the events recorded in this thread to ``user_id``, one new request id, the credential (an API
        key id, or an OAuth client and scope) and ``meta`` (``request_method``, ``request_path``, ...).

        The request id is drawn when the first event needs it: most requests read and record nothing, and drawing
        an id for each cost them a tenth of their CPU.
        """
        previous = getattr(self._actor, "who", None)
        self._actor.who = {"user_id": user_id, "request_id": None, "api_key_id": api_key_id,
                           "oauth_client_id": oauth_client_id, "oauth_scope": oauth_scope, "meta": dict(meta or {})}
        try:
            yield
        finally:
            self._actor.who = previous

    def record(self, org_id: str, object_type: str, object_id: str, action: str, *, data: dict | None,
               previous_data: dict | None = None, lead_id: str | None = None) -> None:
        """Log one change (merging it into the object's recent event when Close would).

        ``data`` is the object after the change and ``previous_data`` the whole object before it; the event keeps
        what Close shows: the changed fields' old values on ``updated``, ``{}`` on ``created``, the last state on
        ``deleted``.
        """
        if object_type == "outcome" and not self.outcome_events:
            return
        who = getattr(self._actor, "who", None) or {}
        now = self._clock()
        changed = sorted(k for k in set(data or {}) | set(previous_data or {})
                         if (data or {}).get(k) != (previous_data or {}).get(k)) if action not in (
                             "created", "deleted") else []
        before = {k: copy.deepcopy((previous_data or {}).get(k)) for k in changed}
        with self._lock:
            if who and who["request_id"] is None:
                who["request_id"] = random_id(self._rng, "req_", 22)  # this request's first event
            events = self._events.setdefault(org_id, [])
            if action == "updated":
                for event in reversed(events):
                    if event["object_id"] != object_id:
                        continue
                    if event["action"] in ("created", "updated") and event["user_id"] == who.get("user_id") and \
                            now - event["_updated"] <= self.merge_seconds * 1_000_000:
                        event["_updated"] = max(now, event["_updated"] + 1)
                        if event["action"] == "updated":
                            # Each field keeps its value from before the first of the merged changes.
                            event["changed_fields"] = sorted(set(event["changed_fields"]) | set(changed))
                            event["previous_data"] = {**before, **event["previous_data"]}
                        event["data"] = copy.deepcopy(data)
                        event["request_id"] = who.get("request_id")
                        events.remove(event)
                        events.append(event)  # the list stays in date_updated order
                        return
                    break
            if action == "deleted":
                # The last state, where the knob puts it (Close's own restore script reads previous_data).
                last = copy.deepcopy(previous_data)
                data, shown_before = (None, last) if self.deleted_state == "previous_data" else (last, None)
            else:
                data, shown_before = copy.deepcopy(data), before
            events.append({
                "id": random_id(self._rng, "ev_", 22), "_created": now, "_updated": now, "organization_id": org_id,
                "user_id": who.get("user_id"), "request_id": who.get("request_id"),
                "api_key_id": who.get("api_key_id"), "oauth_client_id": who.get("oauth_client_id"),
                "oauth_scope": who.get("oauth_scope"), "object_type": object_type, "object_id": object_id,
                "lead_id": lead_id, "action": action, "changed_fields": changed,
                "meta": copy.deepcopy(who.get("meta") or {}), "data": data, "previous_data": shown_before,
            })

    def seed(self, org_id: str, *events: dict, copied: bool = True) -> None:
        """Add past events as given (``date_created``/``date_updated`` as ISO strings or µs); ``copied=False``
        takes ownership of freshly made dicts instead of copying them."""
        records = []
        for event in events:
            record = copy.deepcopy(event) if copied else dict(event)
            for name, key in (("date_created", "_created"), ("date_updated", "_updated")):
                value = record.pop(name, None)
                record[key] = parse_us(value) if isinstance(value, str) else int(value if value is not None
                                                                                 else self._clock())
            for name in ("user_id", "request_id", "api_key_id", "oauth_client_id", "oauth_scope", "lead_id", "data"):
                record.setdefault(name, None)
            record.setdefault("previous_data", None if record["action"] == "deleted" else {})
            record.setdefault("changed_fields", [])
            record.setdefault("meta", {})
            record["organization_id"] = org_id
            records.append(record)
        with self._lock:
            ids = random_ids(self._rng, len(records), 22)
            for record, new_id in zip(records, ids):
                record.setdefault("id", "ev_" + new_id.decode("ascii"))
            listing = self._events.setdefault(org_id, [])
            listing.extend(records)
            listing.sort(key=lambda e: (e["_updated"], e["id"]))

    def defer(self, org_id: str, make: Callable[[], list[dict]]) -> None:
        """Seed the events ``make()`` returns when the organization's log is first read."""
        with self._lock:
            self._deferred.setdefault(org_id, []).append(make)

    def _run_deferred(self, org_id: str) -> None:
        # Lock order: seeding, then the store's lock (inside make), then the log's; no one takes them the other way.
        with self._seed_lock:
            with self._lock:
                makers = self._deferred.pop(org_id, [])
            for make in makers:
                self.seed(org_id, *make(), copied=False)

    def events(self, org_id: str) -> list[dict]:
        """Every retained event of an organization as served to an admin, newest first (for tests)."""
        return self.page(org_id, {}, admin=True, limit=None)[0]

    # -- reading ------------------------------------------------------------------------------------------------
    def page(self, org_id: str, params: dict, *, admin: bool, limit: int | None = EVENT_PAGE_LIMIT
             ) -> tuple[list[dict], str | None, str | None]:
        """One page of ``GET /event/``: events, ``cursor_next``, ``cursor_previous``.

        Raises
        ------
        EventFilterError
            For an unsupported filter combination, a bad date or a cursor not given out here.
        """
        given = {name: params[name] for name in _FILTERS if params.get(name)}
        if frozenset(given) not in SUPPORTED_FILTERS:
            raise EventFilterError(
                f"Unsupported combination of filters: {', '.join(sorted(given))}. Supported combinations: "
                + "; ".join(sorted(" + ".join(sorted(c)) for c in SUPPORTED_FILTERS if c)) + ".")
        given_bounds = {}
        for op in ("gt", "gte", "lt", "lte"):
            raw = params.get(f"date_updated__{op}")
            try:
                given_bounds[op] = parse_us(raw) if raw else None
            except ValueError:
                raise EventFilterError(f"date_updated__{op}: {raw!r} is not an ISO 8601 date or datetime.") from None
        # Dates are kept in µs, so "after t" is "from t + 1 µs" and "before t" is "until t - 1 µs".
        lows = [b for b in (given_bounds["gte"], None if given_bounds["gt"] is None else given_bounds["gt"] + 1)
                if b is not None]
        highs = [b for b in (given_bounds["lte"], None if given_bounds["lt"] is None else given_bounds["lt"] - 1)
                 if b is not None]
        bounds = [max(lows) if lows else None, min(highs) if highs else None]
        cursor = params.get("_cursor")
        direction, position = None, None
        if cursor:
            direction, position, cursor_bounds = _decode_cursor(cursor)
            bounds = [b if b is not None else c for b, c in zip(bounds, cursor_bounds)]
        self._run_deferred(org_id)
        now = self._clock()
        with self._lock:
            events = self._events.get(org_id, [])
            # Retention: what is older than 30 days is gone for good.
            del events[:bisect.bisect_left(events, now - RETENTION_US, key=lambda e: e["_updated"])]
            # The list is in date_updated order (ties in any id order): the bounds and the cursor cut it by bisection,
            # and a page walks from its newest end only until it has its events (a scan of a month of events per
            # page made the sandbox, not the client, what a big cached reload timed).
            stamp = lambda e: e["_updated"]  # noqa: E731
            key = lambda e: (e["_updated"], e["id"])  # noqa: E731 - the listing's order
            lo = 0 if bounds[0] is None else bisect.bisect_left(events, bounds[0], key=stamp)
            hi = len(events) if bounds[1] is None else bisect.bisect_right(events, bounds[1], key=stamp)
            if direction == "next":  # older than the cursor: from its instant down
                hi = min(hi, bisect.bisect_right(events, position[0], key=stamp))
            elif direction == "previous":  # newer than the cursor: from its instant up
                lo = max(lo, bisect.bisect_left(events, position[0], key=stamp))

            def wanted(e: dict) -> bool:
                return all(e.get(k) == v for k, v in given.items()) and (
                    direction is None or (key(e) < position if direction == "next" else key(e) > position))

            if direction == "previous":  # the `limit` oldest of the newer ones, shown newest first
                matching = list(itertools.islice(filter(wanted, events[lo:hi]), limit))[::-1]
            else:  # newest first; one more than the page says whether more follow
                matching = list(itertools.islice(filter(wanted, reversed(events[lo:hi])),
                                                 None if limit is None else limit + 1))
            chosen = matching if limit is None else matching[:limit]
            more = limit is not None and len(matching) > limit
            shown = [self._public(e, admin, now, self.date_format) for e in chosen]
        cursor_next = _encode_cursor("next", key(chosen[-1]), tuple(bounds)) if chosen and more else None
        cursor_previous = _encode_cursor("previous", key(chosen[0]), tuple(bounds)) if chosen else None
        return shown, cursor_next, cursor_previous

    @staticmethod
    def _public(event: dict, admin: bool, now: int, date_format: str = "naive") -> dict:
        shown = {name: json_copy(value) for name, value in event.items() if not name.startswith("_")}
        for name, key in (("date_created", "_created"), ("date_updated", "_updated")):
            text = format_us(event[key])
            # Close writes the event's own dates in UTC without saying so; the dates inside data keep theirs.
            shown[name] = text.removesuffix("+00:00") if date_format == "naive" else text
        if not admin and now - event["_updated"] > PRIVATE_DATA_US:
            shown.pop("data", None)
            shown.pop("previous_data", None)
        order = ("id", "object_type", "object_id", "action", "changed_fields", "date_created", "date_updated",
                 "organization_id", "user_id", "request_id", "api_key_id", "oauth_client_id", "oauth_scope",
                 "lead_id", "meta", "data", "previous_data")
        return {name: shown[name] for name in order if name in shown}


#: Names of the seeded outcomes deleted within the log's retention (a deleted outcome is not listed any more).
_RETIRED_NAMES = ("Retired: Callback requested", "Retired: Wrong number", "Retired: Not now")


def seed_outcome_history(log: EventLog, org: dict) -> None:
    """Past outcome events of a seeded organization, as Close would still hold them if it logged them.

    Made on the log's first read, and only if :attr:`EventLog.outcome_events` is on by then. Outcomes created in
    the last 30 days get their ``created`` event. Of the two outcomes deleted before seeding (their ids linger on
    activities), the first was deleted 10 days before now, so its ``deleted`` event keeps its last state; the
    second was deleted before the retention, so nothing in the log names it.
    """
    def make() -> list[dict]:
        if not log.outcome_events:
            return []
        now = NOW_US  # as seeded, whenever the log is first read
        made = []
        for record in org["outcomes"]:
            created = parse_us(record["date_created"]) if isinstance(record.get("date_created"), str) else None
            if created is not None and now - created < RETENTION_US:
                made.append({"object_type": "outcome", "object_id": record["id"], "action": "created",
                             "date_created": created, "date_updated": created, "data": copy.deepcopy(record),
                             "user_id": record.get("created_by")})
        deleted = org.get("deleted_outcome_ids") or []
        if deleted:
            index = sum(map(ord, org["id"])) % len(_RETIRED_NAMES)
            author = org["users"][0]["id"] if org["users"] else None
            when = now - 10 * DAY_US
            last = {"id": deleted[0], "name": _RETIRED_NAMES[index], "description": None, "type": "custom",
                    "applies_to": ["calls", "meetings"], "organization_id": org["id"], "created_by": author,
                    "updated_by": author, "date_created": format_us(now - 400 * DAY_US),
                    "date_updated": format_us(now - 200 * DAY_US)}
            state = {"previous_data": last} if log.deleted_state == "previous_data" else {"data": last}
            made.append({"object_type": "outcome", "object_id": deleted[0], "action": "deleted",
                         "date_created": when, "date_updated": when, "user_id": author, **state})
        return made

    log.defer(org["id"], make)


def seed_activity_history(log: EventLog, org: dict, lock) -> None:
    """Past events of a seeded organization's calls and meetings in the 30 days before now, made on first read.

    Calls created then get their ``created`` event (without the outcome when it was set later) and, when their
    outcome was set later in that span, an ``updated`` event; upcoming meetings their ``created`` event when they
    were synced, and meetings whose outcome was set in that span an ``updated`` event.
    """
    def make() -> list[dict]:
        low = NOW_US - RETENTION_US
        made = []
        with lock:
            for table in (org["calls"], org["meetings"]):
                dc, du, outcome = table.cols["dc"], table.cols["du"], table.cols["outcome"]
                object_type = f"activity.{table.kind}"
                late = du - dc > 5_000_000
                if table.kind == "call":
                    rows = np.flatnonzero((dc >= low) & (dc <= NOW_US))
                else:
                    rows = np.flatnonzero((du >= low) & (du <= NOW_US) & ((dc > NOW_US) | (outcome >= 0)))
                # One render of every row (a per-row render of a month of a big table takes seconds).
                for i, after in zip(rows.tolist(), table.render_many(rows)):
                    before = dict(after, outcome_id=None, date_updated=after["date_created"])
                    common = {"object_type": object_type, "object_id": after["id"], "lead_id": after["lead_id"],
                              "user_id": after["user_id"]}
                    if table.kind == "call" or dc[i] > NOW_US:
                        when = int(dc[i]) if table.kind == "call" else int(du[i])
                        made.append({**common, "action": "created", "date_created": when, "date_updated": when,
                                     "data": before if late[i] and table.kind == "call" else after,
                                     "previous_data": {}})
                    if outcome[i] >= 0 and late[i] and low <= du[i] <= NOW_US and not dc[i] > NOW_US:
                        changed = ["date_updated", "outcome_id"]
                        made.append({**common, "action": "updated", "changed_fields": changed,
                                     "date_created": int(du[i]), "date_updated": int(du[i]), "data": after,
                                     "previous_data": {k: before[k] for k in changed}})
        return made

    log.defer(org["id"], make)
