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
  organization, its no-outcome row included, add up to 1; ``share_of_outcomes`` is a fraction of its activities
  that have an outcome; ``share_of_connected`` of its connected calls and held meetings. Each denominator has its
  own column name everywhere (:mod:`closeframe.usage.definition` defines them, ``docs/usage.md`` explains them).
- A deleted outcome is labelled by its last known name, else :data:`DELETED_OUTCOME_LABEL`.
- Times are ``date_created`` (UTC), the time the activity was logged.

:func:`outcome_usage` runs on an engine (``engine=``): in-memory frames (numpy), DuckDB (frames, Parquet datasets,
the store) or Spark; every engine counts by :mod:`closeframe.usage.definition` and the table is finished by
:func:`closeframe.usage.definition.finish_usage`, so the engines give the same table.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Callable, Iterable, NamedTuple

import numpy as np
import pandas as pd

from closeframe.errors import ConfigurationError
from closeframe.shape.frames import STRING_DTYPE, UTC_DATETIME_DTYPE
from closeframe.usage.definition import (
    ACTIVITY_KINDS,
    AUTOFILL_FIELDS,
    DELETED_OUTCOME_LABEL,
    DENOMINATORS,
    SHARE_COLUMNS,
    USAGE_COLUMNS,
    _categorical,
    autofill_flags,
    check_denominator,
    check_frame,
    connected_flags,
    finish_usage,
    outcome_lookup,
)
from closeframe.usage.engines import frames as frames_engine

