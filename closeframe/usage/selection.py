"""What a selection of outcome usage shows: pure functions behind the explorer, the dashboard and the report.

One model, three faces. A :class:`Selection` says *which* activities (organizations, outcomes by normalized name
across organizations, calls and/or meetings, users, a date range, statuses; an empty field means all). The frames
are prepared once with :func:`prepare` (codes and arrays, so a selection is applied in milliseconds on a million
activities), and each view is a pure function of the prepared data and a selection::

    data = prepare(outcomes, calls, meetings)            # or prepare(outcomes, events=cf.usage_events(...))
    picks = Selection(organizations=("Acme",), kinds=("calls",), since="2025-01-01")
    usage_table(data, picks)        # cf.outcome_usage's table (one definition) of the selected activities
    headline_table(data, picks)     # per organization: activities, share with an outcome, outcomes used/unused...
    top_outcomes(data, picks, n=10) # the n most used outcomes of each organization
    compare_table(data, picks)      # cf.compare_outcomes of the selection: one outcome name across organizations
    trend_table(data, picks, freq="W")  # per organization, period and top outcome; partial periods marked
    by_user_table(data, picks, n=10)    # per organization its top n users and one "(others)" row
    unused_and_deleted(data, picks) # outcomes unused in the selection, deleted outcomes still on activities
    catalogue_table(data, picks)    # the outcomes frame rows of the selected organizations and outcomes
    selected_events(data, picks)    # the usage_events rows themselves
    options(data)                   # what each picker can offer (for widgets and validation)
    describe(picks)                 # the selection in words, for a status line or a report heading

Rules every view follows:

- ``organizations`` match an organization's name or id; an organization without a name is labelled by its id.
- ``outcomes`` are compared after :func:`closeframe.normalize_outcome_name` ("Demo booked ✅" and "demo  BOOKED"
  are one outcome across organizations). Picking outcomes leaves out activities without an outcome and those
  whose outcome was deleted (they have no name).
- ``kinds`` are ``"calls"`` and/or ``"meetings"``; picking calls only leaves meetings at zero.
- ``users`` match a user's name or id; ``statuses`` match the activity's ``status`` as Close sent it.
- ``since``/``until``: ``date_created`` in ``[since, until)`` (UTC; dates, datetimes or strings such as
  ``"2025-01-31"``), as for :func:`closeframe.load_calls`. ``since`` not before ``until`` selects nothing, and
  :func:`describe` says so: a view never shows a previous, stale result.
- ``share`` is a fraction of the organization's selected activities *whatever their outcome*, ``share_of_outcomes``
  of those with an outcome, ``share_of_connected`` (``denominator="connected"``) of the connected calls and held
  meetings: the same columns as :func:`closeframe.outcome_usage`, made by the same
  :func:`closeframe.usage.definition.finish_usage`. The outcome picker does not shrink the denominators, so "Demo
  booked is 12 % of Acme's calls this quarter" reads as it should.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, Iterable

import numpy as np
import pandas as pd

from closeframe.errors import ConfigurationError
from closeframe.shape.frames import STRING_DTYPE, UTC_DATETIME_DTYPE
from closeframe.usage.definition import (
    DELETED_OUTCOME_LABEL,
    _micros,
    _objects,
    check_denominator,
    finish_usage,
    outcome_lookup,
)
from closeframe.usage.ordering import natural_key
from closeframe.usage.tables import (
    CompareGrid,
    _per_distinct,
    compare_grid,
    normalize_outcome_name,
    period_start,
    usage_events,
)
from closeframe.usage.users import activity_credits, credit_pairs, display_labels, user_labels

__all__ = [
    "KINDS",
    "NO_OUTCOME",
    "Options",
    "OTHER_OUTCOMES",
    "OTHER_USERS",
    "Selection",
    "UsageData",
    "by_user_table",
    "catalogue_table",
    "compare_table",
    "compare_table_grid",
    "describe",
    "headline_table",
    "options",
    "prepare",
    "selected_events",
    "selection_mask",
    "top_outcomes",
    "trend_table",
    "unused_and_deleted",
    "usage_table",
]

#: The values of :attr:`Selection.kinds`.
KINDS = ("calls", "meetings")
NO_OUTCOME = "(no outcome)"
DELETED_OUTCOME = DELETED_OUTCOME_LABEL  # one label in every face
OTHER_OUTCOMES = "(other outcomes)"
OTHER_USERS = "(others)"
NO_USER = "(no user)"
_KIND_ALIASES = {"call": "calls", "calls": "calls", "meeting": "meetings", "meetings": "meetings"}
_NAT = np.iinfo(np.int64).min
#: The per-activity flags usage_table counts, in the bit order of ``UsageData.row_flags``.
_FLAGS = ("is_meeting", "autofilled", "voicemail_drop", "connected", "autofill_known", "calls_known")
_FLAG_SLOTS = 1 << len(_FLAGS)
#: Which bit patterns have each flag set: the (patterns, flags) matrix that turns pattern counts into flag counts.
_FLAG_MATRIX = (np.arange(_FLAG_SLOTS)[:, None] >> np.arange(len(_FLAGS))[None, :]) & 1
_FAR = np.iinfo(np.int64).max
#: The text columns of an outcome lookup (:func:`closeframe.usage.definition.outcome_lookup`).
_LOOKUP_TEXT = ("organization_id", "outcome_id", "outcome_name", "outcome_type")


def _as_tuple(value: Any) -> tuple:
    if value is None:
        return ()
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        return (value,)
    return tuple(value)


def _bound(value: Any, name: str) -> pd.Timestamp | None:
    from closeframe.shape.dates import parse_bound  # the loaders' own reading of since/until

    return parse_bound(value, name)


@dataclass(frozen=True)
class Selection:
    """Which activities a view covers; every empty field (the default) means all.

    Attributes
    ----------
    organizations : tuple of str
        Organization names or ids.
    outcomes : tuple of str
        Outcome names, stored normalized (:func:`closeframe.normalize_outcome_name`), so they match across
        organizations.
    kinds : tuple of str
        ``"calls"`` and/or ``"meetings"`` (``"call"``/``"meeting"`` accepted).
    users : tuple of str
        User names or ids.
    since, until : pandas.Timestamp or None
        ``date_created`` in ``[since, until)``, UTC; given as a date, datetime or string.
    statuses : tuple of str
        Activity ``status`` values (e.g. ``"completed"``).

    A single string is accepted where a tuple is expected. Invalid kinds or dates raise
    :class:`~closeframe.ConfigurationError`; names are checked against the data by :func:`selection_mask` with
    ``strict=True`` (by default an unknown name matches nothing).
    """

    organizations: tuple = ()
    outcomes: tuple = ()
    kinds: tuple = ()
    users: tuple = ()
    since: pd.Timestamp | None = None
    until: pd.Timestamp | None = None
    statuses: tuple = ()

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen: normalize once, here
        set_(self, "organizations", tuple(str(v) for v in _as_tuple(self.organizations)))
        keys = (normalize_outcome_name(v) for v in _as_tuple(self.outcomes))
        set_(self, "outcomes", tuple(dict.fromkeys(k for k in keys if k)))
        kinds = []
        for kind in _as_tuple(self.kinds):
            if str(kind) not in _KIND_ALIASES:
                raise ConfigurationError(f"kinds={kind!r} is not one of 'calls', 'meetings'.")
            kinds.append(_KIND_ALIASES[str(kind)])
        set_(self, "kinds", tuple(dict.fromkeys(kinds)))
        set_(self, "users", tuple(str(v) for v in _as_tuple(self.users)))
        set_(self, "statuses", tuple(str(v) for v in _as_tuple(self.statuses)))
        set_(self, "since", _bound(self.since, "since"))
        set_(self, "until", _bound(self.until, "until"))

    @property
    def empty_range(self) -> bool:
        """True when ``since`` is not before ``until``: nothing can be selected."""
        return self.since is not None and self.until is not None and self.since >= self.until

    def replace(self, **changes: Any) -> "Selection":
        """A copy with ``changes`` (same names as the attributes)."""
        return replace(self, **changes)


class UsageData:
    """Frames prepared for fast selections (built by :func:`prepare`; treat as read-only).

    Attributes
    ----------
    outcomes : pandas.DataFrame
        The outcomes frame given.
    events : pandas.DataFrame
        :func:`closeframe.usage_events` of the frames.
    organizations : pandas.DataFrame
        ``organization_id``, ``organization_name`` (may be missing), ``label``; in natural label order.
    rows : pandas.DataFrame
        One row per (organization, outcome) known or used, plus one no-outcome row per organization:
        ``organization_id, organization_name, outcome_id, outcome_name, outcome_type, deleted, no_outcome,
        catalogue`` (a row of the outcomes frame).
    outcome_keys : pandas.DataFrame
        Per normalized outcome name: ``key``, ``label`` (its most used spelling), ``organizations``, ``total``.
    users : pandas.DataFrame
        ``user_id``, ``user_name``, ``label``, one row per user seen on an activity.
    statuses : list of str
    """

    def __init__(self, outcomes: pd.DataFrame, events: pd.DataFrame, credits: pd.DataFrame | None = None) -> None:
        self.outcomes = outcomes
        self.events = events
        n = len(events)
        org_ids = events["organization_id"].astype(object).map(str)
        names = _organization_name_map(outcomes, events)
        known = pd.Index(list(dict.fromkeys([*outcomes["organization_id"].astype(object).dropna().map(str),
                                             *org_ids.unique()])))
        orgs = pd.DataFrame({"organization_id": known})
        orgs["organization_name"] = orgs["organization_id"].map(names).astype(STRING_DTYPE)
        orgs["label"] = display_labels(orgs["organization_id"], orgs["organization_name"])
        orgs = orgs.iloc[sorted(range(len(orgs)), key=lambda i: natural_key(orgs["label"].iat[i]))]
        self.organizations = orgs.reset_index(drop=True)
        org_index = pd.Index(self.organizations["organization_id"])
        self.org_code = org_index.get_indexer(org_ids).astype(np.int32)

        # Rows: the catalogue, then deleted ids and the no-outcome row of each organization seen on activities.
        catalogue = pd.DataFrame({
            "organization_id": outcomes["organization_id"].astype(object).map(str, na_action="ignore"),
            "outcome_id": outcomes["id"].astype(object),
            "outcome_name": outcomes["name"].astype(object),
            "outcome_type": outcomes["type"].astype(object) if "type" in outcomes.columns else None,
        }).dropna(subset=["organization_id", "outcome_id"]).drop_duplicates(["organization_id", "outcome_id"])
        catalogue["catalogue"] = True
        used = pd.DataFrame({"organization_id": org_ids, "outcome_id": events["outcome_id"].astype(object)})
        used_keys = used.drop_duplicates()
        cat_index = pd.MultiIndex.from_frame(catalogue[["organization_id", "outcome_id"]])
        extra = used_keys[~pd.MultiIndex.from_frame(used_keys.fillna({"outcome_id": ""})).isin(cat_index)].copy()
        extra["outcome_name"] = None
        extra["outcome_type"] = None
        extra["catalogue"] = False
        rows = pd.concat([catalogue, extra], ignore_index=True)
        rows["no_outcome"] = rows["outcome_id"].isna()
        rows["deleted"] = ~rows["catalogue"] & ~rows["no_outcome"]
        rows["org_code"] = org_index.get_indexer(rows["organization_id"]).astype(np.int32)
        rows["organization_name"] = rows["organization_id"].map(names)
        rows["key"] = rows["outcome_name"].map(normalize_outcome_name)
        self.rows = rows.reset_index(drop=True)
        row_index = pd.MultiIndex.from_frame(self.rows[["organization_id", "outcome_id"]].fillna({"outcome_id": ""}))
        self.row_code = row_index.get_indexer(
            pd.MultiIndex.from_arrays([org_ids, used["outcome_id"].fillna("")])).astype(np.int32)

        # Outcome keys, most used first; the label is the most used spelling.
        per_row = np.bincount(self.row_code, minlength=len(self.rows)) if n else np.zeros(len(self.rows), int)
        named = self.rows.assign(total=per_row).dropna(subset=["key"])
        named = named.sort_values(["total", "outcome_name"], ascending=[False, True], kind="stable")
        named["outcome_name"] = named["outcome_name"].map(lambda name: " ".join(str(name).split()))
        keys = named.groupby("key", sort=False).agg(label=("outcome_name", "first"),
                                                    organizations=("organization_id", "nunique"),
                                                    total=("total", "sum")).reset_index()
        keys = keys.sort_values(["total", "label"], ascending=[False, True], kind="stable").reset_index(drop=True)
        self.outcome_keys = keys
        key_index = pd.Index(keys["key"])
        self.rows["key_code"] = key_index.get_indexer(self.rows["key"].fillna("\0")).astype(np.int32)
        self.key_code = self.rows["key_code"].to_numpy()[self.row_code] if n else np.zeros(0, np.int32)

        self.is_meeting = (events["activity"] == "meeting").to_numpy(dtype=bool)
        self.has_outcome = events["outcome_id"].notna().to_numpy(dtype=bool)
        self.connected = events["connected"].to_numpy(dtype=bool) if "connected" in events.columns \
            else np.ones(n, bool)
        # Calls without any status or disposition (not loaded) cannot tell connected ones: views say so.
        calls = events[~self.is_meeting]
        self.calls_tell_connected = not len(calls) or any(
            name in calls.columns and calls[name].notna().any() for name in ("status", "disposition"))
        auto = events["autofilled"] if "autofilled" in events.columns else pd.Series(pd.NA, index=events.index)
        self.autofill_known = auto.notna().to_numpy(dtype=bool)
        self.has_autofill = bool(self.autofill_known.any())
        self.autofilled = auto.fillna(False).to_numpy(dtype=bool)
        drop = events["voicemail_drop"] if "voicemail_drop" in events.columns else pd.Series(pd.NA, index=events.index)
        self.voicemail_drop = drop.fillna(False).to_numpy(dtype=bool)
        tells = np.zeros(n, dtype=bool)
        for name in ("status", "disposition"):
            if name in events.columns:
                tells |= events[name].notna().to_numpy(dtype=bool)
        self.calls_known = tells & ~self.is_meeting
        # Each activity's row and flags in one integer (row * 64 + flag bits): one gather and one bincount count
        # every flag of a selection (usage_table runs on every picker change).
        bits = np.zeros(n, dtype=np.int64)
        for bit, flag in enumerate(_FLAGS):
            bits |= getattr(self, flag).astype(np.int64) << bit
        self.row_flags = self.row_code.astype(np.int64) * _FLAG_SLOTS + bits
        times = events["date_created"].dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[us]")
        self.time = times.to_numpy().view(np.int64)  # NaT is int64 min
        self._time_first = np.where(self.time == _NAT, _FAR, self.time)
        # Dated activities sorted by (row, time): a row's first and last use among the selected ones are the first
        # and last selected positions of its segment (binary searches, instead of minimum.at over every activity).
        dated = np.flatnonzero(self.time != _NAT)
        self._by_time = dated[np.lexsort((self.time[dated], self.row_code[dated]))]
        self._sorted_time = self.time[self._by_time]
        sorted_rows = self.row_code[self._by_time]
        every_row = np.arange(len(self.rows))
        self._segments = (np.searchsorted(sorted_rows, every_row), np.searchsorted(sorted_rows, every_row, "right"))
        # Per row: its organization and whether it is a no-outcome row. A whole row is in or out of the outcome
        # picker, so usage_table counts the base selection per row once and filters rows, not activities.
        self.row_org = self.rows["org_code"].to_numpy()
        self.row_no_outcome = self.rows["no_outcome"].to_numpy(dtype=bool)
        self.row_org_id = _objects(self.rows["organization_id"])
        self.row_outcome_id = _objects(self.rows["outcome_id"])
        self.row_key_code = self.rows["key_code"].to_numpy()
        self._masks: dict[tuple, np.ndarray] = {}
        self._row_counts: dict[tuple, dict] = {}
        self.org_id_index = pd.Index(self.organizations["organization_id"].to_numpy(dtype=object))

        user_ids = events["user_id"].astype(object)
        users = pd.DataFrame({"user_id": user_ids, "user_name": events["user_name"].astype(object)}).dropna(
            subset=["user_id"]).drop_duplicates("user_id")
        credits = credits if credits is not None else pd.DataFrame({"activity_id": [], "user_id": []})
        known = set(users["user_id"])
        listed = [u for u in pd.unique(credits["user_id"].to_numpy(dtype=object)) if u not in known]
        if listed:  # users named only in some activity's users list (never its owner): known by id
            users = pd.concat([users, pd.DataFrame({"user_id": list(dict.fromkeys(listed)), "user_name": None})],
                              ignore_index=True)
        users["label"] = user_labels(users, events, self.organizations) if len(users) else []
        users = users.iloc[sorted(range(len(users)), key=lambda i: natural_key(users["label"].iat[i]))]
        self.users = users.reset_index(drop=True)
        user_index = pd.Index(self.users["user_id"])
        self.user_code = user_index.get_indexer(user_ids).astype(np.int32)
        # Each activity's (row, user) pair as a dense code (-1: no user), and each pair's row: the distinct users
        # of a row among selected activities are the distinct pair codes selected (a bitmap over the pairs).
        known = self.user_code >= 0
        pairs = self.row_code.astype(np.int64) * (len(self.users) + 1) + self.user_code
        pair_values, dense = np.unique(pairs[known], return_inverse=True)
        self.pair_code = np.full(n, -1, dtype=np.int32)
        self.pair_code[known] = dense
        self.pair_row = (pair_values // (len(self.users) + 1)).astype(np.int64)
        # credit="all": (activity row, user) pairs for the users of an activity's users list other than its owner.
        self.credit_row, self.credit_user = credit_pairs(events["activity_id"], user_ids, credits, user_index)
        status = events["status"].astype(object) if "status" in events.columns else pd.Series(None, index=events.index)
        self.statuses = sorted(map(str, status.dropna().unique()))
        self.status_code = pd.Index(self.statuses).get_indexer(status).astype(np.int32)
        # Which users and statuses each organization has (organizations x values): what the pickers offer once
        # organizations are picked, without a pass over the activities.
        self.org_users = _presence(self.org_code, self.user_code, len(self.organizations), len(self.users))
        self.org_statuses = _presence(self.org_code, self.status_code, len(self.organizations), len(self.statuses))
        self._periods: dict[str, tuple[np.ndarray, pd.DatetimeIndex]] = {}
        # The outcomes of usage_table's rows (the one definition's lookup), coded for the pickers.
        self.lookup = outcome_lookup(outcomes)
        # The lookup as finish_usage reads it, converted once (usage_table slices it on every picker change).
        self.lookup_arrays = {column: _objects(self.lookup[column]) for column in _LOOKUP_TEXT}
        self.lookup_arrays["deleted_at"] = _micros(self.lookup["deleted_at"])
        self.lookup_org_code = org_index.get_indexer(self.lookup["organization_id"].astype(object)).astype(np.int32)
        self.lookup_key_code = key_index.get_indexer(
            self.lookup["outcome_name"].astype(object).map(normalize_outcome_name).fillna("\0")).astype(np.int32)
        self.catalogue_dates = "deleted_at" in outcomes.columns
        self.names = {str(i): str(n) for i, n in zip(self.organizations["organization_id"],
                                                     self.organizations["organization_name"]) if pd.notna(n)}

    def __repr__(self) -> str:
        return (f"<UsageData: {len(self.events):,} activities, {len(self.organizations)} organizations, "
                f"{len(self.outcome_keys)} outcome names>")

    def periods(self, freq: str) -> tuple[np.ndarray, pd.DatetimeIndex]:
        """(period code of each activity, -1 without a date; the periods' first instants), cached per ``freq``."""
        if freq not in self._periods:
            starts = period_start(self.events["date_created"], freq)
            index = pd.DatetimeIndex(starts.dropna().unique()).sort_values()
            codes = index.get_indexer(pd.DatetimeIndex(starts)).astype(np.int32)
            self._periods[freq] = (codes, index)
        return self._periods[freq]

    @cached_property
    def org_lookup(self) -> dict[str, list[int]]:
        return _lookup(self.organizations, ("organization_id", "organization_name", "label"))

    @cached_property
    def user_lookup(self) -> dict[str, list[int]]:
        return _lookup(self.users, ("user_id", "user_name", "label"))

    @cached_property
    def org_labels(self) -> np.ndarray:
        return self.organizations["label"].to_numpy(dtype=object)


def _presence(org_code: np.ndarray, code: np.ndarray, n_orgs: int, n_values: int) -> np.ndarray:
    """``(n_orgs, n_values)`` booleans: some activity of the organization has the value (code -1: none)."""
    known = code >= 0
    pairs = org_code[known].astype(np.int64) * n_values + code[known]
    return (np.bincount(pairs, minlength=n_orgs * n_values) > 0).reshape(n_orgs, n_values)


def _organization_name_map(*frames: pd.DataFrame) -> dict[str, str]:
    names: dict[str, str] = {}
    for frame in frames:
        if "organization_name" in frame.columns and len(frame):
            pairs = frame[["organization_id", "organization_name"]].astype(object).dropna().drop_duplicates()
            names.update(zip(pairs["organization_id"].map(str), pairs["organization_name"].map(str)))
    return names


def prepare(outcomes: pd.DataFrame, calls: pd.DataFrame | None = None, meetings: pd.DataFrame | None = None, *,
            events: pd.DataFrame | None = None) -> UsageData:
    """Prepare frames once for any number of selections.

    Parameters
    ----------
    outcomes : pandas.DataFrame
        From :func:`closeframe.load_outcomes`.
    calls, meetings : pandas.DataFrame, optional
        From :func:`closeframe.load_calls` / :func:`closeframe.load_meetings`.
    events : pandas.DataFrame, optional
        A :func:`closeframe.usage_events` frame instead of ``calls`` and ``meetings``.

    Returns
    -------
    UsageData
    """
    if events is None:
        events = usage_events(outcomes, calls, meetings)
    elif calls is not None or meetings is not None:
        raise ConfigurationError("Pass either calls/meetings or events=, not both.")
    # The users each activity's ``users`` list credits (credit="all"), besides its owner.
    credits = [activity_credits(frame) for frame in (calls, meetings)
               if frame is not None and "users" in frame.columns and len(frame)]
    return UsageData(outcomes, events, pd.concat(credits, ignore_index=True) if credits else None)


# ----------------------------------------------------------------------------------------------------------------
# Masks
# ----------------------------------------------------------------------------------------------------------------

def _allowed(size: int, codes: Iterable[int]) -> np.ndarray:
    table = np.zeros(size + 1, dtype=bool)  # the last slot stands for code -1 (unknown): never allowed
    table[[c for c in codes if c >= 0]] = True
    return table


def _lookup(labels: pd.DataFrame, columns: tuple[str, ...]) -> dict[str, list[int]]:
    """``{value: [row, ...]}`` for every value of ``columns`` (ids, names, labels)."""
    lookup: dict[str, list[int]] = {}
    for column in columns:
        for row, value in enumerate(labels[column].astype(object)):
            if value is not None and not (isinstance(value, float) and np.isnan(value)) and value is not pd.NA:
                rows = lookup.setdefault(str(value), [])
                if row not in rows:
                    rows.append(row)
    return lookup


def _codes(lookup: dict[str, list[int]], wanted: tuple, valid: Iterable[str], what: str, strict: bool) -> list[int]:
    found = []
    for value in wanted:
        hits = lookup.get(value, [])
        if not hits and strict:
            raise ConfigurationError(f"{what}={value!r} is not in the data; valid values are {list(valid)}.")
        found.extend(hits)
    return found


def _org_table(data: UsageData, selection: Selection, strict: bool = False) -> np.ndarray | None:
    if not selection.organizations:
        return None
    codes = _codes(data.org_lookup, selection.organizations, data.organizations["label"], "organizations", strict)
    return _allowed(len(data.organizations), codes)


def _key_table(data: UsageData, selection: Selection, strict: bool = False) -> np.ndarray | None:
    if not selection.outcomes:
        return None
    index = pd.Index(data.outcome_keys["key"])
    codes = list(index.get_indexer(list(selection.outcomes)))
    if strict and -1 in codes:
        unknown = [k for k, c in zip(selection.outcomes, codes) if c < 0]
        raise ConfigurationError(f"outcomes={unknown!r} match no outcome name; valid names are "
                                 f"{list(data.outcome_keys['label'])}.")
    return _allowed(len(index), codes)


#: Base masks a UsageData remembers (the last ones asked for): a redraw asks for the same one several times.
_MASKS_KEPT = 4


def _base_key(selection: Selection) -> tuple:
    """What the base mask depends on: every picker but the outcomes one."""
    return (selection.organizations, selection.kinds, selection.users, selection.statuses, selection.since,
            selection.until)


def _remember(store: dict, key: tuple, value: Any) -> Any:
    """Keep ``value`` under ``key`` in ``store``, forgetting the oldest beyond :data:`_MASKS_KEPT`."""
    if len(store) >= _MASKS_KEPT:
        store.pop(next(iter(store)))
    store[key] = value
    return value


def _base_mask(data: UsageData, selection: Selection, strict: bool = False) -> np.ndarray:
    """Every picker but the outcomes one (the denominator of ``share``); read-only, remembered per selection."""
    mask = data._masks.get(_base_key(selection))
    if mask is None:
        mask = _compute_base_mask(data, selection, strict)
        mask.flags.writeable = False  # shared by every caller of this selection
        _remember(data._masks, _base_key(selection), mask)
    elif strict:
        _compute_base_mask(data, selection, strict)  # names the first unknown value
    return mask


def _compute_base_mask(data: UsageData, selection: Selection, strict: bool) -> np.ndarray:
    n = len(data.events)
    if selection.empty_range:
        return np.zeros(n, dtype=bool)
    mask = np.ones(n, dtype=bool)
    table = _org_table(data, selection, strict)
    if table is not None:
        mask &= table[data.org_code]
    if selection.kinds and len(selection.kinds) < len(KINDS):
        mask &= data.is_meeting if selection.kinds == ("meetings",) else ~data.is_meeting
    if selection.users:
        codes = _codes(data.user_lookup, selection.users, data.users["label"], "users", strict)
        mask &= _allowed(len(data.users), codes)[data.user_code]
    if selection.statuses:
        index = pd.Index(data.statuses)
        codes = list(index.get_indexer(list(selection.statuses)))
        if strict and -1 in codes:
            raise ConfigurationError(f"statuses={list(selection.statuses)!r}: valid values are {data.statuses}.")
        mask &= _allowed(len(index), codes)[data.status_code]
    if selection.since is not None:
        mask &= data.time >= _stamp(selection.since)
    if selection.until is not None:
        mask &= (data.time < _stamp(selection.until)) & (data.time != _NAT)
    return mask


def _stamp(value: pd.Timestamp) -> int:
    return int(value.tz_convert("UTC").tz_localize(None).as_unit("us").asm8.view(np.int64))


def selection_mask(data: UsageData, selection: Selection = Selection(), *, strict: bool = False) -> np.ndarray:
    """True for the activities (rows of ``data.events``) the selection keeps.

    ``strict=True`` raises :class:`~closeframe.ConfigurationError` for a name the data does not have (listing the
    valid ones); by default an unknown name simply matches nothing.
    """
    mask = _base_mask(data, selection, strict)
    table = _key_table(data, selection, strict)
    return mask & table[data.key_code] if table is not None else mask.copy()


def selected_events(data: UsageData, selection: Selection = Selection()) -> pd.DataFrame:
    """The rows of :func:`closeframe.usage_events` the selection keeps (index reset)."""
    return data.events[selection_mask(data, selection)].reset_index(drop=True)


# ----------------------------------------------------------------------------------------------------------------
# Views
# ----------------------------------------------------------------------------------------------------------------

def _datetimes(values: np.ndarray) -> pd.Series:
    out = pd.Series(values.view("datetime64[us]")).dt.tz_localize("UTC")
    return out.astype(UTC_DATETIME_DTYPE)


def _row_counts(data: UsageData, selection: Selection) -> dict[str, Any]:
    """Per row of ``data.rows``, over the activities every picker but the outcome one keeps: ``total``, ``flags``
    (each of :data:`_FLAGS`), ``first`` and ``last`` use (int64 us; none: int64's max and min) and distinct
    ``users``. The one pass over the activities usage_table makes, remembered with the base mask: the outcome
    picker, the "Share of" menu and the view keep or drop whole rows of it."""
    found = data._row_counts.get(_base_key(selection))
    if found is not None:
        return found
    base = _base_mask(data, selection)
    size = len(data.rows)
    every = bool(base.all())  # nothing picked: no gathers (the arrays are read, never written)

    def picked(values: np.ndarray) -> np.ndarray:
        return values if every else values[base]

    patterns = np.bincount(picked(data.row_flags), minlength=size * _FLAG_SLOTS).reshape(size, _FLAG_SLOTS)
    first = np.full(size, _FAR, dtype=np.int64)
    last = np.full(size, _NAT, dtype=np.int64)
    chosen = np.arange(len(data._by_time)) if every else np.flatnonzero(base[data._by_time])
    begin, end = (np.searchsorted(chosen, bound) for bound in data._segments)
    dated = end > begin
    first[dated] = data._sorted_time[chosen[begin[dated]]]
    last[dated] = data._sorted_time[chosen[end[dated] - 1]]
    seen = np.zeros(len(data.pair_row) + 1, dtype=bool)  # the last slot takes the activities without a user
    seen[picked(data.pair_code)] = True
    counts = {"total": patterns.sum(axis=1), "flags": dict(zip(_FLAGS, (patterns @ _FLAG_MATRIX).T)),
              "first": first, "last": last, "users": np.bincount(data.pair_row[seen[:-1]], minlength=size)}
    for array in (counts["total"], first, last, counts["users"], *counts["flags"].values()):
        array.flags.writeable = False  # shared by every later call with this base selection
    return _remember(data._row_counts, _base_key(selection), counts)


def usage_table(data: UsageData, selection: Selection = Selection(), *, denominator: str = "all") -> pd.DataFrame:
    """:func:`closeframe.outcome_usage` of the selected activities: the same definition, columns, dtypes and order.

    Outcomes of the selected organizations (and names) that the selection never uses have zeros; deleted outcomes
    and the no-outcome row appear only where selected activities carry them. ``share`` and ``share_of_outcomes``
    divide by the organization's selected activities (of any outcome, and with one: the outcome picker does not
    shrink them, see the module's rules); ``denominator="connected"`` adds ``connected`` and
    ``share_of_connected``, as :func:`closeframe.outcome_usage` does. The table is made by
    :func:`closeframe.usage.definition.finish_usage` from counts of the selected activities.
    """
    check_denominator(denominator)
    keys = _key_table(data, selection)
    rows = _row_counts(data, selection)
    total, flags, first, last, users = rows["total"], rows["flags"], rows["first"], rows["last"], rows["users"]
    meetings = flags["is_meeting"]
    kept = total > 0 if keys is None else (total > 0) & keys[data.row_key_code]
    used = np.flatnonzero(kept)
    counts = {
        "organization_id": data.row_org_id[used], "outcome_id": data.row_outcome_id[used],
        "calls": (total - meetings)[used], "meetings": meetings[used],
        "first_us": np.where(first[used] == _FAR, _NAT, first[used]), "last_us": last[used],
        "users": users[used], "autofilled": flags["autofilled"][used],
        "voicemail_drops": flags["voicemail_drop"][used], "connected": flags["connected"][used],
        "autofill_known": flags["autofill_known"][used], "calls_known": flags["calls_known"][used]}
    in_scope = np.ones(len(data.lookup), dtype=bool)
    orgs = _org_table(data, selection)
    if orgs is not None:
        in_scope &= orgs[data.lookup_org_code]
    if keys is not None:
        in_scope &= keys[data.lookup_key_code]
    # The denominators count every selected activity, whatever the outcome picker keeps: sums of the rows.
    n_orgs = len(data.organizations)
    denominators = pd.DataFrame(np.column_stack([  # one float block: finish_usage reads it without a copy
        np.bincount(data.row_org, weights=total, minlength=n_orgs),
        np.bincount(data.row_org, weights=np.where(data.row_no_outcome, 0, total), minlength=n_orgs),
        np.bincount(data.row_org, weights=flags["connected"], minlength=n_orgs)]),
        columns=["all", "with_outcome", "connected"], index=data.org_id_index)
    lookup = {column: values[in_scope] for column, values in data.lookup_arrays.items()}
    return finish_usage(lookup, counts, names=data.names,
                        denominator=denominator, catalogue_dates=data.catalogue_dates, denominators=denominators,
                        autofill=bool(flags["autofill_known"].any()))


def _label_column(frame: pd.DataFrame) -> pd.Series:
    ids = frame["organization_id"].astype(object).map(str)
    if "organization_name" not in frame.columns:
        return ids
    return frame["organization_name"].astype(object).where(frame["organization_name"].notna(), ids).map(str)


def _label_array(frame: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
    """:func:`_label_column` of ``frame``'s ``rows`` (positions), as an object array, without a frame per call."""
    ids = np.array([str(x) for x in frame["organization_id"].to_numpy(dtype=object)[rows]], dtype=object)
    if "organization_name" not in frame.columns:
        return ids
    names = frame["organization_name"].to_numpy(dtype=object)[rows]
    return np.where(pd.isna(names), ids, np.array([str(x) for x in names], dtype=object))


def headline_table(data: UsageData, selection: Selection = Selection()) -> pd.DataFrame:
    """Headline figures per selected organization.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``organization`` (name, else id; natural order): ``activities``, ``calls``, ``meetings``,
        ``with_outcome`` and ``share_with_outcome`` (activities that carry an outcome), ``outcomes`` (in the
        catalogue), ``outcomes_used``, ``outcomes_unused``, ``deleted_in_use`` (deleted outcomes still on selected
        activities), ``first_activity``, ``last_activity``. The outcome picker narrows the outcomes counted, not
        the activities.
    """
    base = _base_mask(data, selection)
    n_orgs = len(data.organizations)
    org = data.org_code[base]
    activities = np.bincount(org, minlength=n_orgs)
    meetings = np.bincount(org[data.is_meeting[base]], minlength=n_orgs)
    with_outcome = np.bincount(org[data.has_outcome[base]], minlength=n_orgs)
    first = np.full(n_orgs, _FAR, dtype=np.int64)
    last = np.full(n_orgs, _NAT, dtype=np.int64)
    np.minimum.at(first, org, data._time_first[base])
    np.maximum.at(last, org, data.time[base])
    first[first == _FAR] = _NAT
    usage = usage_table(data, selection)
    named = usage[usage["outcome_id"].notna()]
    code = pd.Index(data.organizations["organization_id"]).get_indexer(named["organization_id"].astype(object))
    in_catalogue = ~named["deleted"].to_numpy()
    outcomes = np.bincount(code[in_catalogue], minlength=n_orgs)
    used = np.bincount(code[in_catalogue & (named["total"].to_numpy() > 0)], minlength=n_orgs)
    deleted = np.bincount(code[~in_catalogue], minlength=n_orgs)
    table = pd.DataFrame({
        "activities": activities, "calls": activities - meetings, "meetings": meetings,
        "with_outcome": with_outcome,
        "share_with_outcome": np.divide(with_outcome, activities, out=np.full(n_orgs, np.nan),
                                        where=activities > 0),
        "outcomes": outcomes, "outcomes_used": used, "outcomes_unused": outcomes - used,
        "deleted_in_use": deleted,
    }, index=pd.Index(data.org_labels, name="organization"))
    table["first_activity"] = _datetimes(first).set_axis(table.index)
    table["last_activity"] = _datetimes(last).set_axis(table.index)
    orgs = _org_table(data, selection)
    return table[orgs[:-1]] if orgs is not None else table


def top_outcomes(data: UsageData, selection: Selection = Selection(), *, n: int = 10,
                 denominator: str = "all") -> pd.DataFrame:
    """The ``n`` most used outcomes of each selected organization (ties by name; unused and no-outcome rows out).

    Returns
    -------
    pandas.DataFrame
        The :func:`usage_table` columns plus ``organization`` (label) and ``rank`` (1 = most used), organizations
        in natural order.
    """
    n = _check_count(n)
    usage = usage_table(data, selection, denominator=denominator)
    # Arrays, then one take of the rows: the explorer asks this on every picker change.
    total = usage["total"].to_numpy()
    used = np.flatnonzero(usage["outcome_id"].notna().to_numpy() & (total > 0))
    labels = _label_array(usage, used)
    # Most used first, ties by name (missing names last), stable: as sort_values(["total", "outcome_name"]).
    name_code, names = pd.factorize(usage["outcome_name"].to_numpy(dtype=object)[used], sort=True)
    by_use = np.lexsort((np.where(name_code < 0, len(names), name_code), -total[used]))
    org_code = pd.factorize(labels[by_use])[0]
    rank = np.empty(len(by_use), dtype=np.int64)  # 1, 2, ... within each organization, in that order
    grouped = np.argsort(org_code, kind="stable")
    starts = np.flatnonzero(np.r_[True, org_code[grouped][1:] != org_code[grouped][:-1]])
    rank[grouped] = np.arange(len(grouped)) - np.repeat(starts, np.diff(np.r_[starts, len(grouped)])) + 1
    kept = rank <= n
    order = {label: i for i, label in enumerate(data.org_labels)}
    position = np.array([order.get(label, np.nan) for label in labels[by_use][kept]], dtype=float)
    final = np.lexsort((rank[kept], position))  # organizations in natural order, then by rank
    out = usage.iloc[used[by_use][kept][final]].reset_index(drop=True)
    out.insert(0, "organization", labels[by_use][kept][final])
    out["rank"] = rank[kept][final]
    return out


def compare_table(data: UsageData, selection: Selection = Selection(), *, value: str = "total",
                  min_organizations: int = 1, denominator: str = "all") -> pd.DataFrame:
    """:func:`closeframe.compare_outcomes` of :func:`usage_table`: each outcome name across the organizations
    (``denominator`` as for :func:`usage_table`, for ``value="share"``)."""
    return compare_table_grid(data, selection, value=value, min_organizations=min_organizations,
                              denominator=denominator).frame()


def compare_table_grid(data: UsageData, selection: Selection = Selection(), *, value: str = "total",
                       min_organizations: int = 1, denominator: str = "all") -> CompareGrid:
    """:func:`compare_table` as arrays (:func:`closeframe.usage.tables.compare_grid`), for a view that shows it
    without building the frame."""
    usage = usage_table(data, selection, denominator=denominator)
    return compare_grid(usage, value=value, min_organizations=min_organizations)


def _check_count(n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ConfigurationError(f"n={n!r} must be a positive whole number.")
    return int(n)


#: Words for the period aliases, for titles ("per week").
PERIOD_WORDS = {"D": "day", "W": "week", "M": "month", "MS": "month", "ME": "month", "Q": "quarter",
                "QS": "quarter", "QE": "quarter", "Y": "year", "YS": "year", "YE": "year"}


def trend_table(data: UsageData, selection: Selection = Selection(), *, freq: str = "W", n: int = 5,
                now: Any = None, include_partial: bool = True) -> pd.DataFrame:
    """Activities per organization, period and outcome (the ``n`` most used names, then the rest), zero-filled.

    Parameters
    ----------
    freq : str, default "W"
        A pandas period alias (``"D"``, ``"W"`` weeks from Monday, ``"M"``, ``"Q"``, ``"Y"``).
    n : int, default 5
        Outcome names drawn by name (most used in the selection); the rest are ``(other outcomes)``, deleted ones
        included; activities without an outcome are ``(no outcome)``.
    now : date-like, optional
        "Today" (default: the current time). Periods starting after it (upcoming meetings) are left out.
    include_partial : bool, default True
        Keep periods only partly covered (the one holding ``now``, or cut by ``since``/``until``), marked
        ``partial=True``; False leaves them out.

    Returns
    -------
    pandas.DataFrame
        ``organization`` (label), ``period`` (first instant, UTC), ``outcome`` (label), ``calls``, ``meetings``,
        ``total``, ``partial``; every (organization with activity, period in its span, outcome label) present.
        ``attrs["freq_word"]`` is the period in words ("week").
    """
    n = _check_count(n)
    now_stamp = _bound(now, "now") if now is not None else pd.Timestamp.now(tz="UTC")
    mask = selection_mask(data, selection)
    period_code, starts = data.periods(freq)
    mask &= period_code >= 0
    key = data.key_code[mask]
    ranked = pd.Series(np.bincount(key[key >= 0], minlength=len(data.outcome_keys)))
    ranked = ranked[ranked > 0].sort_values(ascending=False, kind="stable").index[:n]
    labels = list(data.outcome_keys["label"].to_numpy()[ranked])
    label_of_key = np.full(len(data.outcome_keys) + 1, len(labels), dtype=np.int64)  # others
    label_of_key[np.asarray(ranked, dtype=np.int64)] = np.arange(len(ranked))
    label = label_of_key[key]
    label[~data.has_outcome[mask]] = len(labels) + 1
    all_labels = labels + [OTHER_OUTCOMES, NO_OUTCOME]
    n_labels, n_periods = len(all_labels), len(starts)
    org = data.org_code[mask].astype(np.int64)
    period = period_code[mask].astype(np.int64)
    combined = (org * n_periods + period) * n_labels + label
    size = len(data.organizations) * n_periods * n_labels
    total = np.bincount(combined, minlength=size).reshape(len(data.organizations), n_periods, n_labels)
    meetings = np.bincount(combined[data.is_meeting[mask]], minlength=size).reshape(total.shape)
    columns = ["organization", "period", "outcome", "calls", "meetings", "total", "partial"]
    frames = []
    present_labels = [i for i in range(n_labels) if total[:, :, i].sum() > 0]
    for o in np.flatnonzero(total.sum(axis=(1, 2)) > 0):
        span = np.flatnonzero(total[o].sum(axis=1) > 0)
        periods = np.arange(span.min(), span.max() + 1)
        grid_p, grid_l = np.meshgrid(periods, present_labels, indexing="ij")
        frames.append(pd.DataFrame({
            "organization": data.org_labels[o], "period": starts[grid_p.ravel()],
            "outcome": np.asarray(all_labels, dtype=object)[grid_l.ravel()],
            "calls": (total[o] - meetings[o])[grid_p, grid_l].ravel(), "meetings": meetings[o][grid_p, grid_l].ravel(),
            "total": total[o][grid_p, grid_l].ravel()}))
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        {"organization": pd.Series(dtype=object), "period": pd.Series(dtype=UTC_DATETIME_DTYPE),
         "outcome": pd.Series(dtype=object), "calls": pd.Series(dtype=np.int64),
         "meetings": pd.Series(dtype=np.int64), "total": pd.Series(dtype=np.int64)})
    out["period"] = out["period"].astype(UTC_DATETIME_DTYPE)
    ends = _period_ends(out["period"], freq)
    partial = (out["period"] <= now_stamp) & (ends > now_stamp)
    if selection.since is not None:
        partial |= out["period"] < selection.since
    if selection.until is not None:
        partial |= ends > selection.until
    out["partial"] = partial.to_numpy(dtype=bool)
    out = out[(out["period"] <= now_stamp).to_numpy()]
    if not include_partial:
        out = out[~out["partial"]]
    out = out[columns].reset_index(drop=True)
    out.attrs["freq_word"] = PERIOD_WORDS.get(freq.upper().lstrip("0123456789"), freq)
    out.attrs["outcomes"] = [label for label in all_labels if label in set(out["outcome"])]
    return out


def _period_ends(starts: pd.Series, freq: str) -> pd.Series:
    """The first instant after each period (its start plus one period)."""
    if starts.empty:
        return starts
    naive = starts.dt.tz_localize(None)
    ends = (naive.dt.to_period(freq) + 1).dt.start_time
    return ends.dt.tz_localize("UTC").astype(UTC_DATETIME_DTYPE)


def by_user_table(data: UsageData, selection: Selection = Selection(), *, n: int = 10,
                  credit: str = "owner") -> pd.DataFrame:
    """Each selected organization's ``n`` most active users and one ``(others)`` row for the rest.

    ``credit="all"`` also counts an activity for every other user of its Close ``users`` list (a meeting with
    colleagues), as :func:`closeframe.usage_by_user` does; the users' totals then add up to more than the
    activities. The ``users`` picker still selects by owner.

    Returns
    -------
    pandas.DataFrame
        ``organization`` (label), ``user`` (name, else id; ``(no user)`` for activities without one, such as
        inbound voicemail), ``user_id``, ``calls``, ``meetings``, ``total``, ``with_outcome``,
        ``share_with_outcome``, ``top_outcome`` (the user's most used outcome name); most active first, the
        ``(others)`` row last.
    """
    n = _check_count(n)
    if credit not in ("owner", "all"):
        raise ConfigurationError(f"credit={credit!r} is not one of 'owner', 'all'.")
    mask = selection_mask(data, selection)
    n_users = len(data.users) + 1  # the last code: no user
    rows = np.flatnonzero(mask)
    user = np.where(data.user_code[rows] >= 0, data.user_code[rows], n_users - 1).astype(np.int64)
    if credit == "all" and len(data.credit_row):
        extra = mask[data.credit_row]
        rows = np.concatenate([rows, data.credit_row[extra]])
        user = np.concatenate([user, data.credit_user[extra].astype(np.int64)])
    org = data.org_code[rows].astype(np.int64)
    combined = org * n_users + user
    size = len(data.organizations) * n_users
    total = np.bincount(combined, minlength=size)
    meetings = np.bincount(combined[data.is_meeting[rows]], minlength=size)
    with_outcome = np.bincount(combined[data.has_outcome[rows]], minlength=size)
    present = np.flatnonzero(total)
    # The most used outcome name of each (organization, user).
    key = data.key_code[rows]
    named = key >= 0
    top_name: dict[int, str] = {}
    if named.any():
        pairs = pd.DataFrame({"c": combined[named], "k": key[named]}).value_counts().reset_index()
        pairs = pairs.sort_values(["c", "count", "k"], ascending=[True, False, True]).drop_duplicates("c")
        top_name = dict(zip(pairs["c"], data.outcome_keys["label"].to_numpy()[pairs["k"].to_numpy()]))
    user_labels = np.append(data.users["label"].to_numpy(dtype=object), NO_USER)
    user_ids = np.append(data.users["user_id"].to_numpy(dtype=object), None)
    table = pd.DataFrame({
        "_org": present // n_users, "organization": data.org_labels[present // n_users],
        "user": user_labels[present % n_users], "user_id": user_ids[present % n_users],
        "calls": (total - meetings)[present], "meetings": meetings[present], "total": total[present],
        "with_outcome": with_outcome[present], "top_outcome": [top_name.get(int(c)) for c in present]})
    table = table.sort_values(["_org", "total", "user"], ascending=[True, False, True], kind="stable")
    table["_rank"] = table.groupby("_org").cumcount()
    top = table[table["_rank"] < n]
    rest = table[table["_rank"] >= n]
    if len(rest):
        others = rest.groupby(["_org", "organization"], as_index=False)[
            ["calls", "meetings", "total", "with_outcome"]].sum()
        others["user"], others["user_id"], others["top_outcome"], others["_rank"] = OTHER_USERS, None, None, n
        top = pd.concat([top, others], ignore_index=True).sort_values(["_org", "_rank"], kind="stable")
    top = top.assign(share_with_outcome=top["with_outcome"] / top["total"].where(top["total"] > 0))
    columns = ["organization", "user", "user_id", "calls", "meetings", "total", "with_outcome",
               "share_with_outcome", "top_outcome"]
    out = top[columns].reset_index(drop=True)
    for column in ("calls", "meetings", "total", "with_outcome"):
        out[column] = out[column].astype(np.int64)
    return out


def unused_and_deleted(data: UsageData, selection: Selection = Selection()) -> pd.DataFrame:
    """Outcomes of the selected organizations unused by the selected activities, and deleted outcomes still on them.

    Returns
    -------
    pandas.DataFrame
        ``organization`` (label), ``state`` (``"unused"``/``"deleted"``), ``outcome_id``, ``outcome_name``,
        ``outcome_type``, ``total`` (activities still carrying a deleted outcome), ``last_used``; deleted first,
        then unused by name.
    """
    usage = usage_table(data, selection)
    named = usage[usage["outcome_id"].notna()]
    picked = named[named["deleted"] | (named["total"] == 0)].copy()
    picked.insert(0, "organization", _label_column(picked))
    picked.insert(1, "state", np.where(picked["deleted"], "deleted", "unused"))
    picked = picked.sort_values(["state", "organization", "total", "outcome_name"],
                                ascending=[True, True, False, True], kind="stable")
    return picked[["organization", "state", "outcome_id", "outcome_name", "outcome_type", "total",
                   "last_used"]].reset_index(drop=True)


def catalogue_table(data: UsageData, selection: Selection = Selection()) -> pd.DataFrame:
    """The rows of the outcomes frame of the selected organizations and outcome names (only those pickers apply)."""
    outcomes = data.outcomes
    keep = np.ones(len(outcomes), dtype=bool)
    orgs = _org_table(data, selection)
    if orgs is not None:
        code = pd.Index(data.organizations["organization_id"]).get_indexer(
            outcomes["organization_id"].astype(object).map(str, na_action="ignore"))
        keep &= orgs[code]
    if selection.outcomes:
        # Normalized once per distinct name (the same names repeat in every organization).
        keep &= pd.Series(_per_distinct(outcomes["name"].to_numpy(dtype=object), normalize_outcome_name)).isin(
            selection.outcomes).to_numpy()
    return outcomes[keep]


@dataclass(frozen=True)
class Options:
    """What each picker can offer: ``(label, value)`` pairs in display order, and the date span."""

    organizations: tuple = ()
    outcomes: tuple = ()
    kinds: tuple = ()
    users: tuple = ()
    statuses: tuple = ()
    first: dt.date | None = None
    last: dt.date | None = None


def options(data: UsageData) -> Options:
    """The choices of every picker: organizations (natural order), outcome names (most used first, the value is
    the normalized name), kinds present, users, statuses, and the first and last activity day."""
    kinds = tuple(k for k, present in (("calls", (~data.is_meeting).any()), ("meetings", data.is_meeting.any()))
                  if present)
    times = data.time[data.time != _NAT]
    first = last = None
    if len(times):
        first = pd.Timestamp(int(times.min()), unit="us").date()
        last = pd.Timestamp(int(times.max()), unit="us").date()
    return Options(
        organizations=tuple(zip(data.organizations["label"], data.organizations["label"])),
        outcomes=tuple(zip(data.outcome_keys["label"].map(str), data.outcome_keys["key"])),
        kinds=tuple((k, k) for k in kinds),
        users=tuple(zip(data.users["label"], data.users["label"])),
        statuses=tuple((s, s) for s in data.statuses), first=first, last=last)


def describe(selection: Selection, data: UsageData | None = None) -> str:
    """The selection in words, e.g. ``"calls; organizations: Acme, Beta; from 2025-01-01 before 2025-04-01"``.

    With ``data``, outcomes are named as the catalogue spells them ("Qualified"), not by their normalized key.
    """
    if selection.empty_range:
        return (f"nothing: the range starts ({selection.since:%Y-%m-%d}) on or after its end "
                f"({selection.until:%Y-%m-%d})")
    parts = [" and ".join(selection.kinds) if selection.kinds else "all activities"]
    for name in ("organizations", "outcomes", "users", "statuses"):
        values = getattr(selection, name)
        if name == "outcomes" and data is not None:
            label_of = dict(zip(data.outcome_keys["key"], data.outcome_keys["label"].map(str)))
            values = tuple(label_of.get(value, value) for value in values)
        if values:
            shown = ", ".join(values[:5]) + (f" and {len(values) - 5} more" if len(values) > 5 else "")
            parts.append(f"{name.rstrip('s') if len(values) == 1 else name}: {shown}")
    if selection.since is not None or selection.until is not None:
        span = []
        if selection.since is not None:
            span.append(f"from {selection.since:%Y-%m-%d}")
        if selection.until is not None:
            span.append(f"before {selection.until:%Y-%m-%d}")
        parts.append(" ".join(span))
    return "; ".join(parts)
