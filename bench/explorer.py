"""How fast the explorer redraws on 100,000 outcomes: median seconds per picker change (target < 0.1 s).

The frame replicates the seeded sandbox's outcomes with new ids (as if a large account had that many), then each
picker is set from Python as a user would click it, and the whole update is timed: filtering, the summary table
and the chart's PNG.

    python bench/explorer.py [--rows 100000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import pandas as pd

import closeframe as cf
from closeframe.sandbox import serve


def big_frame(rows: int) -> pd.DataFrame:
    """``rows`` outcomes: the sandbox's, repeated, each copy with fresh ids and dates shifted by whole days."""
    with serve(seed=0, rate_limit=None) as sb:
        base = cf.load_outcomes(dict(sb.api_keys), base_url=sb.base_url, progress=False)
    copies = -(-rows // len(base))
    frame = pd.concat([base] * copies, ignore_index=True).iloc[:rows].copy()
    frame["id"] = pd.array([f"outcome_bench{i:09d}" for i in range(rows)], dtype="string")
    shift = pd.to_timedelta(np.arange(rows) // len(base) % 365, unit="D")
    frame["date_created"] = frame["date_created"] + shift
    frame["date_updated"] = frame["date_updated"] + shift
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    frame = big_frame(args.rows)
    explorer = cf.explore(frame)
    organizations = list(explorer.organizations.options)
    first, last = explorer.date_span
    middle = first + (last - first) / 2
    changes = [
        lambda: setattr(explorer.organizations, "value", tuple(organizations[:1])),
        lambda: setattr(explorer.types, "value", (explorer.types.options[0],)),
        lambda: setattr(explorer.applies_to, "value", (explorer.applies_to.options[-1],)),
        lambda: setattr(explorer.start, "value", middle),
        lambda: setattr(explorer.organizations, "value", tuple(organizations)),
        lambda: setattr(explorer.types, "value", ()),
        lambda: setattr(explorer.applies_to, "value", ()),
        lambda: setattr(explorer.start, "value", None),
    ]
    times = []
    for _ in range(args.repeat):
        for change in changes:
            before = explorer.updates
            started = time.perf_counter()
            change()
            times.append(time.perf_counter() - started)
            assert explorer.updates == before + 1, "a picker change did not update the explorer"
    print(f"{len(frame):,} rows, {len(organizations)} organizations, {len(times)} picker changes")
    print(f"update time: median {statistics.median(times) * 1000:.1f} ms, "
          f"p90 {statistics.quantiles(times, n=10)[-1] * 1000:.1f} ms, max {max(times) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
