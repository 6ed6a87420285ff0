"""The share of requests that end in 429 when several threads of one key page at once, per rate limit.

Eight threads share one :class:`closeframe.CloseClient` (one key) and page eight disjoint ``date_created`` slices of
the calls listing, as the windows of a load do, against a sandbox limiting the key to 1, 2, 5, 10 and 20 requests/s
(token bucket, one second of burst; the organization's limit is 3x). The sandbox is this checkout's and runs in this
process; the client runs in a worker process (this script re-invoked with ``--worker``), once with this checkout's
``closeframe`` and once with the baseline's (``--baseline REF``, a git ref checked out in a temporary worktree,
default ``main``). It prints one row per rate and version: requests sent, 429s answered, their share, and the
throughput reached::

    PYTHONPATH=. python bench/ratelimit_share.py                  # this checkout against main
    PYTHONPATH=. python bench/ratelimit_share.py --baseline ''    # this checkout alone
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time

from _baseline import ROOT, add_baseline_argument, checkout

RATES = (1, 2, 5, 10, 20)
THREADS = 8
SECONDS = 4  # each rate runs for about this long at its limit


def page_in_threads(spec: dict) -> dict:
    """In a worker: page the slices ``spec["cuts"]`` in :data:`THREADS` threads sharing one client."""
    import closeframe as cf

    client = cf.CloseClient(spec["key"], base_url=spec["base_url"], max_wait=600)
    counts, errors = [], []
    cuts = spec["cuts"]

    def page(low, high):
        params = {"date_created__gte": low, **({"date_created__lt": high} if high else {})}
        try:
            counts.append(sum(1 for _ in client.paginate("activity/call/", params)))
        except Exception as exc:  # noqa: BLE001 - reported in the table
            errors.append(repr(exc))

    started = time.perf_counter()
    threads = [threading.Thread(target=page, args=(cuts[i], cuts[i + 1])) for i in range(len(cuts) - 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    client.close()
    return {"records": sum(counts), "errors": errors, "seconds": seconds}


def run(rate: float, tree: str) -> dict:
    """One rate, one version of the client: a fresh sandbox (full buckets), the client in a worker process."""
    from closeframe.sandbox import serve

    pages = max(THREADS * 2, int(rate * SECONDS))
    with serve(seed=7, organizations=[{"name": "Org", "calls": pages * 100, "meetings": 0, "outcomes": 3}],
               rate_limit=rate, quirks=False) as sb:
        dates = sorted(call["date_created"] for call in sb.store.calls("Org"))
        cuts = [dates[len(dates) * i // THREADS] for i in range(THREADS)] + [None]
        spec = {"key": sb.api_keys["Org"], "base_url": sb.base_url, "cuts": cuts}
        sb.stats.reset()
        done = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", json.dumps(spec)],
                              env={**os.environ, "PYTHONPATH": tree}, capture_output=True, text=True, timeout=1800)
        if done.returncode:
            raise RuntimeError(f"worker failed ({tree}): {done.stderr[-2000:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        snap = sb.stats.snapshot()
    requests = snap["requests"]
    return {"rate": rate, "requests": requests, "429": snap["rate_limited"], "share": snap["rate_limited"] / requests,
            "seconds": result["seconds"], "ok_per_s": (requests - snap["rate_limited"]) / result["seconds"],
            "complete": result["records"] == pages * 100 and not result["errors"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_baseline_argument(parser)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(page_in_threads(json.loads(args.worker))))
        return
    with checkout(args.baseline) as baseline:
        versions = ([("before", str(baseline))] if baseline else []) + [("after", str(ROOT))]
        print("| limit (req/s per key) | code | requests | 429s | 429 share | seconds | answered req/s | complete |")
        print("|---|---|---|---|---|---|---|---|")
        for rate in RATES:
            for label, tree in versions:
                row = run(rate, tree)
                print(f"| {row['rate']} | {label} | {row['requests']} | {row['429']} | {row['share']:.1%} | "
                      f"{row['seconds']:.1f} | {row['ok_per_s']:.1f} | {'yes' if row['complete'] else 'NO'} |",
                      flush=True)


if __name__ == "__main__":
    main()
