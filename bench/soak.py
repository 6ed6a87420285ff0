"""Soak: many accounts loading at once from one sandbox while a share of all requests fail; every load must be exact.

``python bench/soak.py`` runs the big version and prints its figures (``--help`` for the knobs); the test suite
runs :func:`run_soak` at a CI size (tests/soak/test_soak.py).
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import closeframe as cf  # noqa: E402
from closeframe.sandbox import serve  # noqa: E402

__all__ = ["SOAK_FAULTS", "run_soak"]

#: Retryable faults, each a request that fails but may be retried; a stall outlasts the 2 s read timeout.
SOAK_FAULTS = ["429-fractional", "429-body", "500", "502", "503", "504", "500-html", "502-html", "503-html",
               "504-html", "reset-before", "reset-mid-body", "truncated-json", {"kind": "stall", "seconds": 2.5},
               {"kind": "429", "reset": 0.3}, {"kind": "429-retry-after", "reset": 0.3}]
#: Retries enough that 0.3 ** (max_retries + 1) per request is negligible; 429 waits do not use them up.
#: The read timeout leaves room for a busy sandbox on 2 cores: a shorter one times out real answers, every retry.
CLIENT_OPTIONS = {"timeout": (5, 2), "backoff": 0.01, "max_retries": 12, "max_wait": 120}


def run_soak(accounts: int = 10, outcomes: int = 120, calls: int = 300, meetings: int = 100,
             fault_rate: float = 0.3, seed: int = 7) -> dict:
    """Load outcomes, calls and meetings of ``accounts`` organizations at once under random faults.

    Returns
    -------
    dict
        ``accounts, records, requests, faults_injected, wall_s, peak_mb``, and ``exact``: whether every frame held
        exactly the store's ids, once each.
    """
    organizations = [{"name": f"Org {i:02d}", "outcomes": outcomes, "calls": calls, "meetings": meetings}
                     for i in range(accounts)]
    with serve(seed=seed, organizations=organizations, rate_limit=None, quirks=False) as sb:
        keys = dict(sb.api_keys)
        sb.faults.random(fault_rate, kinds=SOAK_FAULTS, seed=seed)
        tracemalloc.start()
        started = time.perf_counter()
        frames = {kind: load(keys, base_url=sb.base_url, progress=False, client_options=CLIENT_OPTIONS)
                  for kind, load in (("outcomes", cf.load_outcomes), ("calls", cf.load_calls),
                                     ("meetings", cf.load_meetings))}
        wall = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        stats = sb.stats.snapshot()
        stored = {"outcomes": sb.store.outcomes, "calls": sb.store.calls, "meetings": sb.store.meetings}
        exact = all(
            len(frame) == frame["id"].nunique()
            and sorted(frame.loc[frame["account"] == name, "id"]) == sorted(r["id"] for r in stored[kind](name))
            for kind, frame in frames.items() for name in keys
        )
        faulted = stats["requests"] - stats["by_status"].get(200, 0)
        return {"accounts": accounts, "records": sum(len(f) for f in frames.values()),
                "requests": stats["requests"], "faults_injected": faulted,
                "fault_share": round(faulted / max(1, stats["requests"]), 3), "wall_s": round(wall, 2),
                "peak_mb": round(peak / 2**20, 1), "exact": exact, "sandbox_errors": list(sb.errors)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=25)
    parser.add_argument("--outcomes", type=int, default=300)
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--meetings", type=int, default=1000)
    parser.add_argument("--fault-rate", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    figures = run_soak(args.accounts, args.outcomes, args.calls, args.meetings, args.fault_rate, args.seed)
    for name, value in figures.items():
        print(f"{name:>16}: {value}")
    return 0 if figures["exact"] and not figures["sandbox_errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
