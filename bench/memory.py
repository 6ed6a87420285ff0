"""Memory and speed of load_calls / load_meetings / load_outcomes, this checkout against another, side by side.

The sandbox runs in this (parent) process; each load runs in a fresh worker process (this script re-invoked with
``--worker``), once with this checkout's ``closeframe`` and once with the baseline's (``--baseline REF``, a git ref checked out
in a temporary worktree, default ``main``: "today's code"), so the memory measured is the client's alone. A worker imports closeframe, notes
makes a warm-up load of one day (so first-use costs, about 40 MB of lazily loaded code, thread stacks and
allocator pools, are not counted as the data's), notes its resident memory, resets the kernel's peak-RSS mark
(``/proc/self/clear_refs``), loads, and reports:

- ``extra peak MB``: peak RSS during the load minus RSS before it (the frame itself included);
- ``frame MB``: ``DataFrame.memory_usage(deep=True).sum()`` of the returned frame;
- ``ratio``: extra peak / frame (the issue's goal: at most 2);
- ``wall s``, ``records/s`` and ``CPU ms/page`` (user + system CPU of the worker per page request).

Modes: ``fresh`` (no cache), ``cache write`` (a fresh load into an empty cache folder) and ``cache read`` (the same
load again, answered by the cache: ``lookback=None`` so no page is fetched). The sandbox has no latency and no rate
limit, so the figures are closeframe's paging, decoding and shaping.

Usage::

    python bench/memory.py                       # 300,000 and 1,000,000 calls, 200,000 meetings, 200,000 outcomes
    python bench/memory.py --calls 300000 --meetings 0 --outcomes 0 --repeat 1
    python bench/memory.py --usage 1000000,3000000,10000000   # outcome_usage on in-memory frames (no sandbox)
    python bench/memory.py --decode               # CPU per page: json vs orjson decoding, pyarrow.json, shaping

Why orjson: it decodes a page of 100 sandbox calls in about 0.2 ms of CPU against 0.33 ms for the standard
library (``--decode``; 1.6x, about 5% of the client's whole CPU per page, most of which is HTTP), and the cache's
records likewise. pyarrow's JSON reader is slower here (0.67 ms, and every page must first be split into
records) and hands back Arrow, while the pager needs each record's id and date as Python values; shaping in
5,000-record batches costs about 0.26 ms a page.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _baseline import ROOT, add_baseline_argument, checkout

MODES = ("fresh", "cache write", "cache read")


# -- inside a worker --------------------------------------------------------------------------------------------

def _status_kb(name: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{name} not in /proc/self/status")


def _reset_peak() -> None:
    # Linux: writing 5 resets VmHWM (the peak RSS) to the current RSS.
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")


def run_load(spec: dict) -> dict:
    import pandas as pd  # noqa: F401  (imported before the baseline RSS is taken)
    import pyarrow  # noqa: F401
    import pyarrow.parquet  # noqa: F401  (the cache's; imported on first use)

    import closeframe as cf

    loader = {"call": cf.load_calls, "meeting": cf.load_meetings, "outcome": cf.load_outcomes}[spec["kind"]]
    options = dict(base_url=spec["base_url"], progress=False)
    if spec["kind"] != "outcome":
        since = pd.Timestamp.now(tz="UTC") - pd.Timedelta(days=1)
        loader(spec["key"], since=since, **options)  # the warm-up
    if spec["kind"] != "outcome" and spec["cache"]:
        options.update(cache=spec["cache"], lookback=None)
    before = _status_kb("VmRSS")
    _reset_peak()
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    frame = loader(spec["key"], **options)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    peak = _status_kb("VmHWM")
    return {"rows": len(frame), "wall": wall, "cpu": after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime,
            "extra_mb": (peak - before) / 1024, "frame_mb": frame.memory_usage(deep=True).sum() / 2**20,
            "columns": list(frame.columns), "ids": int(frame["id"].nunique())}


def synthetic_frames(n: int, seed: int = 0):
    """Outcomes and a calls frame of ``n`` rows with the loaders' dtypes, built fast (no sandbox)."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    from closeframe.shape.frames import STRING_DTYPE, UTC_DATETIME_DTYPE

    rng = np.random.default_rng(seed)
    orgs = [f"orga_{i:040d}" for i in range(4)]
    outcome_ids = [f"outc_{i:040d}" for i in range(160)]
    outcomes = pd.DataFrame({
        "id": pd.array(outcome_ids, dtype=STRING_DTYPE),
        "name": pd.array([f"Outcome {i % 40}" for i in range(160)], dtype=STRING_DTYPE),
        "type": pd.Categorical(["custom" if i % 5 else "vm-dropped" for i in range(160)]),
        "organization_id": pd.Categorical([orgs[i // 40] for i in range(160)]),
    })
    org_code = rng.integers(0, 4, n)
    outcome_code = org_code * 40 + rng.integers(0, 42, n)  # 40, 41: deleted outcomes (no row resolves them)
    outcome_text = np.array(outcome_ids + [f"outc_deleted{i:035d}" for i in range(4 * 42)], dtype=object)
    outcome_code = np.where(rng.random(n) < 0.5, -1, outcome_code)

    def ids(prefix, count):
        return pa.array(np.char.add(prefix, np.char.zfill(np.arange(count).astype(str), 43)).astype(object),
                        type=pa.large_string())

    outcome_arrow = pa.array(outcome_text[np.maximum(outcome_code, 0)], type=pa.large_string())
    outcome_arrow = pa.compute.if_else(pa.array(outcome_code < 0), pa.scalar(None, pa.large_string()),
                                       outcome_arrow)
    users = [f"user_{i:040d}" for i in range(40)]
    calls = pd.DataFrame({
        "id": pd.arrays.ArrowStringArray(ids("acti_", n)),
        "organization_id": pd.Categorical.from_codes(org_code, categories=orgs),
        "user_id": pd.Categorical.from_codes(rng.integers(0, 40, n), categories=users),
        "user_name": pd.Categorical.from_codes(rng.integers(0, 40, n), categories=[f"User {i}" for i in range(40)]),
        "lead_id": pd.arrays.ArrowStringArray(ids("lead_", n)),
        "date_created": pd.Series(pd.to_datetime(1_700_000_000_000_000 + rng.integers(0, 63_000_000_000_000, n),
                                                 unit="us", utc=True)).astype(UTC_DATETIME_DTYPE).array,
        "outcome_id": pd.arrays.ArrowStringArray(outcome_arrow),
        "duration": pd.array(rng.integers(0, 600, n), dtype="Int64"),
    })
    return outcomes, calls


def run_usage(spec: dict) -> dict:
    import closeframe as cf

    outcomes, calls = synthetic_frames(spec["n"])
    if spec["engine"] == "duckdb":
        import duckdb  # noqa: F401  (imported before the baseline RSS is taken)

        def usage_of(outcomes, calls):
            return cf.outcome_usage(outcomes, calls, engine="duckdb")
    else:
        usage_of = cf.outcome_usage
    import ctypes
    import gc

    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)  # return what building the input freed, so reuse of it is not free
    before = _status_kb("VmRSS")
    _reset_peak()
    started = time.perf_counter()
    usage = usage_of(outcomes, calls)
    wall = time.perf_counter() - started
    peak = _status_kb("VmHWM")
    return {"rows": len(calls), "wall": wall, "extra_mb": (peak - before) / 1024,
            "frame_mb": calls.memory_usage(deep=True).sum() / 2**20, "usage_rows": len(usage),
            "total": int(usage["total"].sum())}


def decode_table(pages_of: int = 200) -> None:
    """Milliseconds of CPU per page of 100 calls: decoding with json and orjson, pyarrow.json, shaping."""
    import io

    import orjson
    import pyarrow.json as pj

    from closeframe.shape.frames import calls_frame
    from closeframe.sandbox import Sandbox

    sb = Sandbox(seed=3, organizations=1, calls=pages_of * 100, meetings=0, outcomes=5, quirks=False)
    table = sb.store.table(sb.store.organizations[0]["name"], "call")
    pages = [json.dumps({"data": [table.render(i) for i in range(j, j + 100)], "has_more": True}).encode()
             for j in range(0, pages_of * 100, 100)]
    records = [record for page in pages for record in json.loads(page)["data"]]
    lines = [b"\n".join(json.dumps(r).encode() for r in json.loads(page)["data"]) for page in pages]

    def best(work, repeat=5) -> str:
        times = []
        for _ in range(repeat):
            started = time.process_time()
            work()
            times.append(time.process_time() - started)
        return f"{1000 * min(times) / len(pages):.2f}"

    print("| step | CPU ms per page of 100 calls |\n|---|---|")
    print(f"| json.loads (standard library) | {best(lambda: [json.loads(p) for p in pages])} |")
    print(f"| orjson.loads (used) | {best(lambda: [orjson.loads(p) for p in pages])} |")
    print(f"| pyarrow.json.read_json (records split beforehand) | "
          f"{best(lambda: [pj.read_json(io.BytesIO(b)) for b in lines])} |")
    print(f"| shaping, 5,000-record batches | "
          f"{best(lambda: [calls_frame(records[i:i + 5000]) for i in range(0, len(records), 5000)])} |")


# -- the parent ---------------------------------------------------------------------------------------------------

def _worker(spec: dict, pythonpath: str) -> dict:
    env = {**os.environ, "PYTHONPATH": pythonpath}
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800)
    if done.returncode:
        raise RuntimeError(f"worker failed ({pythonpath}): {done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _row(cells) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


HEADER = ["load", "mode", "code", "rows", "wall s", "records/s", "CPU ms/page", "frame MB", "extra peak MB",
          "ratio"]


def _load_row(kind: str, count: int, mode: str, label: str, result: dict, pages: int) -> list:
    if result["rows"] != count or result["ids"] != count:
        raise RuntimeError(f"{label} loaded {result['rows']} rows ({result['ids']} ids), not {count}")
    per_page = "–" if mode == "cache read" else f"{1000 * result['cpu'] / pages:.2f}"
    return [f"{count:,} {kind}s", mode, label, f"{result['rows']:,}", f"{result['wall']:.1f}",
            f"{result['rows'] / result['wall']:,.0f}", per_page, f"{result['frame_mb']:.0f}",
            f"{result['extra_mb']:.0f}", f"{result['extra_mb'] / result['frame_mb']:.1f}"]


def bench_loads(kind: str, count: int, versions: dict, repeat: int, modes) -> list[list]:
    """Each version's loads of one sandbox; "cache read" reads the folder its "cache write" run filled."""
    from closeframe.sandbox import serve

    sizes = dict(calls=0, meetings=0, outcomes=5)
    sizes[{"call": "calls", "meeting": "meetings", "outcome": "outcomes"}[kind]] = count
    modes = ("fresh",) if kind == "outcome" else tuple(modes)
    rows = []
    with serve(seed=3, organizations=1, users=4, rate_limit=None, latency=0, quirks=False, **sizes) as sb:
        key = next(iter(sb.api_keys.values()))
        for label, path in versions.items():
            for _ in range(repeat):
                folder = tempfile.mkdtemp(prefix="cf-bench-cache-")
                try:
                    for mode in ([m for m in MODES if m in modes] if "cache read" not in modes else
                                 [m for m in MODES if m in modes or m == "cache write"]):
                        spec = dict(task="load", kind=kind, base_url=sb.base_url, key=key,
                                    cache=None if mode == "fresh" else folder)
                        sb.stats.reset()
                        result = _worker(spec, path)
                        pages = max(1, sb.stats.snapshot()["requests"] - 2)  # minus /me/ and the warm-up's
                        if mode in modes:
                            rows.append(_load_row(kind, count, mode, label, result, pages))
                            print(_row(rows[-1]), flush=True)
                finally:
                    shutil.rmtree(folder, ignore_errors=True)
    return rows


def bench_usage(sizes: list[int], versions: dict, engines: list[str]) -> list[list]:
    rows = []
    for n in sizes:
        for engine in engines:
            for label, path in (versions.items() if engine == "pandas" else [("this", str(ROOT))]):
                result = _worker(dict(task="usage", n=n, engine=engine), path)
                rows.append(_usage_row(n, engine, label, result))
                print(_row(rows[-1]), flush=True)
    return rows


def _usage_row(n: int, engine: str, label: str, result: dict) -> list:
    return [f"outcome_usage, {n:,} calls", f"in memory, {engine}", label, f"{n:,}", f"{result['wall']:.1f}",
            f"{n / result['wall']:,.0f}", "–", f"{result['frame_mb']:.0f}", f"{result['extra_mb']:.0f}",
            f"{result['extra_mb'] / result['frame_mb']:.2f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", default="300000,1000000", help="comma-separated sizes; 0 = none")
    parser.add_argument("--meetings", default="200000")
    parser.add_argument("--outcomes", default="200000")
    parser.add_argument("--usage", default="", help="comma-separated activity counts for outcome_usage")
    parser.add_argument("--engines", default="pandas,duckdb", help="outcome_usage engines to measure")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--repeat", type=int, default=1)
    add_baseline_argument(parser)
    parser.add_argument("--decode", action="store_true", help="only the table of decoding and shaping CPU")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.decode:
        decode_table()
        return
    if args.worker:
        spec = json.loads(args.worker)
        result = run_load(spec) if spec["task"] == "load" else run_usage(spec)
        print(json.dumps(result))
        return
    with checkout(args.baseline) as baseline:
        versions = {"today": str(baseline), "this": str(ROOT)} if baseline else {"this": str(ROOT)}
        _tables(args, versions)


def _tables(args: argparse.Namespace, versions: dict) -> None:
    sizes = lambda text: [int(v) for v in text.split(",") if v.strip() and int(v)]  # noqa: E731
    modes = [m.strip() for m in args.modes.split(",")]
    print(_row(HEADER))
    print(_row(["---"] * len(HEADER)))
    for n in sizes(args.calls):
        bench_loads("call", n, versions, args.repeat, modes)
    for n in sizes(args.meetings):
        bench_loads("meeting", n, versions, args.repeat, modes)
    for n in sizes(args.outcomes):
        bench_loads("outcome", n, versions, args.repeat, modes)
    if args.usage:
        bench_usage(sizes(args.usage), versions, [e.strip() for e in args.engines.split(",")])

if __name__ == "__main__":
    sys.path.insert(0, str(ROOT)) if "--worker" not in sys.argv else None
    main()
