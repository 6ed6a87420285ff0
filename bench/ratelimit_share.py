"""The share of requests that end in 429 when several threads of one key page at once, per rate limit.

Eight threads share one :class:`closeframe.CloseClient` (one key) and page eight disjoint ``date_created`` slices of
the calls listing, as the windows of a load do, against a sandbox limiting the key to 1, 2, 5, 10 and 20 requests/s
(token bucket, one second of burst; the organization's limit is 3x). It prints one row per rate: requests sent,
429s answered, their share, and the throughput reached.

Run it on this tree and on another (e.g. main) to compare::

    PYTHONPATH=$PWD python bench/ratelimit_share.py
    PYTHONPATH=/work/main python bench/ratelimit_share.py
"""

from __future__ import annotations

import sys
import threading
import time

import closeframe as cf
from closeframe.sandbox import serve

RATES = (1, 2, 5, 10, 20)
THREADS = 8
SECONDS = 4  # each rate runs for about this long at its limit


def run(rate: float) -> dict:
    pages = max(THREADS * 2, int(rate * SECONDS))
    with serve(seed=7, organizations=[{"name": "Org", "calls": pages * 100, "meetings": 0, "outcomes": 3}],
               rate_limit=rate, quirks=False) as sb:
        dates = sorted(call["date_created"] for call in sb.store.calls("Org"))
        cuts = [dates[len(dates) * i // THREADS] for i in range(THREADS)] + [None]
        client = cf.CloseClient(sb.api_keys["Org"], base_url=sb.base_url, max_wait=600)
        counts = []
        errors = []

        def page(low, high):
            params = {"date_created__gte": low, **({"date_created__lt": high} if high else {})}
            try:
                counts.append(sum(1 for _ in client.paginate("activity/call/", params)))
            except Exception as exc:  # noqa: BLE001 - reported in the table
                errors.append(exc)

        sb.stats.reset()
        started = time.perf_counter()
        threads = [threading.Thread(target=page, args=(cuts[i], cuts[i + 1])) for i in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - started
        client.close()
        snap = sb.stats.snapshot()
    requests = snap["requests"]
    return {"rate": rate, "requests": requests, "429": snap["rate_limited"], "share": snap["rate_limited"] / requests,
            "seconds": seconds, "ok_per_s": (requests - snap["rate_limited"]) / seconds,
            "complete": sum(counts) == pages * 100 and not errors}


def main() -> None:
    print(f"closeframe from {cf.__file__}", file=sys.stderr)
    print(f"| limit (req/s per key) | requests | 429s | 429 share | seconds | answered req/s | complete |")
    print("|---|---|---|---|---|---|---|")
    for rate in RATES:
        row = run(rate)
        print(f"| {row['rate']} | {row['requests']} | {row['429']} | {row['share']:.1%} | {row['seconds']:.1f} | "
              f"{row['ok_per_s']:.1f} | {'yes' if row['complete'] else 'NO'} |", flush=True)


if __name__ == "__main__":
    main()
