"""Benchmark shaping: ``outcomes_frame`` / ``calls_frame`` against the naive json_normalize recipe.

Each measurement runs in a fresh Python process (this script re-invoking itself), so one run's memory never
counts against another's. Peak memory is the process's resident-set high-water mark (``VmHWM``), reset with
``/proc/self/clear_refs`` once the input list is built, so "extra" is the growth above the input; where that reset
is unavailable, ``ru_maxrss`` minus the resident size after building the input is used instead. RSS rather than
``tracemalloc``: pyarrow allocates outside Python's allocator, and tracemalloc would not see it. Times are the best
of ``--repeat`` runs, wall and CPU (``time.process_time``; on a shared machine the CPU time is the steadier one).

Usage::

    python bench/shaping.py              # 1,000,000 outcomes, 1,000,000 calls
    python bench/shaping.py --n 200000 --calls 200000 --repeat 3
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ORGANIZATIONS = 50
NAMES_PER_ORGANIZATION = 40
USERS_PER_ORGANIZATION = 12
OFFSETS = ["+00:00", "+00:00", "+00:00", "Z", "+02:00", "-04:00", "-07:00", "+05:30", "+09:00"]
DISPOSITIONS = ["answered", "no-answer", "vm-answer", "vm-left", "busy", "blocked", "error", "abandoned"]


def _stamp(rng: random.Random) -> str:
    """A Close-like ISO 8601 datetime: mostly with a 6-digit fraction, some without, varied offsets."""
    seconds = rng.randrange(2 * 365 * 86400)
    day, rest = divmod(seconds, 86400)
    month, mday = 1 + (day // 28) % 12, 1 + day % 28
    year = 2024 + day // 336
    fraction = rng.choice([".000000", f".{rng.randrange(10**6):06d}", f".{rng.randrange(10**6):06d}", ""])
    return (f"{year}-{month:02d}-{mday:02d}T{rest // 3600:02d}:{rest // 60 % 60:02d}:{rest % 60:02d}"
            f"{fraction}{rng.choice(OFFSETS)}")


def _ident(prefix: str, rng: random.Random, length: int) -> str:
    return prefix + "".join(rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", k=length))


def generate_outcomes(count: int, seed: int = 20250729) -> list[dict]:
    """Return ``count`` synthetic outcome records shaped like ``GET /outcome/`` answers, from a fixed seed."""
    rng = random.Random(seed)
    organizations = [_ident("orga_", rng, 43) for _ in range(ORGANIZATIONS)]
    users = {org: [_ident("user_", rng, 43) for _ in range(USERS_PER_ORGANIZATION)] for org in organizations}
    names = {org: [f"Outcome {rng.randrange(1000)} {word}" for word in
                   rng.choices(["Demo Booked", "Left Voicemail", "Not Interested", "Callback", "Qualified",
                                "Gatekeeper", "Wrong Number", "Follow-up"], k=NAMES_PER_ORGANIZATION)]
             for org in organizations}
    records = []
    for index in range(count):
        org = rng.choice(organizations)
        kind = "vm-dropped" if rng.random() < 0.15 else "custom"
        applies_to = ["calls"] if kind == "vm-dropped" else ["calls", "meetings"]
        if rng.random() < 0.02:
            applies_to = applies_to + ["sms"]
        name = rng.choice(names[org])
        records.append({
            "id": f"outcome_{index:011d}" + _ident("", rng, 11),
            "name": name,
            "description": None if rng.random() < 0.3 else f"{name}: what the rep should do next.",
            "type": kind,
            "applies_to": applies_to,
            "organization_id": org,
            "created_by": rng.choice(users[org]),
            "updated_by": rng.choice(users[org]) if rng.random() < 0.9 else None,
            "date_created": _stamp(rng),
            "date_updated": _stamp(rng),
        })
    return records


def generate_calls(count: int, seed: int = 20250801) -> list[dict]:
    """Return ``count`` synthetic call records shaped like ``GET /activity/call/`` answers, from a fixed seed."""
    rng = random.Random(seed)
    organizations = [_ident("orga_", rng, 43) for _ in range(ORGANIZATIONS)]
    users = {org: [(_ident("user_", rng, 43), f"Rep {i}") for i in range(USERS_PER_ORGANIZATION)]
             for org in organizations}
    outcomes = {org: [_ident("outcome_", rng, 22) for _ in range(NAMES_PER_ORGANIZATION)] for org in organizations}
    records = []
    for index in range(count):
        org = rng.choice(organizations)
        user_id, user_name = rng.choice(users[org])
        stamp = _stamp(rng)
        records.append({
            "id": f"acti_{index:011d}" + _ident("", rng, 32),
            "organization_id": org, "user_id": user_id, "user_name": user_name,
            "lead_id": _ident("lead_", rng, 43), "contact_id": _ident("cont_", rng, 43) if rng.random() < 0.9 else None,
            "date_created": stamp, "date_updated": stamp, "activity_at": stamp,
            "outcome_id": rng.choice(outcomes[org]) if rng.random() < 0.4 else None,
            "duration": rng.randrange(0, 1800), "direction": rng.choice(["inbound", "outbound"]),
            "status": "completed", "disposition": rng.choice(DISPOSITIONS), "call_method": "regular",
            "source": "Close.io",
        })
    return records


def naive_outcomes(records: list[dict]):
    """The naive recipe from the project brief."""
    import pandas as pd
    df = pd.json_normalize(records)
    long = df.explode("applies_to")
    dummies = pd.get_dummies(long["applies_to"], prefix="applies_to").groupby(level=0).max()
    df = df.drop(columns="applies_to").join(dummies)
    for c in ("date_created", "date_updated"):
        df[c] = pd.to_datetime(df[c], utc=True, format="ISO8601")
    return df


def naive_calls(records: list[dict]):
    """The same recipe for calls: json_normalize, then the casts the pinned schema asks for."""
    import pandas as pd
    df = pd.json_normalize(records)
    for c in ("date_created", "date_updated", "activity_at"):
        df[c] = pd.to_datetime(df[c], utc=True, format="ISO8601")
    for c in ("organization_id", "user_id", "user_name", "direction", "status", "disposition", "call_method",
              "source"):
        df[c] = df[c].astype("category")
    df["duration"] = df["duration"].astype("Int64")
    return df


def _current_rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _peak_rss() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")  # 5 = reset the peak RSS (VmHWM) to the current RSS
        return True
    except OSError:
        return False


def measure(kind: str, recipe: str, count: int, repeat: int, fingerprint=None) -> dict:
    """Run one recipe in this process: extra peak RSS of the first run, best time of ``repeat`` runs.

    ``fingerprint(ids)``, when given, summarizes the first frame's ``id`` column (bench/run.py compares the
    recipes' results with it).
    """
    records = generate_outcomes(count) if kind == "outcomes" else generate_calls(count)
    import pandas  # noqa: F401  (import cost and its memory are not part of the shaping)
    import pyarrow  # noqa: F401
    from closeframe.shape import frames
    function = {("outcomes", "ours"): frames.outcomes_frame, ("outcomes", "naive"): naive_outcomes,
                ("calls", "ours"): frames.calls_frame, ("calls", "naive"): naive_calls}[(kind, recipe)]
    function(records[:1000])  # warm up lazy imports and pyarrow's allocator
    gc.collect()
    baseline = _current_rss()
    reset = _reset_peak()
    if not reset:
        baseline = max(baseline, _peak_rss())
    times, cpu = [], []
    start, start_cpu = time.perf_counter(), time.process_time()
    frame = function(records)
    times.append(time.perf_counter() - start)
    cpu.append(time.process_time() - start_cpu)
    extra = _peak_rss() - baseline
    result_bytes = int(frame.memory_usage(deep=False).sum())
    checked = {"rows": len(frame), "ids": fingerprint(frame["id"])} if fingerprint else {}
    del frame
    for _ in range(repeat - 1):
        gc.collect()
        start, start_cpu = time.perf_counter(), time.process_time()
        function(records)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return {"seconds": min(times), "cpu_seconds": min(cpu), "extra_peak_mb": extra / 2**20, "frame_mb": result_bytes / 2**20,
            "peak_reset": reset, **checked}


def _run_child(kind: str, recipe: str, count: int, repeat: int) -> dict:
    answer = subprocess.run([sys.executable, __file__, "--child", kind, recipe, "--n", str(count),
                             "--repeat", str(repeat)], check=True, capture_output=True, text=True)
    return json.loads(answer.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="outcome records (default 1,000,000)")
    parser.add_argument("--calls", type=int, default=None, help="call records (default: same as --n; 0 skips)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per recipe, best kept (default 3)")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "RECIPE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.child[0], args.child[1], args.n, args.repeat)))
        return
    calls = args.n if args.calls is None else args.calls
    rows = []
    for kind, count in (("outcomes", args.n), ("calls", calls)):
        if not count:
            continue
        naive = _run_child(kind, "naive", count, args.repeat)
        ours = _run_child(kind, "ours", count, args.repeat)
        rows.append((kind, count, naive, ours))
    print("| records | n | naive s | ours s | speed-up | naive CPU s | ours CPU s | CPU speed-up | "
          "naive extra peak MiB | ours extra peak MiB | memory ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for kind, count, naive, ours in rows:
        print(f"| {kind} | {count:,} | {naive['seconds']:.2f} | {ours['seconds']:.2f} | "
              f"{naive['seconds'] / ours['seconds']:.1f}x | {naive['cpu_seconds']:.2f} | {ours['cpu_seconds']:.2f} | "
              f"{naive['cpu_seconds'] / ours['cpu_seconds']:.1f}x | {naive['extra_peak_mb']:.0f} | "
              f"{ours['extra_peak_mb']:.0f} | {ours['extra_peak_mb'] / naive['extra_peak_mb']:.2f} |")


if __name__ == "__main__":
    main()
