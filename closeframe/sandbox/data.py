"""Seeded synthetic Close data: organizations, users, outcomes and their call and meeting tables.

Everything here is a pure function of the seed, so the same seed gives the same organizations, ids, keys and
records on every run and every machine. Timestamps are spread before a fixed :data:`NOW`, never the wall clock.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from typing import Any, Sequence

import numpy as np

from closeframe.sandbox.common import DAY_US, EPOCH, NOW, NOW_US, format_us, parse_us, random_id, random_ids
from closeframe.sandbox.tables import DATE_RESOLUTIONS, CallTable, MeetingTable, OrgContext

__all__ = ["BURST_FROM_CALLS", "DEFAULT_BURST", "DEFAULT_ORGANIZATIONS", "OrgSpec", "generate_organization",
           "outcome_sort_key", "resolve_choice", "resolve_org_specs"]

#: By default an organization with this many calls has one burst of DEFAULT_BURST calls at one instant: more
#: than a page, as a power dialer or a bulk import makes them.
BURST_FROM_CALLS = 1_000
DEFAULT_BURST = 150

#: Outcomes were added to Close on this day; seeded outcomes are created after it.
OUTCOMES_LAUNCH = datetime(2025, 7, 29, 10, 30, tzinfo=timezone.utc)

#: (name, e-mail domain) of the default organizations; the third is deliberately non-ASCII.
DEFAULT_ORGANIZATIONS = [
    ("Nordlicht Vertrieb GmbH", "nordlicht.example"),
    ("Acme Robotics", "acme-robotics.example"),
    ("東京 Trading 株式会社", "tokyo-trading.example"),
    ("Café Olé SARL", "cafe-ole.example"),
    ("Prairie Solar Co-op", "prairie-solar.example"),
]

# (first name, last name, ascii slug for the e-mail address)
_USER_NAMES = [
    ("Jürgen", "Müller", "juergen.mueller"),
    ("Alex", "Smith", "alex.smith"),
    ("さくら", "田中", "sakura.tanaka"),
    ("Zoë", "Ødegaard", "zoe.odegaard"),
    ("María José", "García", "maria.garcia"),
    ("Sam", "O'Neill", "sam.oneill"),
    ("Priya", "Raman", "priya.raman"),
    ("Łukasz", "Wiśniewski", "lukasz.wisniewski"),
    ("Chen", "Wei", "chen.wei"),
    ("Fatima", "Al-Sayed", "fatima.alsayed"),
    ("Noah", "Becker", "noah.becker"),
    ("Emma", "Lindqvist", "emma.lindqvist"),
]

_CUSTOM_OUTCOME_NAMES = [
    "Demo booked ✅", "Rückruf vereinbart", "デモ予約", "Interested", "Not interested", "Wrong number",
    "Gatekeeper", "Follow-up scheduled", "Qualified", "Disqualified – no budget", "Meeting held", "No show",
    "Sent proposal", "Closed won 🎉", "Closed lost", "Asked to call back later", "Decision maker reached",
    "Needs pricing information", "Referred to colleague", "Competitor customer", "Timing not right",
    "Entscheidung vertagt", "Kein Interesse", "Termin bestätigt", "見込みあり", "担当者不在", "Très intéressé",
    "Requested a detailed follow-up e-mail summarising every point discussed, including pricing tiers, the "
    "onboarding timeline, single sign-on, the data-residency questions and the integrations with their ERP",
    "Budget approved", "Technical questions", "Trial started", "Trial extended", "Churn risk",
    "Upsell opportunity", "Renewal discussed", "Contract sent", "Legal review", "Do not call",
    "Bad timing – Q3", "Champion identified", "Pilot agreed", "Security review requested",
]
_VM_OUTCOME_NAMES = ["Left Pre-Recorded Voicemail", "Voicemail hinterlassen", "留守電メッセージを残した"]
_VM_DESCRIPTION = "Call went to voicemail and a pre-recorded voicemail message was dropped."
_DESCRIPTIONS = [
    "Prospect is qualified and booked a demo of our software.",
    "Kunde bittet um Rückruf nächste Woche.",
    "担当者と話し、次回の打ち合わせを設定した。",
    "Use when the contact asks for more information by e-mail.",
    "",
]


def resolve_choice(name: str, value: Any, choices: dict) -> Any:
    """``choices[value]``, or a ValueError naming the bad value and listing the valid ones."""
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not one of {', '.join(map(repr, choices))}")
    return choices[value]


class OrgSpec(dict):
    """Resolved sizes of one organization: ``name``, ``domain``, ``outcomes``, ``calls``, ``meetings``, ``users``."""


def _pick_count(value: Any, rng: random.Random, what: str) -> int:
    # An int means exactly that many; a (lo, hi) pair a seeded count in the closed range.
    if isinstance(value, (tuple, list)):
        lo, hi = value
        return rng.randint(int(lo), int(hi))
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 0:
        return int(value)
    raise ValueError(f"{what} must be a non-negative int or a (lo, hi) pair, got {value!r}")


def resolve_org_specs(organizations: int | Sequence[dict], *, seed: int, outcomes: Any, calls: Any,
                      meetings: Any, users: Any, keys_per_org: int) -> list[OrgSpec]:
    """Turn the ``serve(organizations=...)`` argument into one :class:`OrgSpec` per organization.

    Parameters
    ----------
    organizations : int or sequence of dict
        A count of default organizations, or dicts with any of ``name``, ``outcomes``, ``calls``, ``meetings``,
        ``users`` (missing keys use the defaults given here).
    seed : int
        Seeds the random counts of ``(lo, hi)`` ranges.
    outcomes, calls, meetings, users : int or (int, int)
        Defaults per organization.
    keys_per_org : int
        Each key belongs to a different user, so an organization has at least this many users.
    """
    if isinstance(organizations, (int, np.integer)) and not isinstance(organizations, bool):
        if organizations < 1:
            raise ValueError(f"organizations must be at least 1, got {organizations!r}")
        entries: list[dict] = [{} for _ in range(int(organizations))]
    else:
        entries = [dict(entry) for entry in organizations]
        if not entries:
            raise ValueError("organizations must name at least one organization")
    allowed = {"name", "outcomes", "calls", "meetings", "users", "domain"}
    specs = []
    seen = set()
    for index, entry in enumerate(entries):
        unknown = set(entry) - allowed
        if unknown:
            raise ValueError(f"unknown organization keys {sorted(unknown)}; valid keys are {sorted(allowed)}")
        rng = random.Random(f"{seed}:counts:{index}")
        default_name, default_domain = (DEFAULT_ORGANIZATIONS[index] if index < len(DEFAULT_ORGANIZATIONS)
                                        else (f"Sandbox Org {index + 1}", f"org{index + 1}.example"))
        name = entry.get("name", default_name)
        if name in seen:
            raise ValueError(f"organization names must be unique, {name!r} repeats")
        seen.add(name)
        domain = entry.get("domain") or (default_domain if "name" not in entry else f"org{index + 1}.example")
        spec = OrgSpec(
            name=name,
            domain=domain,
            outcomes=_pick_count(entry.get("outcomes", outcomes), rng, "outcomes"),
            calls=_pick_count(entry.get("calls", calls), rng, "calls"),
            meetings=_pick_count(entry.get("meetings", meetings), rng, "meetings"),
            users=max(1, keys_per_org, _pick_count(entry.get("users", users), rng, "users")),
        )
        specs.append(spec)
    return specs


def outcome_sort_key(record: dict) -> tuple:
    """Listing order of outcomes: date_created, then id (records lacking either sort last)."""
    try:
        created = parse_us(record["date_created"])
    except (KeyError, TypeError, ValueError, AttributeError):  # missing, null or not a date
        created = float("inf")
    return created, str(record.get("id", ""))


def _iso_between(rng: random.Random, start: datetime, end: datetime, whole_seconds: bool) -> tuple[str, int]:
    us = rng.randint((start - EPOCH) // timedelta(microseconds=1), (end - EPOCH) // timedelta(microseconds=1))
    if whole_seconds:
        us -= us % 1_000_000
    return format_us(us), us


def _make_users(rng: np.random.Generator, prng: random.Random, spec: OrgSpec, org_id: str) -> list[dict]:
    names = prng.sample(_USER_NAMES, k=min(spec["users"], len(_USER_NAMES)))
    users = []
    for i in range(spec["users"]):
        first, last, slug = names[i % len(names)]
        if i >= len(names):
            slug = f"{slug}{i}"
        created, _ = _iso_between(prng, NOW - timedelta(days=1500), NOW - timedelta(days=800), False)
        users.append({
            "id": random_id(rng, "user_", 43),
            "first_name": first,
            "last_name": last,
            "email": f"{slug}@{spec['domain']}",
            "image": None,
            "date_created": created,
            "date_updated": created,
            "organizations": [org_id],
        })
    return users


def _make_outcomes(rng: np.random.Generator, prng: random.Random, spec: OrgSpec, org_id: str,
                   users: list[dict]) -> list[dict]:
    n = spec["outcomes"]
    n_vm = 0 if n < 2 else (2 if n >= 20 else 1)
    custom = prng.sample(_CUSTOM_OUTCOME_NAMES, k=min(n - n_vm, len(_CUSTOM_OUTCOME_NAMES)))
    while len(custom) < n - n_vm:  # more outcomes than names: number the repeats
        custom.append(f"{_CUSTOM_OUTCOME_NAMES[len(custom) % len(_CUSTOM_OUTCOME_NAMES)]} #{len(custom)}")
    records = []
    kinds = [("custom", name) for name in custom] + [("vm-dropped", _VM_OUTCOME_NAMES[i]) for i in range(n_vm)]
    for kind, name in kinds:
        if kind == "vm-dropped":
            applies_to = ["calls"]
        else:
            applies_to = prng.choices([["calls", "meetings"], ["calls"], ["meetings"]], weights=[6, 3, 2])[0]
        created, created_us = _iso_between(prng, OUTCOMES_LAUNCH, NOW - timedelta(days=7), prng.random() < 0.25)
        updated = created if prng.random() < 0.6 else _iso_between(
            prng, EPOCH + timedelta(microseconds=created_us), NOW - timedelta(days=1), prng.random() < 0.25)[0]
        author = prng.choice(users)["id"] if prng.random() < 0.9 else None
        pool = [_VM_DESCRIPTION] if kind == "vm-dropped" else _DESCRIPTIONS
        description = prng.choice(pool) if prng.random() < 0.7 else None
        records.append({
            "id": random_id(rng, "outcome_", 22),
            "name": name,
            "description": description,
            "type": kind,
            "applies_to": list(applies_to),
            "organization_id": org_id,
            "created_by": author,
            "updated_by": author if prng.random() < 0.7 else prng.choice(users)["id"],
            "date_created": created,
            "date_updated": updated,
        })
    return records


def generate_organization(seed: int, index: int, spec: OrgSpec, *, quirks: bool = True,
                          date_resolution: str = "millisecond", bursts: Any = None) -> dict:
    """Generate one organization's data.

    Parameters
    ----------
    seed : int
        The sandbox seed.
    index : int
        The organization's position, so each organization gets its own random stream.
    spec : OrgSpec
        Its sizes.
    quirks : bool
        Add one unknown extra field to a couple of records, as Close does when it grows a field.
    date_resolution : {"millisecond", "microsecond", "second"}
        The precision of activity dates; real Close stores milliseconds.
    bursts : sequence of int or (int, float), or None
        Groups of calls created together: a count on one instant (a bulk import), ``(count, seconds)`` spread
        over that span (a power dialer). ``None``: one burst of :data:`DEFAULT_BURST` calls at one instant in
        organizations with at least :data:`BURST_FROM_CALLS` calls.

    Returns
    -------
    dict
        ``id``, ``name``, ``domain``, ``date_created``, ``users`` (list), ``outcomes`` (list in listing order),
        ``calls`` (:class:`CallTable`), ``meetings`` (:class:`MeetingTable`), ``deleted_outcome_ids``.
    """
    rng = np.random.default_rng([seed, index, 1])
    prng = random.Random(f"{seed}:org:{index}")
    org_id = random_id(rng, "orga_", 43)
    users = _make_users(rng, prng, spec, org_id)
    outcomes = _make_outcomes(rng, prng, spec, org_id, users)
    # Deleted outcomes: their ids linger on activities but are absent from the outcome list.
    deleted = [random_id(rng, "outcome_", 22) for _ in range(2)]
    if quirks and outcomes and index < 2:
        outcomes[len(outcomes) // 2]["color"] = "#aabbcc"
    outcomes.sort(key=outcome_sort_key)
    n_leads = max(1, min(50_000, max(spec["calls"], spec["meetings"]) // 5 + 1))
    context = OrgContext(
        org_id=org_id,
        users=users,
        lead_ids=random_ids(rng, n_leads, 43),
        contact_ids=random_ids(rng, 2 * n_leads, 43),
    )
    call_outcomes = [o["id"] for o in outcomes if "calls" in o["applies_to"]]
    meeting_outcomes = [o["id"] for o in outcomes if "meetings" in o["applies_to"]]
    vm_ids = {o["id"] for o in outcomes if o["type"] == "vm-dropped"}
    resolution = resolve_choice("date_resolution", date_resolution, DATE_RESOLUTIONS)
    if bursts is None:
        bursts = (DEFAULT_BURST,) if spec["calls"] >= BURST_FROM_CALLS else ()
    calls = CallTable.generate(np.random.default_rng([seed, index, 2]), context, spec["calls"],
                               live_outcomes=call_outcomes, vm_outcomes=vm_ids, deleted_outcomes=deleted,
                               resolution_us=resolution, bursts=tuple(bursts))
    meetings = MeetingTable.generate(np.random.default_rng([seed, index, 3]), context, spec["meetings"],
                                     live_outcomes=[o for o in meeting_outcomes if o not in vm_ids],
                                     deleted_outcomes=deleted, resolution_us=resolution,
                                     call_ids=calls.cols["id"])
    if quirks and index < 2 and calls.n:
        calls.overrides[calls.render(calls.n // 2)["id"]] = {"recording_transcript_status": "pending"}
    created = format_us(NOW_US - 1200 * DAY_US + index * DAY_US)
    return {"id": org_id, "name": spec["name"], "domain": spec["domain"], "date_created": created,
            "users": users, "outcomes": outcomes, "calls": calls, "meetings": meetings,
            "deleted_outcome_ids": deleted, "context": context}