__all__ = [
    "ACTIVITY_KINDS",
    "AUTOFILL_FIELDS",
    "CREDITS",
    "CompareGrid",
    "DELETED_OUTCOME_LABEL",
    "DENOMINATORS",
    "ENGINES",
    "SHARE_COLUMNS",
    "USAGE_COLUMNS",
    "autofilled_mask",
    "compare_grid",
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

#: ``engine=`` of :func:`outcome_usage`.
ENGINES = ("pandas", "duckdb", "spark")
#: The keyword options :func:`outcome_usage` passes to DuckDB.
DUCKDB_OPTIONS = ("memory_limit", "threads", "temp_directory")

_EVENT_SOURCE_COLUMNS = ("id", "organization_id", "user_id", "user_name", "lead_id", "date_created", "outcome_id",
                         "duration")
_KEY = ["organization_id", "outcome_id"]


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


def _check_calls_tell_connected(calls: int, calls_known: int) -> None:
    """Refuse ``denominator="connected"`` when no call has a ``status`` or ``disposition``: every call would count
    as not connected, silently, when the columns were only left out of the load."""
    if calls and not calls_known:
        raise ConfigurationError(
            f"denominator='connected' needs the calls' status or disposition, and none of the {calls:,} calls "
            "has either: load them (fields= with 'status' and 'disposition') or use denominator='all' or "
            "'with_outcome'.")


def _activity_part(frame: pd.DataFrame | None, kind: str, now_us: int) -> pd.DataFrame | None:
    if frame is None:
        return None
    check_frame(frame, f"{kind}s", ["id", "organization_id", "date_created", "outcome_id"])
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
    micros = pd.DatetimeIndex(part["date_created"]).as_unit("us").asi8
    part["connected"] = connected_flags(frame, kind, micros, now_us)[0]
    auto, drop, known = autofill_flags(frame, part["outcome_id"].notna().to_numpy(dtype=bool))
    part["autofilled"] = pd.array(np.where(known, auto, None), dtype="boolean")
    part["voicemail_drop"] = pd.array(np.where(known, drop, None), dtype="boolean")
    return part.reset_index(drop=True)


def _optional_string(frame: pd.DataFrame, column: str) -> pd.Series:
    if column in frame.columns:
        return frame[column].astype(object).astype(STRING_DTYPE)
    return pd.Series(pd.NA, index=frame.index, dtype=STRING_DTYPE)


def autofilled_mask(frame: pd.DataFrame, outcome_id: pd.Series | None = None) -> pd.Series:
    """Whether each activity's outcome was set by Close (see :func:`closeframe.usage.definition.autofill_flags`).

    ``pd.NA`` on an activity without a value in any of :data:`AUTOFILL_FIELDS` (Close said nothing about how its
    outcome was set); False on one without an outcome.
    """
    has_outcome = (frame["outcome_id"] if outcome_id is None else outcome_id).notna().to_numpy(dtype=bool)
    auto, _, known = autofill_flags(frame, has_outcome)
    return pd.Series(pd.array(np.where(known, auto, None), dtype="boolean"), index=frame.index)


def _now_us() -> int:
    return int(pd.Timestamp.now(tz="UTC").as_unit("us").value)


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
        see :func:`outcome_usage`'s ``denominator``), ``autofilled`` (the outcome was set by Close) and
        ``voicemail_drop`` (set by a voicemail drop), both ``pd.NA`` where Close sent no autofill field (see
        :func:`autofilled_mask`).

    Raises
    ------
    ConfigurationError
        A non-frame, or a frame without the columns needed.
    """
    lookup = outcome_lookup(outcomes)
    now_us = _now_us()
    parts = [p for p in (_activity_part(calls, "call", now_us), _activity_part(meetings, "meeting", now_us))
             if p is not None]
    if parts:
        events = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    else:
        events = _activity_part(pd.DataFrame({c: pd.Series(dtype=STRING_DTYPE) for c in _EVENT_SOURCE_COLUMNS})
                                .astype({"date_created": UTC_DATETIME_DTYPE}), "call", now_us)
    events = events.merge(lookup, how="left", on=_KEY, indicator=True, sort=False)
    events["deleted"] = (events["outcome_id"].notna() & ((events.pop("_merge") == "left_only")
                                                         | events.pop("deleted_at").notna())).astype(bool)
    events["outcome_name"] = events["outcome_name"].mask(events["deleted"] & events["outcome_name"].isna(),
                                                         DELETED_OUTCOME_LABEL)
    events = events.iloc[_event_order(events)]
    events["activity"] = pd.Categorical(events["activity"], categories=list(ACTIVITY_KINDS))
    order = ["organization_id", "activity", "activity_id", "user_id", "user_name", "lead_id", "date_created",
             "outcome_id", "outcome_name", "outcome_type", "deleted", "duration", "status", "disposition", "connected",
             "autofilled", "voicemail_drop"]
    events = events[order].reset_index(drop=True)
    return _with_organization_names(events, _organization_names(outcomes, calls, meetings))


def _event_order(events: pd.DataFrame) -> np.ndarray:
    """The row order of ``events.sort_values(["organization_id", "date_created", "activity_id"], kind="stable")``
    (missing values last in each key), from integer keys: comparing a million activity ids as strings was most
    of the sort's time, and they only decide between activities of one organization at the same instant."""
    def codes(values: Any) -> np.ndarray:  # sorted codes, missing last
        code, uniques = pd.factorize(values, sort=True)
        return np.where(code < 0, len(uniques), code)

    organization = codes(events["organization_id"])
    when = events["date_created"].array.asi8
    missing = events["date_created"].isna().to_numpy()
    order = np.lexsort((when, missing, organization))
    # Ties of (organization, instant): only those rows' ids are compared.
    same = (organization[order][1:] == organization[order][:-1]) & (when[order][1:] == when[order][:-1]) \
        & (missing[order][1:] == missing[order][:-1])
    tied = np.zeros(len(order), dtype=bool)
    tied[1:] |= same
    tied[:-1] |= same
    if not tied.any():
        return order
    rank = np.zeros(len(order), dtype=np.int64)
    rows = order[tied]
    rank[rows] = codes(events["activity_id"].to_numpy(dtype=object)[rows])
    return np.lexsort((rank, when, missing, organization))


def _with_organization_names(frame: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    """Insert ``organization_name`` after ``organization_id`` (when any name is known) and make both categories."""
    # From each column's few distinct values, not its million strings; the categories as pandas inferred them
    # (from the ids as objects, from the mapped names as a new column).
    ids, id_values = _codes(frame["organization_id"])
    if names:
        frame.insert(1, "organization_name", _categorical(
            ids, np.array([names.get(v) if v is not None else None for v in id_values], dtype=object), "series"))
    frame["organization_id"] = _categorical(ids, id_values, "objects")
    if "outcome_type" in frame.columns:
        frame["outcome_type"] = _categorical(*_codes(frame["outcome_type"]), "objects")
    return frame


def _codes(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(codes, distinct values as objects with a None last): code -1, a missing value, picks that None."""
    codes, uniques = pd.factorize(column)
    return codes, np.append(np.asarray(uniques, dtype=object), None)


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


def outcome_usage(outcomes: pd.DataFrame, calls: Any = None, meetings: Any = None, *, denominator: str = "all",
                  dataset: Any = None, engine: str | None = None, spark: Any = None, **duckdb_options) -> pd.DataFrame:
    """How often each outcome of each organization is used on calls and meetings, by how many users, when.

    Parameters
    ----------
    outcomes : pandas.DataFrame
        From :func:`closeframe.load_outcomes` (or :func:`closeframe.outcome_catalogue`, which names deleted
        outcomes).
    calls, meetings : pandas.DataFrame, optional
        From :func:`closeframe.load_calls` / :func:`closeframe.load_meetings`; a missing one counts as none. With
        ``engine="duckdb"``/``"spark"`` also a Parquet file or dataset folder (or, for Spark, a Spark DataFrame).
    denominator : {"all", "with_outcome", "connected"}, default "all"
        The table always has ``share`` (of all the organization's activities; its shares, the no-outcome row
        included, add up to 1) and ``share_of_outcomes`` (of its activities that have an outcome; NaN on the
        no-outcome row). ``"connected"`` adds ``connected`` (how many of ``total`` are calls that connected --
        ``disposition`` "answered", else ``status`` "completed" -- or meetings that took place -- ``status``
        "completed"/"in-progress", else started by now) and ``share_of_connected`` (of the organization's
        connected calls and held meetings). Calls without any status or disposition (not loaded) raise rather
        than count as never connected.
    dataset : str, Path or mapping, optional
        Activities beyond memory: a Parquet file or (hive-partitioned) dataset folder of calls, or a mapping
        ``{"calls": ..., "meetings": ..., "cache": folder}`` (``cache``: the loaders' store, DuckDB only).
        Implies ``engine="duckdb"`` unless another is given.
    engine : {"pandas", "duckdb", "spark"}, optional
        Who counts: ``"pandas"`` (in memory, numpy on category codes; the default for frames), ``"duckdb"``
        (frames, Parquet, the store; bounded memory; the default with ``dataset=`` or a DuckDB option) or
        ``"spark"`` (frames, Spark DataFrames or Parquet paths; ``pip install "closeframe[spark]"``). Every
        engine gives the same table.
    spark : pyspark.sql.SparkSession, optional
        The session for ``engine="spark"`` (default: the active one, else a local one).
    **duckdb_options
        ``memory_limit=`` (default "1GB"), ``threads=``, ``temp_directory=`` for DuckDB.

    Returns
    -------
    pandas.DataFrame
        One row per (organization, outcome): :data:`USAGE_COLUMNS` (``organization_name`` when known), then
        ``autofilled`` and ``voicemail_drops`` when Close's autofill fields (:data:`AUTOFILL_FIELDS`) have a value
        on some activity (how many of ``total`` had their outcome set by Close, and how many of those were
        voicemail drops), then ``deleted_at`` with a catalogue. Outcomes never used have zeros and ``NaT`` dates;
        an ``outcome_id`` no live outcome resolves has ``deleted=True`` and its last known name, else
        :data:`DELETED_OUTCOME_LABEL`; the activities without an outcome are one row per organization with
        ``outcome_id`` missing (also in ``attrs["no_outcome"]``). ``users`` counts distinct ``user_id``. Sorted by
        organization, then ``total`` descending, then name, the no-outcome row last.

    Raises
    ------
    ConfigurationError
        A bad denominator, engine, option or source (the message lists the valid ones).

    Examples
    --------
    >>> usage = cf.outcome_usage(outcomes, calls, meetings)                      # doctest: +SKIP
    >>> cf.outcome_usage(outcomes, dataset={"calls": "calls/", "meetings": "meetings/"},
    ...                  engine="spark")                                          # doctest: +SKIP
    """
    check_denominator(denominator)
    unknown = sorted(set(duckdb_options) - set(DUCKDB_OPTIONS))
    if unknown:
        raise ConfigurationError(f"outcome_usage() got the unknown options {unknown}; DuckDB's are "
                                 f"{', '.join(map(repr, DUCKDB_OPTIONS))}.")
    if engine is None:
        engine = "duckdb" if dataset is not None or duckdb_options else "pandas"
    if engine not in ENGINES:
        raise ConfigurationError(f"engine={engine!r} is not one of {', '.join(map(repr, ENGINES))}.")
    if duckdb_options and engine != "duckdb":
        raise ConfigurationError(f"{sorted(duckdb_options)} are DuckDB options; engine={engine!r} takes none.")
    if spark is not None and engine != "spark":
        raise ConfigurationError(f"spark= is a Spark session, for engine='spark' (engine={engine!r}).")
    lookup = outcome_lookup(outcomes)
    now_us = _now_us()
    if engine == "pandas":
        if dataset is not None:
            raise ConfigurationError("dataset= is read by engine='duckdb' or 'spark'; engine='pandas' counts frames.")
        counts = frames_engine.counts(calls, meetings, now_us=now_us)
        names = frames_engine.organization_names(calls, meetings)
    else:
        from closeframe.usage.sources import sources_from

        calls, meetings = sources_from(dataset, calls, meetings)
        if engine == "duckdb":
            from closeframe.usage.engines.duckdb import counts as duckdb_counts

            counts, names = duckdb_counts(calls, meetings, now_us=now_us, **duckdb_options)
        else:
            from closeframe.usage.engines.spark import counts as spark_counts

            counts, names = spark_counts(calls, meetings, now_us=now_us, spark=spark)
    if denominator == "connected":
        _check_calls_tell_connected(int(counts["calls"].sum()), int(counts["calls_known"].sum()))
    names = {**frames_engine.organization_names(outcomes), **names}
    return finish_usage(lookup, counts, names=names, denominator=denominator,
                        catalogue_dates="deleted_at" in outcomes.columns)


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
        ``meetings``, ``total``, ``share_of_user`` (of that user's activities), ``first_used``, ``last_used``. Only
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
    out["share_of_user"] = out["total"] / per_user.where(per_user > 0, 1)
    order = ["organization_id", "user_id", "user_name", "outcome_id", "outcome_name", "outcome_type", "deleted",
             "calls", "meetings", "total", "share_of_user", "first_used", "last_used"]
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


_COMPARE_VALUES = ("total", "calls", "meetings", *SHARE_COLUMNS.values(), "connected", "users")


def _per_distinct(values: np.ndarray, function: Callable[[object], Any]) -> np.ndarray:
    """``function`` of each value (object array), called once per distinct value: the same names repeat in
    every organization, and normalizing a name is slow Python. Missing values (None, NaN, NA) each as they are."""
    codes, distinct = pd.factorize(values)
    mapped = np.empty(len(distinct) + 1, dtype=object)
    mapped[:-1] = [function(value) for value in distinct]
    out = mapped[codes]
    missing = np.flatnonzero(codes < 0)
    out[missing] = [function(value) for value in values[missing]] if len(missing) else []
    return out


def compare_outcomes(usage: pd.DataFrame, *, value: str = "total", min_organizations: int = 1,
                     key: Callable[[object], str | None] = normalize_outcome_name) -> pd.DataFrame:
    """Outcomes with the same normalized name, side by side across organizations.

    Parameters
    ----------
    usage : pandas.DataFrame
        From :func:`outcome_usage` (or :func:`filter_usage`).
    value : {"total", "calls", "meetings", "share", "share_of_outcomes", "share_of_connected", "connected", \
"users"}, default "total"
        What each organization's column shows (a share column only where ``usage`` has it).
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
        Deleted outcomes without a known name (:data:`DELETED_OUTCOME_LABEL`) and the no-outcome rows are left
        out; two outcomes of one organization
        with the same key are added up. Sorted by ``organizations`` then overall ``total``, descending.
    """
    return compare_grid(usage, value=value, min_organizations=min_organizations, key=key).frame()


class CompareGrid(NamedTuple):
    """:func:`compare_outcomes` as arrays, its rows in the frame's order: the explorer shows it without a frame.

    ``keys``, ``names`` (the most used spelling), ``counts`` (organizations having the name) per row;
    ``organizations`` the column labels; ``values`` (rows x organizations, float for a share, else int64) and
    ``present`` (the organization has an outcome of that name; where not, ``values`` holds 0).
    """

    keys: np.ndarray
    names: np.ndarray
    counts: np.ndarray
    organizations: list[str]
    values: np.ndarray
    present: np.ndarray

    def frame(self) -> pd.DataFrame:
        """The frame :func:`compare_outcomes` returns."""
        columns = {"outcome_name": pd.array(self.names, dtype=STRING_DTYPE), "organizations": self.counts}
        for j, org in enumerate(self.organizations):  # missing where the organization has no such outcome
            columns[org] = (pd.array(np.where(self.present[:, j], self.values[:, j], np.nan), dtype="Float64")
                            if self.values.dtype.kind == "f"
                            else pd.arrays.IntegerArray(self.values[:, j].copy(), ~self.present[:, j]))
        return pd.DataFrame(columns, index=pd.Index(self.keys, name="name_key"))


def compare_grid(usage: pd.DataFrame, *, value: str = "total", min_organizations: int = 1,
                 key: Callable[[object], str | None] = normalize_outcome_name) -> CompareGrid:
    """The numbers of :func:`compare_outcomes` (same parameters) as a :class:`CompareGrid` of arrays."""
    if value not in _COMPARE_VALUES:
        raise ConfigurationError(f"value={value!r} is not one of {', '.join(map(repr, _COMPARE_VALUES))}.")
    check_frame(usage, "usage", ["organization_id", "outcome_name", "total", value])
    label = "organization_name" if "organization_name" in usage.columns else "organization_id"
    nameless = usage["outcome_name"].isna() | (usage["deleted"].astype(bool) & (
        usage["outcome_name"] == DELETED_OUTCOME_LABEL).fillna(False)) if "deleted" in usage.columns \
        else usage["outcome_name"].isna()
    named_rows = ~nameless.to_numpy(dtype=bool)
    named = usage[named_rows]
    name_key = _per_distinct(named["outcome_name"].to_numpy(dtype=object), key)
    keyed = ~pd.isna(name_key)
    labels = _per_distinct(usage[label].to_numpy(dtype=object), str)
    organizations = list(dict.fromkeys(labels))
    # Arrays, not a pivot table and a column-by-column cast: the explorer asks this on every picker change.
    key_code, keys = pd.factorize(name_key[keyed], sort=True)  # the pivot's index: keys in sorted order
    org_code = pd.Index(organizations, dtype=object).get_indexer(labels[named_rows][keyed])
    total = named["total"].to_numpy()[keyed]
    shape = (len(keys), len(organizations))
    present = np.zeros(shape, dtype=bool)
    present[key_code, org_code] = True
    share = value.startswith("share")
    grid = np.zeros(shape, dtype=float if share else np.int64)
    np.add.at(grid, (key_code, org_code), named[value].to_numpy(dtype=float if share else np.int64)[keyed])
    # The most used spelling of each key: its first row by total, descending (ties: as listed).
    by_use = np.argsort(-total, kind="stable")
    _, first = np.unique(key_code[by_use], return_index=True)
    names = named["outcome_name"].to_numpy(dtype=object)[keyed][by_use[first]]
    counts = present.sum(axis=1).astype(np.int64)
    overall = np.bincount(key_code, weights=total, minlength=len(keys))
    order = np.lexsort((-overall, -counts))
    order = order[counts[order] >= int(min_organizations)]
    return CompareGrid(np.asarray(keys, dtype=object)[order], names[order], counts[order], organizations,
                       grid[order], present[order])


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
    check_frame(usage, "usage", ["organization_id", "outcome_id"])
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
