"""Issue 17's property: many cached loads, with random changes on the sandbox between them and random load options,
each equal to a fresh load with the same options (0 rows differing), with no staleness warned.

Changes: outcomes set, changed and cleared on calls and meetings (over HTTP, ``PUT``, as a user would), deletions,
back-dated imports (activities created with an old ``date_created``), new activities, an unknown field, clock jumps
either side of the event log's 5-minute overlap, and quick changes that merge into one event. Options: random
``since``/``until``/``lookback``/``refresh``. A seeded loop (reproducible, no shrinking needed: a failure names its
step and seed).
"""

from __future__ import annotations

import random

import pandas as pd
import pytest
import requests
from pandas.testing import assert_frame_equal

import closeframe as cf

SEED = 1717
LOADS = 100
LOADERS = {"call": cf.load_calls, "meeting": cf.load_meetings}


def _random_change(rng: random.Random, sb, key: str, counts: dict) -> None:
    kind = rng.choice(["call", "meeting"])
    records = (sb.store.calls if kind == "call" else sb.store.meetings)("Org")
    outcomes = [o["id"] for o in sb.store.outcomes("Org")]
    what = rng.choice(["set", "set", "clear", "delete", "backdated", "new", "unknown", "merged"])
    record = rng.choice(records)
    if what in ("set", "clear", "merged"):
        for _ in range(3 if what == "merged" else 1):  # quick changes to one activity merge into one event
            value = None if what == "clear" else rng.choice(outcomes)
            requests.put(f"{sb.base_url}activity/{kind}/{record['id']}/", json={"outcome_id": value},
                         auth=(key, ""), timeout=10)
    elif what == "delete" and len(records) > 20:
        sb.store.delete_activity("Org", kind, record["id"])
    elif what == "backdated":
        when = pd.Timestamp(rng.choice(records)["date_created"]) - pd.Timedelta(seconds=rng.randint(1, 10_000))
        sb.store.add_activity("Org", kind, date_created=when.isoformat(), outcome_id=rng.choice(outcomes + [None]))
    elif what == "new":
        sb.store.add_activity("Org", kind)
    elif what == "unknown":
        sb.store.update_activity("Org", kind, record["id"], x_note={"step": counts["loads"], "tags": ["a", 1]})
    counts["changes"] += 1
    counts[what] = counts.get(what, 0) + 1


def _options(rng: random.Random, sb) -> dict:
    dates = sorted(pd.Timestamp(r["date_created"]) for r in sb.store.calls("Org") + sb.store.meetings("Org"))
    options = {}
    if rng.random() < 0.3:
        options["since"] = rng.choice(dates[: len(dates) // 2])
    if rng.random() < 0.2:
        options["until"] = rng.choice(dates[len(dates) // 2:])
    return options


@pytest.mark.filterwarnings("error")
def test_random_cached_loads_each_equal_a_fresh_load(fresh_sandbox, tmp_path):
    sb = fresh_sandbox(organizations=[{"name": "Org", "outcomes": 6, "calls": 240, "meetings": 60}], quirks=False)
    key = sb.api_keys["Org"]
    rng = random.Random(SEED)
    counts = {"loads": 0, "changes": 0, "rows": 0}
    for step in range(LOADS):
        for _ in range(rng.randint(0, 4)):
            _random_change(rng, sb, key, counts)
        # Clock jumps either side of the overlap between the log's reads (and sometimes none at all).
        sb.store.advance_clock(rng.choice([0, 1, 120, 299, 301, 900, 7200]))
        kind = rng.choice(list(LOADERS))
        options = _options(rng, sb)
        cached_options = dict(options, lookback=rng.choice([None, "30D", "7D", 3]), refresh=rng.random() < 0.1)
        load = LOADERS[kind]
        cached = load(key, base_url=sb.base_url, progress=False, cache=tmp_path, **cached_options)
        fresh = load(key, base_url=sb.base_url, progress=False, **options)
        assert "stale_since" not in cached.attrs, (step, SEED)
        assert_frame_equal(cached, fresh, obj=f"step {step} (seed {SEED}) {kind}s {cached_options}")
        counts["loads"] += 1
        counts["rows"] += len(fresh)
    print(f"property: {counts}")
    assert counts["loads"] >= 100 and counts["changes"] >= 100
