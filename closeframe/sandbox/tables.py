"""Column-wise call and meeting tables: numpy columns sorted by date_created, dicts rendered only per page.

A million calls as Python dicts would cost gigabytes and a minute to build; as numpy columns they cost about
90 MB and a second, and a page of 100 records is rendered on demand. Rows are stored in ascending
``(date_created, id)`` order so date filters are two :func:`numpy.searchsorted` calls; listings show them reversed
(newest first). Fields a test sets that have no column live in ``overrides`` keyed by record id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from closeframe.sandbox.common import DAY_US as _DAY_US
from closeframe.sandbox.common import NOW_US as _NOW_US
from closeframe.sandbox.common import format_us as _iso
from closeframe.sandbox.common import random_ids

__all__ = ["ActivityTable", "CallTable", "MeetingTable", "OrgContext"]

_S_US = 1_000_000

DIRECTIONS = ["inbound", "outbound"]
DISPOSITIONS = ["answered", "no-answer", "vm-answer", "vm-left", "busy", "blocked", "error", "abandoned"]
_DISPOSITION_WEIGHTS = [0.45, 0.2, 0.1, 0.12, 0.06, 0.02, 0.02, 0.03]
CALL_STATUSES = ["completed", "failed"]
CALL_METHODS = ["regular", "power-dialer", "predictive-dialer"]
CALL_SOURCES = ["Close.io", "External"]
MEETING_STATUSES = ["upcoming", "in-progress", "completed", "canceled", "declined-by-lead", "declined-by-org"]
MEETING_TITLES = [
    "Demo", "Discovery call", "Kick-off", "Produktvorführung", "定例ミーティング", "Quarterly business review",
    "Onboarding ✈️", "Pricing walkthrough", "Vertragsbesprechung", "Technical deep dive", "Follow-up",
    "Executive alignment — renewal & expansion planning for next fiscal year",
]
_CONTACT_NAMES = ["Anna Schmidt", "John Carter", "佐藤 健", "Léa Dubois", "Olu Adeyemi", "Mia Nguyen",
                  "Sven Åberg", "Carlos Ruiz", "Hannah Weiß", "Ravi Kumar"]



def _strictly_increasing(values: np.ndarray) -> np.ndarray:
    # Sorted random timestamps rarely tie; nudging ties by 1 µs keeps (date_created, id) order trivially stable.
    values = np.sort(values)
    while values.size > 1:
        ties = np.flatnonzero(np.diff(values) <= 0)
        if ties.size == 0:
            break
        values[ties + 1] = values[ties] + 1
    return values


@dataclass
class OrgContext:
    """What activity rows refer to by index: the organization, its users, leads, contacts and outcome ids."""

    org_id: str
    users: list
    lead_ids: np.ndarray
    contact_ids: np.ndarray
    codes: list = field(default_factory=list)
    _code_of: dict = field(default_factory=dict)
    _lead_of: dict | None = None
    _contact_of: dict | None = None

    def code(self, outcome_id: str | None) -> int:
        """The integer code of an outcome id (``-1`` for null), adding unseen ids to the table."""
        if outcome_id is None:
            return -1
        if outcome_id not in self._code_of:
            self._code_of[outcome_id] = len(self.codes)
            self.codes.append(outcome_id)
        return self._code_of[outcome_id]

    def user_index(self, user_id: str) -> int:
        """Index of a user id, ``-2`` when unknown (matches nothing)."""
        for i, user in enumerate(self.users):
            if user["id"] == user_id:
                return i
        return -2

    def lead_index(self, lead_id: str) -> int:
        """Index of a lead id, ``-2`` when unknown; the lookup table is built on first use."""
        if self._lead_of is None:
            self._lead_of = {b.decode("ascii"): i for i, b in enumerate(self.lead_ids)}
        return self._lead_of.get(lead_id[5:] if lead_id.startswith("lead_") else "", -2)

    def contact_index(self, contact_id: str) -> int:
        """Index of a contact id, ``-2`` when unknown."""
        if self._contact_of is None:
            self._contact_of = {b.decode("ascii"): i for i, b in enumerate(self.contact_ids)}
        return self._contact_of.get(contact_id[5:] if contact_id.startswith("cont_") else "", -2)

    def lead(self, i: int) -> str:
        return "lead_" + self.lead_ids[i].decode("ascii")

    def contact(self, i: int) -> str | None:
        return None if i < 0 else "cont_" + self.contact_ids[i].decode("ascii")


class ActivityTable:
    """Base of :class:`CallTable` and :class:`MeetingTable`: storage, lookup, filtering, paging, mutation.

    Parameters
    ----------
    context : OrgContext
        The organization the rows belong to.
    columns : dict of str to numpy.ndarray
        Equal-length columns; ``id`` (``S43``, without prefix) and ``dc`` (date_created, µs) are required and
        sorted ascending by ``(dc, id)``.
    """

    prefix = "acti_"
    kind = ""

    def __init__(self, context: OrgContext, columns: dict[str, np.ndarray]):
        self.context = context
        self.cols = columns
        self.overrides: dict[str, dict] = {}

    @property
    def n(self) -> int:
        """Number of rows."""
        return int(self.cols["dc"].size)

    # -- lookup -------------------------------------------------------------------------------------------------
    def find(self, record_id: str) -> int | None:
        """Storage index of ``record_id`` or ``None``."""
        if not record_id.startswith(self.prefix) or len(record_id) != len(self.prefix) + 43:
            return None
        hits = np.flatnonzero(self.cols["id"] == record_id[len(self.prefix):].encode("ascii", "replace"))
        return int(hits[0]) if hits.size else None

    def activity_us(self, lo: int, hi: int) -> np.ndarray:
        """``activity_at`` in µs for storage rows ``lo:hi`` (meetings: their start)."""
        return self.cols["dc"][lo:hi]

    # -- querying -----------------------------------------------------------------------------------------------
    def select(self, *, created: tuple = (None, None, None, None), activity: tuple = (None, None, None, None),
               user_id: str | None = None, lead_id: str | None = None, contact_id: str | None = None,
               ids: list[str] | None = None):
        """Rows matching the filters, as ``(lo, hi, indices)``.

        Parameters
        ----------
        created, activity : tuple
            ``(gt, gte, lt, lte)`` bounds in µs (``None`` = unbounded) on date_created / activity_at.
        user_id, lead_id, contact_id : str, optional
            Equality filters.
        ids : list of str, optional
            ``id__in``: only these ids.

        Returns
        -------
        tuple
            Storage range ``lo:hi`` from the date_created bounds, and ``indices``: ``None`` when every row in the
            range matches, else the matching storage indices (ascending).
        """
        dc = self.cols["dc"]
        lo, hi = 0, dc.size
        gt, gte, lt, lte = created
        if gt is not None:
            lo = max(lo, int(np.searchsorted(dc, gt, "right")))
        if gte is not None:
            lo = max(lo, int(np.searchsorted(dc, gte, "left")))
        if lt is not None:
            hi = min(hi, int(np.searchsorted(dc, lt, "left")))
        if lte is not None:
            hi = min(hi, int(np.searchsorted(dc, lte, "right")))
        hi = max(lo, hi)
        mask = None

        def narrow(condition):
            nonlocal mask
            mask = condition if mask is None else (mask & condition)

        if any(b is not None for b in activity):
            at = self.activity_us(lo, hi)
            a_gt, a_gte, a_lt, a_lte = activity
            if a_gt is not None:
                narrow(at > a_gt)
            if a_gte is not None:
                narrow(at >= a_gte)
            if a_lt is not None:
                narrow(at < a_lt)
            if a_lte is not None:
                narrow(at <= a_lte)
        if user_id is not None:
            narrow(self.cols["user"][lo:hi] == self.context.user_index(user_id))
        if lead_id is not None:
            narrow(self.cols["lead"][lo:hi] == self.context.lead_index(lead_id))
        if contact_id is not None:
            narrow(self.cols["contact"][lo:hi] == self.context.contact_index(contact_id))
        if ids is not None:
            wanted = [i[len(self.prefix):].encode("ascii", "replace") for i in ids if i.startswith(self.prefix)]
            narrow(np.isin(self.cols["id"][lo:hi], np.array(wanted, dtype=self.cols["id"].dtype)))
        return lo, hi, (None if mask is None else lo + np.flatnonzero(mask))

    def page(self, selection, skip: int, limit: int) -> tuple[list[int], bool]:
        """Storage indices of listing positions ``skip:skip+limit`` (newest first), and ``has_more``."""
        lo, hi, indices = selection
        if indices is None:
            total = hi - lo
            start = hi - 1 - skip
            rows = list(range(start, max(lo - 1, start - limit), -1)) if skip < total else []
        else:
            total = indices.size
            rows = [int(i) for i in indices[::-1][skip:skip + limit]]
        return rows, total > skip + limit

    def render(self, i: int) -> dict:
        """Row ``i`` as Close's JSON object, overrides applied."""
        record = self._render(i)
        extra = self.overrides.get(record["id"])
        if extra:
            record.update(extra)
        return record

    def _render(self, i: int) -> dict:  # pragma: no cover - subclasses
        raise NotImplementedError

    # -- mutation -----------------------------------------------------------------------------------------------
    def insert(self, values: dict[str, Any]) -> int:
        """Insert one row (a value for every column) at its sorted place; return its storage index."""
        dc = self.cols["dc"]
        left = int(np.searchsorted(dc, values["dc"], "left"))
        right = int(np.searchsorted(dc, values["dc"], "right"))
        pos = left + int(np.searchsorted(self.cols["id"][left:right], values["id"]))
        for name, column in self.cols.items():
            self.cols[name] = np.insert(column, pos, np.asarray(values[name], dtype=column.dtype))
        return pos

    def delete(self, i: int) -> None:
        """Remove storage row ``i``."""
        self.overrides.pop(self.prefix + self.cols["id"][i].decode("ascii"), None)
        for name, column in self.cols.items():
            self.cols[name] = np.delete(column, i)

    def set_outcome(self, i: int, outcome_id: str | None, updated_us: int | None = None) -> None:
        """Point row ``i`` at ``outcome_id`` (any id, even one that does not exist) and bump date_updated."""
        self.cols["outcome"][i] = self.context.code(outcome_id)
        if updated_us is not None:
            self.cols["du"][i] = max(int(self.cols["du"][i]), updated_us)

    def _outcome(self, i: int) -> str | None:
        code = int(self.cols["outcome"][i])
        return None if code < 0 else self.context.codes[code]

    @staticmethod
    def _outcome_codes(rng, context, n, live, deleted, share) -> np.ndarray:
        # ~1.5% point at deleted outcomes, about `share` at live ones, the rest null.
        u = rng.random(n)
        codes = np.full(n, -1, dtype=np.int32)
        if deleted:
            deleted_codes = np.array([context.code(o) for o in deleted], dtype=np.int32)
            pick = u < 0.015
            codes[pick] = deleted_codes[rng.integers(0, len(deleted_codes), int(pick.sum()))]
        if live:
            live_codes = np.array([context.code(o) for o in live], dtype=np.int32)
            pick = (u >= 0.015) & (u < share)
            codes[pick] = live_codes[rng.integers(0, len(live_codes), int(pick.sum()))]
        return codes


