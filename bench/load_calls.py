"""Figures for issue 4's closing note: the usage table of the seed-0 sandbox, and the time to load 200,000 calls.

Run: ``python bench/load_calls.py [--calls 200000] [--repeat 3]``. The load is one organization, no rate limit, no
latency: it measures closeframe's paging, windowing and shaping, not the network.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

import closeframe as cf
from closeframe.sandbox import serve


def usage_table() -> pd.DataFrame:
    """The usage table of the default sandbox's organizations (seed 0)."""
    with serve(seed=0, rate_limit=None) as sb:
        source = dict(api_key=sb.api_keys, base_url=sb.base_url, progress=False)
        outcomes, calls, meetings = cf.load_outcomes(**source), cf.load_calls(**source), cf.load_meetings(**source)
    return cf.outcome_usage(outcomes, calls, meetings)


def time_load(calls: int, repeat: int) -> None:
    with serve(seed=0, organizations=1, calls=calls, meetings=0, rate_limit=None, latency=0) as sb:
        for run in range(1, repeat + 1):
            sb.stats.reset()
            started = time.perf_counter()
            frame = cf.load_calls(sb.api_keys, base_url=sb.base_url, progress=False)
            seconds = time.perf_counter() - started
            snapshot = sb.stats.snapshot()
            print(f"run {run}: {len(frame):,} calls in {seconds:.2f} s ({len(frame) / seconds:,.0f} calls/s), "
                  f"{snapshot['requests']} requests, statuses {snapshot['by_status']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    usage = usage_table()
    names = usage["outcome_name"].astype(object).map(lambda v: v if pd.isna(v) or len(v) <= 40 else v[:39] + "…")
    fallback = usage["outcome_id"].map(lambda v: "(no outcome)" if pd.isna(v) else f"(deleted {v})")
    summary = usage.assign(outcome=names.where(names.notna(), fallback))
    columns = ["organization_name", "outcome", "outcome_type", "calls", "meetings", "total", "share", "users",
               "deleted"]
    print(summary[columns].round({"share": 3}).to_string(index=False))
    per_org = usage.groupby("organization_name", observed=True)[["calls", "meetings", "total"]].sum()
    print("\nper organization:\n" + per_org.to_string())
    print()
    time_load(args.calls, args.repeat)


if __name__ == "__main__":
    main()
