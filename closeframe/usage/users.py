"""Who an activity credits, and how users are labelled: the user arrays :func:`~closeframe.usage.selection.prepare`
builds, vectorized (a million activities take a fraction of a second, not a Python loop per activity).

- :func:`activity_credits`: every (activity, user) of a calls or meetings frame's ``users`` lists, in order, each user
  once per activity.
- :func:`credit_pairs`: the (event row, user) pairs those lists add to ``usage_events`` rows, their owner left out.
- :func:`user_labels`: unique display labels of users (a name two users share gets their organization, then the id).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["activity_credits", "credit_pairs", "display_labels", "user_labels"]


def _is_arrow_string_list(dtype: object) -> bool:
    import pyarrow as pa

    if not isinstance(dtype, pd.ArrowDtype):
        return False
    kind = dtype.pyarrow_dtype
    return (pa.types.is_list(kind) or pa.types.is_large_list(kind)) and (
        pa.types.is_string(kind.value_type) or pa.types.is_large_string(kind.value_type))


def activity_credits(frame: pd.DataFrame) -> pd.DataFrame:
    """``activity_id``, ``user_id``: each user id of each activity's ``users`` list (a list of ids or of objects
    with ``id``/``user_id``), in the frame's order, once per activity; missing and empty ids left out."""
    from closeframe.usage.tables import _user_ids

    users = frame["users"]
    if _is_arrow_string_list(users.dtype):  # as the loaders shape it: no Python object per activity
        import pyarrow as pa
        import pyarrow.compute as pc

        lists = pa.array(users)
        position = pc.list_parent_indices(lists).to_numpy()
        ids = pc.list_flatten(lists).to_numpy(zero_copy_only=False).astype(object)
    else:
        pairs = [(i, ident) for i, value in enumerate(users) for ident in _user_ids(value)]
        position = np.array([i for i, _ in pairs], dtype=np.int64)
        ids = np.array([ident for _, ident in pairs], dtype=object)
    found = pd.DataFrame({"position": position, "user_id": ids})
    found = found[found["user_id"].notna().to_numpy() & (found["user_id"] != "").to_numpy()]
    found = found.drop_duplicates(["position", "user_id"])  # keeps each list's order
    activity = frame["id"].astype(object).to_numpy()[found["position"].to_numpy()]
    return pd.DataFrame({"activity_id": np.array([str(a) for a in activity], dtype=object),
                         "user_id": found["user_id"].to_numpy(dtype=object)})


def credit_pairs(activity_ids: pd.Series, owners: pd.Series, credits: pd.DataFrame,
                 user_index: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    """(event rows, user codes): every user of ``credits`` on each event row other than its owner, in row order
    then list order; ``user_index`` codes the users (every credited user must be in it)."""
    if not len(credits):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int32)
    import pyarrow as pa
    import pyarrow.compute as pc

    if not isinstance(activity_ids.dtype, (pd.StringDtype, pd.ArrowDtype)):  # ids compare as text
        activity_ids = activity_ids.astype(object).map(str)
    listed = pd.Index(pd.unique(credits["activity_id"].to_numpy(dtype=object)))
    # One hash lookup per activity in Arrow (pandas would first convert a million strings to objects); only the
    # activities with a list go on.
    found = pc.index_in(pa.array(activity_ids, type=pa.string()), value_set=pa.array(list(listed), type=pa.string()))
    code = pc.fill_null(found, -1).to_numpy(zero_copy_only=False)
    credited = np.flatnonzero(code >= 0)
    events = pd.DataFrame({"code": code[credited], "row": credited})
    order = pd.DataFrame({"code": listed.get_indexer(credits["activity_id"].to_numpy(dtype=object)),
                          "user_id": credits["user_id"].to_numpy(dtype=object), "order": np.arange(len(credits))})
    pairs = events.merge(order, on="code", how="inner").sort_values(["row", "order"], kind="stable")
    rows = pairs["row"].to_numpy(dtype=np.int64)
    users = pairs["user_id"].to_numpy(dtype=object)
    keep = users != owners.astype(object).to_numpy()[rows]
    return rows[keep], user_index.get_indexer(users[keep]).astype(np.int32)


def display_labels(ids: pd.Series, names: pd.Series | None) -> list[str]:
    """Unique display labels: the name where known, else the id; a name shared by two ids gets its id added."""
    ids = ids.astype(object).map(str)
    labels = ids if names is None else names.astype(object).where(names.notna(), ids).map(str)
    counts = labels.value_counts()
    return [f"{label} ({ident})" if counts[label] > 1 else label for label, ident in zip(labels, ids)]


def user_labels(users: pd.DataFrame, events: pd.DataFrame, organizations: pd.DataFrame) -> list[str]:
    """User names; a name two users share gets the user's organization added (that of the user's last activity),
    then the id if still shared."""
    names = users["user_name"].where(users["user_name"].notna(), users["user_id"]).map(str)
    shared = names.duplicated(keep=False)
    if shared.any():
        codes, uniques = pd.factorize(events["user_id"])
        rows = np.flatnonzero(codes >= 0)
        last = np.full(len(uniques), -1, dtype=np.int64)
        np.maximum.at(last, codes[rows], rows)  # each user's last activity (a dict over every activity, as it were)
        org_ids = events["organization_id"].astype(object).to_numpy()
        org_of = dict(zip(np.asarray(uniques, dtype=object), [str(org_ids[row]) for row in last]))
        label_of = dict(zip(organizations["organization_id"], organizations["label"]))
        orgs = users["user_id"].map(org_of).map(label_of)
        names = names.where(~shared, names + " (" + orgs.fillna("?") + ")")
    return display_labels(users["user_id"], names)
