"""The one definition of outcome usage: its columns, its rules, its aggregation as SQL text, and its finishing step.

Every engine (:mod:`closeframe.usage.engines`) turns activities into the same *counts*: one row per
``(organization_id, outcome_id)`` with the columns of :data:`COUNT_COLUMNS`. The rules that decide what an
activity counts as (connected? autofilled? a voicemail drop?) are written here twice, side by side: as SQL
(:func:`activities_sql`, run by DuckDB and Spark SQL from one text) and as vectorized pandas/numpy
(:func:`autofill_flags`, :func:`connected_flags`, run by the in-memory engine); the property test
(``tests/usage/test_usage_property.py``) pins them equal. :func:`finish_usage` then turns counts into the
:func:`closeframe.outcome_usage` table for every engine and for :func:`closeframe.usage.selection.usage_table`, so
shares, labels, order and dtypes cannot drift between faces.

Columns and their meaning (documented once, in ``docs/usage.md``):

- ``total`` = ``calls + meetings``: every activity carrying the outcome.
- ``share`` = ``total`` over *all* the organization's activities (calls and meetings in scope, with or without an
  outcome); one organization's shares, its no-outcome row included, add up to 1.
- ``share_of_outcomes`` = ``total`` over the organization's activities *that have an outcome* (NaN on the
  no-outcome row).
- ``share_of_connected`` (with ``denominator="connected"``) = ``connected`` over the organization's connected
  calls and held meetings; ``connected`` counts those of ``total``.
- ``autofilled`` (when Close sent any autofill field): how many of ``total`` had their outcome set by Close;
  ``voicemail_drops``: how many of those were voicemail drops (``outcome_reason`` "voicemail-dropped").
- A deleted outcome is labelled by its last known name (from :func:`closeframe.outcome_catalogue`), else
  :data:`DELETED_OUTCOME_LABEL`.
"""

from __future__ import annotations

import functools
from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from closeframe.errors import ConfigurationError
from closeframe.shape.frames import STRING_DTYPE, UTC_DATETIME_DTYPE

__all__ = [
    "ACTIVITY_KINDS",
    "AUTOFILL_FIELDS",
    "AUTOMATIC_REASONS",
    "CONNECTED_CALL_STATUSES",
    "COUNT_COLUMNS",
    "DELETED_OUTCOME_LABEL",
    "DENOMINATORS",
    "HELD_MEETING_STATUSES",
    "PERSON_REASONS",
    "SHARE_COLUMNS",
    "USAGE_COLUMNS",
    "VOICEMAIL_DROP_REASON",
    "Dialect",
    "activities_sql",
    "aggregate_sql",
    "autofill_flags",
    "check_denominator",
    "check_frame",
    "connected_flags",
    "empty_counts",
    "finish_usage",
    "outcome_lookup",
]

#: The ``activity`` values of the events frame.
ACTIVITY_KINDS = ("call", "meeting")

#: The label of a deleted outcome whose name no outcome history remembers, in every face.
DELETED_OUTCOME_LABEL = "(deleted outcome)"

#: ``denominator=`` values and the share column each one names. ``share`` and ``share_of_outcomes`` are always in
#: the table; ``share_of_connected`` (and the ``connected`` count) only when asked for.
SHARE_COLUMNS = {"all": "share", "with_outcome": "share_of_outcomes", "connected": "share_of_connected"}
DENOMINATORS = tuple(SHARE_COLUMNS)

#: The columns of :func:`closeframe.outcome_usage`, in order (``organization_name`` only when names are known;
#: ``connected``/``share_of_connected``, ``autofilled``/``voicemail_drops`` and ``deleted_at`` when they apply).
USAGE_COLUMNS = ("organization_id", "organization_name", "outcome_id", "outcome_name", "outcome_type", "calls",
                 "meetings", "total", "share", "share_of_outcomes", "first_used", "last_used", "users", "deleted")

#: What every engine returns per (organization_id, outcome_id): counts, first and last use (microseconds since
#: the epoch, UTC), distinct users; ``autofill_known``: activities with a value in an autofill field;
#: ``calls_known``: calls with a status or disposition (can they tell connected ones?).
COUNT_COLUMNS = ("organization_id", "outcome_id", "calls", "meetings", "first_us", "last_us", "users", "autofilled",
                 "voicemail_drops", "connected", "autofill_known", "calls_known")

