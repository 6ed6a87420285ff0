"""Hypothesis strategies: organizations with outcomes, calls and meetings shaped as the loaders shape them, and
selections; plus a plain reading of a selection on the raw records (what the usage property tests compare with).

What the generated data holds, each on purpose: several organizations with the same outcome names (spelled
differently), deleted outcomes (ids no outcome resolves, and with ``catalogue=True`` outcomes with a
``deleted_at`` and their last known name), activities without an outcome, without a user or without a date,
Close's autofill fields (its documented reasons, a reason it does not document, blank and real reasoning text,
confidence), calls with and without status/disposition, and meetings in the future.
"""

from __future__ import annotations

import pandas as pd
from hypothesis import strategies as st

from closeframe.shape.frames import calls_frame, meetings_frame, outcomes_frame
from closeframe.usage.selection import Selection
from closeframe.usage.tables import normalize_outcome_name

NOW = pd.Timestamp.now(tz="UTC").floor("D")
#: One name spelled per organization: they meet across organizations after normalize_outcome_name.
NAMES = (("Demo booked", "demo  BOOKED ✅", "Demo Booked"), ("Not interested", "not interested"),
         ("Call back", "Rückruf"), ("Voicemail", "voicemail"))
REASONS = (None, None, "autofilled", "user-selected", "voicemail-dropped", "autodetected")
REASONING = (None, None, "", "  ", "The prospect asked for a demo.")
CONFIDENCE = (None, None, "low", "high")
CALL_STATUSES = (None, "completed", "no-answer", "busy")
DISPOSITIONS = (None, None, "answered", "no-answer", "vm-answer")
MEETING_STATUSES = (None, "completed", "upcoming", "canceled", "in-progress")


def _time(offset_hours: int | None) -> str | None:
    if offset_hours is None:
        return None
    return (NOW + pd.Timedelta(hours=offset_hours)).isoformat()


@st.composite
def organizations(draw, *, catalogue: bool | None = None) -> dict:
    """``{"outcomes", "calls", "meetings"}`` frames, the raw ``records``, the ``orgs`` ids and their ``names``."""
    n_orgs = draw(st.integers(1, 3))
    orgs = [f"orga_{i}{'x' * 5}" for i in range(n_orgs)]
    named = draw(st.booleans())
    names = {org: f"Org {chr(65 + i)}" for i, org in enumerate(orgs)} if named else None
    with_dates = draw(st.booleans()) if catalogue is None else catalogue
    outcomes, live, gone = [], {}, {}
    for o, org in enumerate(orgs):
        picks = draw(st.lists(st.integers(0, len(NAMES) - 1), max_size=4, unique=True))
        for j, n in enumerate(picks):
            record = {"id": f"outcome_{o}_{j}", "organization_id": org, "name": draw(st.sampled_from(NAMES[n])),
                      "type": draw(st.sampled_from(("custom", "custom", "vm-dropped"))), "description": None,
                      "applies_to": ["calls", "meetings"], "date_created": _time(-1000), "date_updated": None}
            if with_dates and draw(st.integers(0, 4)) == 0:
                record["deleted_at"] = _time(-10)
            outcomes.append(record)
        live[org] = [r["id"] for r in outcomes if r["organization_id"] == org]
        gone[org] = [f"outcome_gone_{o}_{k}" for k in range(draw(st.integers(0, 2)))]
    users = [(f"user_{u}", draw(st.sampled_from((f"User {u}", None)))) for u in range(draw(st.integers(1, 4)))]
    autofill = draw(st.booleans())

    def activity(kind: str, i: int) -> dict:
        org = draw(st.sampled_from(orgs))
        choices = live[org] + gone[org] + [None] + ([live[orgs[0]][0]] if live[orgs[0]] else [])
        user_id, user_name = draw(st.sampled_from(users + [(None, None)]))
        future = kind == "meeting" and draw(st.integers(0, 3)) == 0
        # Whole hours from the start of today: the future ones after today, so "now" never falls between engines.
        hours = draw(st.integers(24, 24 * 20)) if future else -draw(st.integers(1, 24 * 120))
        record = {"id": f"acti_{kind}{i}", "organization_id": org, "user_id": user_id, "user_name": user_name,
                  "lead_id": f"lead_{i % 3}", "outcome_id": draw(st.sampled_from(choices)),
                  "date_created": _time(None if draw(st.integers(0, 30)) == 0 else hours),
                  "status": draw(st.sampled_from(CALL_STATUSES if kind == "call" else MEETING_STATUSES))}
        if kind == "call":
            record["disposition"] = draw(st.sampled_from(DISPOSITIONS))
            record["duration"] = draw(st.integers(0, 600))
        if autofill:
            record["outcome_reason"] = draw(st.sampled_from(REASONS))
            record["outcome_autofill_reasoning"] = draw(st.sampled_from(REASONING))
            record["outcome_autofill_confidence"] = draw(st.sampled_from(CONFIDENCE))
        return record

    calls = [activity("call", i) for i in range(draw(st.integers(0, 30)))]
    meetings = [activity("meeting", i) for i in range(draw(st.integers(0, 20)))]
    frame = outcomes_frame(outcomes, organization_names=names)
    if with_dates:
        frame["deleted_at"] = pd.to_datetime(pd.Series([r.get("deleted_at") for r in outcomes], dtype=object),
                                             utc=True).astype("datetime64[us, UTC]")
    return {"outcomes": frame, "calls": calls_frame(calls, organization_names=names),
            "meetings": meetings_frame(meetings, organization_names=names),
            "records": {"outcomes": outcomes, "calls": calls, "meetings": meetings}, "orgs": orgs, "names": names,
            "users": [u for u, _ in users]}