class CallTable(ActivityTable):
    """An organization's calls."""

    kind = "call"

    @classmethod
    def generate(cls, rng: np.random.Generator, context: OrgContext, n: int, *, live_outcomes: list,
                 vm_outcomes: set, deleted_outcomes: list) -> "CallTable":
        """Generate ``n`` calls over the two years before now, vectorised.

        About half carry an outcome; vm-dropped outcomes go only to calls whose disposition is ``vm-left``.
        """
        dc = _strictly_increasing(rng.integers(_NOW_US - 730 * _DAY_US, _NOW_US, n, dtype=np.int64))
        disposition = rng.choice(len(DISPOSITIONS), n, p=_DISPOSITION_WEIGHTS).astype(np.int8)
        answered = disposition == 0
        duration = np.where(answered, rng.exponential(240.0, n), rng.integers(0, 40, n)).astype(np.int32)
        duration[disposition == 3] += 20
        n_leads = context.lead_ids.size
        lead = rng.integers(0, n_leads, n, dtype=np.int32)
        contact = lead * 2 + rng.integers(0, 2, n, dtype=np.int32)
        contact[rng.random(n) < 0.05] = -1
        custom = [o for o in live_outcomes if o not in vm_outcomes]
        outcome = cls._outcome_codes(rng, context, n, custom, deleted_outcomes, 0.5)
        vm = [o for o in live_outcomes if o in vm_outcomes]
        if vm:
            vm_rows = np.flatnonzero((disposition == 3) & (outcome >= 0) & (rng.random(n) < 0.7))
            vm_codes = np.array([context.code(o) for o in vm], dtype=np.int32)
            outcome[vm_rows] = vm_codes[rng.integers(0, len(vm_codes), vm_rows.size)]
        late = (outcome >= 0) & (rng.random(n) < 0.3)  # outcome set days after the call
        du = dc + np.where(late, rng.integers(0, 30 * _DAY_US, n), rng.integers(0, 5 * _S_US, n))
        du = np.minimum(du, np.maximum(dc, _NOW_US))
        columns = {
            "id": random_ids(rng, n, 43),
            "dc": dc,
            "du": du.astype(np.int64),
            "dur": duration,
            "lead": lead,
            "contact": contact,
            "user": rng.integers(0, len(context.users), n).astype(np.int16),
            "direction": (rng.random(n) < 0.7).astype(np.int8),
            "status": (disposition == 6).astype(np.int8),
            "disposition": disposition,
            "method": rng.choice(3, n, p=[0.7, 0.2, 0.1]).astype(np.int8),
            "source": (rng.random(n) < 0.1).astype(np.int8),
            "outcome": outcome,
        }
        return cls(context, columns)

    def activity_us(self, lo: int, hi: int) -> np.ndarray:
        # A call's activity_at is when it started: date_created (its end) minus its duration.
        return self.cols["dc"][lo:hi] - self.cols["dur"][lo:hi].astype(np.int64) * _S_US

    def _render(self, i: int) -> dict:
        c = self.cols
        ctx = self.context
        user = ctx.users[int(c["user"][i])]
        dc = int(c["dc"][i])
        return {
            "id": "acti_" + c["id"][i].decode("ascii"),
            "_type": "Call",
            "organization_id": ctx.org_id,
            "lead_id": ctx.lead(int(c["lead"][i])),
            "contact_id": ctx.contact(int(c["contact"][i])),
            "user_id": user["id"],
            "user_name": f"{user['first_name']} {user['last_name']}",
            "date_created": _iso(dc),
            "date_updated": _iso(int(c["du"][i])),
            "activity_at": _iso(dc - int(c["dur"][i]) * _S_US),
            "direction": DIRECTIONS[int(c["direction"][i])],
            "duration": int(c["dur"][i]),
            "status": CALL_STATUSES[int(c["status"][i])],
            "disposition": DISPOSITIONS[int(c["disposition"][i])],
            "call_method": CALL_METHODS[int(c["method"][i])],
            "source": CALL_SOURCES[int(c["source"][i])],
            "outcome_id": self._outcome(i),
        }