#: Fields Close sends on an activity whose outcome it may have set (AI outcome autofill).
AUTOFILL_FIELDS = ("outcome_reason", "outcome_autofill_reasoning", "outcome_autofill_confidence")
#: ``outcome_reason`` values of an outcome set by Close (Close's documented enum), and of one set by a person.
AUTOMATIC_REASONS = ("autofilled", "voicemail-dropped")
PERSON_REASONS = ("user-selected",)
VOICEMAIL_DROP_REASON = "voicemail-dropped"
#: Call ``status`` values of a call that reached someone, used when Close sends no ``disposition``.
CONNECTED_CALL_STATUSES = ("completed",)
#: Meeting ``status`` values of a meeting that took place (a manual meeting has none: it took place if it started).
HELD_MEETING_STATUSES = ("completed", "in-progress")

_KEY = ["organization_id", "outcome_id"]
_NAT = np.iinfo(np.int64).min


def check_frame(value: object, name: str, required: Iterable[str]) -> pd.DataFrame:
    """``value``, or a ConfigurationError saying it is not a frame or which of ``required`` columns it lacks."""
    if not isinstance(value, pd.DataFrame):
        raise ConfigurationError(f"{name} must be a pandas DataFrame, got {type(value).__name__}.")
    missing = [c for c in required if c not in value.columns]
    if missing:
        raise ConfigurationError(f"{name} lacks the columns {missing}; it has {list(value.columns)}.")
    return value


def check_denominator(denominator: str) -> str:
    """``denominator`` itself, or a ConfigurationError listing the valid ones."""
    if denominator not in DENOMINATORS:
        raise ConfigurationError(f"denominator={denominator!r} is not one of {', '.join(map(repr, DENOMINATORS))}.")
    return denominator


# ----------------------------------------------------------------------------------------------------------------
# The rules, in pandas/numpy
# ----------------------------------------------------------------------------------------------------------------

def _text(frame: pd.DataFrame, column: str) -> pd.Series | None:
    """``frame[column]`` as strings (missing stays missing), or None without that column."""
    if column not in frame.columns:
        return None
    values = frame[column]
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.cat.rename_categories([str(c) for c in values.cat.categories])
        return values
    return values.astype(STRING_DTYPE)


def _isin(values: pd.Series | None, wanted: Iterable[str]) -> np.ndarray | None:
    """``values.isin(wanted)`` as booleans; a categorical is tested on its categories, then looked up by code."""
    if values is None:
        return None
    if isinstance(values.dtype, pd.CategoricalDtype):
        table = np.append(np.isin(np.asarray(values.cat.categories, dtype=object), list(wanted)), False)
        return table[values.cat.codes.to_numpy()]  # code -1 (missing) takes the last slot: False
    return values.isin(list(wanted)).to_numpy(dtype=bool)


def _nonblank(values: pd.Series) -> np.ndarray:
    """Not missing, and something else than spaces (Arrow's kernels: no Python per row)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.array(values.astype(STRING_DTYPE).array)
    return pc.fill_null(pc.not_equal(pc.utf8_trim(text, " "), ""), False).to_numpy(zero_copy_only=False)


def autofill_flags(frame: pd.DataFrame, has_outcome: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(autofilled, voicemail_drop, known)`` per activity, by Close's fields.

    ``autofilled``: the outcome was set by Close, i.e. ``outcome_reason`` is one of :data:`AUTOMATIC_REASONS`; or
    (``outcome_reason`` missing, or not one of Close's documented values) a non-blank
    ``outcome_autofill_reasoning`` or any ``outcome_autofill_confidence``. A person's ``"user-selected"`` wins
    over reasoning text left over from the automatic pick it replaced. Only activities with an outcome.
    ``voicemail_drop``: ``outcome_reason`` "voicemail-dropped". ``known``: any autofill field has a value.
    """
    n = len(frame)
    reason = _text(frame, "outcome_reason")
    reasoning = _text(frame, "outcome_autofill_reasoning")
    confidence = frame["outcome_autofill_confidence"] if "outcome_autofill_confidence" in frame.columns else None
    known = np.zeros(n, dtype=bool)
    by_text = np.zeros(n, dtype=bool)
    for values in (reason, reasoning, confidence):
        if values is not None:
            known |= values.notna().to_numpy(dtype=bool)
    if reasoning is not None:
        # Blank = empty or spaces only (SQL's trim() removes spaces: the same rule in every engine).
        by_text |= _nonblank(reasoning)
    if confidence is not None:
        by_text |= confidence.notna().to_numpy(dtype=bool)
    automatic = _isin(reason, AUTOMATIC_REASONS)
    if automatic is None:
        auto = by_text
        drop = np.zeros(n, dtype=bool)
    else:
        person = _isin(reason, PERSON_REASONS)
        auto = automatic | (~person & by_text)
        drop = _isin(reason, (VOICEMAIL_DROP_REASON,))
    return auto & has_outcome, drop & has_outcome, known