@st.composite
def selections(draw, data: dict) -> Selection:
    """A random :class:`Selection` over ``data`` (by ids; names of outcomes)."""
    orgs = draw(st.lists(st.sampled_from(data["orgs"]), max_size=2, unique=True))
    names = [r["name"] for r in data["records"]["outcomes"]]
    outcomes = draw(st.lists(st.sampled_from(names), max_size=2, unique=True)) if names else []
    kinds = draw(st.sampled_from(((), ("calls",), ("meetings",))))
    users = draw(st.lists(st.sampled_from(data["users"]), max_size=2, unique=True))
    statuses = draw(st.lists(st.sampled_from(("completed", "no-answer", "upcoming")), max_size=2, unique=True))
    since = draw(st.sampled_from((None, _time(-24 * 60))))
    until = draw(st.sampled_from((None, _time(-24 * 10), _time(24 * 5))))
    return Selection(organizations=orgs, outcomes=outcomes, kinds=kinds, users=users, statuses=statuses,
                     since=since, until=until)


def selected_records(data: dict, selection: Selection) -> tuple[list[dict], list[dict], list[dict]]:
    """(outcomes, calls, meetings) records a selection keeps, read plainly: every picker but the outcomes one
    (which narrows the rows of the table, not its denominators)."""
    def keep(record: dict, kind: str) -> bool:
        if selection.empty_range:
            return False
        if selection.organizations and record["organization_id"] not in selection.organizations:
            return False
        if selection.kinds and f"{kind}s" not in selection.kinds:
            return False
        if selection.users and record["user_id"] not in selection.users:
            return False
        if selection.statuses and record["status"] not in selection.statuses:
            return False
        created = pd.Timestamp(record["date_created"]) if record["date_created"] else None
        if selection.since is not None and (created is None or created < selection.since):
            return False
        if selection.until is not None and (created is None or created >= selection.until):
            return False
        return True

    records = data["records"]
    outcomes = [r for r in records["outcomes"]
                if not selection.organizations or r["organization_id"] in selection.organizations]
    return (outcomes, [r for r in records["calls"] if keep(r, "call")],
            [r for r in records["meetings"] if keep(r, "meeting")])


def picked(usage: pd.DataFrame, selection: Selection) -> pd.DataFrame:
    """The rows of a usage table whose outcome name the selection's outcome picker keeps (all without one)."""
    if not selection.outcomes:
        return usage
    keys = usage["outcome_name"].astype(object).map(normalize_outcome_name)
    named = ~(usage["deleted"] & (usage["outcome_name"] == "(deleted outcome)")).to_numpy(dtype=bool)
    return usage[keys.isin(selection.outcomes).to_numpy(dtype=bool) & named].reset_index(drop=True)
