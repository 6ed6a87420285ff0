"""Benchmark a cached reload of calls from the store against ``pd.read_parquet`` of the very same frame.

For each size, the parent serves one sandbox organization without rate limits and runs each step in its own Python
process (this script re-invoking itself with ``--worker``), so each peak memory is its own:

1. ``fill``: the store is written as loads write it (:meth:`closeframe.store.activities.ActivityStore.write`,
   windows of 50,000 calls, then the sync state), from the same seeded sandbox data built in that process: a
   fresh load of a million calls through HTTP would take minutes on a shared machine and measure nothing here.
2. ``store-read``: the store's part of a cached reload (its ranges, one query, the sort, the frame), as the loader
   does it once the event log said nothing changed.
3. ``cached``: the whole ``cf.load_calls(cache=...)`` against the served sandbox, the event log's requests and the
   sandbox's answers included (the sandbox makes its month of seeded events before, as Close has them already).
   Its frame is written to Parquet (not measured).
4. ``parquet``: ``pd.read_parquet`` of that very frame.
5. with ``--baseline REF``: the code of git ref ``REF`` (a temporary ``git worktree``, :mod:`_baseline`) fills
   its cache with a real cached load and reloads it: the cache before the store. Slow; use small sizes.

Steps 2 to 4 run ``--repeat`` times (default 5), in turn, each time in a new process. Each reports the median of its
runs' wall times (with the fastest and slowest), CPU time, the CPU time the parent (the served sandbox) spent
meanwhile, and peak RSS above the process's RSS before the step; "extra" is that peak less the frame's own memory
(``DataFrame.memory_usage(deep=True)``), as a multiple of the frame. The ratio to the Parquet read is given to
its median and, the harder test, to its fastest run. A median, because one run says little here: a
process's first touch of fresh memory costs the kernel (and a virtual machine's host) a time that varies from run to
run by up to 3x, for the Parquet read as much as for the store (0.19 to 0.50 s for the same 300,000-row file). The
goals (issue 17): cached reload within 5x the Parquet read's time, and at most 1.5x the frame's memory extra.

Usage::

    python bench/store.py                          # 300,000 and 1,000,000 calls, 5 runs of each step
    python bench/store.py --sizes 50000            # quick
    python bench/store.py --sizes 30000 --baseline main      # the old cache too (slow: a real fill)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/_baseline.py
#: Calls per window written by the fill (what a load's windows and checkpoints add up to).
WINDOW = 50_000


def _organizations(size: int) -> list[dict]:
    return [{"name": "Org", "outcomes": 20, "calls": size, "meetings": 0}]


def _rss_mb() -> float:
    """The current resident set size (Linux /proc), in MiB."""
    with open("/proc/self/statm") as stream:
        return int(stream.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _fill(size: int, cache: str, base_url: str) -> None:
    """Write the store as cached loads write it, from the sandbox data of :func:`_organizations` (same seed)."""
    import pandas as pd

    from closeframe.sandbox.runner import Sandbox
    from closeframe.shape.frames import calls_frame
    from closeframe.store.activities import MIN_TIME, ActivityStore

    sb = Sandbox(organizations=_organizations(size), rate_limit=None, quirks=False)
    now = pd.Timestamp(sb.store.now_us(), unit="us", tz="UTC")
    store = ActivityStore(Path(cache), base_url, sb.store.org_id("Org"), "call", calls_frame,
                          variant={"fields": None, "filters": {}})
    store.start_sync(now, pd.Timestamp.now(tz="UTC"), "full")
    upper, held, skip = now, [], 0
    while True:
        page, more = sb.store.activity_page("Org", "call", skip, WINDOW)
        skip += len(page)
        records = held + page
        if not more:
            store.write(MIN_TIME, upper, records, calls_frame(records), now)
            return
        # Records of the page's oldest instant may continue on the next page: they wait for it.
        cut = min(pd.Timestamp(r["date_created"]) for r in records)
        held = [r for r in records if pd.Timestamp(r["date_created"]) == cut]
        done = [r for r in records if pd.Timestamp(r["date_created"]) > cut]
        low = cut + pd.Timedelta(microseconds=1)
        store.write(low, upper, done, calls_frame(done), now)
        upper = low


def _read_store(cache: Path, base_url: str):
    """What a cached load does with the store once the event log said nothing changed: its ranges, its rows, the
    frame (the store's part of a cached reload, without the sandbox's event-log answers)."""
    from closeframe.shape.frames import calls_frame
    from closeframe.store.activities import ActivityStore
    from closeframe.store.database import connect

    with connect(cache) as connection:
        [(organization,)] = connection.execute("SELECT organization_id FROM scopes").fetchall()
    store = ActivityStore(cache, base_url, organization, "call", calls_frame, variant={"fields": None, "filters": {}})
    spans = [(r.start, r.end) for r in store.coverage().ranges if r.trusted]
    joined = [(min(a for a, _ in spans), max(b for _, b in spans))]  # the fill's ranges are adjacent
    [(_, frame)] = store.read(joined, undated=True)
    return frame


def _read_parquet(path: str):
    """``pd.read_parquet(path)``, as pandas does it (``pyarrow.parquet.read_table`` with the pandas metadata, then
    ``Table.to_pandas``), list columns mapped to ``pandas.ArrowDtype``: pandas 3.1 cannot rebuild a
    ``list<item: string>[pyarrow]`` column (the calls' ``users``) from the metadata it wrote, and its
    ``to_pandas_kwargs`` cannot pass a ``types_mapper``."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(path, use_pandas_metadata=True)
    return table.to_pandas(types_mapper=lambda t: pd.ArrowDtype(t) if pa.types.is_list(t) else None)


def worker(step: str, key: str, base_url: str, cache: str, parquet: str) -> dict:
    """One step in this process; returns its figures."""
    import closeframe as cf  # noqa: F401  (imported before the baseline RSS is taken)

    if step.startswith("fill-"):
        started = time.perf_counter()
        _fill(int(step.split("-")[1]), cache, base_url)
        return {"seconds": time.perf_counter() - started}
    before = _rss_mb()
    started, cpu = time.perf_counter(), time.process_time()
    if step == "parquet":
        frame = _read_parquet(parquet)
    elif step == "store-read":
        frame = _read_store(Path(cache), base_url)
    else:
        frame = cf.load_calls(key, base_url=base_url, cache=cache, progress=False)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak = _peak_mb() - before
    frame_mb = frame.memory_usage(deep=True).sum() / 2**20
    if step in ("cached", "fresh-into-cache"):
        frame.to_parquet(parquet)
    return {"rows": len(frame), "seconds": seconds, "cpu": cpu, "peak_mb": peak, "frame_mb": frame_mb}


def _run(step: str, key: str, base_url: str, cache: Path, parquet: Path, code_root: Path) -> dict:
    """Run one step in a new process on the code under ``code_root``; its figures, with ``sandbox_cpu``: the CPU
    seconds this process (whose threads are the served sandbox, the rest of it waiting) spent meanwhile."""
    os.sync()  # the last step's writes (its Parquet file, the store's checkpoint) are flushed before, not during, this
    served = time.process_time()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLOSE_", "CLOSEFRAME_"))}
    env["PYTHONPATH"] = str(code_root)
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker", step, key, base_url,
                          str(cache), str(parquet)], env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{step} failed:\n{out.stderr[-3000:]}")
    return {**json.loads(out.stdout.strip().splitlines()[-1]), "sandbox_cpu": time.process_time() - served}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="300000,1000000", help="comma-separated call counts")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each measured step (the median is shown)")
    parser.add_argument("--worker", nargs=5, metavar=("STEP", "KEY", "URL", "CACHE", "PARQUET"),
                        help=argparse.SUPPRESS)
    if "--worker" in sys.argv:
        print(json.dumps(worker(*parser.parse_args().worker)))
        return
    from _baseline import add_baseline_argument, checkout

    add_baseline_argument(parser, default="")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from closeframe.sandbox import serve

    rows = []
    with tempfile.TemporaryDirectory(prefix="closeframe-bench-store-") as scratch, \
            checkout(args.baseline) as baseline:
        scratch = Path(scratch)
        for size in (int(s) for s in args.sizes.split(",")):
            with serve(organizations=_organizations(size), rate_limit=None, quirks=False) as sb:
                key = sb.api_keys["Org"]
                parquet, cache = scratch / f"calls-{size}.parquet", scratch / f"store-{size}"
                fill = _run(f"fill-{size}", key, sb.base_url, cache, parquet, ROOT)
                # The sandbox makes its month of seeded events when the log is first read (Close has them
                # already): made here, so the reload is not charged for the sandbox's own start.
                sb.store.events.page(sb.store.org_id("Org"), {}, admin=True, limit=1)
                runs: dict[str, list[dict]] = {"store-read": [], "cached": [], "parquet": []}
                for _ in range(args.repeat):
                    for step, found in runs.items():  # in turn, so a slow spell of the machine hits each alike
                        found.append(_run(step, key, sb.base_url, cache, parquet, ROOT))
                found = [("store read (this)", runs["store-read"]),
                         ("cf.load_calls(cache=) (this, with the sandbox's event log)", runs["cached"]),
                         ("pd.read_parquet", runs["parquet"])]
                if baseline is not None:
                    old, old_parquet = scratch / f"old-{size}", scratch / f"old-{size}.parquet"
                    _run("fresh-into-cache", key, sb.base_url, old, old_parquet, baseline)
                    found.append((f"old cache ({args.baseline})",
                                  [_run("cached", key, sb.base_url, old, old_parquet, baseline)]))
            parquet_seconds = (_median(runs["parquet"], "seconds"), min(run["seconds"] for run in runs["parquet"]))
            rows += [(size, name, figures, parquet_seconds) for name, figures in found]
            print(f"(the fill of {size:,} calls took {fill['seconds']:.1f} s)", file=sys.stderr)
    print(f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())} on {os.cpu_count()} cores; medians of "
          f"{args.repeat} runs")
    print("| calls | reload | seconds | fastest - slowest | x read_parquet | x its fastest run | client CPU s "
          "| sandbox CPU s | peak MiB above start | frame MiB | extra x frame |")
    print("|---:|---|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for size, name, found, (parquet_median, parquet_fastest) in rows:
        seconds, peak, frame = (_median(found, key) for key in ("seconds", "peak_mb", "frame_mb"))
        spread = sorted(run["seconds"] for run in found)
        print(f"| {size:,} | {name} | {seconds:.2f} | {spread[0]:.2f} - {spread[-1]:.2f} "
              f"| {seconds / parquet_median:.1f} | {seconds / parquet_fastest:.1f} | {_median(found, 'cpu'):.2f} "
              f"| {_median(found, 'sandbox_cpu'):.2f} | {peak:.0f} | {frame:.0f} | {(peak - frame) / frame:.2f} |")


def _median(runs: list[dict], key: str) -> float:
    return statistics.median(run[key] for run in runs)


if __name__ == "__main__":
    main()