def connected_flags(frame: pd.DataFrame, kind: str, micros: np.ndarray, now_us: int) -> tuple[np.ndarray, np.ndarray]:
    """``(connected, tells)`` per activity.

    A call connected when its ``disposition`` is "answered" (without a disposition: ``status`` "completed"); a
    meeting took place when its ``status`` is "completed" or "in-progress" (without a status: it has started,
    ``date_created`` at or before ``now_us``). ``tells``: a call with a status or disposition (meetings: True).
    """
    n = len(frame)
    status = _text(frame, "status")
    status_known = status.notna().to_numpy(dtype=bool) if status is not None else np.zeros(n, dtype=bool)
    if kind == "call":
        disposition = _text(frame, "disposition")
        by_status = _isin(status, CONNECTED_CALL_STATUSES) if status is not None else np.zeros(n, dtype=bool)
        if disposition is None:
            return by_status, status_known
        known = disposition.notna().to_numpy(dtype=bool)
        answered = _isin(disposition, ("answered",))
        return np.where(known, answered, by_status), status_known | known
    started = (micros <= now_us) & (micros != np.iinfo(np.int64).min)
    held = _isin(status, HELD_MEETING_STATUSES) if status is not None else np.zeros(n, dtype=bool)
    return np.where(status_known, held, started), np.ones(n, dtype=bool)


# ----------------------------------------------------------------------------------------------------------------
# The rules and the aggregation, in SQL (one text for DuckDB and Spark SQL)
# ----------------------------------------------------------------------------------------------------------------

class Dialect:
    """The few words where DuckDB and Spark SQL differ: microseconds of a timestamp and the timestamp type."""

    def __init__(self, micros: str, timestamp: str) -> None:
        self.micros, self.timestamp = micros, timestamp


DUCKDB = Dialect(micros="epoch_us", timestamp="TIMESTAMPTZ")
SPARK = Dialect(micros="unix_micros", timestamp="TIMESTAMP")


