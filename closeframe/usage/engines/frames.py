"""The in-memory engine: usage counts of pandas frames by numpy on category codes (no per-row Python).

Ids are turned into integer codes once (``pd.factorize``, or a categorical's own codes), each activity gets one
integer key ``organization * (outcomes + 1) + outcome``, and every count is a ``np.bincount`` over that key; first
and last use are ``np.minimum.at``/``np.maximum.at``; distinct users are the distinct (key, user) pairs. One
million activities take a few hundred milliseconds, ten million about ten times that, and the memory used is a few
integer arrays the length of the input (see ``bench/usage.py``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from closeframe.usage.definition import COUNT_COLUMNS, autofill_flags, check_frame, connected_flags, empty_counts

__all__ = ["REQUIRED_COLUMNS", "check_activities", "counts", "distinct_codes", "organization_names"]

#: What a calls or meetings frame must have.
REQUIRED_COLUMNS = ("id", "organization_id", "date_created", "outcome_id")
_NAT = np.iinfo(np.int64).min
_FAR = np.iinfo(np.int64).max
#: Above this many (organization, outcome) slots the keys are compressed by hashing instead of indexed directly.
_DIRECT_SLOTS = 1 << 22
#: Distinct values of integers below this many are found with a bitmap (one byte each) instead of a hash table.
_BITMAP = 1 << 26


def check_activities(frame: object, name: str) -> pd.DataFrame:
    """``frame``, or a ConfigurationError naming what is wrong with it."""
    return check_frame(frame, name, REQUIRED_COLUMNS)


def _factorize(values: pd.Series) -> tuple[np.ndarray, list]:
    """(codes, -1 for missing; the distinct values as strings)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy(), [str(c) for c in values.cat.categories]
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return np.asarray(codes), [str(u) for u in uniques]


def _shared_codes(columns: list[pd.Series | None], n: list[int]) -> tuple[list[np.ndarray], list]:
    """Codes of several columns in one numbering (missing or absent: -1), and the values they number."""
    parts = []
    for column, length in zip(columns, n):
        if column is None:
            parts.append((np.full(length, -1, dtype=np.int64), []))
        else:
            parts.append(_factorize(column))
    everything = [u for _, part in parts for u in part]
    glob, values = pd.factorize(pd.Index(everything, dtype=object)) if everything else (np.zeros(0, int), [])
    out, start = [], 0
    for codes, part in parts:
        mapping = np.append(np.asarray(glob[start:start + len(part)], dtype=np.int64), -1)  # -1 stays -1
        start += len(part)
        out.append(mapping[codes.astype(np.int64)] if len(part) else np.full(len(codes), -1, dtype=np.int64))
    return out, list(values)


def _micros(frame: pd.DataFrame) -> np.ndarray:
    """``date_created`` as microseconds since the epoch (UTC), NaT as int64's minimum."""
    times = pd.DatetimeIndex(pd.to_datetime(frame["date_created"], utc=True))
    return times.as_unit("us").asi8


def distinct_codes(values: np.ndarray, size: int) -> np.ndarray:
    """The distinct values of non-negative integers below ``size`` (a bitmap when that is small, else hashing)."""
    if size <= _BITMAP:
        seen = np.zeros(size, dtype=bool)
        seen[values] = True
        return np.flatnonzero(seen)
    return pd.unique(values)


