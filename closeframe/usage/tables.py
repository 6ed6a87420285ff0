"""Outcome usage: calls and meetings joined to the outcomes they carry, and summaries of that join.

Everything here is a pure function of frames (from :func:`closeframe.load_outcomes`, :func:`closeframe.load_calls`
and :func:`closeframe.load_meetings`, or any frames with their columns).

Conventions, the same in every function:

- An activity's outcome is resolved by ``(organization_id, outcome_id)``. An ``outcome_id`` that no row of the
  outcomes frame resolves is a *deleted* outcome (Close keeps the id on the activity after the outcome is
  deleted): it is kept, with ``deleted=True`` and no name or type.
- An outcomes frame with a ``deleted_at`` column (:func:`closeframe.outcome_catalogue`) also names deleted
  outcomes: rows with a ``deleted_at`` are deleted ones (``deleted=True``) with their last known name and type;
  :func:`outcome_usage` then has a ``deleted_at`` column and leaves out deleted outcomes nobody used.
- Activities without an outcome are counted apart: in :func:`outcome_usage` each organization that has some gets
  one row whose ``outcome_id`` is missing (``pd.NA``) and ``deleted`` is False; the same counts are in
  ``usage.attrs["no_outcome"]`` as ``{organization_id: count}``. :func:`filter_usage` drops those rows on request.
- ``share`` is a fraction of *all* the organization's activities (calls and meetings loaded), so the shares of one
  organization, its no-outcome row included, add up to 1.
- Times are ``date_created`` (UTC), the time the activity was logged.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Callable, Iterable

import numpy as np
import pandas as pd

from closeframe.errors import ConfigurationError
from closeframe.shape.frames import STRING_DTYPE, UTC_DATETIME_DTYPE

__all__ = [
    "ACTIVITY_KINDS",
    "AUTOFILL_FIELDS",
    "CREDITS",
    "DENOMINATORS",
    "USAGE_COLUMNS",
    "autofilled_mask",
    "compare_outcomes",
    "filter_usage",
    "normalize_outcome_name",
    "outcome_usage",
    "period_span",
    "period_start",
    "usage_by_user",
    "usage_by_week",
    "usage_events",
]

#: The ``activity`` values of the events frame.
ACTIVITY_KINDS = ("call", "meeting")

#: ``denominator=`` of :func:`outcome_usage`: which activities are counted and divided by.
DENOMINATORS = ("all", "connected", "with_outcome")

#: The columns of :func:`outcome_usage`, in order (``organization_name`` only when names are known).
USAGE_COLUMNS = ("organization_id", "organization_name", "outcome_id", "outcome_name", "outcome_type", "calls",
                 "meetings", "total", "share", "first_used", "last_used", "users", "deleted")

_EVENT_SOURCE_COLUMNS = ("id", "organization_id", "user_id", "user_name", "lead_id", "date_created", "outcome_id",
                         "duration")
_KEY = ["organization_id", "outcome_id"]


def _check_frame(value: object, name: str, required: Iterable[str]) -> pd.DataFrame:
    if not isinstance(value, pd.DataFrame):
        raise ConfigurationError(f"{name} must be a pandas DataFrame, got {type(value).__name__}.")
    missing = [c for c in required if c not in value.columns]
    if missing:
        raise ConfigurationError(f"{name} lacks the columns {missing}; it has {list(value.columns)}.")
    return value


def _as_string(series: pd.Series) -> pd.Series:
    return series.astype(STRING_DTYPE)


def _organization_names(*frames: pd.DataFrame | None) -> dict[str, str]:
    """``{organization_id: organization_name}`` from every frame that has both columns."""
    names: dict[str, str] = {}
    for frame in frames:
        if frame is not None and "organization_name" in frame.columns and len(frame):
            pairs = frame[["organization_id", "organization_name"]].astype(object).dropna().drop_duplicates()
            names.update(zip(pairs["organization_id"].map(str), pairs["organization_name"].map(str)))
    return names


def _check_calls_tell_connected(events: pd.DataFrame) -> None:
    """Refuse ``denominator="connected"`` when no call has a ``status`` or ``disposition``: every call would count
    as not connected, silently, when the columns were only left out of the load."""
    calls = events[(events["activity"] == "call").to_numpy(dtype=bool)]
    if len(calls) and calls["status"].isna().all() and calls["disposition"].isna().all():
        raise ConfigurationError(
            f"denominator='connected' needs the calls' status or disposition, and none of the {len(calls):,} calls "
            "has either: load them (fields= with 'status' and 'disposition') or use denominator='all' or "
            "'with_outcome'.")


def _outcome_lookup(outcomes: pd.DataFrame) -> pd.DataFrame:
    """One row per (organization_id, outcome_id) with ``outcome_name`` and ``outcome_type``."""
    _check_frame(outcomes, "outcomes", ["id", "organization_id", "name"])
    lookup = pd.DataFrame({
        "organization_id": _as_string(outcomes["organization_id"]),
        "outcome_id": _as_string(outcomes["id"]),
        "outcome_name": _as_string(outcomes["name"]),
        "outcome_type": _as_string(outcomes["type"]) if "type" in outcomes.columns
        else pd.Series(pd.NA, index=outcomes.index, dtype=STRING_DTYPE),
        "deleted_at": outcomes["deleted_at"].astype(UTC_DATETIME_DTYPE) if "deleted_at" in outcomes.columns
        else pd.Series(pd.NaT, index=outcomes.index, dtype=UTC_DATETIME_DTYPE),
    })
    # applies_to="long" repeats an outcome once per value: keep one row each.
    return lookup.dropna(subset=["outcome_id"]).drop_duplicates(_KEY).reset_index(drop=True)


def _activity_part(frame: pd.DataFrame | None, kind: str) -> pd.DataFrame | None:
    if frame is None:
        return None
    _check_frame(frame, f"{kind}s", ["id", "organization_id", "date_created", "outcome_id"])
    part = pd.DataFrame({
        "organization_id": _as_string(frame["organization_id"]),
        "activity": kind,
        "activity_id": _as_string(frame["id"]),
        "user_id": _as_string(frame["user_id"]) if "user_id" in frame.columns else pd.NA,
        "user_name": _as_string(frame["user_name"]) if "user_name" in frame.columns else pd.NA,
        "lead_id": _as_string(frame["lead_id"]) if "lead_id" in frame.columns else pd.NA,
        "date_created": frame["date_created"].astype(UTC_DATETIME_DTYPE),
        "outcome_id": _as_string(frame["outcome_id"]),
        "duration": frame["duration"].astype("Int64") if "duration" in frame.columns else pd.NA,
    })
    for name in ("user_id", "user_name", "lead_id"):
        part[name] = part[name].astype(STRING_DTYPE)
    part["duration"] = part["duration"].astype("Int64")
    part["status"] = _optional_string(frame, "status")
    part["disposition"] = _optional_string(frame, "disposition")
    part["connected"] = _connected(part, kind)
    part["autofilled"] = autofilled_mask(frame, part["outcome_id"])
    return part.reset_index(drop=True)


def _optional_string(frame: pd.DataFrame, column: str) -> pd.Series:
    if column in frame.columns:
        return frame[column].astype(object).astype(STRING_DTYPE)
    return pd.Series(pd.NA, index=frame.index, dtype=STRING_DTYPE)


#: Call ``status`` values of a call that reached someone, used when Close sends no ``disposition``.
CONNECTED_CALL_STATUSES = ("completed",)
#: Meeting ``status`` values of a meeting that took place (a manual meeting has none: it took place if it started).
HELD_MEETING_STATUSES = ("completed", "in-progress")


def _connected(part: pd.DataFrame, kind: str) -> np.ndarray:
    """True for a call that connected (``disposition`` answered; without one, ``status`` completed) or a meeting
    that took place (``status`` completed or in progress; without a status, one that has started)."""
    status = part["status"].astype(object)
    if kind == "call":
        disposition = part["disposition"].astype(object)
        by_status = status.isin(CONNECTED_CALL_STATUSES)
        return np.where(disposition.notna(), disposition == "answered", by_status).astype(bool)
    started = (part["date_created"] <= pd.Timestamp.now(tz="UTC")).to_numpy(dtype=bool, na_value=False)
    return np.where(status.notna(), status.isin(HELD_MEETING_STATUSES), started).astype(bool)


#: Fields Close sends on an activity whose outcome was filled in automatically (AI outcome autofill).
AUTOFILL_FIELDS = ("outcome_autofill_reasoning", "outcome_autofill_confidence", "outcome_reason")


#: First words of an ``outcome_reason`` that name an automatic source ("autodetected", "autofill", "ai"...) and a
#: person ("user-selected", "manual"...). Close's values are unknown ([I]); the sandbox's ``autofill_marking`` knob
#: plays each possibility.
_AUTOMATIC_REASON_WORDS = ("auto", "ai")
_PERSON_REASON_WORDS = ("user", "manual", "human", "person")
_FIRST_WORD = re.compile(r"[a-z]+")


def _reason_kind(value: object) -> str | None:
    """``"auto"``, ``"person"`` or ``None`` (missing or not recognized) for one ``outcome_reason``."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    word = _FIRST_WORD.search(str(value).casefold())
    if word is None:
        return None
    word = word.group()
    if word.startswith(_AUTOMATIC_REASON_WORDS[0]) or word in _AUTOMATIC_REASON_WORDS[1:]:
        return "auto"
    if word.startswith(_PERSON_REASON_WORDS):
        return "person"
    return None