def _quote(values: Iterable[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def activities_sql(table: str, kind: str, columns: Iterable[str], dialect: Dialect, now_us: int) -> str:
    """One kind's activities with the rules applied: ``organization_id, outcome_id, user_id, t`` (microseconds),
    ``kind``, ``autofilled``, ``voicemail_drop``, ``autofill_known``, ``connected``, ``tells`` (columns the
    table lacks are NULL)."""
    have = set(columns)

    def col(name: str) -> str:
        return f"CAST({name} AS STRING)" if name in have else "CAST(NULL AS STRING)"

    t = (f"{dialect.micros}(CAST(date_created AS {dialect.timestamp}))" if "date_created" in have
         else "CAST(NULL AS BIGINT)")
    by_text = "(coalesce(trim(outcome_autofill_reasoning) <> '', false) OR outcome_autofill_confidence IS NOT NULL)"
    autofilled = (f"(outcome_id IS NOT NULL AND CASE WHEN outcome_reason IN ({_quote(AUTOMATIC_REASONS)}) THEN true "
                  f"WHEN outcome_reason IN ({_quote(PERSON_REASONS)}) THEN false ELSE {by_text} END)")
    drop = f"(outcome_id IS NOT NULL AND coalesce(outcome_reason = '{VOICEMAIL_DROP_REASON}', false))"
    known = ("(outcome_reason IS NOT NULL OR outcome_autofill_reasoning IS NOT NULL "
             "OR outcome_autofill_confidence IS NOT NULL)")
    if kind == "call":
        connected = ("CASE WHEN disposition IS NOT NULL THEN disposition = 'answered' "
                     f"ELSE coalesce(status IN ({_quote(CONNECTED_CALL_STATUSES)}), false) END")
        tells = "(status IS NOT NULL OR disposition IS NOT NULL)"
    else:
        connected = (f"CASE WHEN status IS NOT NULL THEN status IN ({_quote(HELD_MEETING_STATUSES)}) "
                     f"ELSE coalesce(t <= {int(now_us)}, false) END")
        tells = "true"
    inner = ", ".join([f"{col(c)} AS {c}" for c in ("organization_id", "outcome_id", "user_id", *AUTOFILL_FIELDS,
                                                     "status", "disposition")] + [f"{t} AS t"])
    return (f"SELECT organization_id, outcome_id, user_id, t, '{kind}' AS kind, {autofilled} AS autofilled, "
            f"{drop} AS voicemail_drop, {known} AS autofill_known, {connected} AS connected, {tells} AS tells "
            f"FROM (SELECT {inner} FROM {table}) AS a")


def aggregate_sql(parts: Iterable[str]) -> str:
    """The counts (:data:`COUNT_COLUMNS`) per (organization_id, outcome_id) of the union of ``parts``."""
    union = " UNION ALL ".join(f"({part})" for part in parts)

    def flag(condition: str) -> str:
        return f"sum(CASE WHEN {condition} THEN 1 ELSE 0 END)"

    call, meeting, call_tells = flag("kind = 'call'"), flag("kind = 'meeting'"), flag("kind = 'call' AND tells")
    return (f"SELECT organization_id, outcome_id, {call} AS calls, "
            f"{meeting} AS meetings, min(t) AS first_us, max(t) AS last_us, "
            f"count(DISTINCT user_id) AS users, {flag('autofilled')} AS autofilled, "
            f"{flag('voicemail_drop')} AS voicemail_drops, {flag('connected')} AS connected, "
            f"{flag('autofill_known')} AS autofill_known, {call_tells} AS calls_known "
            f"FROM ({union}) AS activities GROUP BY organization_id, outcome_id")


def empty_counts() -> pd.DataFrame:
    """Counts of no activity."""
    frame = pd.DataFrame({c: pd.Series(dtype=object) for c in _KEY})
    for column in COUNT_COLUMNS[2:]:
        frame[column] = pd.Series(dtype=np.int64)
    return frame


# ----------------------------------------------------------------------------------------------------------------
# From counts to the table
# ----------------------------------------------------------------------------------------------------------------

def outcome_lookup(outcomes: pd.DataFrame) -> pd.DataFrame:
    """One row per (organization_id, outcome_id) of the outcomes frame: ``outcome_name``, ``outcome_type``,
    ``deleted_at`` (NaT for a live outcome; a catalogue from :func:`closeframe.outcome_catalogue` has dates)."""
    check_frame(outcomes, "outcomes", ("id", "organization_id", "name"))
    na = pd.Series(pd.NA, index=outcomes.index, dtype=STRING_DTYPE)
    lookup = pd.DataFrame({
        "organization_id": outcomes["organization_id"].astype(STRING_DTYPE),
        "outcome_id": outcomes["id"].astype(STRING_DTYPE),
        "outcome_name": outcomes["name"].astype(STRING_DTYPE),
        "outcome_type": outcomes["type"].astype(STRING_DTYPE) if "type" in outcomes.columns else na,
        "deleted_at": outcomes["deleted_at"].astype(UTC_DATETIME_DTYPE) if "deleted_at" in outcomes.columns
        else pd.Series(pd.NaT, index=outcomes.index, dtype=UTC_DATETIME_DTYPE),
    })
    # applies_to="long" repeats an outcome once per value: keep one row each.
    return lookup.dropna(subset=["outcome_id"]).drop_duplicates(_KEY).reset_index(drop=True)


def _objects(values: pd.Series | np.ndarray) -> np.ndarray:
    """Values as an object array, every kind of missing as None (the keys compare as plain strings)."""
    array = values if isinstance(values, np.ndarray) else values.astype(object).to_numpy()
    out = np.array(array, dtype=object)  # a copy: ours to fill
    out[pd.isna(out)] = None
    return out


def _micros(values: pd.Series | np.ndarray) -> np.ndarray:
    """Int64 microseconds (or datetimes) as int64, missing as int64's minimum (NaT); an int64 array as it is."""
    if isinstance(values, np.ndarray) and values.dtype == np.int64:
        return values
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return pd.DatetimeIndex(values).as_unit("us").asi8
    return pd.array(values, dtype="Int64").to_numpy(dtype=np.int64, na_value=_NAT)


def _times(micros: np.ndarray) -> pd.arrays.DatetimeArray:
    return pd.DatetimeIndex(micros.view("datetime64[us]")).tz_localize("UTC").array


def _categorical(codes: np.ndarray, values: np.ndarray, like: str = "series") -> pd.Categorical:
    """``pd.Categorical`` of ``values[codes]`` built from the few distinct ``values`` instead of every row.

    ``like`` is the container pandas would have inferred the categories from, so they come out exactly as from
    the whole column: ``"series"`` (a frame's column of strings: ``str`` categories), ``"list"``, or
    ``"objects"`` (an object-dtype Series: ``object`` categories). Code -1 must pick a missing value.
    """
    dtype = _category_dtype(tuple(values), like)
    return pd.Categorical.from_codes(dtype.categories.get_indexer(values)[codes], dtype=dtype)


@functools.lru_cache(maxsize=64)
def _category_dtype(values: tuple, like: str) -> pd.CategoricalDtype:
    """The dtype pandas infers for these values (remembered: an update asks for the same few sets again)."""
    sample = {"series": lambda: pd.Series(values), "list": lambda: list(values),
              "objects": lambda: pd.Series(values, dtype=object)}[like]()
    return pd.Categorical(sample).dtype


def _divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    return np.divide(numerator.astype(float), denominator, out=np.zeros(len(numerator)), where=denominator > 0)


def finish_usage(lookup: pd.DataFrame, counts: pd.DataFrame, *, names: Mapping[str, str],
                 denominator: str = "all", catalogue_dates: bool = False,
                 denominators: pd.DataFrame | None = None, autofill: bool | None = None) -> pd.DataFrame:
    """The :func:`closeframe.outcome_usage` table from an outcome lookup and an engine's counts.

    Parameters
    ----------
    lookup : pandas.DataFrame or mapping of arrays
        :func:`outcome_lookup` of the outcomes in scope (every row gets a table row, zeros when unused); as arrays:
        object arrays with None for missing, ``deleted_at`` in int64 microseconds.
    counts : pandas.DataFrame or mapping of arrays
        :data:`COUNT_COLUMNS` per used (organization_id, outcome_id); ``outcome_id`` missing for activities
        without an outcome; as arrays, ``first_us``/``last_us`` are int64 with int64's minimum for none.
    names : mapping
        ``{organization_id: organization_name}`` (empty: no ``organization_name`` column).
    denominator : {"all", "with_outcome", "connected"}
        ``"connected"`` adds ``connected`` and ``share_of_connected``.
    catalogue_dates : bool
        The outcomes came with ``deleted_at``: keep that column and drop deleted outcomes nobody used.
    denominators : pandas.DataFrame, optional
        Indexed by organization_id: ``all``, ``with_outcome``, ``connected`` activities, when they are not the sums
        of ``counts`` (a selection that picks outcomes keeps every outcome in the denominators).
    autofill : bool, optional
        Whether the ``autofilled``/``voicemail_drops`` columns are shown (default: some counted activity has a
        value in an autofill field; a selection decides by the activities it selects before picking outcomes).

    Notes
    -----
    Plain numpy on a few hundred rows: it runs on every explorer update, so it avoids pandas joins (and the
    explorer passes arrays, not frames).
    """
    check_denominator(denominator)
    if autofill is None:
        autofill = bool(np.sum(counts["autofill_known"])) if len(counts["autofill_known"]) else False
    lookup_org, lookup_id = _objects(lookup["organization_id"]), _objects(lookup["outcome_id"])
    counted_org, counted_id = _objects(counts["organization_id"]), _objects(counts["outcome_id"])
    position = {key: i for i, key in enumerate(zip(lookup_org, lookup_id))}
    row = np.fromiter((position.get(key, -1) for key in zip(counted_org, counted_id)), dtype=np.int64,
                      count=len(counted_org))
    extra = np.flatnonzero(row < 0)  # deleted ids and the no-outcome rows: not in the lookup
    row[extra] = len(lookup_org) + np.arange(len(extra))
    n = len(lookup_org) + len(extra)
    nothing = np.full(len(extra), None, dtype=object)
    org = np.concatenate([lookup_org, counted_org[extra]])
    outcome_id = np.concatenate([lookup_id, counted_id[extra]])
    name = np.concatenate([_objects(lookup["outcome_name"]), nothing])
    kind = np.concatenate([_objects(lookup["outcome_type"]), nothing])
    deleted_at = np.concatenate([_micros(lookup["deleted_at"]), np.full(len(extra), _NAT)])

    def spread(column: str, empty: int = 0) -> np.ndarray:
        out = np.full(n, empty, dtype=np.int64)
        out[row] = _micros(counts[column]) if column.endswith("_us") else np.asarray(counts[column], dtype=np.int64)
        return out

    calls, meetings, connected = spread("calls"), spread("meetings"), spread("connected")
    total = calls + meetings
    no_outcome = np.array([i is None for i in outcome_id], dtype=bool)
    with_outcome = np.where(no_outcome, 0, total)
    org_code, org_values = pd.factorize(pd.Index(org, dtype=object), use_na_sentinel=False)
    if denominators is None:
        per_org = np.stack([np.bincount(org_code, weights=w, minlength=len(org_values))
                            for w in (total, with_outcome, connected)], axis=1)
    else:  # reindexed on org_values, 0 where an organization has none
        where = denominators.index.get_indexer(pd.Index(org_values, dtype=object))
        given = denominators[["all", "with_outcome", "connected"]].to_numpy(dtype=float)
        per_org = np.where(where[:, None] >= 0, given[where], 0.0) if len(given) else np.zeros((len(where), 3))
    per_org = per_org[org_code] if n else np.zeros((0, 3))
    share_of_outcomes = _divide(total, per_org[:, 1])
    share_of_outcomes[no_outcome] = np.nan
    in_lookup = np.arange(n) < len(lookup_org)
    deleted = ~no_outcome & (~in_lookup | (deleted_at != _NAT))
    name[deleted & np.array([v is None for v in name], dtype=bool)] = DELETED_OUTCOME_LABEL
    keep = np.ones(n, dtype=bool)
    if catalogue_dates:  # the catalogue's deleted outcomes: only those still on some activity
        keep = ~(in_lookup & (deleted_at != _NAT) & (total == 0))
    # By organization, the no-outcome row last, total descending, then name and id.
    order = np.lexsort((np.array([v if v is not None else "\uffff" for v in outcome_id], dtype=object),
                        np.array([v if v is not None else "\uffff" for v in name], dtype=object),
                        -total, no_outcome, np.array([v if v is not None else "\uffff" for v in org], dtype=object)))
    order = order[keep[order]]
    # Each column made once in its final dtype, in the table's order (a frame built then converted column by
    # column costs more than the counting: this runs on every explorer update).
    org_codes = org_code[order]
    columns = {"organization_id": _categorical(org_codes, np.asarray(org_values, dtype=object))}
    if names:
        columns["organization_name"] = _categorical(
            org_codes, np.array([names.get(o) for o in org_values], dtype=object), like="list")
    kind_code, kinds = pd.factorize(kind, use_na_sentinel=True)
    columns.update({
        "outcome_id": pd.array(outcome_id[order], dtype=STRING_DTYPE),
        "outcome_name": pd.array(name[order], dtype=STRING_DTYPE),
        # Code -1 (no type) picks the None appended last.
        "outcome_type": _categorical(kind_code[order], np.append(np.asarray(kinds, dtype=object), None)),
        "calls": calls[order], "meetings": meetings[order], "total": total[order]})
    if denominator == "connected":
        columns["connected"] = connected[order]
    columns.update({"share": _divide(total, per_org[:, 0])[order], "share_of_outcomes": share_of_outcomes[order]})
    if denominator == "connected":
        columns["share_of_connected"] = _divide(connected, per_org[:, 2])[order]
    columns.update({"first_used": _times(spread("first_us", _NAT)[order]),
                    "last_used": _times(spread("last_us", _NAT)[order]),
                    "users": spread("users")[order], "deleted": deleted[order]})
    if autofill:
        columns.update({"autofilled": spread("autofilled")[order], "voicemail_drops": spread("voicemail_drops")[order]})
    if catalogue_dates:
        columns["deleted_at"] = _times(deleted_at[order])
    usage = pd.DataFrame(columns)
    missing = order[no_outcome[order]]
    usage.attrs["no_outcome"] = {str(org[i]): int(total[i]) for i in missing}
    return usage
