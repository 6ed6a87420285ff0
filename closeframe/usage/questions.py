"""The questions a sales-ops manager asks first, as pure functions of prepared usage data and a selection.

Every face (the explorer, the dashboard, the report) answers these questions with these functions, so a number
shown in two places is one number::

    data = prepare(outcomes, calls, meetings)                  # closeframe.usage.selection
    organization_trends(data, picks, freq="M")   # each organization's OWN top outcomes per month, shares too
    compare_periods(data, picks)                  # this period against the one before: counts, shares, change
    users_by_outcome(data, picks)                 # user x outcome per organization: counts and shares
    activities_behind(data, picks, organization="Acme", outcome="Demo booked")  # the rows, with lead links
    picker_options(data, picks)                   # pickers that narrow each other
    as_of(data)                                   # "now": from the data, never after the machine's clock

Rules every function here follows (and every face states on screen):

- **One top N** (:data:`DEFAULT_TOP_N`): an organization's own ``n`` most used outcomes in the selection are
  named; its other outcomes are :data:`OTHER_OUTCOMES`, activities without one :data:`NO_OUTCOME`, outcome ids
  no outcome resolves (and no history names) :data:`DELETED_OUTCOME_LABEL`.
- **One date rule** (:data:`DATE_RULE`): UTC; a range ``[since, until)`` includes its first instant and excludes
  its end, as the loaders' ``since``/``until`` and :class:`~closeframe.usage.selection.Selection` do. A month is
  ``2026-10-01`` until ``2026-11-01``.
- **"Now" comes from the data** (:func:`as_of`): the day after the last activity that has happened (calls, and
  meetings whose status says they took place or were called off), never after the machine's clock. A machine
  whose clock runs past the data (the sandbox stops at 2026-11-01) so never shows the months after the data's
  last day as a collapse. Periods starting at or after "now" are left out; the period under way is ``partial``.
- **Shares** use the column names every face uses: ``share`` = fraction of ALL the organization's selected
  activities (the outcome picker does not shrink it), ``share_of_outcomes`` = of those that HAVE an outcome,
  ``share_of_connected`` = of connected calls and held meetings (numerator restricted too). An empty
  denominator gives a missing share, shown as :data:`EMPTY` ("–"), never "0.0 %".
- **Natural organization order** everywhere (:func:`closeframe.usage.ordering.natural_key`: "Org 7" before
  "Org 10"), the order of ``data.organizations``.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np
import pandas as pd

from closeframe.errors import ConfigurationError
from closeframe.shape.frames import UTC_DATETIME_DTYPE
from closeframe.usage.definition import DELETED_OUTCOME_LABEL, SHARE_COLUMNS, check_denominator
from closeframe.usage.ordering import natural_key
from closeframe.usage.selection import (
    NO_OUTCOME,
    OTHER_OUTCOMES,
    PERIOD_WORDS,
    Options,
    Selection,
    UsageData,
    _base_mask,
    _bound,
    _check_count,
    _key_table,
    _NAT,
    _org_table,
    _stamp,
    options,
    selection_mask,
)

__all__ = [
    "CLOSE_LEAD_URL",
    "DATE_RULE",
    "DEFAULT_TOP_N",
    "DELETED_OUTCOME_LABEL",
    "EMPTY",
    "NO_USER",
    "activities_behind",
    "as_of",
    "as_of_note",
    "compare_periods",
    "default_periods",
    "format_change",
    "format_count",
    "format_points",
    "format_share",
    "lead_url",
    "organization_trends",
    "period_label",
    "picker_options",
    "share_column",
    "users_by_outcome",
    "users_grid",
    "users_matrix",
]

#: How many of each organization's own outcomes every view names (the rest: "(other outcomes)").
DEFAULT_TOP_N = 5
#: The one date rule of the report and the dashboard, in words, to be shown next to any date picker or range.
DATE_RULE = ("Dates are UTC. A range includes its first day and excludes its end day ('until'): "
             "October 2026 is 2026-10-01 until 2026-11-01.")
#: What an empty value (a share of nothing, a change from nothing) is shown as.
EMPTY = "–"
#: The user of activities without one (inbound voicemail).
NO_USER = "(no user)"
#: A lead's page in Close. Close's API documents it as the lead's ``html_url``: its example lead answers
#: ``"html_url": "https://app.close.com/lead/lead_70jZ5hiVt5X31MZ3vJ0R0GJMqJEihkoF7TtSVFbN2ty/"`` for
#: ``"id": "lead_70jZ5hiVt5X31MZ3vJ0R0GJMqJEihkoF7TtSVFbN2ty"`` (developer.close.com, Leads; the same pattern in
#: recorded lead answers of third-party integrations).
CLOSE_LEAD_URL = "https://app.close.com/lead/{lead_id}/"

#: Meeting statuses that say a meeting happened or was called off: they date "now" (an upcoming meeting does not).
_DECIDED_MEETING = ("completed", "in-progress", "canceled", "declined-by-lead", "declined-by-org")
_DAY_US = 86_400_000_000


# ----------------------------------------------------------------------------------------------------------------
# Small shared rules: share names, formats, links, "now"
# ----------------------------------------------------------------------------------------------------------------

def share_column(denominator: str = "all") -> str:
    """The share column's name for ``denominator`` (``"all"``, ``"with_outcome"``, ``"connected"``)."""
    check_denominator(denominator)
    return SHARE_COLUMNS[denominator]


