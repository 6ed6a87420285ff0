"""The sandbox's thread-safe data store: what the HTTP handler serves and what tests inject or mutate.

Organizations are addressed by name (or id). Outcomes are plain dicts kept in listing order; calls and meetings
are column-wise :mod:`~closeframe.sandbox.tables`. Every public method copies what it returns, so callers can't
change the served data by accident, and takes the one lock, so the HTTP threads always see a consistent state.
"""

from __future__ import annotations

import bisect
import copy
import threading
from datetime import datetime
from typing import Any, Iterable

import numpy as np

from closeframe.sandbox import tables
from closeframe.sandbox.common import NOW_US, format_us, parse_us, random_id
from closeframe.sandbox.data import outcome_sort_key
from closeframe.sandbox.events import EventLog, seed_activity_history, seed_outcome_history

__all__ = ["Store", "applies_to_for", "outcome_sort_key"]

_WRITABLE_OUTCOME_FIELDS = ("name", "description", "type", "applies_to")
_CALL_VOCAB = {"direction": ("direction", tables.DIRECTIONS), "status": ("status", tables.CALL_STATUSES),
               "disposition": ("disposition", tables.DISPOSITIONS), "call_method": ("method", tables.CALL_METHODS),
               "source": ("source", tables.CALL_SOURCES)}
_MEETING_VOCAB = {"status": ("status", tables.MEETING_STATUSES), "title": ("title", tables.MEETING_TITLES),
                  "source": ("source", tables.MEETING_SOURCES)}


def applies_to_for(kind: Any) -> list[str]:
    """What Close derives ``applies_to`` from since 2026-03-06: vm-dropped → calls, otherwise both."""
    return ["calls"] if kind == "vm-dropped" else ["calls", "meetings"]



def _action(kind: str, before: dict | None, after: dict) -> str:
    """The event action of a write: Close logs a call's completion and its answer as actions of their own."""
    if before is None:
        return "created"
    if kind == "call":
        if after.get("status") == "completed" and before.get("status") != "completed":
            return "completed"
        if after.get("date_answered") and not before.get("date_answered"):
            return "answered"
    return "updated"