def autofilled_mask(frame: pd.DataFrame, outcome_id: pd.Series | None = None) -> pd.Series:
    """Whether each activity's outcome was filled in automatically.

    ``pd.NA`` throughout when none of :data:`AUTOFILL_FIELDS` has a value on any activity (Close did not send them,
    or the frames pin the columns but they are empty everywhere: nothing tells automatic from manual). Else, for an
    activity with an outcome: ``outcome_reason`` decides when it names a source, automatic ("autodetected",
    "autofill", "ai"...: True) or a person ("user-selected", "manual"...: False, even when an
    ``outcome_autofill_reasoning`` text was left behind by the automatic pick the person replaced); where it is
    missing or not recognized, an ``outcome_autofill_reasoning`` or ``outcome_autofill_confidence`` value means
    True. An activity without an outcome is False.
    """
    present = [c for c in AUTOFILL_FIELDS if c in frame.columns and frame[c].notna().any()]
    if not present:
        return pd.Series(pd.NA, index=frame.index, dtype="boolean")
    by_text = np.zeros(len(frame), dtype=bool)
    for column in ("outcome_autofill_reasoning", "outcome_autofill_confidence"):
        if column in present:
            values = frame[column].astype(object)
            by_text |= (values.notna() & (values.map(str).str.strip() != "")).to_numpy(dtype=bool)
    auto = by_text
    if "outcome_reason" in present:
        reason = frame["outcome_reason"].astype(object).map(_reason_kind).to_numpy(dtype=object)
        auto = np.where(reason == "auto", True, np.where(reason == "person", False, by_text)).astype(bool)
    has_outcome = (frame["outcome_id"] if outcome_id is None else outcome_id).notna().to_numpy(dtype=bool)
    return pd.Series(auto & has_outcome, index=frame.index, dtype="boolean")


