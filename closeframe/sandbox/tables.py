"""Column-wise call and meeting tables: numpy columns sorted by date_created, dicts rendered only per page.

A million calls as Python dicts would cost gigabytes and a minute to build; as numpy columns they cost about
120 MB and a second, and a page of 100 records is rendered on demand. Rows are stored in ascending
``(date_created, id)`` order so date filters are two :func:`numpy.searchsorted` calls; listings show them reversed
(newest first). Fields a test sets that have no column live in ``overrides`` keyed by record id.

The payloads follow recorded real Close answers (see ``tests/fixtures/real``): dates with millisecond precision and
several activities at one instant (a dialer, a bulk import), the full call ``status`` enum, ``disposition`` null on
some calls, no user on an inbound voicemail, ``cost`` as a string or null, ``date_answered``, phones, meetings with
``status`` null when created manually, several ``users``, and transcripts only when ``_fields`` asks for them.
Meetings carry Close's documented ``outcome_reason`` (``autofilled``, ``user-selected``, ``voicemail-dropped``),
``outcome_autofill_confidence`` and ``outcome_autofill_reasoning``; calls only behind ``call_outcome_reason`` (the
documented call schema has none). Some calls were logged by another phone system: ``source`` "External",
``call_method`` "external".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from closeframe.sandbox.common import DAY_US as _DAY_US
from closeframe.sandbox.common import NOW_US as _NOW_US
from closeframe.sandbox.common import random_ids

__all__ = ["AUTOFILL_CONFIDENCES", "AUTOFILL_MARKINGS", "ActivityTable", "CALL_METHODS", "CallTable",
           "DATE_RESOLUTIONS", "FILTER_PRECISIONS", "FILTER_ROUNDINGS", "MeetingTable", "OUTCOME_REASONS",
           "OUTCOME_SOURCE_FIELDS", "OrgContext", "coarsen_bounds"]

_S_US = 1_000_000

#: How finely stored dates are kept (real Close: milliseconds) and how finely date filters compare.
DATE_RESOLUTIONS = {"microsecond": 1, "millisecond": 1_000, "second": 1_000_000}
FILTER_PRECISIONS = DATE_RESOLUTIONS
#: How a coarse filter compares: ``bucket`` truncates both the stored date and the filter value,
#: ``value`` truncates only the filter value and compares it with the exact stored date.
FILTER_ROUNDINGS = ("bucket", "value")

DIRECTIONS = ["inbound", "outbound"]
DISPOSITIONS = ["answered", "no-answer", "vm-answer", "vm-left", "busy", "blocked", "error", "abandoned"]
_DISPOSITION_WEIGHTS = [0.45, 0.2, 0.1, 0.12, 0.06, 0.02, 0.02, 0.03]
#: Close's OpenAPI ``CallStatus``.
CALL_STATUSES = ["created", "in-progress", "completed", "cancel", "no-answer", "busy", "failed", "timeout"]
# The status a finished call has for each disposition (index-aligned with DISPOSITIONS).
_STATUS_OF_DISPOSITION = np.array([2, 4, 2, 2, 5, 6, 6, 3], dtype=np.int8)
#: Close's ``call_method`` values; ``external`` is a call logged by another phone system (``source`` "External",
#: as in Close's documented call answer).
CALL_METHODS = ["regular", "power", "predictive", "external"]
CALL_SOURCES = ["Close.io", "External"]
_EXTERNAL_METHOD = CALL_METHODS.index("external")
_EXTERNAL_SOURCE = CALL_SOURCES.index("External")
#: Close's documented ``outcome_reason`` values (the meeting schema), indexed by the stored ``reason`` code:
#: 0 a person picked the outcome, 1 Close's AI filled it in, 2 Close set it on a voicemail drop.
OUTCOME_REASONS = ["user-selected", "autofilled", "voicemail-dropped"]
_AUTOFILLED, _VOICEMAIL_DROPPED = 1, 2
#: Close's documented ``outcome_autofill_confidence`` values.
AUTOFILL_CONFIDENCES = ["low", "medium", "high"]
#: Share of meeting outcomes whose ``outcome_reason`` is ``voicemail-dropped``: the meeting schema's enum allows it,
#: how often Close sends it there is not documented ([I]); calls get it wherever a vm-dropped outcome was set.
_MEETING_VOICEMAIL_SHARE = 0.03
#: How answers mark who set an outcome. Close documents the values (meetings: ``outcome_reason``
#: ``autofilled | user-selected | voicemail-dropped``, ``outcome_autofill_confidence`` ``low | medium | high`` and an
#: ``outcome_autofill_reasoning`` text); which of the fields an organization's answers carry is not ([I]). Each value
#: maps to ``(outcome_reason sent, confidence and reasoning sent on autofilled outcomes, a person's pick that
#: replaced an autofilled one keeps that autofill's confidence and reasoning)``.
AUTOFILL_MARKINGS = {
    # The documented shape (the default): every field, the confidence and reasoning only where Close autofilled.
    "reason-and-text": (True, True, False),
    # As the default, but a person who replaced the AI's pick leaves its confidence and reasoning behind.
    "text-kept": (True, True, True),
    # No outcome_reason (as on a call, whose documented schema has none): only confidence and reasoning tell.
    "text-only": (False, True, False),
    # outcome_reason only, the confidence and reasoning fields absent (an answer from before they existed).
    "reason-only": (True, False, False),
    # None of the fields has a value (autofill not enabled, or an older Close).
    "none": (False, False, False),
}
#: The fields of Close's outcome autofill, in the order the answers carry them.
OUTCOME_SOURCE_FIELDS = ("outcome_reason", "outcome_autofill_confidence", "outcome_autofill_reasoning")
_AUTOFILL_REASONINGS = [
    "The contact agreed to a product demo next week and a calendar invite was sent during the call.",
    "The prospect said they have no budget this year and asked not to be contacted again before Q3.",
    "Der Kunde bat um einen Rückruf am Donnerstag, um das Angebot mit der Geschäftsführung zu besprechen.",
    "The call reached the company switchboard; the decision maker was not available.",
    "相手は価格表をメールで送ってほしいと言い、来週もう一度話すことに同意した。",
]
MEETING_STATUSES = ["upcoming", "in-progress", "completed", "canceled", "declined-by-lead", "declined-by-org"]
MEETING_SOURCES = ["calendar", "manual"]
MEETING_TITLES = [
    "Demo", "Discovery call", "Kick-off", "Produktvorführung", "定例ミーティング", "Quarterly business review",
    "Onboarding ✈️", "Pricing walkthrough", "Vertragsbesprechung", "Technical deep dive", "Follow-up",
    "Executive alignment — renewal & expansion planning for next fiscal year",
]
_CONTACT_NAMES = ["Anna Schmidt", "John Carter", "佐藤 健", "Léa Dubois", "Olu Adeyemi", "Mia Nguyen",
                  "Sven Åberg", "Carlos Ruiz", "Hannah Weiß", "Ravi Kumar"]
_LINES = [("close-user", "Thanks for taking the time today."), ("contact", "Sure, we are looking at options."),
          ("close-user", "Would a demo next week work?"), ("contact", "Tuesday afternoon is good.")]


def coarsen_bounds(bounds: tuple, precision_us: int, rounding: str = "bucket") -> tuple:
    """Rewrite ``(gt, gte, lt, lte)`` µs bounds as a filter comparing at ``precision_us`` does, as exact bounds.

    ``bucket``: ``floor(date) OP floor(value)``; ``value``: ``date OP floor(value)`` (only the value is cut).
    The result is ``(None, gte, lt, None)`` selecting exactly the rows such a comparison keeps.
    """
    if precision_us <= 1:
        return bounds
    if rounding not in FILTER_ROUNDINGS:
        raise ValueError(f"rounding must be one of {FILTER_ROUNDINGS}, got {rounding!r}")
    gt, gte, lt, lte = bounds
    lows, highs = [], []

    def floor(value: int) -> int:
        return value - value % precision_us

    if gt is not None:
        lows.append(floor(gt) + precision_us if rounding == "bucket" else floor(gt) + 1)
    if gte is not None:
        lows.append(floor(gte))
    if lt is not None:
        highs.append(floor(lt))
    if lte is not None:
        highs.append(floor(lte) + precision_us if rounding == "bucket" else floor(lte) + 1)
    return None, (max(lows) if lows else None), (min(highs) if highs else None), None


def _sorted_rows(dc: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """The permutation that orders rows by ``(date_created, id)`` (ties at one instant are real and kept).

    Sorting a million 43-byte ids costs seconds; ties are few (bursts, a shared millisecond), so the dates are
    sorted and only the runs of equal dates are then ordered by id.
    """
    order = np.argsort(dc, kind="stable")
    ties = np.flatnonzero(np.diff(dc[order]) == 0)
    if ties.size:
        tied = np.zeros(order.size, dtype=bool)
        tied[ties] = tied[ties + 1] = True
        rows = order[tied]  # the tied rows, in date order: sorting them by (date, id) keeps each run in place
        order[tied] = rows[np.lexsort((ids[rows], dc[rows]))]
    return order


def _dates(rng: np.random.Generator, n: int, low: int, high: int, resolution_us: int,
           bursts: Sequence[Any]) -> np.ndarray:
    """``n`` dates in ``[low, high)`` at ``resolution_us``.

    Each burst is a count (that many dates on one instant: a bulk import) or ``(count, span_seconds)`` (that many
    spread over the span: a power dialer, several calls in most seconds).
    """
    dc = rng.integers(low, high, n, dtype=np.int64)
    taken = 0
    for burst in bursts:
        size, span = (burst, 0) if np.isscalar(burst) else burst
        size = min(int(size), n - taken)
        if size <= 0:
            break
        spread = rng.integers(0, int(float(span) * _S_US), size) if span else 0
        dc[taken:taken + size] = dc[taken] + spread
        taken += size
    if resolution_us > 1:
        dc -= dc % resolution_us
    return dc


@dataclass
class OrgContext:
    """What activity rows refer to by index: the organization, its users, leads, contacts and outcome ids."""

    org_id: str
    users: list
    lead_ids: np.ndarray
    contact_ids: np.ndarray
    codes: list = field(default_factory=list)
    autofill_marking: str = "reason-and-text"
    #: Calls carry the outcome autofill fields too (off: the documented call schema has none of them).
    call_outcome_reason: bool = False
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

    def user(self, i: int) -> dict | None:
        return None if i < 0 else self.users[i]


def _iso_many(us: np.ndarray) -> list[str]:
    """:func:`format_us` of every value, vectorised: a fraction of 6 digits, none for whole seconds."""
    us = np.asarray(us, dtype=np.int64)
    stamps = us.astype("datetime64[us]")
    text = np.datetime_as_string(stamps, unit="us").astype(object)
    whole = us % _S_US == 0
    if whole.any():
        text[whole] = np.datetime_as_string(stamps[whole], unit="s")
    return [t + "+00:00" for t in text.tolist()]


def _ids(prefix: str, column: np.ndarray) -> list[str]:
    return [prefix + b.decode("ascii") for b in column.tolist()]


def _name(user: dict | None) -> str | None:
    return None if user is None else f"{user['first_name']} {user['last_name']}"


def _phone(kind: int, i: int) -> str:
    # A stable North American number per contact (kind 2) or user (kind 6) in the reserved 555 range.
    return f"+1{kind}0{(i // 10_000) % 10}555{i % 10_000:04d}"


def _transcript(seed: int, lines: int) -> dict:
    """A transcript object like Close's: utterances with speaker sides and times, and a summary."""
    utterances = []
    for k in range(lines):
        side, text = _LINES[(seed + k) % len(_LINES)]
        utterances.append({"speaker_label": "Close user" if side == "close-user" else "Contact",
                           "speaker_side": side, "start": round(k * 4.2, 1), "end": round(k * 4.2 + 3.6, 1),
                           "text": text})
    return {"utterances": utterances, "summary_text": "The contact asked for a demo next week."}


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
    #: Fields Close sends only when ``_fields`` names them.
    on_request: tuple[str, ...] = ()

    def __init__(self, context: OrgContext, columns: dict[str, np.ndarray]):
        self.context = context
        self.cols = columns
        self.overrides: dict[str, dict] = {}
        # The id index (see _id_index): built on the first id__in, dropped when rows move (insert, delete).
        self._index: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def n(self) -> int:
        """Number of rows."""
        return int(self.cols["dc"].size)

    # -- lookup -------------------------------------------------------------------------------------------------
    def find(self, record_id: str) -> int | None:
        """Storage index of ``record_id`` or ``None``."""
        if not record_id.startswith(self.prefix) or len(record_id) != len(self.prefix) + 43:
            return None
        wanted = record_id[len(self.prefix):].encode("ascii", "replace")
        if self._index is not None:
            hits = self._rows_of(np.asarray([wanted], dtype="S43"))
            return int(hits[0]) if hits.size else None
        # No index yet (or rows just moved): one comparison of the column is cheaper than building it.
        hits = np.flatnonzero(self.cols["id"] == wanted)
        return int(hits[0]) if hits.size else None

    @staticmethod
    def _id_keys(ids: np.ndarray) -> np.ndarray:
        """The first 8 bytes of each ``S43`` id as one ``uint64`` (big-endian: ordered as the bytes are)."""
        head = np.ascontiguousarray(ids, dtype="S43").view(np.uint8).reshape(-1, 43)[:, :8]
        return np.ascontiguousarray(head).view(">u8").ravel()

    def _id_index(self) -> tuple[np.ndarray, np.ndarray]:
        """``(keys, rows)``: every row's :meth:`_id_keys` sorted, and the storage row of each.

        Sorting 8-byte integers takes a fraction of the time of sorting the 43-byte ids; ids sharing a key (rare:
        random ids) are told apart by comparing the whole id."""
        if self._index is None:
            keys = self._id_keys(self.cols["id"])
            order = np.argsort(keys, kind="stable")
            self._index = keys[order], order
        return self._index

    def _rows_of(self, wanted: np.ndarray) -> np.ndarray:
        """Storage rows (ascending, distinct) of the ids ``wanted`` (``S43``) that exist: Close's ``id__in`` without
        a scan of the table."""
        keys, rows = self._id_index()
        probe = self._id_keys(wanted)
        lo, hi = np.searchsorted(keys, probe, "left"), np.searchsorted(keys, probe, "right")
        spans = hi - lo
        if not spans.any():
            return np.empty(0, dtype=np.int64)
        # Every row whose key matches a wanted id's key; then the rows whose whole id is that wanted id.
        which = np.repeat(np.arange(wanted.size), spans)
        starts = np.repeat(lo - np.cumsum(spans) + spans, spans)
        candidates = rows[starts + np.arange(which.size)]
        hits = candidates[self.cols["id"][candidates] == wanted[which]]
        return np.unique(hits).astype(np.int64)

    def activity_us(self, lo: int, hi: int) -> np.ndarray:
        """``activity_at`` in µs for storage rows ``lo:hi``: Close sets it to ``date_created`` (the start)."""
        return self.cols["dc"][lo:hi]

    # -- querying -----------------------------------------------------------------------------------------------
    def _in(self, column: str, values: Any, index_of) -> np.ndarray:
        wanted = [values] if isinstance(values, str) else list(values)
        return np.asarray([index_of(v) for v in wanted], dtype=np.int64)

    def select(self, *, created: tuple = (None, None, None, None), activity: tuple = (None, None, None, None),
               user_id: Any = None, lead_id: Any = None, contact_id: Any = None, ids: Any = None):
        """Rows matching the filters, as ``(lo, hi, indices)``.

        Parameters
        ----------
        created, activity : tuple
            ``(gt, gte, lt, lte)`` bounds in µs (``None`` = unbounded) on date_created / activity_at.
        user_id, lead_id, contact_id : str or sequence of str, optional
            Equality filters; a sequence matches any of its ids (Close takes comma-separated lists).
        ids : sequence of str, optional
            Only these record ids (Close's ``id__in``).

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
        ctx = self.context
        for values, column, index_of in ((user_id, "user", ctx.user_index), (lead_id, "lead", ctx.lead_index),
                                         (contact_id, "contact", ctx.contact_index)):
            if values is not None:
                narrow(np.isin(self.cols[column][lo:hi], self._in(column, values, index_of)))
        if ids is not None:
            wanted = [i[len(self.prefix):].encode("ascii", "replace") for i in ids
                      if i.startswith(self.prefix) and len(i) == len(self.prefix) + 43]
            found = self._rows_of(np.asarray(wanted, dtype="S43"))
            found = found[(found >= lo) & (found < hi)]
            listed = np.zeros(hi - lo, dtype=bool)
            listed[found - lo] = True
            narrow(listed)
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

    def render(self, i: int, requested: Sequence[str] = ()) -> dict:
        """Row ``i`` as Close's JSON object, overrides applied; ``requested`` adds fields sent only on request."""
        return self.render_many([i], requested)[0]

    def render_many(self, rows: Sequence[int], requested: Sequence[str] = ()) -> list[dict]:
        """Rows ``rows`` (a page) as Close's JSON objects: each column is read once for the whole page."""
        if not len(rows):
            return []
        index = np.asarray(rows, dtype=np.int64)
        records = self._render_rows({name: column[index] for name, column in self.cols.items()})
        asked = [name for name in self.on_request if name in requested]
        for i, record in zip(index.tolist(), records):
            for name in asked:
                record[name] = self._on_request(i, name)
            extra = self.overrides.get(record["id"])
            if extra:
                record.update(extra)
        return records

    def _render_rows(self, values: dict[str, np.ndarray]) -> list[dict]:  # pragma: no cover - subclasses
        raise NotImplementedError

    def _on_request(self, i: int, name: str) -> Any:  # pragma: no cover - subclasses
        return None

    # -- mutation -----------------------------------------------------------------------------------------------
    def insert(self, values: dict[str, Any]) -> int:
        """Insert one row (a value for every column) at its sorted place; return its storage index."""
        dc = self.cols["dc"]
        left = int(np.searchsorted(dc, values["dc"], "left"))
        right = int(np.searchsorted(dc, values["dc"], "right"))
        pos = left + int(np.searchsorted(self.cols["id"][left:right], values["id"]))
        for name, column in self.cols.items():
            self.cols[name] = np.insert(column, pos, np.asarray(values[name], dtype=column.dtype))
        self._index = None  # rows after pos moved
        return pos

    def delete(self, i: int) -> None:
        """Remove storage row ``i``."""
        self.overrides.pop(self.prefix + self.cols["id"][i].decode("ascii"), None)
        for name, column in self.cols.items():
            self.cols[name] = np.delete(column, i)
        self._index = None

    def set_outcome(self, i: int, outcome_id: str | None, updated_us: int | None = None) -> None:
        """Point row ``i`` at ``outcome_id`` (any id, even one that does not exist) and bump date_updated.

        An outcome set through the API is a person's choice: ``outcome_reason`` becomes ``user-selected``.
        """
        self.cols["outcome"][i] = self.context.code(outcome_id)
        self.cols["reason"][i] = -1 if outcome_id is None else 0
        if updated_us is not None:
            self.cols["du"][i] = max(int(self.cols["du"][i]), updated_us)

    def _outcome(self, i: int) -> str | None:
        code = int(self.cols["outcome"][i])
        return None if code < 0 else self.context.codes[code]

    def _outcome_lists(self, values: dict[str, np.ndarray]) -> tuple[list, list]:
        """``outcome_id`` of a page's rows, and their :data:`OUTCOME_SOURCE_FIELDS` as one dict per row."""
        codes = self.context.codes
        outcome = [None if c < 0 else codes[c] for c in values["outcome"].tolist()]
        send_reason, send_text, kept = AUTOFILL_MARKINGS[self.context.autofill_marking]
        # The reasoning text, the confidence and whether a person's pick replaced an autofilled one (a third) are
        # picked by characters of the record's random id, so they stay the same wherever the row moves (dates
        # would not do: calendar meetings all start on the minute).
        chars = values["id"].view(np.uint8).reshape(-1, values["id"].dtype.itemsize)[:, :3].astype(np.int64)
        pick = (chars[:, 0] % len(_AUTOFILL_REASONINGS)).tolist()
        level = chars[:, 1] % 10
        confidence = np.select([level < 2, level < 5], [0, 1], 2).tolist()  # 20% low, 30% medium, 50% high
        replaced = (chars[:, 2] % 3 == 0).tolist()
        fields = []
        for r, p, c, again in zip(values["reason"].tolist(), pick, confidence, replaced):
            texts = send_text and (r == _AUTOFILLED or (kept and r == 0 and again))
            fields.append({"outcome_reason": OUTCOME_REASONS[r] if send_reason and r >= 0 else None,
                           "outcome_autofill_confidence": AUTOFILL_CONFIDENCES[c] if texts else None,
                           "outcome_autofill_reasoning": _AUTOFILL_REASONINGS[p] if texts else None})
        return outcome, fields

    @staticmethod
    def _sorted(columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        order = _sorted_rows(columns["dc"], columns["id"])
        return {name: column[order] for name, column in columns.items()}

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

    @staticmethod
    def _reasons(rng, outcome: np.ndarray, voicemail_share: float = 0.0) -> np.ndarray:
        """Stored ``reason`` codes (:data:`OUTCOME_REASONS`, ``-1`` without an outcome).

        About a fifth of the outcomes were filled in automatically (Close's AI), ``voicemail_share`` were set by a
        voicemail drop, the rest chosen by a person.
        """
        u = rng.random(outcome.size)
        reason = np.where(u < 0.2, _AUTOFILLED, np.where(u < 0.2 + voicemail_share, _VOICEMAIL_DROPPED, 0))
        return np.where(outcome >= 0, reason, -1).astype(np.int8)


class CallTable(ActivityTable):
    """An organization's calls."""

    kind = "call"
    on_request = ("recording_transcript", "voicemail_transcript")

    @classmethod
    def generate(cls, rng: np.random.Generator, context: OrgContext, n: int, *, live_outcomes: list,
                 vm_outcomes: set, deleted_outcomes: list, resolution_us: int = 1_000,
                 bursts: Sequence[int] = ()) -> "CallTable":
        """Generate ``n`` calls over the two years before now, vectorised.

        About half carry an outcome; vm-dropped outcomes go only to calls whose disposition is ``vm-left``.
        ``resolution_us`` is the precision of the dates (Close: milliseconds); each entry of ``bursts`` puts that
        many calls on one instant, as a dialer or a bulk import does.
        """
        dc = _dates(rng, n, _NOW_US - 730 * _DAY_US, _NOW_US, resolution_us, bursts)
        disposition = rng.choice(len(DISPOSITIONS), n, p=_DISPOSITION_WEIGHTS).astype(np.int8)
        status = _STATUS_OF_DISPOSITION[disposition]
        no_disposition = rng.random(n) < 0.03  # recorded: status "no-answer", disposition null
        disposition[no_disposition] = -1
        status[no_disposition] = 4
        status[rng.random(n) < 0.005] = 7  # timeout
        inbound = rng.random(n) < 0.3
        answered = (disposition == 0) | (disposition == 2)
        duration = np.where(disposition == 0, rng.exponential(240.0, n), rng.integers(0, 40, n)).astype(np.int32)
        vm_left = disposition == 3
        duration[vm_left] += 20
        inbound_voicemail = inbound & vm_left
        duration[inbound_voicemail] = 0  # recorded: the caller's message is voicemail_duration, not duration
        voicemail = np.where(vm_left, rng.integers(5, 60, n), 0).astype(np.int16)
        ring = np.where(answered, rng.integers(2_000, 20_000, n), -1).astype(np.int32)  # ms until answered
        n_leads = context.lead_ids.size
        lead = rng.integers(0, n_leads, n, dtype=np.int32)
        contact = lead * 2 + rng.integers(0, 2, n, dtype=np.int32)
        contact[rng.random(n) < 0.05] = -1
        user = rng.integers(0, len(context.users), n).astype(np.int16)
        user[inbound_voicemail] = -1  # recorded: nobody took it, user_id and user_name are null
        cost = np.where(inbound, -1, np.maximum(1, np.ceil(duration / 60.0))).astype(np.int16)
        custom = [o for o in live_outcomes if o not in vm_outcomes]
        outcome = cls._outcome_codes(rng, context, n, custom, deleted_outcomes, 0.5)
        vm = [o for o in live_outcomes if o in vm_outcomes]
        vm_rows = np.zeros(0, dtype=np.int64)
        if vm:
            vm_rows = np.flatnonzero(vm_left & ~inbound & (outcome >= 0) & (rng.random(n) < 0.7))
            vm_codes = np.array([context.code(o) for o in vm], dtype=np.int32)
            outcome[vm_rows] = vm_codes[rng.integers(0, len(vm_codes), vm_rows.size)]
        late = (outcome >= 0) & (rng.random(n) < 0.3)  # outcome set days after the call
        du = dc + np.where(late, rng.integers(0, 30 * _DAY_US, n), rng.integers(0, 5 * _S_US, n))
        du = np.minimum(du, np.maximum(dc, _NOW_US))
        if resolution_us > 1:
            du -= du % resolution_us
        ids = random_ids(rng, n, 43)
        method = rng.choice(3, n, p=[0.7, 0.2, 0.1]).astype(np.int8)
        # About a tenth were logged by another phone system ("External", call_method "external", no Close cost);
        # a voicemail drop is Close's own dialer, so those calls stay Close's.
        external = rng.random(n) < 0.1
        external[vm_rows] = False
        method[external] = _EXTERNAL_METHOD
        cost[external] = -1
        reason = cls._reasons(rng, outcome)
        reason[vm_rows] = _VOICEMAIL_DROPPED  # Close sets a vm-dropped outcome itself when a voicemail is dropped
        columns = {
            "id": ids,
            "dc": dc,
            "du": np.maximum(du, dc).astype(np.int64),
            "dur": duration,
            "lead": lead,
            "contact": contact,
            "user": user,
            "direction": (~inbound).astype(np.int8),
            "status": status.astype(np.int8),
            "disposition": disposition,
            "method": method,
            "source": np.where(external, _EXTERNAL_SOURCE, 0).astype(np.int8),
            "outcome": outcome,
            "reason": reason,
            "cost": cost,
            "ring": ring,
            "vm": voicemail,
        }
        return cls(context, cls._sorted(columns))

    def _render_rows(self, v: dict[str, np.ndarray]) -> list[dict]:
        c = self.context
        ids = _ids("acti_", v["id"])
        leads = _ids("lead_", c.lead_ids[v["lead"]])
        contact_index = v["contact"]
        contacts = [None if k < 0 else x for k, x in zip(contact_index.tolist(),
                                                          _ids("cont_", c.contact_ids[np.maximum(contact_index, 0)]))]
        created, updated = _iso_many(v["dc"]), _iso_many(v["du"])
        ring = v["ring"]
        answered = [None if r < 0 else x for r, x in
                    zip(ring.tolist(), _iso_many(v["dc"] + np.maximum(ring, 0).astype(np.int64) * 1_000))]
        outcome, sources = self._outcome_lists(v)
        with_sources = c.call_outcome_reason
        records = []
        for k, (user_index, direction, disposition, cost, lead_index, contact) in enumerate(zip(
                v["user"].tolist(), v["direction"].tolist(), v["disposition"].tolist(), v["cost"].tolist(),
                v["lead"].tolist(), contact_index.tolist())):
            user = c.user(user_index)
            remote = _phone(2, max(contact, 0) + lead_index)
            records.append({
                "id": ids[k],
                "_type": "Call",
                "organization_id": c.org_id,
                "lead_id": leads[k],
                "contact_id": contacts[k],
                "user_id": None if user is None else user["id"],
                "user_name": _name(user),
                "users": [],
                "created_by": None if user is None or direction == 0 else user["id"],
                "updated_by": None if user is None else user["id"],
                "date_created": created[k],
                "date_updated": updated[k],
                "activity_at": created[k],
                "date_answered": answered[k],
                "direction": DIRECTIONS[direction],
                "duration": int(v["dur"][k]),
                "voicemail_duration": int(v["vm"][k]),
                "status": CALL_STATUSES[v["status"][k]],
                "disposition": None if disposition < 0 else DISPOSITIONS[disposition],
                "call_method": CALL_METHODS[v["method"][k]],
                "source": CALL_SOURCES[v["source"][k]],
                "cost": None if cost < 0 else str(cost),
                "phone": remote,
                "local_phone": None if user is None else _phone(6, user_index),
                "remote_phone": remote,
                "outcome_id": outcome[k],
                **(sources[k] if with_sources else {}),
            })
        return records

    def _on_request(self, i: int, name: str) -> Any:
        disposition = int(self.cols["disposition"][i])
        if name == "recording_transcript":
            seed = int(self.cols["dc"][i]) // 1000  # by date: the same text wherever the row moves
            return _transcript(seed, 4) if disposition == 0 and int(self.cols["dur"][i]) >= 30 else None
        return _transcript(int(self.cols["dc"][i]) // 1000, 1) if disposition == 3 else None


class MeetingTable(ActivityTable):
    """An organization's meetings (date_created is the start time, as in Close)."""

    kind = "meeting"
    on_request = ("transcripts",)

    @classmethod
    def generate(cls, rng: np.random.Generator, context: OrgContext, n: int, *, live_outcomes: list,
                 deleted_outcomes: list, resolution_us: int = 1_000, call_ids: np.ndarray | None = None
                 ) -> "MeetingTable":
        """Generate ``n`` meetings over the two years before now plus a month of upcoming ones.

        Calendar meetings start on the minute; manual ones (about a fifth, ``status`` null as in Close) at the
        moment they were logged, with ``resolution_us`` precision. Some have several Close users, some a call
        attached (from ``call_ids``), completed ones with a notetaker an ``actual_duration`` and transcripts.
        """
        dc = rng.integers(_NOW_US - 730 * _DAY_US, _NOW_US + 30 * _DAY_US, n, dtype=np.int64)
        manual = rng.random(n) < 0.2
        dc = np.where(manual, dc - dc % max(resolution_us, 1), dc - dc % (60 * _S_US))
        future = dc > _NOW_US
        status = rng.choice([2, 3, 4, 5], n, p=[0.85, 0.07, 0.05, 0.03]).astype(np.int8)
        status[future] = 0
        status[manual] = -1
        du = np.where(future, _NOW_US - rng.integers(0, 10 * _DAY_US, n),
                      np.minimum(dc + rng.integers(0, 3 * _DAY_US, n), _NOW_US))
        du -= du % 1_000
        lead = rng.integers(0, context.lead_ids.size, n, dtype=np.int32)
        outcome = cls._outcome_codes(rng, context, n, live_outcomes, deleted_outcomes, 0.4)
        outcome[future] = -1
        n_users = len(context.users)
        user = rng.integers(0, n_users, n).astype(np.int16)
        co = np.where((rng.random(n) < 0.15) & (n_users > 1), (user + rng.integers(1, max(n_users, 2), n)) % n_users,
                      -1).astype(np.int16)
        duration = (rng.integers(1, 7, n) * 900).astype(np.int32)
        took_place = (status == 2) | (manual & ~future)
        notetaker = took_place & (rng.random(n) < 0.3)
        actual = np.where(notetaker, duration - rng.integers(0, 600, n), -1).astype(np.int32)
        attached = np.zeros(n, dtype="S43")
        if call_ids is not None and call_ids.size:
            with_call = np.flatnonzero(took_place & (rng.random(n) < 0.1))
            attached[with_call] = call_ids[rng.integers(0, call_ids.size, with_call.size)]
        columns = {
            "id": random_ids(rng, n, 43),
            "dc": dc,
            "du": du.astype(np.int64),
            "dur": duration,
            "actual": actual,
            "lead": lead,
            "contact": lead * 2 + rng.integers(0, 2, n, dtype=np.int32),
            "user": user,
            "co": co,
            "status": status,
            "source": manual.astype(np.int8),
            "title": rng.integers(0, len(MEETING_TITLES), n).astype(np.int16),
            "outcome": outcome,
            "reason": cls._reasons(rng, outcome, _MEETING_VOICEMAIL_SHARE),
            "call": attached,
        }
        return cls(context, cls._sorted(columns))

    def _render_rows(self, v: dict[str, np.ndarray]) -> list[dict]:
        ctx = self.context
        ids = _ids("acti_", v["id"])
        leads = _ids("lead_", ctx.lead_ids[v["lead"]])
        contacts = _ids("cont_", ctx.contact_ids[v["contact"]])
        starts, updated = _iso_many(v["dc"]), _iso_many(v["du"])
        ends = _iso_many(v["dc"] + v["dur"].astype(np.int64) * _S_US)
        outcome, sources = self._outcome_lists(v)
        records = []
        for k, (user_index, co_index, status_code, contact, lead, actual, call, source) in enumerate(zip(
                v["user"].tolist(), v["co"].tolist(), v["status"].tolist(), v["contact"].tolist(),
                v["lead"].tolist(), v["actual"].tolist(), v["call"].tolist(), v["source"].tolist())):
            user = ctx.users[user_index]
            co = ctx.user(co_index)
            user_name = _name(user)
            status = None if status_code < 0 else MEETING_STATUSES[status_code]
            contact_status = {"completed": "yes", "declined-by-lead": "no", "upcoming": "yes"}.get(status, "noreply")
            attendees = [
                {"email": user["email"], "name": user_name, "status": "yes", "user_id": user["id"],
                 "contact_id": None, "is_organizer": True},
                {"email": f"contact{contact}@lead{lead}.example",
                 "name": _CONTACT_NAMES[contact % len(_CONTACT_NAMES)], "status": contact_status, "user_id": None,
                 "contact_id": contacts[k], "is_organizer": False},
            ]
            if co is not None:
                attendees.insert(1, {"email": co["email"], "name": _name(co), "status": "yes", "user_id": co["id"],
                                     "contact_id": None, "is_organizer": False})
            manual = source == 1
            records.append({
                "id": ids[k],
                "_type": "Meeting",
                "organization_id": ctx.org_id,
                "title": MEETING_TITLES[v["title"][k]],
                "lead_id": leads[k],
                "contact_id": contacts[k],
                "user_id": user["id"],
                "user_name": user_name,
                "users": [user["id"]] + ([co["id"]] if co is not None else []),
                "created_by": user["id"] if manual else None,
                "updated_by": user["id"] if manual else None,
                "starts_at": starts[k],
                "ends_at": ends[k],
                "activity_at": starts[k],
                "date_created": starts[k],
                "date_updated": updated[k],
                "duration": int(v["dur"][k]),
                "actual_duration": None if actual < 0 else actual,
                "status": status,
                "source": MEETING_SOURCES[source],
                "attendees": attendees,
                "attached_call_ids": ["acti_" + call.decode("ascii")] if call else [],
                "integrations": [],
                "is_recurring": False,
                "outcome_id": outcome[k],
                **sources[k],
            })
        return records

    def _on_request(self, i: int, name: str) -> Any:
        return [_transcript(int(self.cols["dc"][i]) // 1000, 6)] if int(self.cols["actual"][i]) >= 0 else []
