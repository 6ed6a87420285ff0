"""Usage speed and memory, side by side with a baseline git ref in one run: every engine on the same activities.

Rows (each measured in its own process, so peak RSS is the run's own):

- ``cf.outcome_usage`` on N in-memory activities (default 1,000,000): this checkout's in-memory engine, DuckDB
  over the same frames, and the baseline ref's ``cf.outcome_usage`` (its only path then).
- DuckDB and (``--spark``) Spark over the same activities written as a hive-partitioned Parquet dataset.
- A selection update: ``usage_table`` (the numbers ``explorer.usage``, the dashboard and the report show) for
  random pickers on the prepared N activities: median and p90.
- ``--memory 10000000``: the in-memory engine on ten million activities: extra peak RSS against the input frames'
  size (goal: at most 1.5x).

The activities are synthetic, with the loaders' dtypes (categorical organizations and users, Arrow-string ids,
UTC microsecond times, Close's status, disposition and autofill fields). The baseline is a git ref
checked out by ``bench/_baseline.py`` into a temporary worktree, removed afterwards.

    PYTHONPATH=. python bench/usage.py [--rows 1000000] [--baseline main] [--spark] [--memory 10000000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _baseline import add_baseline_argument, checkout  # noqa: E402  (bench/_baseline.py: a ref in a worktree)
from memory import _reset_peak, _status_kb  # noqa: E402  (bench/memory.py: peak RSS of this process)


# -- inside a worker --------------------------------------------------------------------------------------------

def activities(n: int, seed: int = 0):
    """(outcomes, calls, meetings): ``n`` activities (80 % calls) over 12 organizations, 40 outcomes each."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    from closeframe.shape.frames import STRING_DTYPE, UTC_DATETIME_DTYPE

    rng = np.random.default_rng(seed)
    n_orgs, per_org = 12, 40
    orgs = [f"orga_{i:040d}" for i in range(n_orgs)]
    ids = [f"outcome_{o:02d}{j:020d}" for o in range(n_orgs) for j in range(per_org)]
    outcomes = pd.DataFrame({
        "id": pd.array(ids, dtype=STRING_DTYPE),
        "name": pd.array([f"Outcome {j}" for _ in range(n_orgs) for j in range(per_org)], dtype=STRING_DTYPE),
        "type": pd.Categorical(["vm-dropped" if j == 0 else "custom" for _ in range(n_orgs) for j in range(per_org)]),
        "organization_id": pd.Categorical([o for o in orgs for _ in range(per_org)]),
        "organization_name": pd.Categorical([f"Org {o[-3:]}" for o in orgs for _ in range(per_org)]),
    })
    deleted = [f"outcome_gone{o:02d}{j:017d}" for o in range(n_orgs) for j in range(2)]
    pool = np.array(ids + deleted, dtype=object)

    def frame(count: int, kind: str, start: int) -> pd.DataFrame:
        org = rng.integers(0, n_orgs, count)
        pick = rng.integers(0, per_org + 2, count)
        outcome = np.where(pick < per_org, org * per_org + pick, len(ids) + org * 2 + (pick - per_org) % 2)
        missing = rng.random(count) < 0.3
        outcome_ids = pa.compute.if_else(pa.array(missing), pa.scalar(None, pa.large_string()),
                                         pa.array(pool[outcome], type=pa.large_string()))
        users = [f"user_{i:040d}" for i in range(60)]
        reason = rng.choice(np.array(["autofilled", "user-selected", "voicemail-dropped", None], dtype=object),
                            count, p=[0.1, 0.3, 0.02, 0.58])
        text = pa.compute.if_else(pa.array(reason == "autofilled"), pa.scalar("The lead asked for a demo.",
                                                                              pa.large_string()),
                                  pa.scalar(None, pa.large_string()))
        counter = pa.compute.cast(pa.array(np.arange(start, start + count)), pa.large_string())
        numbers = pa.compute.utf8_lpad(counter, 40, "0")
        large = pa.large_string()
        out = pd.DataFrame({
            "id": pd.arrays.ArrowStringArray(pa.compute.binary_join_element_wise(pa.scalar("acti_", large), numbers,
                                                                                pa.scalar("", large))),
            "organization_id": pd.Categorical.from_codes(org, categories=orgs),
            "organization_name": pd.Categorical.from_codes(org, categories=[f"Org {o[-3:]}" for o in orgs]),
            "user_id": pd.Categorical.from_codes(rng.integers(0, 60, count), categories=users),
            "date_created": pd.Series(pd.to_datetime(1_700_000_000_000_000 + rng.integers(0, 63_000_000_000_000,
                                                                                          count),
                                                     unit="us", utc=True)).astype(UTC_DATETIME_DTYPE).array,
            "outcome_id": pd.arrays.ArrowStringArray(outcome_ids),
            "duration": pd.array(rng.integers(0, 600, count), dtype="Int64"),
            "status": pd.Categorical(rng.choice(["completed", "no-answer", "busy"] if kind == "call" else
                                                ["completed", "upcoming", "canceled"], count)),
            "outcome_reason": pd.Categorical(reason),
            "outcome_autofill_reasoning": pd.arrays.ArrowStringArray(text),
        })
        if kind == "call":
            out["disposition"] = pd.Categorical(rng.choice(np.array(["answered", "no-answer", None], dtype=object),
                                                           count))
        return out

    n_calls = int(n * 0.8)
    return outcomes, frame(n_calls, "call", 0), frame(n - n_calls, "meeting", n_calls)