def _missing(value: Any) -> bool:
    """``value is None or pd.isna(value)``, answered without pandas for the plain floats, ints and strings that
    fill a table (every cell of every table is formatted on every redraw)."""
    kind = type(value)
    if kind is float:
        return value != value  # NaN
    if kind is int or kind is str:
        return False
    return value is None or bool(pd.isna(value))


def format_share(value: Any) -> str:
    """``0.123`` as ``"12.3 %"``; a missing share (an empty period) as :data:`EMPTY`."""
    return EMPTY if _missing(value) else f"{value:.1%}".replace("%", " %")


def format_points(value: Any) -> str:
    """A change of share, ``0.021`` as ``"+2.1 pp"`` (percentage points); missing as :data:`EMPTY`."""
    return EMPTY if _missing(value) else f"{value * 100:+.1f} pp"


def format_count(value: Any) -> str:
    """A count with thousands separators; missing as :data:`EMPTY`."""
    return EMPTY if _missing(value) else f"{int(value):,}"


def format_change(value: Any) -> str:
    """A change of count with its sign (``"+12"``, ``"-3"``, ``"0"``); missing as :data:`EMPTY`."""
    return EMPTY if _missing(value) else f"{int(value):+,}".replace("+0", "0")


def lead_url(lead_id: Any) -> str | None:
    """The lead's page in Close (:data:`CLOSE_LEAD_URL`), or None without a lead id."""
    if lead_id is None or (not isinstance(lead_id, str) and pd.isna(lead_id)) or not str(lead_id):
        return None
    return CLOSE_LEAD_URL.format(lead_id=str(lead_id))


_CACHE: "weakref.WeakKeyDictionary[UsageData, dict]" = weakref.WeakKeyDictionary()


def _cached(data: UsageData) -> dict:
    """Per-data arrays this module derives once (the data is read-only)."""
    return _CACHE.setdefault(data, {})


