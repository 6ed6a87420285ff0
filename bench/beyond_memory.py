"""Usage of 50,000,000 activities on disk, summarised by DuckDB in bounded memory (closeframe.usage.engines.duckdb).

Writes a synthetic hive-partitioned Parquet dataset (``organization_id=…/month=…/part-0.parquet``, the layout of
``cf.export(calls, "calls/", partition_by=["organization_id", "month"])``) with pyarrow, a file at a time, into a
temporary folder; checks that pyarrow.dataset and DuckDB read it as one table of the right size; then, in a fresh
process, runs ``cf.outcome_usage(outcomes, dataset=folder)`` and reports its wall time and peak RSS; and deletes
the dataset.

Usage::

    python bench/beyond_memory.py                     # 50,000,000 activities (a few GB in /tmp), once
    python bench/beyond_memory.py --activities 2000000 --keep calls-dataset   # smaller, and keep the folder
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ORGANIZATIONS = 4
MONTHS = 24
OUTCOMES_PER_ORG = 40
USERS_PER_ORG = 50


def _org(i: int) -> str:
    return f"orga_{i:040d}"


def outcomes_frame():
    """The outcomes of the synthetic organizations, as load_outcomes shapes them."""
    from closeframe.shape.frames import outcomes_frame as shape

    records = [{"id": f"outc_{o}_{i:034d}", "name": f"Outcome {i}", "type": "vm-dropped" if i % 10 == 0 else "custom",
                "organization_id": _org(o), "applies_to": ["calls", "meetings"]}
               for o in range(ORGANIZATIONS) for i in range(OUTCOMES_PER_ORG)]
    return shape(records, organization_names={_org(o): f"Org {o}" for o in range(ORGANIZATIONS)})


def write_dataset(folder: Path, activities: int, seed: int = 0) -> float:
    """Write ``activities`` synthetic calls, one file per (organization, month); return the seconds it took."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    files = ORGANIZATIONS * MONTHS
    per_file = -(-activities // files)
    written = 0
    for o in range(ORGANIZATIONS):
        outcomes = pa.array([f"outc_{o}_{i:034d}" for i in range(OUTCOMES_PER_ORG)]
                            + [f"outc_deleted_{o}_{i:026d}" for i in range(2)], type=pa.string())
        users = pa.array([f"user_{o}_{i:034d}" for i in range(USERS_PER_ORG)], type=pa.string())
        for m in range(MONTHS):
            n = min(per_file, activities - written)
            if n <= 0:
                break
            month = np.datetime64("2024-01", "M") + m
            start_us = month.astype("datetime64[us]").astype(np.int64)
            span_us = (month + 1).astype("datetime64[us]").astype(np.int64) - start_us
            number = pa.array(np.arange(written, written + n), type=pa.int64())
            codes = rng.integers(0, len(outcomes), n, dtype=np.int32)
            table = pa.table({
                "id": pc.binary_join_element_wise("acti_", pc.cast(number, pa.string()), ""),
                "organization_name": pa.DictionaryArray.from_arrays(np.zeros(n, dtype=np.int32), [f"Org {o}"]),
                "user_id": pa.DictionaryArray.from_arrays(rng.integers(0, USERS_PER_ORG, n, dtype=np.int32), users),
                "date_created": pa.array(start_us + rng.integers(0, span_us, n), type=pa.timestamp("us", tz="UTC")),
                "outcome_id": pa.DictionaryArray.from_arrays(pa.array(codes, mask=rng.random(n) < 0.5), outcomes),
                "duration": pa.array(rng.integers(0, 600, n), type=pa.int64()),
            })
            target = folder / f"organization_id={_org(o)}" / f"month={str(month)}"
            target.mkdir(parents=True, exist_ok=True)
            pq.write_table(table, target / "part-0.parquet")
            written += n
    return time.perf_counter() - started


def check_layout(folder: Path) -> dict:
    """Rows and partition columns as pyarrow.dataset and DuckDB see the folder (standard hive-partitioned Parquet)."""
    import duckdb
    import pyarrow.dataset as ds

    dataset = ds.dataset(folder, format="parquet", partitioning="hive")
    pattern = str(folder / "**" / "*.parquet")
    with duckdb.connect() as connection:
        duck_rows, duck_orgs = connection.execute(
            f"SELECT count(*), count(DISTINCT organization_id) FROM read_parquet('{pattern}', hive_partitioning=true)"
        ).fetchone()
    return {"pyarrow_rows": dataset.count_rows(), "pyarrow_columns": dataset.schema.names,
            "duckdb_rows": duck_rows, "duckdb_organizations": duck_orgs}


def run_usage(folder: str, memory_limit: str) -> dict:
    """Inside a fresh process: the usage of the dataset, its time and this process's peak RSS."""
    import resource

    import closeframe as cf

    outcomes = outcomes_frame()
    started = time.perf_counter()
    usage = cf.outcome_usage(outcomes, dataset=folder, memory_limit=memory_limit)
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"wall": wall, "peak_mb": peak, "rows": len(usage), "total": int(usage["total"].sum()),
            "deleted_rows": int(usage["deleted"].sum()), "no_outcome": sum(usage.attrs["no_outcome"].values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--activities", type=int, default=50_000_000)
    parser.add_argument("--memory-limit", default="1GB")
    parser.add_argument("--keep", help="write the dataset here and keep it (default: a temporary folder, deleted)")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(run_usage(*args.worker)))
        return
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="cf-usage-dataset-"))
    try:
        seconds = write_dataset(folder, args.activities)
        size = sum(p.stat().st_size for p in folder.rglob("*.parquet")) / 2**30
        print(f"wrote {args.activities:,} activities to {folder} in {seconds:.0f} s ({size:.2f} GiB of Parquet)")
        print("layout:", json.dumps(check_layout(folder)))
        command = [sys.executable, str(Path(__file__).resolve()), "--worker", str(folder), args.memory_limit]
        done = subprocess.run(command, capture_output=True, text=True, env={"PYTHONPATH": str(ROOT),
                                                                           "PATH": "/usr/bin:/bin"})
        if done.returncode:
            raise SystemExit(done.stderr[-3000:])
        result = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"| activities | memory_limit | wall s | activities/s | peak RSS MB | usage rows | total |")
        print("|---|---|---|---|---|---|---|")
        print(f"| {args.activities:,} | {args.memory_limit} | {result['wall']:.1f} | "
              f"{args.activities / result['wall']:,.0f} | {result['peak_mb']:.0f} | {result['rows']} | "
              f"{result['total']:,} |")
        if result["total"] != args.activities:
            raise SystemExit(f"usage counted {result['total']:,} activities, not {args.activities:,}")
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