def usage_events(outcomes: pd.DataFrame, calls: pd.DataFrame | None = None,
                 meetings: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per call or meeting, with the name and type of its outcome: the frame for custom pivots.

    Parameters
    ----------
    outcomes : pandas.DataFrame
        From :func:`closeframe.load_outcomes` (either ``applies_to`` mode).
    calls, meetings : pandas.DataFrame, optional
        From :func:`closeframe.load_calls` / :func:`closeframe.load_meetings`.

    Returns
    -------
    pandas.DataFrame
        ``organization_id``, ``organization_name`` (when known), ``activity`` (``"call"``/``"meeting"``),
        ``activity_id``, ``user_id``, ``user_name``, ``lead_id``, ``date_created`` (UTC), ``outcome_id``,
        ``outcome_name``, ``outcome_type``, ``deleted`` (an outcome id no outcome resolves), ``duration``; sorted
        by organization, ``date_created`` and ``activity_id``. Then ``status`` and ``disposition`` (as Close
        sent them, missing where it did not), ``connected`` (a call that connected or a meeting that took place,
        see :func:`outcome_usage`'s ``denominator``) and ``autofilled`` (the outcome was filled in automatically;
        ``pd.NA`` where Close sent no autofill field, see :func:`autofilled_mask`).

    Raises
    ------
    ConfigurationError
        A non-frame, or a frame without the columns needed.
    """
    lookup = _outcome_lookup(outcomes)
    parts = [p for p in (_activity_part(calls, "call"), _activity_part(meetings, "meeting")) if p is not None]
    if parts:
        events = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    else:
        events = _activity_part(pd.DataFrame({c: pd.Series(dtype=STRING_DTYPE) for c in _EVENT_SOURCE_COLUMNS})
                                .astype({"date_created": UTC_DATETIME_DTYPE}), "call")
    events = events.merge(lookup, how="left", on=_KEY, indicator=True, sort=False)
    events["deleted"] = (events["outcome_id"].notna() & ((events.pop("_merge") == "left_only")
                                                         | events.pop("deleted_at").notna())).astype(bool)
    events = events.sort_values(["organization_id", "date_created", "activity_id"], kind="stable")
    events["activity"] = pd.Categorical(events["activity"], categories=list(ACTIVITY_KINDS))
    order = ["organization_id", "activity", "activity_id", "user_id", "user_name", "lead_id", "date_created",
             "outcome_id", "outcome_name", "outcome_type", "deleted", "duration", "status", "disposition", "connected",
             "autofilled"]
    events = events[order].reset_index(drop=True)
    return _with_organization_names(events, _organization_names(outcomes, calls, meetings))


def _with_organization_names(frame: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    """Insert ``organization_name`` after ``organization_id`` (when any name is known) and make both categories."""
    if names:
        frame.insert(1, "organization_name",
                     pd.Categorical(frame["organization_id"].astype(object).map(names)))
    frame["organization_id"] = pd.Categorical(frame["organization_id"].astype(object))
    if "outcome_type" in frame.columns:
        frame["outcome_type"] = pd.Categorical(frame["outcome_type"].astype(object))
    return frame


def _counts(events: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """calls, meetings, total, first_used, last_used, users per ``keys`` (missing keys kept as groups)."""
    work = events[keys].copy()
    for key in keys:
        work[key] = work[key].astype(object)
    work["calls"] = (events["activity"] == "call").to_numpy(dtype=np.int64)
    work["meetings"] = (events["activity"] == "meeting").to_numpy(dtype=np.int64)
    work["date_created"] = events["date_created"]
    work["user_id"] = events["user_id"]
    grouped = work.groupby(keys, dropna=False, sort=False)
    out = grouped.agg(calls=("calls", "sum"), meetings=("meetings", "sum"), first_used=("date_created", "min"),
                      last_used=("date_created", "max"), users=("user_id", "nunique")).reset_index()
    for key in keys:
        if key != "period":
            # A key with no value at all (no activity has an outcome) comes back as float64 NaN, which the
            # merges on the (object) keys refuse: keep it object, missing as pd.NA.
            out[key] = out[key].astype(object).where(out[key].notna(), pd.NA)
    out["total"] = out["calls"] + out["meetings"]
    return out


def outcome_usage(outcomes: pd.DataFrame, calls: pd.DataFrame | None = None,
                  meetings: pd.DataFrame | None = None, *, denominator: str = "all", dataset=None,
                  **sql_options) -> pd.DataFrame:
    """How often each outcome of each organization is used on calls and meetings, by how many users, when.

    Parameters
    ----------
    outcomes : pandas.DataFrame
        From :func:`closeframe.load_outcomes`.
    calls, meetings : pandas.DataFrame, optional
        From :func:`closeframe.load_calls` / :func:`closeframe.load_meetings`; a missing one counts as none.
    denominator : {"all", "connected", "with_outcome"}, default "all"
        Which activities ``share`` is a fraction of. ``"all"``: every loaded call and meeting, whatever its
        outcome (an organization's shares, its no-outcome row included, add up to 1). ``"connected"``: only calls
        that connected (``disposition`` "answered"; where Close sent no disposition, ``status`` "completed") and
        meetings that took place (``status`` "completed" or "in-progress"; a manual meeting without a status once
        it has started); the counts then cover those activities only, and the shares still add up to 1. Both are
        inferred, as Close has no "connected" flag: a call with neither ``disposition`` nor ``status`` (both
        null) does not count as connected, and a meeting's start is compared with the current time. Calls
        whose ``disposition`` and ``status`` are missing altogether (not loaded) raise rather than count none.
        ``"with_outcome"``: every activity counted, shares of the activities that carry an outcome (the
        no-outcome row's ``share`` is NaN), as the plots show by default.

    Returns
    -------
    pandas.DataFrame
        One row per (organization, outcome): :data:`USAGE_COLUMNS` (``organization_name`` when known), then
        ``autofilled`` when Close's autofill fields (:data:`AUTOFILL_FIELDS`) have a value on some activity: how
        many of ``total`` had
        their outcome filled in automatically; ``total - autofilled`` were set by people. Outcomes
        never used have zeros and ``NaT`` dates; an ``outcome_id`` no outcome resolves has ``deleted=True``; the
        activities without an outcome are one row per organization with ``outcome_id`` missing (also in
        ``attrs["no_outcome"]``). ``share`` is ``total`` over the organization's activities (0 when it has none);
        ``users`` counts distinct ``user_id``. Sorted by organization, then ``total`` descending, then name,
        the no-outcome row last.

    Examples
    --------
    >>> usage = cf.outcome_usage(outcomes, calls, meetings)                      # doctest: +SKIP
    >>> usage[usage.deleted]                                                     # doctest: +SKIP

    Beyond memory: ``dataset="calls/"`` (a Parquet dataset of calls, or a mapping ``{"calls": ..., "meetings":
    ...}``), or a DuckDB option (``memory_limit=``, ``threads=``, ``temp_directory=``) with frames, computes the
    same table with DuckDB, in bounded memory; see :mod:`closeframe.usage.sql`.
    """
    if denominator not in DENOMINATORS:
        raise ConfigurationError(f"denominator={denominator!r} is not one of {', '.join(map(repr, DENOMINATORS))}.")
    if dataset is not None or sql_options:
        from closeframe.usage.sql import outcome_usage_sql, sources_from

        if denominator != "all":
            raise ConfigurationError(f"denominator={denominator!r} is computed by the pandas path only; the DuckDB "
                                     "path (dataset= or a DuckDB option) counts all activities: leave it 'all'.")
        return outcome_usage_sql(outcomes, *sources_from(dataset, calls, meetings), **sql_options)
    events = usage_events(outcomes, calls, meetings)
    if denominator == "connected":
        _check_calls_tell_connected(events)
        events = events[events["connected"].to_numpy(dtype=bool)]
    lookup = _outcome_lookup(outcomes)
    counts = _counts(events, _KEY)
    autofill = events["autofilled"].notna().any()
    if autofill:
        auto = events[events["autofilled"].fillna(False).to_numpy(dtype=bool)]
        auto_counts = _counts(auto, _KEY)[_KEY + ["total"]].rename(columns={"total": "autofilled"})
        counts = counts.merge(auto_counts, how="left", on=_KEY)
    counted = events[events["outcome_id"].notna().to_numpy()] if denominator == "with_outcome" else events
    per_org = counted.groupby(counted["organization_id"].astype(object), sort=False).size()
    return _usage_from_counts(outcomes, lookup, counts, per_org, autofill=autofill, denominator=denominator,
                              names=(calls, meetings))


def _usage_from_counts(outcomes: pd.DataFrame, lookup: pd.DataFrame, counts: pd.DataFrame, per_org: pd.Series,
                       *, autofill: bool, denominator: str, names: Iterable[pd.DataFrame | None]) -> pd.DataFrame:
    """The :func:`outcome_usage` table from per-(organization, outcome) counts; the pandas and DuckDB paths share it.

    ``counts`` has :data:`_KEY`, ``calls``, ``meetings``, ``total``, ``users``, ``first_used``, ``last_used`` (and
    ``autofilled`` when ``autofill``); ``per_org`` is each organization's denominator; ``names`` are frames that
    may carry organization names.
    """
    base = pd.concat([
        lookup.astype(object),
        counts.loc[~counts.set_index(_KEY).index.isin(lookup.set_index(_KEY).index), _KEY],
    ], ignore_index=True)
    usage = base.merge(counts, how="left", on=_KEY)
    for column in ("calls", "meetings", "total", "users") + (("autofilled",) if autofill else ()):
        usage[column] = usage[column].fillna(0).astype(np.int64)
    for column in ("first_used", "last_used", "deleted_at"):
        usage[column] = usage[column].astype(UTC_DATETIME_DTYPE)
    for column in ("organization_id", "outcome_id", "outcome_name", "outcome_type"):
        usage[column] = usage[column].astype(STRING_DTYPE)
    resolved = pd.MultiIndex.from_frame(lookup.loc[lookup["deleted_at"].isna(), _KEY].astype(object))
    usage["deleted"] = usage["outcome_id"].notna().to_numpy() & \
        ~pd.MultiIndex.from_frame(usage[_KEY].astype(object)).isin(resolved)
    org_total = usage["organization_id"].astype(object).map(per_org).fillna(0).to_numpy(dtype=float)
    usage["share"] = np.divide(usage["total"].to_numpy(dtype=float), org_total,
                               out=np.zeros(len(usage)), where=org_total > 0)
    usage["_no_outcome"] = usage["outcome_id"].isna()
    usage = usage.sort_values(["organization_id", "_no_outcome", "total", "outcome_name", "outcome_id"],
                              ascending=[True, True, False, True, True], kind="stable", na_position="last")
    no_outcome = usage[usage.pop("_no_outcome")]
    if denominator == "with_outcome":
        usage.loc[usage["outcome_id"].isna(), "share"] = np.nan
    with_deleted_at = "deleted_at" in outcomes.columns
    if with_deleted_at:  # the catalogue's deleted outcomes: only those still on some activity
        usage = usage[usage["deleted_at"].isna() | (usage["total"] > 0)]
    extra = ["autofilled"] if autofill else []
    usage = usage[[c for c in USAGE_COLUMNS if c in usage.columns] + extra
                  + (["deleted_at"] if with_deleted_at else [])].reset_index(drop=True)
    usage = _with_organization_names(usage, _organization_names(outcomes, *names))
    usage.attrs["no_outcome"] = {str(o): int(t) for o, t in zip(no_outcome["organization_id"], no_outcome["total"])}
    usage.attrs["denominator"] = denominator
    return usage


def _with_details(counts: pd.DataFrame, events: pd.DataFrame, keys: list[str], extra: list[str]) -> pd.DataFrame:
    """``counts`` with the outcome's name, type and ``deleted`` (and ``extra`` event columns) of each key."""
    details = events[keys + extra + ["outcome_name", "outcome_type", "deleted"]].astype(
        {k: object for k in keys}).drop_duplicates(keys)
    return counts.merge(details, how="left", on=keys)


def _finish(out: pd.DataFrame, order: list[str], sort_by: list[str], names: dict[str, str]) -> pd.DataFrame:
    """Typed, sorted (``total`` descending, everything else ascending) summary columns in ``order``."""
    for column in ("organization_id", "user_id", "user_name", "outcome_id", "outcome_name", "outcome_type"):
        if column in out.columns:
            out[column] = out[column].astype(STRING_DTYPE)
    out = out.sort_values(sort_by, ascending=[c != "total" for c in sort_by], kind="stable", na_position="last")
    out = out[order].reset_index(drop=True)
    out["deleted"] = out["deleted"].astype(bool)
    return _with_organization_names(out, names)


#: ``credit=`` of :func:`usage_by_user`.
CREDITS = ("owner", "all")


def _user_ids(value: object) -> list[str]:
    """The user ids of a Close ``users`` field: a list of ids or of objects with ``id``/``user_id``."""
    if value is None or isinstance(value, (str, float)) or not hasattr(value, "__iter__"):
        return []
    ids = []
    for item in value:
        ident = item.get("id") or item.get("user_id") if isinstance(item, dict) else item
        if ident is not None and ident is not pd.NA and str(ident):
            ids.append(str(ident))
    return ids


def _credit_all(events: pd.DataFrame, *frames: pd.DataFrame | None) -> pd.DataFrame:
    """``events`` with one row per user credited: the owner and every user of the activity's ``users`` list."""
    credited: dict[str, list[str]] = {}
    for frame in frames:
        if frame is not None and "users" in frame.columns:
            for activity, users in zip(frame["id"].astype(object), frame["users"]):
                ids = _user_ids(users)
                if ids:
                    credited[str(activity)] = ids
    if not credited:
        return events
    owners = events["user_id"].astype(object)
    lists = events["activity_id"].astype(object).map(credited)
    several = lists.notna().to_numpy()
    names = dict(zip(owners[owners.notna()], events.loc[owners.notna(), "user_name"].astype(object)))
    for frame in frames:
        if frame is not None and {"user_id", "user_name"} <= set(frame.columns):
            pairs = frame[["user_id", "user_name"]].astype(object).dropna()
            names.update(zip(pairs["user_id"], pairs["user_name"]))
    expanded = events[several].copy()
    expanded["user_id"] = [list(dict.fromkeys(([owner] if pd.notna(owner) else []) + ids))
                           for owner, ids in zip(owners[several], lists[several])]
    expanded = expanded.explode("user_id")
    expanded["user_name"] = expanded["user_id"].map(names)
    for column in ("user_id", "user_name"):
        expanded[column] = expanded[column].astype(STRING_DTYPE)
    return pd.concat([events[~several], expanded], ignore_index=True)


def usage_by_user(outcomes: pd.DataFrame, calls: pd.DataFrame | None = None,
                  meetings: pd.DataFrame | None = None, *, credit: str = "owner") -> pd.DataFrame:
    """Usage per (organization, user, outcome): who logs which outcome how often.

    Parameters
    ----------
    outcomes, calls, meetings : pandas.DataFrame
        As for :func:`outcome_usage`.
    credit : {"owner", "all"}, default "owner"
        ``"owner"``: each activity counts once, for its ``user_id`` (who logged it). ``"all"``: an activity
        whose Close ``users`` list names several users (a meeting with colleagues) counts once for each of them
        and for its owner, so the users' totals add up to more than the activities; without a ``users`` column
        this is the same as ``"owner"``.

    Returns
    -------
    pandas.DataFrame
        ``organization_id``, ``organization_name`` (when known), ``user_id``, ``user_name``, ``outcome_id``
        (missing: activities without an outcome), ``outcome_name``, ``outcome_type``, ``deleted``, ``calls``,
        ``meetings``, ``total``, ``share`` (of that user's activities), ``first_used``, ``last_used``. Only
        combinations that occur; sorted by organization, user name, ``total`` descending.
    """
    if credit not in CREDITS:
        raise ConfigurationError(f"credit={credit!r} is not one of {', '.join(map(repr, CREDITS))}.")
    events = usage_events(outcomes, calls, meetings)
    if credit == "all":
        events = _credit_all(events, calls, meetings)
    keys = ["organization_id", "user_id", "outcome_id"]
    out = _with_details(_counts(events, keys).drop(columns="users"), events, keys, ["user_name"])
    per_user = out.groupby(["organization_id", "user_id"], dropna=False)["total"].transform("sum")
    out["share"] = out["total"] / per_user.where(per_user > 0, 1)
    order = ["organization_id", "user_id", "user_name", "outcome_id", "outcome_name", "outcome_type", "deleted",
             "calls", "meetings", "total", "share", "first_used", "last_used"]
    return _finish(out, order, ["organization_id", "user_name", "user_id", "total", "outcome_name"],
                   _organization_names(outcomes, calls, meetings))


def usage_by_week(outcomes: pd.DataFrame, calls: pd.DataFrame | None = None, meetings: pd.DataFrame | None = None,
                  *, freq: str = "W") -> pd.DataFrame:
    """Usage per (organization, period, outcome): how usage moves over time.

    Parameters
    ----------
    outcomes, calls, meetings : pandas.DataFrame
        As for :func:`outcome_usage`.
    freq : str, default "W"
        A pandas period alias: ``"W"`` weeks starting Monday, ``"D"``, ``"M"`` months, ``"Q"``, ``"Y"``.

    Returns
    -------
    pandas.DataFrame
        ``organization_id``, ``organization_name`` (when known), ``period`` (the period's first instant, UTC),
        ``outcome_id`` (missing: no outcome), ``outcome_name``, ``outcome_type``, ``deleted``, ``calls``,
        ``meetings``, ``total``, ``users``. Only periods with activity; sorted by organization, period, ``total``
        descending.

    Raises
    ------
    ConfigurationError
        ``freq`` is not a period alias.
    """
    events = usage_events(outcomes, calls, meetings)
    events["period"] = period_start(events["date_created"], freq)
    keys = ["organization_id", "period", "outcome_id"]
    out = _with_details(_counts(events, keys).drop(columns=["first_used", "last_used"]), events,
                        ["organization_id", "outcome_id"], [])
    out["period"] = out["period"].astype(UTC_DATETIME_DTYPE)
    order = ["organization_id", "period", "outcome_id", "outcome_name", "outcome_type", "deleted", "calls",
             "meetings", "total", "users"]
    return _finish(out, order, ["organization_id", "period", "total", "outcome_name"],
                   _organization_names(outcomes, calls, meetings))


def period_start(times: pd.Series, freq: str) -> pd.Series:
    """The first instant (UTC) of the ``freq`` period each of ``times`` falls in.

    Raises
    ------
    ConfigurationError
        ``freq`` is not a pandas period alias.
    """
    try:
        # Periods have no time zone: drop it first (UTC), so pandas does not warn, and put it back after.
        naive = pd.Series(times).dt.tz_convert("UTC").dt.tz_localize(None)
        return naive.dt.to_period(freq).dt.start_time.dt.tz_localize("UTC").astype(UTC_DATETIME_DTYPE)
    except (ValueError, TypeError, AttributeError) as exc:
        raise ConfigurationError(
            f"freq={freq!r} is not a period alias: use 'D', 'W' (weeks from Monday), 'M', 'Q' or 'Y' ({exc})."
        ) from None


def period_span(times: pd.Series, freq: str) -> pd.DatetimeIndex:
    """The first instant (UTC) of every ``freq`` period from the earliest to the latest of ``times``."""
    naive = pd.Series(times).dropna().dt.tz_convert("UTC").dt.tz_localize(None)
    if naive.empty:
        return pd.DatetimeIndex([], dtype=UTC_DATETIME_DTYPE)
    span = pd.period_range(naive.min(), naive.max(), freq=freq).start_time
    return span.tz_localize("UTC").as_unit("us")


# ----------------------------------------------------------------------------------------------------------------
# Across organizations
# ----------------------------------------------------------------------------------------------------------------

_WHITESPACE = re.compile(r"\s+")


def normalize_outcome_name(name: object) -> str | None:
    """The key under which outcomes of different organizations count as "the same outcome".

    Unicode NFKC (full-width letters and compatibility forms folded), case-folded, symbols removed (emoji such as
    ✅ 🎉, which teams add as decoration), every dash made ``-``, whitespace collapsed and stripped. Accents are
    kept: they tell words apart ("Müll"/"Mull"), and removing combining marks would also change Japanese kana
    (デ → テ). Missing or blank names give ``None``.

    Examples
    --------
    >>> normalize_outcome_name("  Demo   BOOKED ✅")
    'demo booked'
    >>> normalize_outcome_name("Bad timing – Q3")
    'bad timing - q3'
    """
    if name is None or name is pd.NA or (isinstance(name, float) and np.isnan(name)):
        return None
    text = unicodedata.normalize("NFKC", str(name)).casefold()
    text = "".join("-" if unicodedata.category(ch) == "Pd" else ch for ch in text
                   if not unicodedata.category(ch).startswith("S") and ch not in "\u200d\ufe0f")
    text = _WHITESPACE.sub(" ", text).strip()
    return text or None


_COMPARE_VALUES = ("total", "calls", "meetings", "share", "users")


def compare_outcomes(usage: pd.DataFrame, *, value: str = "total", min_organizations: int = 1,
                     key: Callable[[object], str | None] = normalize_outcome_name) -> pd.DataFrame:
    """Outcomes with the same normalized name, side by side across organizations.

    Parameters
    ----------
    usage : pandas.DataFrame
        From :func:`outcome_usage` (or :func:`filter_usage`).
    value : {"total", "calls", "meetings", "share", "users"}, default "total"
        What each organization's column shows.
    min_organizations : int, default 1
        Keep names found in at least this many organizations (2: only the shared ones).
    key : callable, default :func:`normalize_outcome_name`
        Maps an outcome name to its comparison key.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``name_key``: ``outcome_name`` (the most used spelling), ``organizations`` (how many have an
        outcome with this key), then one column per organization (its name when known, else its id) with
        ``value``; missing where the organization has no such outcome, 0 where it has one but never used it.
        Deleted outcomes and the no-outcome rows have no name and are left out; two outcomes of one organization
        with the same key are added up. Sorted by ``organizations`` then overall ``total``, descending.
    """
    _check_frame(usage, "usage", ["organization_id", "outcome_name", value if value in usage.columns else "total"])
    if value not in _COMPARE_VALUES:
        raise ConfigurationError(f"value={value!r} is not one of {', '.join(map(repr, _COMPARE_VALUES))}.")
    label = "organization_name" if "organization_name" in usage.columns else "organization_id"
    named = usage[usage["outcome_name"].notna()].copy()
    named["name_key"] = named["outcome_name"].astype(object).map(key)
    named = named[named["name_key"].notna()]
    named["_org"] = named[label].astype(object).map(str)
    organizations = list(dict.fromkeys(usage[label].astype(object).map(str)))
    wide = named.pivot_table(index="name_key", columns="_org", values=value, aggfunc="sum", dropna=False,
                             observed=True).reindex(columns=organizations)
    spelled = named.sort_values("total", ascending=False, kind="stable").drop_duplicates("name_key")
    result = pd.DataFrame({
        "outcome_name": spelled.set_index("name_key")["outcome_name"].reindex(wide.index).astype(STRING_DTYPE),
        "organizations": named.groupby("name_key")["_org"].nunique().reindex(wide.index).astype(np.int64),
    }, index=wide.index)
    dtype = "Float64" if value == "share" else "Int64"
    for org in organizations:
        result[org] = wide[org].astype(dtype)
    overall = named.groupby("name_key")["total"].sum().reindex(result.index)
    result = result.assign(_total=overall).sort_values(["organizations", "_total"], ascending=False,
                                                       kind="stable").drop(columns="_total")
    result.columns.name = None
    return result[result["organizations"] >= int(min_organizations)]


# ----------------------------------------------------------------------------------------------------------------
# Filtering, for the explorer and for notebooks
# ----------------------------------------------------------------------------------------------------------------


def _check_values(name: str, wanted: Iterable, valid: Iterable) -> list:
    wanted = [wanted] if isinstance(wanted, str) else list(wanted)
    valid = sorted({str(v) for v in valid if v is not None and v is not pd.NA})
    unknown = [w for w in wanted if str(w) not in valid]
    if unknown:
        raise ConfigurationError(f"{name}={unknown!r}: not in the frame; valid values are {valid}.")
    return [str(w) for w in wanted]


def filter_usage(usage: pd.DataFrame, *, organizations: Iterable[str] | str | None = None,
                 types: Iterable[str] | str | None = None, include_deleted: bool = True,
                 include_no_outcome: bool = True, min_total: int = 0) -> pd.DataFrame:
    """The rows of a usage (or events, by-user, by-week) frame that match the filters.

    Parameters
    ----------
    usage : pandas.DataFrame
        From :func:`outcome_usage`, :func:`usage_events`, :func:`usage_by_user` or :func:`usage_by_week`.
    organizations : str or iterable of str, optional
        Organization ids or names.
    types : str or iterable of str, optional
        Outcome types (``"custom"``, ``"vm-dropped"``...). Deleted and no-outcome rows have no type: they go
        when types are given.
    include_deleted, include_no_outcome : bool, default True
        Keep the rows of deleted outcomes / of activities without an outcome.
    min_total : int, default 0
        Keep rows whose ``total`` is at least this (frames with a ``total`` column).

    Returns
    -------
    pandas.DataFrame
        The matching rows, index reset; categories unchanged.

    Raises
    ------
    ConfigurationError
        A non-frame, or an organization or type the frame does not have (the message lists the valid ones).
    """
    _check_frame(usage, "usage", ["organization_id", "outcome_id"])
    keep = pd.Series(True, index=usage.index)
    if organizations is not None:
        ids = usage["organization_id"].astype(object)
        names = usage["organization_name"].astype(object) if "organization_name" in usage.columns else ids
        wanted = _check_values("organizations", organizations, set(ids) | set(names))
        keep &= ids.map(str).isin(wanted) | names.map(str).isin(wanted)
    if types is not None:
        types_seen = usage["outcome_type"].astype(object) if "outcome_type" in usage.columns else pd.Series()
        wanted = _check_values("types", types, set(types_seen.dropna()))
        keep &= usage["outcome_type"].astype(object).isin(wanted)
    if not include_deleted and "deleted" in usage.columns:
        keep &= ~usage["deleted"].astype(bool)
    if not include_no_outcome:
        keep &= usage["outcome_id"].notna()
    if min_total and "total" in usage.columns:
        keep &= usage["total"] >= int(min_total)
    out = usage[keep.to_numpy()].reset_index(drop=True)
    out.attrs = dict(usage.attrs)
    return out
