"""The users an activity's ``users`` list credits (closeframe.usage.users), read from Arrow lists as the loaders shape
them or from Python lists of ids or objects, counted from the recorded pages."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from closeframe.shape.frames import calls_frame, meetings_frame, outcomes_frame
from closeframe.usage.selection import prepare

REAL = Path(__file__).parents[1] / "fixtures" / "usage_real"


def _pages() -> dict[str, list[dict]]:
    return {kind: json.loads((REAL / f"{kind}_gamma.json").read_text(encoding="utf-8"))["data"]
            for kind in ("outcomes", "calls", "meetings")}


def test_credits_of_arrow_lists_and_of_object_lists_are_the_records_users_other_than_the_owner():
    pages = _pages()
    outcomes, calls, meetings = (outcomes_frame(pages["outcomes"]), calls_frame(pages["calls"]),
                                 meetings_frame(pages["meetings"]))
    from_arrow = prepare(outcomes, calls, meetings)

    # The same lists as Close's objects, with a missing id, an empty one and a repeat that count for nothing.
    def as_objects(frame: pd.DataFrame) -> pd.DataFrame:
        lists = [[{"id": u} for u in (users if users is not None else [])] + [{"id": None}, {"user_id": ""}]
                 + [{"user_id": u} for u in (users if users is not None else [])[:1]] for users in frame["users"]]
        return frame.assign(users=pd.Series(lists, index=frame.index, dtype=object))

    from_objects = prepare(outcomes, as_objects(calls), as_objects(meetings))
    assert np.array_equal(from_arrow.credit_row, from_objects.credit_row)
    assert np.array_equal(from_arrow.credit_user, from_objects.credit_user)

    # Counted from the records: each distinct user of a list, other than the activity's owner.
    expected = sorted((record["id"], user) for record in pages["calls"] + pages["meetings"]
                      for user in dict.fromkeys(record.get("users") or []) if user and user != record["user_id"])
    activity = from_arrow.events["activity_id"].astype(object).to_numpy()
    user_id = from_arrow.users["user_id"].to_numpy(dtype=object)
    got = sorted(zip(activity[from_arrow.credit_row], user_id[from_arrow.credit_user]))
    assert got == expected and expected  # the recorded pages do credit other users