def run(spec: dict) -> dict:
    """One measurement (in this process): ``spec["task"]`` on ``spec["n"]`` activities."""
    import ctypes
    import gc

    import closeframe as cf

    outcomes, calls, meetings = activities(spec["n"])
    task = spec["task"]
    if task == "selection":
        return _selection(outcomes, calls, meetings, spec.get("repeat", 30))
    options = {}
    if task in ("duckdb", "duckdb-dataset", "spark-dataset"):
        import duckdb  # noqa: F401  (imported before the baseline RSS is taken)

        options["engine"] = task.split("-")[0]
    if task.endswith("dataset"):
        folder = Path(spec["folder"])
        if not (folder / "calls").exists():
            cf.export(calls, folder / "calls", partition_by=["organization_id", "month"])
            cf.export(meetings, folder / "meetings", partition_by=["organization_id", "month"])
        options["dataset"] = {"calls": folder / "calls", "meetings": folder / "meetings"}
        calls = meetings = None
    if task == "spark-dataset":
        from pyspark.sql import SparkSession

        options["spark"] = SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false").config(
            "spark.sql.session.timeZone", "UTC").getOrCreate()
        options["spark"].sparkContext.setLogLevel("ERROR")
        cf.outcome_usage(outcomes, **options)  # warm the JVM: the row is the query, not Spark's start
    input_mb = sum(f.memory_usage(deep=True).sum() for f in (calls, meetings) if f is not None) / 2**20
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    before = _status_kb("VmRSS")
    _reset_peak()
    started, cpu = time.perf_counter(), time.process_time()
    usage = cf.outcome_usage(outcomes, calls, meetings, **options)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak = _status_kb("VmHWM")
    return {"wall": wall, "cpu": cpu, "extra_mb": (peak - before) / 1024, "input_mb": input_mb, "rows": len(usage),
            "total": int(usage["total"].sum())}


def _selection(outcomes, calls, meetings, repeat: int) -> dict:
    import numpy as np

    from closeframe.usage.selection import Selection, options, prepare, usage_table

    data = prepare(outcomes, calls, meetings)
    choices = options(data)
    rng = np.random.default_rng(1)
    times, cpu = [], []
    for i in range(repeat):
        picks = Selection(
            organizations=[label for label, _ in choices.organizations][: rng.integers(0, 4)],
            outcomes=[value for _, value in choices.outcomes][: rng.integers(0, 3)],
            kinds=[(), ("calls",), ("meetings",)][i % 3], since="2024-01-01" if i % 2 else None)
        started, started_cpu = time.perf_counter(), time.process_time()
        usage_table(data, picks)
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)

    def p90(values: list) -> float:
        return sorted(values)[int(0.9 * (len(values) - 1))]

    return {"median": statistics.median(times), "p90": p90(times), "cpu_median": statistics.median(cpu),
            "cpu_p90": p90(cpu), "n": len(times)}


# -- the parent ---------------------------------------------------------------------------------------------------

def _worker(spec: dict, root: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(root)}
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3600, cwd=root)
    if done.returncode:
        raise RuntimeError(f"worker failed ({spec}): {done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _row(cells) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="activities for the speed rows")
    add_baseline_argument(parser)
    parser.add_argument("--spark", action="store_true", help="add Spark over the Parquet dataset (local[2])")
    parser.add_argument("--memory", type=int, default=0, help="activities for the memory row (e.g. 10000000)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(run(json.loads(args.worker))))
        return
    n = args.rows
    # CPU seconds beside wall seconds: on a shared machine the wall time also counts waits for a core.
    header = ["what", "code", "activities", "seconds", "CPU seconds", "extra peak MB", "input MB", "extra / input"]
    print(_row(header))
    print(_row(["---"] * len(header)))

    def show(what: str, code: str, count: int, result: dict) -> None:
        print(_row([what, code, f"{count:,}", f"{result['wall']:.2f}", f"{result['cpu']:.2f}",
                    f"{result['extra_mb']:.0f}",
                    f"{result['input_mb']:.0f}" if result["input_mb"] else "on disk",
                    f"{result['extra_mb'] / result['input_mb']:.2f}" if result["input_mb"] else "–"]), flush=True)

    if args.baseline:
        with checkout(args.baseline) as folder:
            show("outcome_usage, frames", f"baseline {args.baseline}", n, _worker({"task": "pandas", "n": n}, folder))
    show("outcome_usage, frames", "this: in memory (numpy)", n, _worker({"task": "pandas", "n": n}, ROOT))
    show("outcome_usage, frames", "this: DuckDB over the frames", n, _worker({"task": "duckdb", "n": n}, ROOT))
    with tempfile.TemporaryDirectory(prefix="cf-bench-usage-data-") as lake:
        show("outcome_usage, hive Parquet dataset", "this: DuckDB", n,
             _worker({"task": "duckdb-dataset", "n": n, "folder": lake}, ROOT))
        if args.spark:
            show("outcome_usage, hive Parquet dataset", "this: Spark SQL, local[2], warm", n,
                 _worker({"task": "spark-dataset", "n": n, "folder": lake}, ROOT))
    selection = _worker({"task": "selection", "n": n}, ROOT)
    print(_row([f"usage_table of a selection (explorer, dashboard, report), {selection['n']} picks", "this",
                f"{n:,}", f"median {selection['median']:.3f}, p90 {selection['p90']:.3f}",
                f"median {selection['cpu_median']:.3f}, p90 {selection['cpu_p90']:.3f}", "–", "–", "–"]),
          flush=True)
    if args.memory:
        show("outcome_usage, frames", "this: in memory (numpy)", args.memory,
             _worker({"task": "pandas", "n": args.memory}, ROOT))


if __name__ == "__main__":
    main()