class MeetingTable(ActivityTable):
    """An organization's meetings (date_created is the start time, as in Close)."""

    kind = "meeting"

    @classmethod
    def generate(cls, rng: np.random.Generator, context: OrgContext, n: int, *, live_outcomes: list,
                 deleted_outcomes: list) -> "MeetingTable":
        """Generate ``n`` meetings over the two years before now plus a month of upcoming ones."""
        dc = _strictly_increasing(rng.integers(_NOW_US - 730 * _DAY_US, _NOW_US + 30 * _DAY_US, n,
                                               dtype=np.int64))
        dc -= dc % (60 * _S_US)  # meetings start on the minute ...
        dc = _strictly_increasing(dc)  # ... except where that made two start together
        future = dc > _NOW_US
        status = rng.choice([2, 3, 4, 5], n, p=[0.85, 0.07, 0.05, 0.03]).astype(np.int8)
        status[future] = 0
        du = np.where(future, _NOW_US - rng.integers(0, 10 * _DAY_US, n),
                      np.minimum(dc + rng.integers(0, 3 * _DAY_US, n), _NOW_US))
        lead = rng.integers(0, context.lead_ids.size, n, dtype=np.int32)
        outcome = cls._outcome_codes(rng, context, n, live_outcomes, deleted_outcomes, 0.4)
        outcome[future] = -1
        columns = {
            "id": random_ids(rng, n, 43),
            "dc": dc,
            "du": du.astype(np.int64),
            "dur": (rng.integers(1, 7, n) * 900).astype(np.int32),
            "lead": lead,
            "contact": lead * 2 + rng.integers(0, 2, n, dtype=np.int32),
            "user": rng.integers(0, len(context.users), n).astype(np.int16),
            "status": status,
            "title": rng.integers(0, len(MEETING_TITLES), n).astype(np.int16),
            "outcome": outcome,
        }
        return cls(context, columns)

    def _render(self, i: int) -> dict:
        c = self.cols
        ctx = self.context
        user = ctx.users[int(c["user"][i])]
        user_name = f"{user['first_name']} {user['last_name']}"
        dc = int(c["dc"][i])
        status = MEETING_STATUSES[int(c["status"][i])]
        contact = int(c["contact"][i])
        contact_status = {"completed": "yes", "declined-by-lead": "no", "upcoming": "yes"}.get(status, "noreply")
        lead = int(c["lead"][i])
        attendees = [
            {"email": user["email"], "name": user_name, "status": "yes", "user_id": user["id"],
             "contact_id": None, "is_organizer": True},
            {"email": f"contact{contact}@lead{lead}.example", "name": _CONTACT_NAMES[contact % len(_CONTACT_NAMES)],
             "status": contact_status, "user_id": None, "contact_id": ctx.contact(contact), "is_organizer": False},
        ]
        return {
            "id": "acti_" + c["id"][i].decode("ascii"),
            "_type": "Meeting",
            "organization_id": ctx.org_id,
            "title": MEETING_TITLES[int(c["title"][i])],
            "lead_id": ctx.lead(lead),
            "user_id": user["id"],
            "user_name": user_name,
            "starts_at": _iso(dc),
            "ends_at": _iso(dc + int(c["dur"][i]) * _S_US),
            "activity_at": _iso(dc),
            "date_created": _iso(dc),
            "date_updated": _iso(int(c["du"][i])),
            "duration": int(c["dur"][i]),
            "status": status,
            "attendees": attendees,
            "outcome_id": self._outcome(i),
        }
