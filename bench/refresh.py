"""Refresh from the event log vs the lookback re-scan vs a full reload: requests, time and exactness.

Run: ``python bench/refresh.py [--calls 30000] [--meetings 3000] [--latency 0.05] [--rate 20]``.

One organization on the sandbox (50 ms latency and 20 requests/s per key by default, as ``bench/run.py``). A cached
load of calls and meetings first; then, as a day of work would, outcomes are set on ``--changes`` calls older than
90 days and on a few recent ones, ``--deletions`` calls and meetings are deleted and ``--new`` calls logged. Three
copies of that cache are then brought up to date:

- **event log**: the default cached load (reads ``/event/``, refetches changed ids, pages the new range);
- **lookback re-scan**: the same load where the key may not read the event log (the fallback: the last 30 days
  before the newest cached activity are paged again; it also costs the one refused event-log request);
- **full reload**: ``refresh=True``.

Each row gives the requests the sandbox answered, the wall time, and how many rows differ from a fresh load
(by id: missing, extra, or another ``outcome_id``); "exact" means none.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd
import requests

import closeframe as cf
from closeframe.sandbox import serve


def _differences(frame: pd.DataFrame, fresh: pd.DataFrame) -> int:
    got, want = ({i: (None if pd.isna(o) else o) for i, o in zip(f["id"], f["outcome_id"].astype(object))}
                 for f in (frame, fresh))
    return len(set(got) ^ set(want)) + sum(1 for i in set(got) & set(want) if got[i] != want[i])


def _load(sb, key, cache, **options):
    started = time.perf_counter()
    sb.stats.reset()
    kwargs = dict(base_url=sb.base_url, progress=False, cache=cache, **options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", cf.EventRefreshWarning)  # the re-scan row warns; that is its point
        calls, meetings = cf.load_calls(key, **kwargs), cf.load_meetings(key, **kwargs)
    return calls, meetings, sb.stats.requests, time.perf_counter() - started


def _change(sb, name, key, changes: int, deletions: int, new: int) -> None:
    calls = sb.store.calls(name)
    newest = pd.Timestamp(calls[0]["date_created"])
    old = [c for c in calls if pd.Timestamp(c["date_created"]) < newest - pd.Timedelta(days=90)]
    outcomes = [o["id"] for o in sb.store.outcomes(name) if "calls" in o["applies_to"]]
    auth = (key, "")
    for i, call in enumerate(old[:changes] + calls[5:5 + max(1, changes // 10)]):
        requests.put(f"{sb.base_url}activity/call/{call['id']}/", json={"outcome_id": outcomes[i % len(outcomes)]},
                     auth=auth, timeout=30)
    meetings = sb.store.meetings(name)
    for i in range(deletions):
        requests.delete(f"{sb.base_url}activity/call/{old[changes + 10 * i]['id']}/", auth=auth, timeout=30)
        requests.delete(f"{sb.base_url}activity/meeting/{meetings[-1 - 10 * i]['id']}/", auth=auth, timeout=30)
    for _ in range(new):
        sb.store.add_call(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=30_000)
    parser.add_argument("--meetings", type=int, default=3_000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--changes", type=int, default=50)
    parser.add_argument("--deletions", type=int, default=5)
    parser.add_argument("--new", type=int, default=200)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="closeframe-refresh-bench-"))
    try:
        with serve(seed=0, organizations=1, calls=args.calls, meetings=args.meetings, rate_limit=args.rate,
                   latency=args.latency) as sb:
            name, key = next(iter(sb.api_keys.items()))
            *_, first_requests, first_seconds = _load(sb, key, root / "base")
            _change(sb, name, key, args.changes, args.deletions, args.new)
            for copy in ("events", "lookback"):
                shutil.copytree(root / "base", root / copy)
            rows = []
            fresh_calls = cf.load_calls(key, base_url=sb.base_url, progress=False)
            fresh_meetings = cf.load_meetings(key, base_url=sb.base_url, progress=False)
            for label, cache, options, access in (
                    ("event log", root / "events", {}, "all"),
                    ("lookback re-scan (30 days)", root / "lookback", {}, "none"),
                    ("full reload (refresh=True)", root / "base", {"refresh": True}, "all")):
                sb.store.events.access = access
                calls, meetings, count, seconds = _load(sb, key, cache, **options)
                wrong = _differences(calls, fresh_calls) + _differences(meetings, fresh_meetings)
                rows.append({"method": label, "requests": count, "wall s": round(seconds, 2),
                             "requests vs full": None, "rows differing from a fresh load": wrong,
                             "exact": "yes" if wrong == 0 else "no"})
            full = rows[-1]["requests"]
            for row in rows:
                row["requests vs full"] = f"{row['requests'] / full:.1%}"
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"Sandbox: 1 organization, {args.calls:,} calls and {args.meetings:,} meetings, {args.latency * 1000:g} ms "
          f"latency, {args.rate:g} requests/s per key. First cached load: {first_requests} requests, "
          f"{first_seconds:.1f} s. Then {args.changes} outcomes set on calls older than 90 days (+"
          f"{max(1, args.changes // 10)} recent), {args.deletions} calls and {args.deletions} meetings deleted, "
          f"{args.new} calls added.\n")
    table = pd.DataFrame(rows)
    print("| " + " | ".join(table.columns) + " |")
    print("|" + "---|" * len(table.columns))
    for row in table.itertuples(index=False):
        print("| " + " | ".join(map(str, row)) + " |")


if __name__ == "__main__":
    main()