def as_of(data: UsageData, now: Any = None) -> pd.Timestamp:
    """"Now" for every view: ``now`` when given (e.g. the Close server's clock), else from the data.

    From the data: the UTC midnight after the last activity that has happened (a call, or a meeting whose status
    says it took place or was called off; without any, the last activity), but never after the machine's clock.
    A machine clock that runs past the data (a sandbox, an export looked at later) then never makes the periods
    after the data's last day look empty, and upcoming meetings do not move "now" into the future.
    """
    if now is not None:
        return _bound(now, "now")
    cache = _cached(data)
    if "last_happened" not in cache:
        decided = np.asarray([s in _DECIDED_MEETING for s in data.statuses] + [False], dtype=bool)
        happened = ~data.is_meeting | decided[data.status_code]
        times = data.time[happened & (data.time != _NAT)]
        if not len(times):
            times = data.time[data.time != _NAT]
        cache["last_happened"] = int(times.max()) if len(times) else None
    machine = pd.Timestamp.now(tz="UTC")
    last = cache["last_happened"]
    if last is None:
        return machine
    midnight = pd.Timestamp((last // _DAY_US + 1) * _DAY_US, unit="us", tz="UTC")
    return min(midnight, machine)


def as_of_note(data: UsageData, now: Any = None) -> str:
    """The sentence a view shows under its dates: until when the data counts, and the date rule."""
    stamp = as_of(data, now)
    last = (stamp - pd.Timedelta(microseconds=1)).date()
    return (f"Counted until {stamp:%Y-%m-%d %H:%M} UTC (data through {last}); the period under way is marked "
            f"partial, later ones are not shown. {DATE_RULE}")


def _freq_word(freq: str) -> str:
    return PERIOD_WORDS.get(freq.upper().lstrip("0123456789"), freq)


def period_label(start: Any, freq: str) -> str:
    """A period's name for people: ``"Oct 2026"``, ``"Q4 2026"``, ``"2026"``, ``"week of 2026-10-05"``."""
    stamp = pd.Timestamp(start)
    word = _freq_word(freq)
    if word == "month":
        return f"{stamp:%b %Y}"
    if word == "quarter":
        return f"Q{stamp.quarter} {stamp.year}"
    if word == "year":
        return f"{stamp.year}"
    if word == "week":
        return f"week of {stamp:%Y-%m-%d}"
    return f"{stamp:%Y-%m-%d}"


def _period_start(stamp: pd.Timestamp, freq: str) -> pd.Timestamp:
    naive = stamp.tz_convert("UTC").tz_localize(None)
    return naive.to_period(freq).start_time.tz_localize("UTC")


def _shift(stamp: pd.Timestamp, freq: str, periods: int) -> pd.Timestamp:
    naive = stamp.tz_convert("UTC").tz_localize(None)
    return (naive.to_period(freq) + periods).start_time.tz_localize("UTC")


# ----------------------------------------------------------------------------------------------------------------
# Each organization's own outcomes, ranked
# ----------------------------------------------------------------------------------------------------------------

def _extended_keys(data: UsageData) -> np.ndarray:
    """Per activity: its outcome name's code, ``K`` for an unnamed (deleted) outcome, ``K + 1`` for none."""
    cache = _cached(data)
    if "ekey" not in cache:
        n_keys = len(data.outcome_keys)
        ekey = data.key_code.astype(np.int64)
        ekey = np.where(ekey >= 0, ekey, n_keys)
        ekey[~data.has_outcome] = n_keys + 1
        cache["ekey"] = ekey
    return cache["ekey"]


def _ranks(sort_keys: list) -> np.ndarray:
    """Each position's place when ``sort_keys`` are sorted (a stable sort: equal keys keep their order)."""
    order = sorted(range(len(sort_keys)), key=sort_keys.__getitem__)
    rank = np.empty(len(sort_keys), dtype=np.int64)
    rank[order] = np.arange(len(sort_keys))
    return rank


def _name_rank(data: UsageData) -> np.ndarray:
    """Per extended key: its place in the case-folded alphabetical order of labels (for ties)."""
    cache = _cached(data)
    if "name_rank" not in cache:
        cache["name_rank"] = _ranks([str(label).casefold() for label in _key_labels(data)])
    return cache["name_rank"]


def _user_rank(data: UsageData) -> np.ndarray:
    """Per user code (the last: no user): its place in the natural order of user labels."""
    cache = _cached(data)
    if "user_rank" not in cache:
        labels = list(data.users["label"].map(str)) + [NO_USER]
        cache["user_rank"] = _ranks([natural_key(label) for label in labels])
    return cache["user_rank"]


def _org_keys(data: UsageData) -> np.ndarray:
    """Per activity: ``org_code * (K + 2) + extended key``, the flat (organization, outcome) cell it counts in."""
    cache = _cached(data)
    if "org_key" not in cache:
        cache["org_key"] = data.org_code.astype(np.int64) * (len(data.outcome_keys) + 2) + _extended_keys(data)
    return cache["org_key"]


#: The largest (organization x period x outcome name) count cube :func:`_period_counts` builds (int64 cells).
_CUBE_CELLS = 4_000_000


def _period_counts(data: UsageData, counted: np.ndarray, freq: str,
                   n: int) -> tuple[np.ndarray, np.ndarray, "_Ranking"]:
    """(total, meetings) per (organization, period, slot) of the ``counted`` activities, and the ranking."""
    codes, starts = data.periods(freq)
    return _grouped_counts(data, counted & (codes >= 0), codes, len(starts), ("period", freq), n)


def _grouped_counts(data: UsageData, counted: np.ndarray, group: np.ndarray, n_groups: int, name: Any,
                    n: int) -> tuple[np.ndarray, np.ndarray, "_Ranking"]:
    """(total, meetings) per (organization, group, slot) of the ``counted`` activities, and their ranking.

    ``group`` is each activity's group code (a period, a user), ``0 <= group < n_groups`` where counted. Two
    passes over the activities (all, then meetings) count (organization, group, outcome name) cells; the ranking
    and the slots are then sums over that small cube. A cube past :data:`_CUBE_CELLS` (many names and groups) is
    not built: the ranking is counted first and each activity's slot looked up instead.
    """
    n_orgs, n_keys = len(data.organizations), len(data.outcome_keys) + 2
    meetings = counted & data.is_meeting
    if n_orgs * n_groups * n_keys <= _CUBE_CELLS:
        cache = _cached(data)
        if ("cell", name) not in cache:  # the cell of every activity, once per grouping
            cache[("cell", name)] = (data.org_code.astype(np.int64) * n_groups + group) * n_keys + \
                _extended_keys(data)
        cell = cache[("cell", name)]
        shape = (n_orgs, n_groups, n_keys)
        cube = np.bincount(cell[counted], minlength=_cube_size(shape)).reshape(shape)
        ranking = _Ranking(data, n, counts=cube.sum(axis=1))
        onehot = ranking.onehot()
        meeting_cube = np.bincount(cell[meetings], minlength=_cube_size(shape)).reshape(shape)
        return (np.einsum("ogk,oks->ogs", cube, onehot), np.einsum("ogk,oks->ogs", meeting_cube, onehot), ranking)
    ranking = _Ranking(data, n, mask=counted)
    shape = (n_orgs, n_groups, n + 2)
    slot = (data.org_code.astype(np.int64) * n_groups + group) * (n + 2) + ranking.of(data, slice(None))
    return (np.bincount(slot[counted], minlength=_cube_size(shape)).reshape(shape),
            np.bincount(slot[meetings], minlength=_cube_size(shape)).reshape(shape), ranking)


def _cube_size(shape: tuple[int, ...]) -> int:
    """Cells of an array of ``shape``."""
    return int(np.prod(shape))


def _key_labels(data: UsageData) -> np.ndarray:
    return np.append(data.outcome_keys["label"].map(str).to_numpy(dtype=object), [DELETED_OUTCOME_LABEL, NO_OUTCOME])


class _Ranking:
    """Each organization's own top ``n`` outcome names, from ``counts[org, ekey]`` (or the activities of ``mask``).

    ``slot[org, ekey]``: ``0..n-1`` the rank, ``n`` other outcomes, ``n + 1`` no outcome; ``label[org, slot]``
    the label of each slot (None: the organization used fewer than ``n`` names).
    """

    def __init__(self, data: UsageData, n: int, *, mask: np.ndarray | None = None,
                 counts: np.ndarray | None = None) -> None:
        n_orgs, width = len(data.organizations), len(data.outcome_keys) + 2
        if counts is None:
            counts = np.bincount(_org_keys(data)[mask], minlength=n_orgs * width).reshape(n_orgs, width)
        names = _key_labels(data)
        self.n = n
        self.slot = np.full((n_orgs, width), n, dtype=np.int64)
        self.slot[:, width - 1] = n + 1
        self.label = np.full((n_orgs, n + 2), None, dtype=object)
        self.label[:, n], self.label[:, n + 1] = OTHER_OUTCOMES, NO_OUTCOME
        rank = _name_rank(data)
        for org in np.flatnonzero(counts[:, : width - 1].any(axis=1)):
            used = np.flatnonzero(counts[org, : width - 1])
            # Most used first; ties by name, so the order never depends on the catalogue's order.
            order = used[np.lexsort((rank[used], -counts[org, used]))][:n]
            self.slot[org, order] = np.arange(len(order))
            self.label[org, : len(order)] = [str(names[k]) for k in order]

    def of(self, data: UsageData, rows: np.ndarray | slice) -> np.ndarray:
        """The slot of each activity of ``rows``."""
        return self.slot.ravel()[_org_keys(data)[rows]]

    def onehot(self) -> np.ndarray:
        """``(organization, ekey, slot)`` ones where the key counts in the slot: sums keys into slots."""
        n_orgs, width = self.slot.shape
        out = np.zeros((n_orgs, width, self.n + 2), dtype=np.int64)
        out[np.arange(n_orgs)[:, None], np.arange(width)[None, :], self.slot] = 1
        return out


def _masks(data: UsageData, selection: Selection, denominator: str, stamp: pd.Timestamp | None, *,
           undated: Selection | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(the counted activities, the denominator's activities) of a selection; with ``stamp`` ("now"), only those
    dated before it (the questions over periods), else all, upcoming meetings too (as the usage table counts).

    The mask is a remembered base mask (the picks' own, which the explorer's status line already asked for; or
    ``undated``'s: the same picks without dates, for a period of :func:`compare_periods`) cut by the dates it
    lacks: what ``_base_mask`` of the selection until "now" is, without another pass over every picker.
    """
    check_denominator(denominator)
    cut = selection.replace(until=stamp) if stamp is not None and (
        selection.until is None or selection.until > stamp) else selection
    source = selection if undated is None else undated
    base = _base_mask(data, source)
    if cut.since is not None and source.since is None:
        base = base & (data.time >= _stamp(cut.since))
    if cut.until is not None and cut.until != source.until:
        base = base & (data.time < _stamp(cut.until)) & (data.time != _NAT)
    selection = cut
    if denominator == "connected":
        base = base & data.connected
    keys = _key_table(data, selection)
    counted = base if keys is None else base & keys[data.key_code]
    den = base & data.has_outcome if denominator == "with_outcome" else base
    return counted, den


def _org_rows(data: UsageData, selection: Selection) -> np.ndarray:
    """The codes of the organizations a selection covers (all without an organization picker), natural order."""
    table = _org_table(data, selection)
    return np.arange(len(data.organizations)) if table is None else np.flatnonzero(table[:-1])


def _divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    numerator = np.asarray(numerator, dtype=float)
    denominator = np.asarray(denominator, dtype=float)
    return np.divide(numerator, denominator, out=np.full(numerator.shape, np.nan), where=denominator > 0)


# ----------------------------------------------------------------------------------------------------------------
# Question 1: how did each organization's outcomes change, period by period?
# ----------------------------------------------------------------------------------------------------------------

def organization_trends(data: UsageData, selection: Selection = Selection(), *, freq: str = "M",
                        n: int = DEFAULT_TOP_N, now: Any = None, denominator: str = "all") -> pd.DataFrame:
    """Each organization's OWN ``n`` most used outcomes per period, the rest grouped, with counts and shares.

    Parameters
    ----------
    data, selection
        From :func:`~closeframe.usage.selection.prepare`, and the picks.
    freq : str, default "M"
        A pandas period alias: ``"W"`` (weeks from Monday), ``"M"``, ``"Q"``, ``"Y"``, ``"D"``.
    n : int, default :data:`DEFAULT_TOP_N`
        Outcome names per organization, ranked over the whole selection (not per period, so a line is one
        outcome from start to end).
    now : date-like, optional
        See :func:`as_of`; periods starting at or after it are left out, the one holding it is partial.
    denominator : {"all", "with_outcome", "connected"}
        The share column: ``share``, ``share_of_outcomes`` or ``share_of_connected``.

    Returns
    -------
    pandas.DataFrame
        One row per (organization, period, outcome label): ``organization`` (label, natural order),
        ``period`` (first instant, UTC), ``outcome``, ``rank`` (1 = most used; ``n + 1`` other outcomes,
        ``n + 2`` no outcome), ``calls``, ``meetings``, ``total``, the share column (missing where the period has
        no activity in the denominator), ``partial``. Every organization with selected activity gets every
        period of the selection's span (the same x axis in every panel) and each of its labels that occur, zeros
        filled in. ``attrs``: ``freq_word``, ``y_max`` (largest ``total``: one y scale for small multiples),
        ``share_max``, ``as_of``, ``share_column``.
    """
    n = _check_count(n)
    stamp = as_of(data, now)
    counted, den = _masks(data, selection, denominator, stamp)
    codes, starts = data.periods(freq)
    ends = _period_ends(starts, freq)
    n_orgs, n_periods = len(data.organizations), len(starts)
    total, meetings, ranking = _period_counts(data, counted, freq, n)
    den_count = total.sum(axis=2) if den is counted else np.bincount(
        data.org_code[den].astype(np.int64) * n_periods + codes[den],
        minlength=n_orgs * n_periods).reshape(n_orgs, n_periods)
    column = share_column(denominator)
    active = np.flatnonzero(total.sum(axis=(0, 2)) > 0)
    if len(active):
        # One row per (organization with activity, period of the common span, slot the organization uses).
        in_span = np.zeros(n_periods, dtype=bool)
        in_span[active.min(): active.max() + 1] = True
        picked = np.zeros(n_orgs, dtype=bool)
        picked[_org_rows(data, selection)] = True
        used = total.sum(axis=1) > 0  # (organization, slot)
        o, p, s = np.nonzero((picked & used.any(axis=1))[:, None, None] & in_span[None, :, None] & used[:, None, :])
        share = _divide(total[o, p, s], den_count[o, p])
        if denominator == "with_outcome":
            share[s == n + 1] = np.nan  # activities without an outcome are not part of that denominator
        partial = _partial(starts, ends, stamp, selection)
        out = pd.DataFrame({
            "organization": data.org_labels[o], "period": starts[p], "outcome": ranking.label[o, s],
            "rank": s + 1, "calls": total[o, p, s] - meetings[o, p, s], "meetings": meetings[o, p, s],
            "total": total[o, p, s], column: share, "partial": partial[p]})
    else:
        out = _empty_trend(column)
    out["period"] = out["period"].astype(UTC_DATETIME_DTYPE)
    for name in ("rank", "calls", "meetings", "total"):
        out[name] = out[name].astype(np.int64)
    out["partial"] = out["partial"].astype(bool)
    out.attrs.update(freq_word=_freq_word(freq), y_max=int(out["total"].max()) if len(out) else 0,
                     share_max=float(out[column].max()) if out[column].notna().any() else 0.0,
                     as_of=stamp, share_column=column, n=n)
    return out


def _empty_trend(column: str) -> pd.DataFrame:
    return pd.DataFrame({"organization": pd.Series(dtype=object), "period": pd.Series(dtype=UTC_DATETIME_DTYPE),
                         "outcome": pd.Series(dtype=object), "rank": pd.Series(dtype=np.int64),
                         "calls": pd.Series(dtype=np.int64), "meetings": pd.Series(dtype=np.int64),
                         "total": pd.Series(dtype=np.int64), column: pd.Series(dtype=float),
                         "partial": pd.Series(dtype=bool)})


def _period_ends(starts: pd.DatetimeIndex, freq: str) -> pd.DatetimeIndex:
    if not len(starts):
        return starts
    naive = starts.tz_convert("UTC").tz_localize(None)
    return (naive.to_period(freq) + 1).start_time.tz_localize("UTC").as_unit(starts.unit)


def _partial(starts: Any, ends: Any, stamp: pd.Timestamp, selection: Selection) -> np.ndarray:
    """A period only partly covered: under way at ``stamp``, or cut by the selection's since/until."""
    starts, ends = pd.DatetimeIndex(starts), pd.DatetimeIndex(ends)
    partial = np.asarray((starts <= stamp) & (ends > stamp))
    if selection.since is not None:
        partial |= np.asarray(starts < selection.since)
    if selection.until is not None:
        partial |= np.asarray(ends > selection.until)
    return partial


# ----------------------------------------------------------------------------------------------------------------
# Question 2: this period against the one before
# ----------------------------------------------------------------------------------------------------------------

def default_periods(data: UsageData, selection: Selection = Selection(), *, freq: str = "M",
                    now: Any = None) -> tuple[tuple[pd.Timestamp, pd.Timestamp], tuple[pd.Timestamp, pd.Timestamp]]:
    """The two periods :func:`compare_periods` compares by default: ``(current, previous)``, each ``(since, until)``.

    ``current`` is the selection's ``[since, until)`` when it has both; with only ``since``, up to :func:`as_of`;
    with only ``until``, the ``freq`` period before it; with neither, the last whole ``freq`` period before
    :func:`as_of` (October when the data runs through October). ``previous`` is the period of equal length just
    before: the calendar period(s) before when ``current`` is whole calendar periods (September before October,
    not the 31 days before), else the same number of days.
    """
    stamp = as_of(data, now)
    since, until = selection.since, selection.until
    if since is None and until is None:
        until = _period_start(stamp, freq)  # the start of the period under way: the one before is whole
        since = _shift(until, freq, -1)
    elif since is None:
        start = _period_start(until, freq)
        since = _shift(start, freq, -1) if start == until else start
    elif until is None:
        until = max(stamp, since + pd.Timedelta(days=1))
    if since >= until:
        raise ConfigurationError(f"The current period starts ({since:%Y-%m-%d}) on or after its end "
                                 f"({until:%Y-%m-%d}): pick an earlier since or a later until.")
    whole = _period_start(since, freq) == since and _period_start(until, freq) == until
    if whole:
        k = len(pd.period_range(since.tz_localize(None), until.tz_localize(None), freq=freq)) - 1
        previous = (_shift(since, freq, -k), since)
    else:
        previous = (since - (until - since), since)
    return (since, until), previous


def compare_periods(data: UsageData, selection: Selection = Selection(), *, current: Any = None,
                    previous: Any = None, freq: str = "M", now: Any = None,
                    denominator: str = "all") -> pd.DataFrame:
    """Per organization and outcome: activities and shares in two periods, and their change.

    Parameters
    ----------
    data, selection
        The selection's other pickers apply; its since/until choose the current period (see
        :func:`default_periods`).
    current, previous : (since, until), optional
        Date-likes, each ``[since, until)``; default :func:`default_periods`.
    freq : str, default "M"
        For the default periods.
    now : date-like, optional
        See :func:`as_of`: a current period that runs past it is under way (``attrs["current_partial"]``).
    denominator : {"all", "with_outcome", "connected"}
        The share columns' meaning: ``share_*``, ``share_of_outcomes_*`` or ``share_of_connected_*``.

    Returns
    -------
    pandas.DataFrame
        ``organization`` (natural order), ``outcome`` (every outcome name used in either period, then
        ``(deleted outcome)`` and ``(no outcome)`` where they occur), ``previous``, ``current``, ``change``
        (current - previous), ``<share>_previous``, ``<share>_current``, ``<share>_change`` (in fractions; missing
        where a period has no activity in the denominator). Within an organization, most used (current) first.
        ``attrs``: ``current``, ``previous`` (the ``(since, until)`` pairs), ``current_partial``,
        ``previous_partial``, ``as_of``, ``share_column``, ``labels`` (``{"current": "Oct 2026", ...}``).
    """
    stamp = as_of(data, now)
    if current is None or previous is None:
        default_current, default_previous = default_periods(data, selection, freq=freq, now=stamp)
        current = current or default_current
        previous = previous or default_previous
    periods = {"current": _pair(current, "current"), "previous": _pair(previous, "previous")}
    column = share_column(denominator)
    n_orgs, width = len(data.organizations), len(data.outcome_keys) + 2
    ekey = _extended_keys(data)
    counts, dens = {}, {}
    undated = selection.replace(since=None, until=None)  # each period cuts this one remembered mask
    for name, (since, until) in periods.items():
        counted, den = _masks(data, selection.replace(since=since, until=until), denominator, stamp,
                              undated=undated)
        counts[name] = np.bincount(data.org_code[counted].astype(np.int64) * width + ekey[counted],
                                   minlength=n_orgs * width).reshape(n_orgs, width)
        dens[name] = np.bincount(data.org_code[den], minlength=n_orgs)
    names = _key_labels(data)
    picked = np.zeros(n_orgs, dtype=bool)
    picked[_org_rows(data, selection)] = True
    o, k = np.nonzero(picked[:, None] & ((counts["current"] + counts["previous"]) > 0))
    before, after = counts["previous"][o, k], counts["current"][o, k]
    share_before = _divide(before, dens["previous"][o])
    share_after = _divide(after, dens["current"][o])
    if denominator == "with_outcome":  # activities without an outcome are not part of that denominator
        share_before[k == width - 1] = np.nan
        share_after[k == width - 1] = np.nan
    # Organization (natural), names before the two groups, most used now, then before, then by name.
    order = np.lexsort((_name_rank(data)[k], -before, -after, k >= width - 2, o))
    o, k, before, after = o[order], k[order], before[order], after[order]
    share_before, share_after = share_before[order], share_after[order]
    out = pd.DataFrame({"organization": data.org_labels[o], "outcome": names[k], "previous": before,
                        "current": after, "change": after - before, f"{column}_previous": share_before,
                        f"{column}_current": share_after, f"{column}_change": share_after - share_before})
    for name in ("previous", "current", "change"):
        out[name] = out[name].astype(np.int64)
    out.attrs.update(current=periods["current"], previous=periods["previous"], as_of=stamp, share_column=column,
                     current_partial=bool(periods["current"][1] > stamp),
                     previous_partial=bool(periods["previous"][1] > stamp),
                     labels={k: _range_label(*v, freq) for k, v in periods.items()})
    return out


def _pair(value: Any, name: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    try:
        since, until = value
    except (TypeError, ValueError):
        raise ConfigurationError(f"{name}={value!r} must be a pair (since, until) of dates.") from None
    since, until = _bound(since, f"{name} since"), _bound(until, f"{name} until")
    if since >= until:
        raise ConfigurationError(f"{name}=({since:%Y-%m-%d}, {until:%Y-%m-%d}): since must be before until.")
    return since, until


def _range_label(since: pd.Timestamp, until: pd.Timestamp, freq: str) -> str:
    """``"Oct 2026"`` for one whole calendar period, else ``"2026-10-05 until 2026-10-19"``."""
    if _period_start(since, freq) == since and _shift(since, freq, 1) == until:
        return period_label(since, freq)
    return f"{since:%Y-%m-%d} until {until:%Y-%m-%d}"


# ----------------------------------------------------------------------------------------------------------------
# Question 3: who logs which outcome?
# ----------------------------------------------------------------------------------------------------------------

def users_by_outcome(data: UsageData, selection: Selection = Selection(), *,
                     n: int = DEFAULT_TOP_N) -> pd.DataFrame:
    """A user x outcome table per organization (long form): counts, and shares of the user's activities.

    The outcomes are each organization's own top ``n`` (ranked as :func:`organization_trends` ranks them), then
    ``(other outcomes)`` and ``(no outcome)``. Users are credited as owners (``user_id``). Every selected
    activity counts (upcoming meetings too), so a user's total is the one the usage table counts.

    Returns
    -------
    pandas.DataFrame
        One row per (organization, user, outcome label) of the organization, zeros included: ``organization``
        (natural order), ``user`` (name, else id; ``(no user)``), ``user_id``, ``outcome``, ``rank`` (as in
        :func:`organization_trends`), ``total``, ``share`` (of ALL the organization's selected activities),
        ``share_of_user`` (of the user's selected activities: a row of one user adds up to 1). Users most active
        first, each user's outcomes in rank order.
    """
    n = _check_count(n)
    counted, den = _masks(data, selection, "all", None)
    n_users = len(data.users) + 1  # the last code: no user
    n_orgs = len(data.organizations)
    cache = _cached(data)
    if "user_group" not in cache:
        cache["user_group"] = np.where(data.user_code >= 0, data.user_code, n_users - 1).astype(np.int64)
    cells, _, ranking = _grouped_counts(data, counted, cache["user_group"], n_users, "user", n)
    per_org = np.bincount(data.org_code[den], minlength=n_orgs)
    user_labels = np.append(data.users["label"].to_numpy(dtype=object), NO_USER)
    user_ids = np.append(data.users["user_id"].to_numpy(dtype=object), None)
    picked = np.zeros(n_orgs, dtype=bool)
    picked[_org_rows(data, selection)] = True
    per_user = cells.sum(axis=2)  # (organization, user)
    used = cells.sum(axis=1) > 0  # (organization, slot)
    o, u, s = np.nonzero((picked[:, None] & (per_user > 0))[:, :, None] & used[:, None, :])
    # Organization (natural), most active user first (ties: natural order of names), slots in rank order.
    order = np.lexsort((s, _user_rank(data)[u], -per_user[o, u], o))
    o, u, s = o[order], u[order], s[order]
    out = pd.DataFrame({
        "organization": data.org_labels[o], "user": user_labels[u], "user_id": user_ids[u],
        "outcome": ranking.label[o, s], "rank": s + 1, "total": cells[o, u, s],
        "share": _divide(cells[o, u, s], per_org[o]), "share_of_user": _divide(cells[o, u, s], per_user[o, u])})
    for name in ("rank", "total"):
        out[name] = out[name].astype(np.int64)
    return out


def users_grid(users: Any, organization: str, values: tuple[str, ...] = ("total",)
               ) -> tuple[np.ndarray, list[str], dict[str, np.ndarray], np.ndarray]:
    """One organization of :func:`users_by_outcome` as arrays: what :func:`users_matrix` holds, without a frame.

    ``users`` is :func:`users_by_outcome`'s table, or a mapping of its column names to arrays (the Users view
    converts the columns once and builds several organizations' grids on every redraw).

    Returns
    -------
    tuple
        ``(user labels, outcome labels, {value: grid}, user totals)``: users most active first, outcome labels
        in rank order, each grid ``users x outcomes`` (``total`` int64, shares float), a user's total the sum of
        its counts.
    """
    for value in values:
        if value not in ("total", "share", "share_of_user"):
            raise ConfigurationError(f"value={value!r} is not one of 'total', 'share', 'share_of_user'.")
    mine = np.asarray(users["organization"]) == organization
    user_code, user_labels = pd.factorize(np.asarray(users["user"])[mine])  # most active first, as listed
    rank = np.asarray(users["rank"])[mine]
    ranks, first = np.unique(rank, return_index=True)
    rank_code = np.searchsorted(ranks, rank)
    grids = {}
    for value in values:
        grid = np.zeros((len(user_labels), len(ranks)), dtype=np.int64 if value == "total" else float)
        grid[user_code, rank_code] = np.asarray(users[value])[mine]
        grids[value] = grid
    totals = np.bincount(user_code, weights=np.asarray(users["total"])[mine],
                         minlength=len(user_labels)).astype(np.int64)
    return user_labels, [str(x) for x in np.asarray(users["outcome"])[mine][first]], grids, totals


def users_matrix(users: pd.DataFrame, organization: str, value: str = "total") -> pd.DataFrame:
    """One organization of :func:`users_by_outcome` as a user x outcome table of ``value``.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``user`` (most active first), one column per outcome label (rank order), then ``total``
        (the user's activities: the row's sum of counts).
    """
    # Arrays, not a pivot: the report builds two of these per organization.
    user_labels, outcomes, grids, totals = users_grid(users, organization, (value,))
    wide = pd.DataFrame(grids[value], index=pd.Index(user_labels, name="user"), columns=outcomes)
    wide["total"] = totals
    return wide


# ----------------------------------------------------------------------------------------------------------------
# Question 4: what is behind a number?
# ----------------------------------------------------------------------------------------------------------------

def activities_behind(data: UsageData, selection: Selection = Selection(), *, organization: str | None = None,
                      outcome: str | None = None, user: str | None = None, since: Any = None, until: Any = None,
                      n: int = DEFAULT_TOP_N, limit: int | None = None, now: Any = None) -> pd.DataFrame:
    """The activities behind one row of any view, newest first, each with a link to its lead in Close.

    Parameters
    ----------
    data, selection
        The picks the row was counted under.
    organization, user : str, optional
        Narrow to one organization / user (name, label or id; ``(no user)`` for activities without one).
    outcome : str, optional
        An outcome label as the views show it: a name (matched after normalization), ``(no outcome)``,
        ``(deleted outcome)``, or ``(other outcomes)`` (the organization's outcomes outside its top ``n``, as
        ranked over ``selection``).
    since, until : date-like, optional
        A period ``[since, until)`` (e.g. a trend's period), within the selection's range.
    limit : int, optional
        At most this many rows (newest); ``attrs["total"]`` has how many there are.
    now : date-like, optional
        See :func:`as_of`: behind a period's row (``since``/``until`` given), activities dated at or after it are
        not counted, as the trend and the comparison do not count them.

    Returns
    -------
    pandas.DataFrame
        ``organization``, ``date_created``, ``activity`` (call/meeting), ``user``, ``outcome``, ``status``,
        ``disposition``, ``duration``, ``lead_id``, ``lead_url`` (:func:`lead_url`), ``activity_id``.
    """
    narrowed = selection
    if organization is not None:
        narrowed = narrowed.replace(organizations=(organization,))
    no_user = user == NO_USER
    if user is not None and not no_user:
        narrowed = narrowed.replace(users=(user,))
    bounds = {}
    if since is not None:
        start = _bound(since, "since")
        bounds["since"] = start if selection.since is None else max(start, selection.since)
    if until is not None:
        end = _bound(until, "until")
        bounds["until"] = end if selection.until is None else min(end, selection.until)
    # A period's row (since/until given) counts until "now", as the trend and the comparison do; any other row
    # counts every selected activity, as the usage tables do.
    stamp = as_of(data, now) if bounds else None
    if stamp is not None:
        bounds["until"] = min(bounds.get("until", stamp), stamp, *([selection.until] if selection.until else []))
    narrowed = narrowed.replace(**bounds)
    mask = selection_mask(data, narrowed, strict=True) if (organization or (user and not no_user)) else \
        selection_mask(data, narrowed)
    if no_user:
        mask &= data.user_code < 0
    if outcome is not None:
        mask &= _outcome_mask(data, selection, str(outcome), n, stamp)
    rows = np.flatnonzero(mask)
    rows = rows[np.argsort(-data.time[rows], kind="stable")]
    total = len(rows)
    if limit is not None:
        rows = rows[: max(int(limit), 0)]
    events = data.events.iloc[rows]  # only the rows shown are converted: fast on a million activities
    user_labels = np.append(data.users["label"].to_numpy(dtype=object), NO_USER)

    def column(name: str) -> Any:
        return events[name].astype(object).to_numpy() if name in events.columns else None

    out = pd.DataFrame({
        "organization": data.org_labels[data.org_code[rows]],
        "date_created": events["date_created"].astype(UTC_DATETIME_DTYPE).to_numpy(),
        "activity": column("activity"),
        "user": user_labels[np.where(data.user_code[rows] >= 0, data.user_code[rows], len(user_labels) - 1)],
        "outcome": _key_labels(data)[_extended_keys(data)[rows]],
        "status": column("status"), "disposition": column("disposition"),
        "duration": events["duration"].to_numpy() if "duration" in events.columns else None,
        "lead_id": column("lead_id")})
    out["date_created"] = out["date_created"].astype(UTC_DATETIME_DTYPE)
    out["lead_url"] = out["lead_id"].map(lead_url)
    out["activity_id"] = column("activity_id")
    out.attrs["total"] = total
    return out


def _outcome_mask(data: UsageData, selection: Selection, outcome: str, n: int,
                  stamp: pd.Timestamp | None) -> np.ndarray:
    """True for the activities whose outcome is ``outcome`` as the views label it."""
    ekey = _extended_keys(data)
    n_keys = len(data.outcome_keys)
    if outcome == NO_OUTCOME:
        return ekey == n_keys + 1
    if outcome == DELETED_OUTCOME_LABEL:
        return ekey == n_keys
    if outcome == OTHER_OUTCOMES:
        counted, _ = _masks(data, selection, "all", stamp)
        ranking = _Ranking(data, _check_count(n), mask=counted)
        return ranking.of(data, slice(None)) == n
    table = _key_table(data, Selection(outcomes=(outcome,)), strict=True)
    return table[data.key_code]


# ----------------------------------------------------------------------------------------------------------------
# Pickers that narrow each other
# ----------------------------------------------------------------------------------------------------------------

def picker_options(data: UsageData, selection: Selection = Selection()) -> Options:
    """What each picker offers given the other picks: after picking organizations, only their users, outcome
    names and statuses (values already picked stay offered, so a pick never vanishes unseen).

    Organizations and kinds are always all offered; the order is that of
    :func:`~closeframe.usage.selection.options` (organizations and users natural, outcomes most used first).
    """
    everything = options(data)
    table = _org_table(data, selection)
    if table is None:
        return everything
    picked = table[:-1]  # the organizations picked; what each has was counted once, by prepare
    seen = data.org_users[picked].any(axis=0)
    users = set(data.users["label"].to_numpy(dtype=object)[seen])
    users |= set(selection.users)
    rows = data.rows
    keys = set(rows.loc[table[rows["org_code"].to_numpy()] & (rows["key_code"].to_numpy() >= 0), "key"])
    keys |= set(selection.outcomes)
    used = data.org_statuses[picked].any(axis=0)
    statuses = set(np.asarray(data.statuses, dtype=object)[used])
    statuses |= set(selection.statuses)
    return Options(organizations=everything.organizations,
                   outcomes=tuple(p for p in everything.outcomes if p[1] in keys),
                   kinds=everything.kinds,
                   users=tuple(p for p in everything.users if p[1] in users),
                   statuses=tuple(p for p in everything.statuses if p[1] in statuses),
                   first=everything.first, last=everything.last)
