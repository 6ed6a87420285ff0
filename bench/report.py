"""Time the HTML report on the sandbox: preparing the data, each section, and the whole document.

    PYTHONPATH=. python bench/report.py --organizations 40

Prints one row per step (milliseconds, median of --repeat runs) and the document's size, so a change of chart
technology or layout can be measured against the hand-written SVG the report uses today.
"""

from __future__ import annotations

import argparse
import statistics
import time

import closeframe as cf
from closeframe.sandbox import serve
from closeframe.views import report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--organizations", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with serve(seed=args.seed, organizations=args.organizations, rate_limit=None) as sandbox:
        keys = dict(sandbox.api_keys)
        outcomes = cf.load_outcomes(keys, base_url=sandbox.base_url, progress=False)
        calls = cf.load_calls(keys, base_url=sandbox.base_url, progress=False)
        meetings = cf.load_meetings(keys, base_url=sandbox.base_url, progress=False)
    timings: dict[str, list[float]] = {}
    size = 0
    for _ in range(args.repeat):
        start = time.perf_counter()
        data = report.ReportData(outcomes, calls, meetings, source="bench")
        timings.setdefault("prepare", []).append(time.perf_counter() - start)
        for build in report.REPORT_SECTIONS:
            start = time.perf_counter()
            build(data)
            timings.setdefault(build.__name__, []).append(time.perf_counter() - start)
        start = time.perf_counter()
        size = len(report.render_report(outcomes, calls, meetings, source="bench").encode("utf-8"))
        timings.setdefault("render_report (all)", []).append(time.perf_counter() - start)
    print(f"{args.organizations} organizations, {len(calls):,} calls, {len(meetings):,} meetings; "
          f"document {size / 1e6:.2f} MB")
    print("| step | median ms |")
    print("|---|---|")
    for name, values in timings.items():
        print(f"| {name} | {statistics.median(values) * 1000:,.0f} |")


if __name__ == "__main__":
    main()
