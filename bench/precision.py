"""Calls lost by load_calls at each date-filter precision, before and after the whole-second pager, and its cost.

Run: ``python bench/precision.py [--calls 20000] [--baseline REF]``. The sandbox (this tree's, with its
``filter_precision`` knob) serves one organization with millisecond dates; each client loads it in a subprocess,
the baseline (git ref ``REF``, default ``main``, checked out in a temporary worktree) with that checkout on
``PYTHONPATH``, this tree with its own. ``lost`` = calls in the sandbox's
store that the loaded frame lacks; ``extra`` = requests beyond the minimum (one per 100 calls of each date window,
plus ``/me/``). A second table counts 429s per rate-limit header shape under a tight limit.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from _baseline import ROOT, add_baseline_argument, checkout

from closeframe.load.activities import initial_windows
from closeframe.sandbox import serve
from closeframe.sandbox.common import parse_us

_CLIENT = """
import json, sys, time
import closeframe as cf
key, url = sys.argv[1], sys.argv[2]
started = time.perf_counter()
try:
    frame = cf.load_calls(key, base_url=url, progress=False)
    print(json.dumps({"ids": list(frame["id"]), "seconds": time.perf_counter() - started}))
except Exception as error:  # the baseline may fail; the table says how
    print(json.dumps({"error": f"{type(error).__name__}: {str(error)[:120]}"}))
"""


def _load(tree: Path, key: str, url: str) -> dict:
    done = subprocess.run([sys.executable, "-c", _CLIENT, key, url], capture_output=True, text=True, timeout=900,
                          env={"PYTHONPATH": str(tree), "PATH": os.environ.get("PATH", "")},
                          cwd=tempfile.gettempdir())
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1][:120]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _minimum_requests(created_us: list[int]) -> int:
    """One request per 100 calls of each date window load_calls pages, plus /me/."""
    dates = pd.to_datetime(pd.Series(created_us), unit="us", utc=True)
    pages = 0
    for window in initial_windows(None, None):
        inside = pd.Series(True, index=dates.index)
        if window.start is not None:
            inside &= dates >= window.start
        if window.end is not None:
            inside &= dates < window.end
        pages += max(1, math.ceil(int(inside.sum()) / 100))
    return pages + 1


def _trees(baseline: Path | None) -> list[tuple[Path, str]]:
    return ([(baseline, "before")] if baseline else []) + [(ROOT, "after")]


def precision_table(calls: int, baseline: Path | None) -> pd.DataFrame:
    rows = []
    dialer = calls // 4
    scenarios = (((), "none"), ((250,), "250 at one instant"), (((dialer, 1200),), f"dialer: {dialer:,} in 20 min"))
    settings = [(p, "bucket") for p in ("microsecond", "millisecond", "second")] + [("second", "value")]
    for bursts, label in scenarios:
        for precision, rounding in settings:
            with serve(seed=31, organizations=1, calls=calls, meetings=0, rate_limit=None, bursts=bursts,
                       filter_precision=precision, filter_rounding=rounding) as sb:
                name, key = next(iter(sb.api_keys.items()))
                stored = sb.store.calls(name)
                expected = {c["id"] for c in stored}
                minimum = _minimum_requests([parse_us(c["date_created"]) for c in stored])
                for tree, code in _trees(baseline):
                    sb.stats.reset()
                    result = _load(tree, key, sb.base_url)
                    requests = sb.stats.requests
                    setting = dict(bursts=label, precision=f"{precision} ({rounding})", code=code,
                                   calls=len(expected))
                    if "error" in result:
                        rows.append(dict(**setting, loaded=0, lost="-", lost_pct="-", duplicates="-", requests=requests,
                                         extra_pct="-", seconds="-", note=result["error"]))
                        continue
                    ids = result["ids"]
                    lost = len(expected - set(ids))
                    rows.append(dict(**setting, loaded=len(ids), lost=lost,
                                     lost_pct=f"{100 * lost / len(expected):.2f}",
                                     duplicates=len(ids) - len(set(ids)), requests=requests,
                                     extra_pct=f"{100 * (requests - minimum) / minimum:.2f}",
                                     seconds=f"{result['seconds']:.1f}", note=""))
    return pd.DataFrame(rows)


def shapes_table(calls: int, baseline: Path | None) -> pd.DataFrame:
    rows = []
    for headers, body in (("combined", "error"), ("separate", "error"), ("x-rate-limit", "error"),
                          ("x-rate-limit", "top-level"), ("none", "error"), ("none", "top-level")):
        for tree, code in _trees(baseline):
            with serve(seed=32, organizations=1, calls=calls, meetings=0, rate_limit=10, rate_limit_headers=headers,
                       rate_limit_body=body) as sb:
                key = next(iter(sb.api_keys.values()))
                started = time.perf_counter()
                result = _load(tree, key, sb.base_url)
                rows.append(dict(headers=headers, body_429=body, code=code,
                                 loaded=len(result.get("ids", [])), requests=sb.stats.requests,
                                 status_429=sb.stats.by_status.get(429, 0),
                                 seconds=f"{time.perf_counter() - started:.1f}", note=result.get("error", "")))
    return pd.DataFrame(rows)


def markdown(frame: pd.DataFrame) -> str:
    """A pipe table of ``frame`` (no extra dependency)."""
    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--shape-calls", type=int, default=2_000)
    add_baseline_argument(parser)
    args = parser.parse_args()
    with checkout(args.baseline) as baseline:
        print(f"Loss and requests, {args.calls:,} calls, millisecond dates (baseline: {args.baseline or 'none'})\n")
        print(markdown(precision_table(args.calls, baseline)))
        print(f"\n429s per rate-limit shape, {args.shape_calls:,} calls, 10 requests/s per key\n")
        print(markdown(shapes_table(args.shape_calls, baseline)))


if __name__ == "__main__":
    main()
