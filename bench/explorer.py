"""How fast the explorers redraw: median and p90 seconds per picker change (target < 0.1 s).

Catalogue (default): 100,000 outcomes, the seeded sandbox's replicated with new ids. Usage (``--usage``):
1,000,000 calls and meetings, the sandbox's replicated with new ids, each copy a further organization (so 30+
organizations) and shifted by whole weeks. Each picker is set from Python as a user would click it and the whole
update is timed: the selection, the view's table, the status line and the chart's PNG. With ``--usage`` the
selection layer alone (``usage_table`` of the same picks, what ``explorer.usage`` returns) is timed too.

    python bench/explorer.py [--rows 100000] [--repeat 7]
    python bench/explorer.py --usage [--rows 1000000] [--repeat 3] [--view Usage] [--view Trend ...]
    python bench/explorer.py --usage --view all [--baseline main]   # every view, this code beside main's

With ``--usage``, one table: per view the update's median and p90 wall time and p90 CPU time, for this checkout
and, side by side, for ``--baseline REF`` (a git ref checked out for the run; ``''``: none), each in a process of
its own on the same data; then the pure question behind each view alone (:mod:`closeframe.usage.questions`,
:func:`~closeframe.usage.selection.usage_table`); last, how long ``cf.explore`` took to build (``prepare`` and
the first draw) in each. On a shared machine read the CPU column: wall time also counts waiting for a core.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

import closeframe as cf
from _baseline import add_baseline_argument
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


#: The sandbox's 3 organizations are copied this many times (36 organizations); further copies add weeks.
COPIES_PER_ORGANIZATION = 12


def big_usage(rows: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(outcomes, calls, meetings) with ``rows`` activities: the sandbox's, copied with fresh ids into 36
    organizations (each sandbox organization 12 times, its name numbered), further copies shifted by whole weeks."""
    with serve(seed=0, rate_limit=None) as sb:
        keys = dict(sb.api_keys)
        outcomes = cf.load_outcomes(keys, base_url=sb.base_url, progress=False)
        calls = cf.load_calls(keys, base_url=sb.base_url, progress=False)
        meetings = cf.load_meetings(keys, base_url=sb.base_url, progress=False)
    per_copy = len(calls) + len(meetings)
    copies = -(-rows // per_copy)
    share = len(calls) / per_copy

    def replicate(frame: pd.DataFrame, count: int, prefix: str) -> pd.DataFrame:
        parts = []
        for i in range(-(-count // len(frame))):
            part = frame.copy()
            org = part["organization_id"].astype(str) + f"_{i % COPIES_PER_ORGANIZATION}"
            part["organization_id"] = pd.Categorical(org)
            if "organization_name" in part.columns:
                part["organization_name"] = pd.Categorical(
                    part["organization_name"].astype(str) + f" {i % COPIES_PER_ORGANIZATION}")
            part["date_created"] = part["date_created"] - pd.Timedelta(weeks=i // COPIES_PER_ORGANIZATION)
            parts.append(part)
        out = pd.concat(parts, ignore_index=True).iloc[:count].copy()
        out["id"] = pd.array([f"{prefix}{k:09d}" for k in range(len(out))], dtype="string")
        return out

    n_calls = int(rows * share)
    big_calls = replicate(calls, n_calls, "acti_bcall")
    big_meetings = replicate(meetings, rows - n_calls, "acti_bmeet")
    big_outcomes = pd.concat([outcomes.assign(organization_id=outcomes["organization_id"].astype(str) + f"_{i}",
                                              organization_name=outcomes["organization_name"].astype(str) + f" {i}")
                              for i in range(min(copies, COPIES_PER_ORGANIZATION))], ignore_index=True)
    return big_outcomes, big_calls, big_meetings


def _report(label: str, times: list[float]) -> None:
    print(f"{label}: median {statistics.median(times) * 1000:.1f} ms, "
          f"p90 {statistics.quantiles(times, n=10)[-1] * 1000:.1f} ms, max {max(times) * 1000:.1f} ms")


def _pure(view: str):
    """The question a view asks, as a pure function of (data, selection, now)."""
    from closeframe.usage import questions as q
    from closeframe.usage.selection import usage_table

    return {
        "Trend": lambda data, s, now: q.organization_trends(data, s, now=now),
        "Period vs period": lambda data, s, now: q.compare_periods(data, s, now=now),
        "Users": lambda data, s, now: q.users_by_outcome(data, s),
    }.get(view, lambda data, s, now: usage_table(data, s))


def _quantiles(times: list[float]) -> tuple[float, float, float]:
    return (statistics.median(times) * 1000, statistics.quantiles(times, n=10)[-1] * 1000, max(times) * 1000)


def usage_worker(rows: int, repeat: int, views: list[str]) -> None:
    """Time the usage explorer of the ``closeframe`` on ``sys.path``; print one JSON line per view."""
    from closeframe.views.usage_explorer import USAGE_VIEWS

    views = [v for v in (list(USAGE_VIEWS) if views == ["all"] else views) if v in USAGE_VIEWS]
    outcomes, calls, meetings = big_usage(rows)
    started, started_cpu = time.perf_counter(), time.process_time()
    explorer = cf.explore(outcomes, calls, meetings)  # prepare() and the first draw
    built = {"build_wall": time.perf_counter() - started, "build_cpu": time.process_time() - started_cpu}
    organizations = [value for _, value in explorer.organizations.options]
    names = [value for _, value in explorer.outcomes.options]
    first, last = explorer.span
    middle = first + (last - first) / 2
    changes = [
        lambda: setattr(explorer.organizations, "value", tuple(organizations[:1])),
        lambda: setattr(explorer.kinds, "value", ("calls",)),
        lambda: setattr(explorer.outcomes, "value", tuple(names[:2])),
        lambda: setattr(explorer.start, "value", middle),
        lambda: setattr(explorer.organizations, "value", tuple(organizations[: len(organizations) // 2])),
        lambda: setattr(explorer.kinds, "value", ()),
        lambda: setattr(explorer.outcomes, "value", ()),
        lambda: setattr(explorer.start, "value", None),
        lambda: setattr(explorer.organizations, "value", ()),
    ]
    print(json.dumps({"activities": len(explorer.data.events), "organizations": len(organizations), **built}),
          flush=True)
    # The questions' own timing only for this checkout: a baseline's may not have them, or not these signatures.
    has_questions = os.environ.get("CLOSEFRAME_BENCH_QUESTIONS") == "1"
    for view in views:
        explorer.select(view=view)
        question = _pure(view) if has_questions else None
        times, cpu, pure = [], [], []
        for _ in range(repeat):
            for change in changes:
                before = explorer.updates
                started, started_cpu = time.perf_counter(), time.process_time()
                change()
                times.append(time.perf_counter() - started)
                cpu.append(time.process_time() - started_cpu)
                assert explorer.updates == before + 1, "a picker change did not update the explorer"
                if question is not None:
                    selection = explorer.selection
                    started_cpu = time.process_time()
                    question(explorer.data, selection, explorer.now)
                    pure.append(time.process_time() - started_cpu)
        median, p90, _ = _quantiles(times)
        print(json.dumps({"view": view, "median": median, "p90": p90, "cpu_p90": _quantiles(cpu)[1],
                          "question_cpu_p90": _quantiles(pure)[1] if pure else None}), flush=True)


def main_usage(rows: int, repeat: int, views: list[str], baseline: str) -> None:
    from _baseline import ROOT, checkout

    results: dict[str, dict] = {}
    with checkout(baseline) as tree:
        versions = {"this": ROOT} | ({f"baseline ({baseline})": tree} if tree else {})
        for name, root in versions.items():
            env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root), str(Path(__file__).parent)]),
                       CLOSEFRAME_BENCH_QUESTIONS="1" if name == "this" else "0")
            command = [sys.executable, str(Path(__file__).resolve()), "--usage", "--worker", "--rows", str(rows),
                       "--repeat", str(repeat)] + [arg for view in views for arg in ("--view", view)]
            run = subprocess.run(command, env=env, capture_output=True, text=True)
            if run.returncode:
                raise SystemExit(f"the {name} run failed (exit {run.returncode}):\n{run.stderr[-3000:]}")
            out = run.stdout
            lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
            results[name] = {"size": lines[0], **{line["view"]: line for line in lines[1:]}}
    size = results["this"]["size"]
    print(f"{size['activities']:,} activities, {size['organizations']} organizations, {9 * repeat} picker changes "
          "per view; ms per update (wall median, wall p90, CPU p90)")
    head = f"{'view':<28}" + "".join(f"{name:>30}" for name in results) + f"{'question CPU p90':>18}"
    print(head)
    for view in dict.fromkeys(v for r in results.values() for v in r if v != "size"):
        cells = []
        for result in results.values():
            line = result.get(view)
            cells.append(f"{line['median']:>10.0f}{line['p90']:>10.0f}{line['cpu_p90']:>10.0f}" if line
                         else f"{'(no such view)':>30}")
        question = results["this"].get(view, {}).get("question_cpu_p90")
        print(f"{view:<28}" + "".join(cells) + (f"{question:>18.1f}" if question is not None else ""))
    print("cf.explore (prepare and the first draw), s: " + "; ".join(
        f"{name} {result['size']['build_wall']:.1f} wall, {result['size']['build_cpu']:.1f} CPU"
        for name, result in results.items() if "build_wall" in result["size"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=None, help="100,000 outcomes; with --usage 1,000,000 activities")
    parser.add_argument("--repeat", type=int, default=None)
    parser.add_argument("--usage", action="store_true", help="the usage explorer over calls and meetings")
    parser.add_argument("--view", action="append", default=None,
                        help="with --usage: the view shown while pickers change (repeat it, or 'all')")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    add_baseline_argument(parser)
    args = parser.parse_args()
    if args.usage and args.worker:
        usage_worker(args.rows or 1_000_000, args.repeat or 3, args.view or ["Usage"])
        return
    if args.usage:
        main_usage(args.rows or 1_000_000, args.repeat or 3, args.view or ["Usage"], args.baseline)
        return
    args.rows, args.repeat = args.rows or 100_000, args.repeat or 7
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
    _report("update time", times)


if __name__ == "__main__":
    main()