class Store:
    """All organizations' data.

    Parameters
    ----------
    organizations : iterable of dict
        As returned by :func:`closeframe.sandbox.data.generate_organization`.
    seed : int
        Seeds the ids of records added later, so a scripted test run is reproducible too.
    """

    def __init__(self, organizations: Iterable[dict], *, seed: int = 0):
        self.lock = threading.RLock()
        self._orgs = {org["name"]: org for org in organizations}
        self._by_id = {org["id"]: org for org in self._orgs.values()}
        self._rng = np.random.default_rng([seed, 424242])
        self._tick = 0
        self._advanced_us = 0
        #: The event log every write below records into (served as ``GET /event/``).
        self.events = EventLog(self.clock_us, seed=seed)
        for org in self._orgs.values():
            seed_outcome_history(self.events, org)
            seed_activity_history(self.events, org, self.lock)

    # -- organizations and users --------------------------------------------------------------------------------
    def _org(self, org: str) -> dict:
        found = self._orgs.get(org) or self._by_id.get(org)
        if found is None:
            raise KeyError(f"no organization {org!r}; the organizations are {list(self._orgs)}")
        return found

    @property
    def organizations(self) -> list[dict]:
        """``[{"id", "name"}]`` of every organization, in creation order."""
        with self.lock:
            return [{"id": org["id"], "name": org["name"]} for org in self._orgs.values()]

    def org_id(self, org_name: str) -> str:
        """The ``orga_...`` id of an organization."""
        with self.lock:
            return self._org(org_name)["id"]

    def org_name(self, org_id: str) -> str:
        """The name of an organization given its id (or name)."""
        with self.lock:
            return self._org(org_id)["name"]

    def organization(self, org: str) -> dict:
        """Close's organization object (``id``, ``name``, ``date_created``, ``memberships``)."""
        with self.lock:
            data = self._org(org)
            return {
                "id": data["id"],
                "name": data["name"],
                "date_created": data["date_created"],
                "memberships": [
                    {"id": "memb_" + u["id"][5:], "user_id": u["id"], "user_full_name":
                     f"{u['first_name']} {u['last_name']}", "user_email": u["email"],
                     "role_id": "admin" if i == 0 else "user"}
                    for i, u in enumerate(data["users"])
                ],
            }

    def users(self, org_name: str) -> list[dict]:
        """The organization's users (``id``, ``first_name``, ``last_name``, ``email``, ...)."""
        with self.lock:
            return copy.deepcopy(self._org(org_name)["users"])

    def deleted_outcome_ids(self, org_name: str) -> list[str]:
        """Ids of the seeded deleted outcomes that some activities still point at."""
        with self.lock:
            return list(self._org(org_name)["deleted_outcome_ids"])

    def now_us(self) -> int:
        """A logical clock for records written after seeding: one second past the last write, after NOW."""
        with self.lock:
            self._tick += 1
            return self.clock_us()

    def clock_us(self) -> int:
        """The store's current time (µs) without advancing it: NOW, one second per write, plus any advance.

        No lock: the event log reads it while holding its own, and a write holds this one while logging."""
        return NOW_US + self._tick * 1_000_000 + self._advanced_us

    def advance_clock(self, seconds: float) -> None:
        """Let time pass (e.g. 31 days, so the event log's retention drops what came before)."""
        with self.lock:
            self._advanced_us += int(seconds * 1_000_000)

    # -- outcomes -----------------------------------------------------------------------------------------------
    def outcomes(self, org_name: str) -> list[dict]:
        """The organization's outcomes in listing order (copies)."""
        with self.lock:
            return copy.deepcopy(self._org(org_name)["outcomes"])

    def outcome_page(self, org_name: str, skip: int, limit: int) -> tuple[list[dict], bool]:
        """Listing positions ``skip:skip+limit`` and whether more follow.

        Each record is a copy of its dict; the values in it (``applies_to``'s list) are shared with the store, which
        never changes a stored value in place (an update replaces values with copies of the new ones), so the page
        stays as it was read. A deep copy cost the listing's hot path more than writing the answer.
        """
        with self.lock:
            records = self._org(org_name)["outcomes"]
            return [r.copy() for r in records[skip:skip + limit]], len(records) > skip + limit

    def get_outcome(self, org_name: str, outcome_id: str) -> dict | None:
        """One outcome of the organization, or ``None``."""
        with self.lock:
            for record in self._org(org_name)["outcomes"]:
                if record.get("id") == outcome_id:
                    return copy.deepcopy(record)
            return None

    def add_outcome(self, org_name: str, *, position: int | None = None, _raw: dict | None = None,
                    **fields: Any) -> dict:
        """Add an outcome and return a copy of it.

        Parameters
        ----------
        org_name : str
            The organization (name or id).
        position : int, optional
            Where in the listing to put it (``0`` = first page, to shift later pages); by default its
            ``(date_created, id)`` place.
        _raw : dict, optional
            Insert exactly this record, even with missing or odd fields; nothing is filled in.
        **fields
            Any fields, stored verbatim, unknown ones and unknown values included (``applies_to=["calls", "sms"]``).
            Omitted Close fields get defaults: a fresh id, ``type="custom"``, ``applies_to`` from the type, the
            organization's first user as author, the store's clock as dates.
        """
        with self.lock:
            org = self._org(org_name)
            if _raw is not None:
                record = copy.deepcopy(_raw)
            else:
                now = format_us(self.now_us())
                kind = fields.get("type", "custom")
                author = org["users"][0]["id"] if org["users"] else None
                record = {
                    "id": random_id(self._rng, "outcome_", 22),
                    "name": "New outcome",
                    "description": None,
                    "type": kind,
                    "applies_to": applies_to_for(kind),
                    "organization_id": org["id"],
                    "created_by": author,
                    "updated_by": author,
                    "date_created": now,
                    "date_updated": now,
                }
                record.update(copy.deepcopy(fields))
            listing = org["outcomes"]
            if position is None:
                position = bisect.bisect_right([outcome_sort_key(r) for r in listing], outcome_sort_key(record))
            listing.insert(position, record)
            self.events.record(org["id"], "outcome", record.get("id"), "created", data=record)
            return copy.deepcopy(record)

    def update_outcome(self, org_name: str, outcome_id: str, **fields: Any) -> dict:
        """Set fields of an outcome verbatim (no validation, no date bump) and return a copy."""
        with self.lock:
            for record in self._org(org_name)["outcomes"]:
                if record.get("id") == outcome_id:
                    before = copy.deepcopy(record)
                    record.update(copy.deepcopy(fields))
                    self.events.record(self._org(org_name)["id"], "outcome", outcome_id, "updated", data=record,
                                       previous_data=before)
                    return copy.deepcopy(record)
            raise KeyError(f"no outcome {outcome_id!r} in {org_name!r}")

    def delete_outcome(self, org_name: str, outcome_id: str) -> None:
        """Delete an outcome; activities that used it keep its id, as in Close."""
        with self.lock:
            listing = self._org(org_name)["outcomes"]
            for i, record in enumerate(listing):
                if record.get("id") == outcome_id:
                    del listing[i]
                    self.events.record(self._org(org_name)["id"], "outcome", outcome_id, "deleted", data=None,
                                       previous_data=record)
                    return
            raise KeyError(f"no outcome {outcome_id!r} in {org_name!r}")

    def delete_first_outcome(self, org_name: str) -> None:
        """Delete whatever is first in the listing (for the ``delete`` fault)."""
        with self.lock:
            listing = self._org(org_name)["outcomes"]
            if listing:
                record = listing.pop(0)
                self.events.record(self._org(org_name)["id"], "outcome", record.get("id"), "deleted", data=None,
                                   previous_data=record)

    # -- calls and meetings -------------------------------------------------------------------------------------
    def table(self, org_name: str, kind: str) -> tables.ActivityTable:
        """The raw column table of ``kind`` (``"call"`` or ``"meeting"``); hold :attr:`lock` while using it."""
        org = self._org(org_name)
        if kind not in ("call", "meeting"):
            raise ValueError(f"kind must be 'call' or 'meeting', got {kind!r}")
        return org["calls"] if kind == "call" else org["meetings"]

    def calls(self, org_name: str) -> list[dict]:
        """All calls in listing order (newest first). Slow for a million calls; meant for small tests."""
        return self._all(org_name, "call")

    def meetings(self, org_name: str) -> list[dict]:
        """All meetings in listing order (newest first)."""
        return self._all(org_name, "meeting")

    def _all(self, org_name: str, kind: str) -> list[dict]:
        with self.lock:
            table = self.table(org_name, kind)
            return table.render_many(range(table.n - 1, -1, -1))

    def activity_page(self, org_name: str, kind: str, skip: int, limit: int, *, requested: Any = (),
                      **filters: Any) -> tuple[list[dict], bool]:
        """Listing positions ``skip:skip+limit`` of the activities matching ``filters`` (see
        :meth:`~closeframe.sandbox.tables.ActivityTable.select`), and whether more follow.

        ``requested`` names the fields ``_fields`` asked for: those Close sends only on request (transcripts)
        are added to the records."""
        with self.lock:
            table = self.table(org_name, kind)
            rows, has_more = table.page(table.select(**filters), skip, limit)
            return table.render_many(rows, requested), has_more

    def get_activity(self, org_name: str, kind: str, activity_id: str, requested: Any = ()) -> dict | None:
        """One call or meeting, or ``None``."""
        with self.lock:
            table = self.table(org_name, kind)
            i = table.find(activity_id)
            return None if i is None else table.render(i, requested)

    def get_call(self, org_name: str, call_id: str) -> dict | None:
        """One call, or ``None``."""
        return self.get_activity(org_name, "call", call_id)

    def get_meeting(self, org_name: str, meeting_id: str) -> dict | None:
        """One meeting, or ``None``."""
        return self.get_activity(org_name, "meeting", meeting_id)

    def set_activity_outcome(self, org_name: str, kind: str, activity_id: str, outcome_id: str | None) -> dict:
        """Point a call or meeting at any outcome id (even a deleted or made-up one); bumps date_updated."""
        with self.lock:
            table = self.table(org_name, kind)
            i = table.find(activity_id)
            if i is None:
                raise KeyError(f"no {kind} {activity_id!r} in {org_name!r}")
            before = table.render(i)
            table.set_outcome(i, outcome_id, self.now_us())
            return self._logged(table, i, before)

    def set_call_outcome(self, org_name: str, call_id: str, outcome_id: str | None) -> dict:
        """Set a call's ``outcome_id``; see :meth:`set_activity_outcome`."""
        return self.set_activity_outcome(org_name, "call", call_id, outcome_id)

    def set_meeting_outcome(self, org_name: str, meeting_id: str, outcome_id: str | None) -> dict:
        """Set a meeting's ``outcome_id``; see :meth:`set_activity_outcome`."""
        return self.set_activity_outcome(org_name, "meeting", meeting_id, outcome_id)

    def update_activity(self, org_name: str, kind: str, activity_id: str, **fields: Any) -> dict:
        """Set fields of a call or meeting: ``outcome_id`` in its column, anything else verbatim as an override."""
        with self.lock:
            table = self.table(org_name, kind)
            i = table.find(activity_id)
            if i is None:
                raise KeyError(f"no {kind} {activity_id!r} in {org_name!r}")
            before = table.render(i)
            if "outcome_id" in fields:
                table.set_outcome(i, fields.pop("outcome_id"), self.now_us())
            if fields:
                table.overrides.setdefault(table.render(i)["id"], {}).update(copy.deepcopy(fields))
            return self._logged(table, i, before)

    def _logged(self, table: tables.ActivityTable, i: int, before: dict | None) -> dict:
        """Row ``i`` rendered, its change recorded in the event log (``before=None``: it was created)."""
        after = table.render(i)
        self.events.record(table.context.org_id, f"activity.{table.kind}", after["id"],
                           _action(table.kind, before, after), data=after, previous_data=before,
                           lead_id=after.get("lead_id"))
        return after

    def add_call(self, org_name: str, **fields: Any) -> dict:
        """Add a call and return it; omitted fields get defaults, unknown fields are kept verbatim."""
        return self.add_activity(org_name, "call", **fields)

    def add_meeting(self, org_name: str, **fields: Any) -> dict:
        """Add a meeting and return it; omitted fields get defaults, unknown fields are kept verbatim."""
        return self.add_activity(org_name, "meeting", **fields)

    def add_activity(self, org_name: str, kind: str, **fields: Any) -> dict:
        """Add a call or meeting at its ``date_created`` place (default: the store clock, i.e. newest).

        ``date_created`` may be an ISO string, a datetime or microseconds since the epoch. Fields with a column
        (``user_id``/``lead_id``/``contact_id`` of known records, ``duration``, ``direction``, ``status``, ...)
        are stored in it; everything else is kept verbatim and served as given.
        """
        with self.lock:
            table = self.table(org_name, kind)
            ctx = table.context
            fields = copy.deepcopy(fields)
            created = fields.pop("date_created", None) or (fields.pop("starts_at", None) if kind == "meeting"
                                                           else None)
            if isinstance(created, datetime):
                created = created.isoformat()
            dc = parse_us(created) if isinstance(created, str) else (self.now_us() if created is None
                                                                      else int(created))
            record_id = fields.pop("id", None) or random_id(self._rng, "acti_", 43)
            if not (record_id.startswith("acti_") and len(record_id) == 48):
                raise ValueError(f"activity ids look like 'acti_' + 43 characters, got {record_id!r}")
            values = {name: 0 for name in table.cols}
            outcome = ctx.code(fields.pop("outcome_id", None))
            values.update(id=record_id[5:].encode("ascii"), dc=dc, du=dc, dur=60 if kind == "call" else 1800,
                          contact=0, outcome=outcome, reason=0 if outcome >= 0 else -1)
            if kind == "call":
                # An answered outbound call by default, like the generator's: completed, a cost, no voicemail.
                values.update(direction=1, disposition=0, method=0, source=0, status=2, ring=5_000, cost=1, vm=0)
            else:
                values.update(status=2 if dc <= NOW_US else 0, co=-1, actual=-1, call=b"", source=0)
            # An explicit null with a column value of its own: a call without a user or a disposition, a meeting
            # without a status (manual). Other nulls are served verbatim as overrides.
            for name in (("user_id", "disposition") if kind == "call" else ("status",)):
                if name in fields and fields[name] is None:
                    fields.pop(name)
                    values["user" if name == "user_id" else name] = -1
            if "date_updated" in fields and isinstance(fields["date_updated"], str):
                values["du"] = parse_us(fields.pop("date_updated"))
            if isinstance(fields.get("duration"), int):
                values["dur"] = fields.pop("duration")
            for name, index_of in (("user_id", ctx.user_index), ("lead_id", ctx.lead_index),
                                   ("contact_id", ctx.contact_index)):
                if isinstance(fields.get(name), str) and index_of(fields[name]) >= 0:
                    values[name[:-3] if name != "user_id" else "user"] = index_of(fields.pop(name))
            for name, (column, vocab) in (_CALL_VOCAB if kind == "call" else _MEETING_VOCAB).items():
                if fields.get(name) in vocab:
                    values[column] = vocab.index(fields.pop(name))
            i = table.insert(values)
            if fields:  # whatever has no column (unknown users, new fields, odd values) is served verbatim
                table.overrides[record_id] = fields
            return self._logged(table, i, None)

    def delete_activity(self, org_name: str, kind: str, activity_id: str) -> None:
        """Remove a call or meeting."""
        with self.lock:
            table = self.table(org_name, kind)
            i = table.find(activity_id)
            if i is None:
                raise KeyError(f"no {kind} {activity_id!r} in {org_name!r}")
            self._delete_row(table, i)

    def _delete_row(self, table: tables.ActivityTable, i: int) -> None:
        before = table.render(i)
        table.delete(i)
        self.events.record(table.context.org_id, f"activity.{table.kind}", before["id"], "deleted", data=None,
                           previous_data=before, lead_id=before.get("lead_id"))

    def shift_activities(self, org_name: str, kind: str, **filters: Any) -> None:
        """Add a record at the front (the newest) of the listing that ``filters`` select, for the ``shift`` fault.

        Its ``date_created`` is one second after the listing's newest, kept inside the filter's upper bound.
        """
        with self.lock:
            table = self.table(org_name, kind)
            rows, _ = table.page(table.select(**filters), 0, 1)
            newest = int(table.cols["dc"][rows[0]]) if rows else NOW_US
            created = filters.get("created") or (None, None, None, None)
            _, _, lt, lte = created
            stamp = newest + 1_000_000
            if lt is not None:
                stamp = min(stamp, lt - 1)
            if lte is not None:
                stamp = min(stamp, lte)
            self.add_activity(org_name, kind, date_created=max(stamp, newest))

    def delete_first_activity(self, org_name: str, kind: str, **filters: Any) -> None:
        """Remove the first record (the newest) of the listing that ``filters`` select, for the ``delete`` fault."""
        with self.lock:
            table = self.table(org_name, kind)
            rows, _ = table.page(table.select(**filters), 0, 1)
            if rows:
                self._delete_row(table, rows[0])