def organization_names(*frames: pd.DataFrame | None) -> dict[str, str]:
    """``{organization_id: organization_name}`` from every frame that has both columns (codes, not rows)."""
    names: dict[str, str] = {}
    for frame in frames:
        if frame is None or "organization_name" not in frame.columns or not len(frame):
            continue
        ids, id_values = _factorize(frame["organization_id"])
        labels, label_values = _factorize(frame["organization_name"])
        both = (ids >= 0) & (labels >= 0)
        pairs = distinct_codes(ids[both].astype(np.int64) * (len(label_values) + 1) + labels[both],
                          (len(id_values) + 1) * (len(label_values) + 1))
        for pair in pairs:
            names[id_values[pair // (len(label_values) + 1)]] = label_values[pair % (len(label_values) + 1)]
    return names


def counts(calls: pd.DataFrame | None, meetings: pd.DataFrame | None, *, now_us: int) -> pd.DataFrame:
    """:data:`~closeframe.usage.definition.COUNT_COLUMNS` per (organization, outcome) of in-memory frames."""
    parts = [(check_activities(f, name), kind) for f, name, kind in
             ((calls, "calls", "call"), (meetings, "meetings", "meeting")) if f is not None]
    if not parts or not sum(len(f) for f, _ in parts):
        return empty_counts()
    lengths = [len(f) for f, _ in parts]
    org_codes, orgs = _shared_codes([f["organization_id"] for f, _ in parts], lengths)
    out_codes, outs = _shared_codes([f["outcome_id"] for f, _ in parts], lengths)
    user_codes, users = _shared_codes([f["user_id"] if "user_id" in f.columns else None for f, _ in parts],
                                      lengths)
    n_org, n_out, n_user = len(orgs) + 1, len(outs) + 1, len(users) + 1  # the last org slot: missing
    slots = n_org * n_out
    keys = [np.where(o < 0, n_org - 1, o) * n_out + (c + 1) for o, c in zip(org_codes, out_codes)]
    compressed = None
    if slots > _DIRECT_SLOTS:  # many organizations times many outcomes: number the keys that occur instead
        codes, compressed = pd.factorize(np.concatenate(keys))
        keys = np.split(codes.astype(np.int64), np.cumsum(lengths)[:-1])
        slots = len(compressed)
    sums = {c: np.zeros(slots, dtype=np.int64) for c in ("calls", "meetings", "autofilled", "voicemail_drops",
                                                          "connected", "autofill_known", "calls_known")}
    first = np.full(slots, _FAR, dtype=np.int64)
    last = np.full(slots, _NAT, dtype=np.int64)
    pairs = []
    for (frame, kind), key, user in zip(parts, keys, user_codes):
        micros = _micros(frame)
        has_outcome = frame["outcome_id"].notna().to_numpy(dtype=bool)
        auto, drop, known = autofill_flags(frame, has_outcome)
        connected, tells = connected_flags(frame, kind, micros, now_us)
        sums["calls" if kind == "call" else "meetings"] += np.bincount(key, minlength=slots)
        for column, flag in (("autofilled", auto), ("voicemail_drops", drop), ("connected", connected),
                             ("autofill_known", known)):
            sums[column] += np.bincount(key[flag], minlength=slots)
        if kind == "call":
            sums["calls_known"] += np.bincount(key[tells], minlength=slots)
        dated = micros != _NAT
        np.minimum.at(first, key[dated], micros[dated])
        np.maximum.at(last, key[dated], micros[dated])
        seen = user >= 0
        pairs.append(key[seen] * n_user + user[seen])
    distinct = distinct_codes(np.concatenate(pairs), slots * n_user)
    user_counts = np.bincount(distinct // n_user, minlength=slots)
    used = np.flatnonzero(sums["calls"] + sums["meetings"])
    slot = used if compressed is None else np.asarray(compressed)[used]
    org_values = np.asarray(orgs + [None], dtype=object)
    out_values = np.asarray([None] + outs, dtype=object)
    table = pd.DataFrame({"organization_id": org_values[slot // n_out], "outcome_id": out_values[slot % n_out]})
    for column in COUNT_COLUMNS[2:]:
        if column == "first_us":
            values = first[used]
            table[column] = pd.array(np.where(values == _FAR, None, values), dtype="Int64")
        elif column == "last_us":
            values = last[used]
            table[column] = pd.array(np.where(values == _NAT, None, values), dtype="Int64")
        elif column == "users":
            table[column] = user_counts[used]
        else:
            table[column] = sums[column][used]
    return table
