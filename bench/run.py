"""Benchmark the loaders and the shaping of closeframe against what users would write instead, on the sandbox.

Every tool runs in its own Python process (this script re-invoking itself with ``--worker``) against one sandbox
served by the parent process, so its peak memory is its own, and the sandbox counts its requests and 429s.

Peers: a plain sequential ``requests`` loop, the official ``closeio`` client and dlt's ``rest_api`` source
(``pip install '.[bench]'`` installs them all; a full run refuses to start without one). ``--baseline REF`` adds
closeframe as it is at a git ref (checked out in a temporary ``git worktree``) as one more tool of the same run.

Scenarios (the explorer rows come from ``bench/explorer.py`` when ``closeframe.views.catalogue_explorer`` exists):

- ``A``: 20 organizations (one key each) x 300 outcomes, 50 ms latency, 20 requests/s per key, 60 per organization.
- ``A2``: 12 organizations x 250 outcomes, 40 ms latency: the note says how many times faster than the requests loop.
- ``B``: 1 organization x 200,000 calls (``load_calls``), 50 ms latency, same limits.
- ``shaping``: ``cf.outcomes_frame`` vs the naive recipe on 1,000,000 outcome records, no network.

The bound of a loading scenario is ``max(pages x latency / concurrency, pages / rate limit)`` with ``pages`` the
minimum page requests (one per 100 records per account, at least one), ``concurrency`` the number of accounts (each
account's listing is one chain of pages: a page's ``has_more`` is only known once the page before it came back, so
a tool that does not guess can keep one page per account in flight), and ``rate limit`` the requests per second the
accounts may make together (each key's own limit, capped by its organization's). Date windows or speculative pages
can beat the latency term; nothing polite beats the rate term. For B both terms give the same 100 s, so the
reading of "concurrency" does not change B's bound; for A both terms give 0.15 s.

Every tool's wall time starts after its imports (closeframe's included) and covers paging and the frame. Beside
it, ``CPU s (tool + sandbox)``: the CPU seconds of the tool's process over the same span (all its threads), and of
the sandbox meanwhile (this process, whose threads serve it); on a shared machine CPU is what load does not distort.

Usage::

    python bench/run.py                  # the full run (B takes 100 s per tool), writes bench/results.md
    python bench/run.py --quick          # every scenario small, in seconds; writes nothing unless --out is given
    python bench/run.py --only A --only A2 --baseline main    # this checkout against main, side by side
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import platform
import re
import resource
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/shaping.py

from _baseline import checkout  # noqa: E402
from shaping import measure, naive_outcomes  # noqa: E402  (the one naive recipe, the one shaping measurement)

PAGE_SIZE = 100
LATENCY = 0.05
RATE_LIMIT = 20.0
ORG_RATE_FACTOR = 3.0
LOADER_TOOLS = ("closeframe", "requests loop", "closeio", "dlt rest_api")
SHAPING_TOOLS = ("closeframe", "naive recipe")


@dataclass(frozen=True)
class Scenario:
    """One loading scenario: how many organizations, what each holds, and which listing is loaded."""

    name: str
    kind: str  # "outcomes" or "calls"
    organizations: int
    records: int  # per organization
    latency: float = LATENCY

    def sandbox_options(self) -> dict:
        outcomes, calls = (self.records, 0) if self.kind == "outcomes" else (5, self.records)
        return dict(seed=5, organizations=self.organizations, outcomes=outcomes, calls=calls, meetings=0,
                    users=2, latency=self.latency, rate_limit=RATE_LIMIT, org_rate_factor=ORG_RATE_FACTOR,
                    quirks=False, bursts=())  # a plain listing; bench/precision.py measures bursts

    @property
    def min_pages_per_account(self) -> int:
        return max(1, -(-self.records // PAGE_SIZE))

    @property
    def min_pages(self) -> int:
        return self.min_pages_per_account * self.organizations

    @property
    def bound(self) -> float:
        """``max(pages x latency / concurrency, pages / rate limit)``; see the module docstring."""
        key_rate = min(RATE_LIMIT, RATE_LIMIT * ORG_RATE_FACTOR)
        return max(self.min_pages * self.latency / self.organizations,
                   self.min_pages / (key_rate * self.organizations))

    @property
    def title(self) -> str:
        what = "outcomes" if self.kind == "outcomes" else "calls"
        return f"{self.name}: {self.organizations} x {self.records:,} {what}, {self.latency * 1000:.0f} ms"


def scenarios(quick: bool, calls: int | None = None) -> list[Scenario]:
    if quick:
        return [Scenario("A", "outcomes", 3, 250), Scenario("A2", "outcomes", 3, 250, 0.04),
                Scenario("B", "calls", 1, calls or 3_000)]
    return [Scenario("A", "outcomes", 20, 300), Scenario("A2", "outcomes", 12, 250, 0.04),
            Scenario("B", "calls", 1, calls or 200_000)]


# -- what each tool does, inside its worker process -------------------------------------------------------------

def flatten_calls(records: list) -> "pd.DataFrame":
    """What the baselines' loops do with calls: flatten and parse the dates."""
    import pandas as pd

    frame = pd.json_normalize(records)
    for column in ("date_created", "date_updated", "activity_at"):
        if column in frame:
            frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    return frame


def _plain_loop(get_page, path: str) -> list:
    """The ``_skip`` loop of the baselines: one page after the other until ``has_more`` is false."""
    records, skip = [], 0
    while True:
        page = get_page(path, {"_skip": skip, "_limit": PAGE_SIZE})
        records.extend(page["data"])
        if not page.get("has_more") or not page["data"]:
            return records
        skip += len(page["data"])


def _load_requests(base_url: str, keys: list, path: str) -> list:
    import requests

    records = []
    for key in keys:  # one account after the other, as a script would
        with requests.Session() as session:
            session.auth = (key, "")

            def get_page(p, params):
                response = session.get(base_url + p, params=params, timeout=30)
                response.raise_for_status()
                return response.json()

            records += _plain_loop(get_page, path)
    return records


def _load_closeio(base_url: str, keys: list, path: str) -> list:
    from closeio_api import API

    records = []
    for key in keys:
        api = API(base_url, api_key=key)
        # closeio appends the trailing slash itself
        records += _plain_loop(lambda p, params: api.get(p.rstrip("/"), params=params), path)
    return records


def _load_dlt(base_url: str, keys: list, path: str) -> list:
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    from dlt.sources.rest_api import rest_api_source

    records = []
    for key in keys:
        source = rest_api_source({
            "client": {
                "base_url": base_url,
                "auth": {"type": "http_basic", "username": key, "password": ""},
                "paginator": {"type": "offset", "limit": PAGE_SIZE, "offset_param": "_skip",
                              "limit_param": "_limit", "total_path": None, "has_more_path": "has_more"},
            },
            "resources": [{"name": "records", "endpoint": {"path": path, "data_selector": "data"}}],
        })
        records += list(source.resources["records"])
    return records


def _load_closeframe(base_url: str, keys: list, kind: str) -> "pd.DataFrame":
    import closeframe as cf  # imported before the clock started (run_loader)

    loader = cf.load_outcomes if kind == "outcomes" else cf.load_calls
    return loader(keys if len(keys) > 1 else keys[0], base_url=base_url, progress=False)


def _own_cpu() -> float:
    """CPU seconds this process used so far, all its threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _digest(ids) -> str:
    return hashlib.sha1("\n".join(sorted(map(str, ids))).encode()).hexdigest()[:12]


def run_loader(spec: dict) -> dict:
    """Load one scenario with one tool; the wall time covers paging and the frame (imports excluded)."""
    import pandas as pd  # noqa: F401 - imported before the clock starts, as every tool needs it

    tool, kind, base_url, keys = spec["tool"], spec["kind"], spec["base_url"], spec["keys"]
    path = "outcome/" if kind == "outcomes" else "activity/call/"
    loaders = {"requests loop": _load_requests, "closeio": _load_closeio, "dlt rest_api": _load_dlt}
    # Every tool's imports come before the clock: dlt's take seconds, closeframe's a tenth of one.
    if tool == "dlt rest_api":
        import dlt  # noqa: F401
        from dlt.sources.rest_api import rest_api_source  # noqa: F401
    elif tool == "closeio":
        import closeio_api  # noqa: F401
    elif tool.startswith("closeframe"):
        import closeframe  # noqa: F401
    import requests  # noqa: F401
    started, cpu_started = time.perf_counter(), time.process_time()
    if tool.startswith("closeframe"):
        frame = _load_closeframe(base_url, keys, kind)
    else:
        records = loaders[tool](base_url, keys, path)
        frame = naive_outcomes(records) if kind == "outcomes" else flatten_calls(records)
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_started  # every thread of the tool's process
    return {"rows": len(frame), "ids": _digest(frame["id"]), "wall": wall, "cpu": cpu, "peak_mb": _peak_mb(),
            "code": _closeframe_origin()}


def _closeframe_origin() -> str | None:
    """Which checkout's closeframe the worker imported (this one or a baseline's), if it imported one."""
    module = sys.modules.get("closeframe")
    return None if module is None else str(Path(module.__file__).resolve().parents[1])


# -- shaping ----------------------------------------------------------------------------------------------------

def run_shaping(spec: dict) -> dict:
    """Shape ``spec["n"]`` records with one tool, measured by bench/shaping.py (best of 3, extra peak RSS)."""
    recipe = "ours" if spec["tool"].startswith("closeframe") else "naive"
    result = measure("outcomes", recipe, spec["n"], repeat=spec.get("repeat", 3), fingerprint=_digest)
    return {"rows": result["rows"], "ids": result["ids"], "wall": result["seconds"],
            "peak_mb": result["extra_peak_mb"], "code": _closeframe_origin()}


# -- the parent: sandbox, subprocesses, table --------------------------------------------------------------------

@dataclass
class Row:
    scenario: str
    tool: str
    requests: str = "–"
    rate_limited: str = "–"
    wall: float | None = None
    ratio: str = "–"
    peak_mb: float | None = None
    note: str = ""
    cpu: float | None = None  # CPU seconds of the tool's process during the load
    sandbox_cpu: float | None = None  # CPU seconds of the sandbox (this process's threads) meanwhile
    rows: int | None = None
    ids: str | None = None
    extra: dict = field(default_factory=dict)

    def cells(self) -> list[str]:
        wall = "–" if self.wall is None else f"{self.wall:.2f}"
        peak = "–" if self.peak_mb is None else f"{self.peak_mb:.0f}"
        cpu = "–" if self.cpu is None else f"{self.cpu:.2f}" + (
            "" if self.sandbox_cpu is None else f" + {self.sandbox_cpu:.2f}")
        return [self.scenario, self.tool, self.requests, self.rate_limited, wall, self.ratio, peak, cpu, self.note]


#: Tool name -> the checkout whose closeframe its worker imports (this one, or a baseline's worktree).
CODE: dict[str, Path] = {"closeframe": ROOT}


def _worker(spec: dict, timeout: float) -> dict:
    code = CODE.get(spec["tool"], ROOT)
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps({**spec, "code": str(code)})]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": tail[:200]}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result.get("code") not in (None, str(code)):
        return {"error": f"imported closeframe from {result['code']}, not the checkout asked for"}
    return result


def _tool_available(tool: str) -> str | None:
    """Why a peer cannot run here, or None."""
    module = {"closeio": "closeio_api", "dlt rest_api": "dlt"}.get(tool)
    if module and importlib.util.find_spec(module) is None:
        return f"left out: {module} is not installed (pip install '.[bench]')"
    return None


def _expected_ids(sandbox, scenario: Scenario) -> tuple[int, str]:
    ids = []
    for org in sandbox.api_keys:
        if scenario.kind == "outcomes":
            records, _ = sandbox.store.outcome_page(org, 0, 10**9)
        else:
            records, _ = sandbox.store.activity_page(org, "call", 0, 10**9)
        ids += [r["id"] for r in records]
    return len(ids), _digest(ids)


def bench_loading(scenario: Scenario, timeout: float, repeat: int = 1) -> list[Row]:
    """Each tool loads the scenario ``repeat`` times, the tools taking turns; the best wall time is kept."""
    from closeframe.sandbox import serve

    rows = []
    with serve(**scenario.sandbox_options()) as sandbox:
        keys = list(sandbox.api_keys.values())
        expected_rows, expected_ids = _expected_ids(sandbox, scenario)
        allowed = scenario.min_pages + scenario.organizations
        for turn, tool in ((turn, tool) for turn in range(repeat) for tool in loader_tools()):
            row = next((r for r in rows if r.tool == tool), None)
            if row is None:
                row = Row(scenario.title, tool)
                rows.append(row)
            missing = _tool_available(tool)
            if missing:
                row.note = missing
                continue
            sandbox.set_rate_limit(RATE_LIMIT, ORG_RATE_FACTOR)  # every tool starts with full buckets
            sandbox.stats.reset()
            # The sandbox serves from this process's threads; the worker's start (its imports) asks nothing of it.
            sandbox_started = _own_cpu()
            result = _worker({"mode": "load", "tool": tool, "kind": scenario.kind, "base_url": sandbox.base_url,
                              "keys": keys}, timeout)
            sandbox_cpu = _own_cpu() - sandbox_started
            if turn and "error" not in result and row.wall is not None and result["wall"] >= row.wall:
                continue  # not this tool's best turn
            stats = sandbox.stats.snapshot()
            page_path = "/outcome/" if scenario.kind == "outcomes" else "/activity/call/"
            pages = stats["by_path"].get(page_path, 0)
            other = stats["requests"] - pages
            row.requests = f"{pages}" + (f" (+{other} other)" if other else "")
            row.rate_limited = str(stats["rate_limited"])
            row.extra = {"pages": pages, "other": other, "min_pages": scenario.min_pages, "allowed_pages": allowed,
                         "bound": scenario.bound, "expected_rows": expected_rows}
            if "error" in result:
                row.note = f"failed: {result['error']}"
                continue
            row.wall, row.peak_mb, row.rows, row.ids = result["wall"], result["peak_mb"], result["rows"], result["ids"]
            row.cpu, row.sandbox_cpu = result.get("cpu"), sandbox_cpu
            row.ratio = f"{row.wall / scenario.bound:.2f}"
            notes = []
            if (row.rows, row.ids) != (expected_rows, expected_ids):
                notes.append(f"WRONG DATA: {row.rows} rows, expected {expected_rows}")
            if pages > allowed:
                notes.append(f"{pages - scenario.min_pages} extra pages")
            row.note = "; ".join(notes)
    loop = next((row for row in rows if row.tool == "requests loop" and row.wall), None)
    for row in rows:
        if row.tool.startswith("closeframe") and row.wall and loop is not None:
            row.note = "; ".join(filter(None, [f"{loop.wall / row.wall:.1f}x faster than the requests loop",
                                               row.note]))
    return rows


def describe(ref: str) -> str:
    """``ref`` and its short commit, e.g. ``main (371c9fe)``: what the baseline rows ran."""
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", f"{ref}^{{commit}}"],
                            capture_output=True, text=True).stdout.strip()
    return f"{ref} ({commit or 'unknown commit'})"


def loader_tools() -> list[str]:
    """closeframe, its baselines, then the peers."""
    return ["closeframe", *(tool for tool in CODE if tool != "closeframe"), *LOADER_TOOLS[1:]]


def bench_shaping(n: int, timeout: float) -> list[Row]:
    rows = []
    for tool in ["closeframe", *(tool for tool in CODE if tool != "closeframe"), *SHAPING_TOOLS[1:]]:
        row = Row(f"shaping: {n:,} outcomes", tool)
        rows.append(row)
        result = _worker({"mode": "shape", "tool": tool, "n": n}, timeout)
        if "error" in result:
            row.note = f"failed: {result['error']}"
            continue
        row.wall, row.peak_mb, row.rows, row.ids = result["wall"], result["peak_mb"], result["rows"], result["ids"]
    naive = rows[-1]
    for fast in rows[:-1]:
        if fast.wall and naive.wall:
            fast.note = (f"{naive.wall / fast.wall:.1f}x faster, {fast.peak_mb / max(naive.peak_mb, 1e-9):.2f} of "
                         "the naive extra peak (peak MB = growth above the input records)")
    return rows


def bench_explorer(quick: bool, timeout: float) -> list[Row]:
    """The explorers' update times (median; p90 in the note), measured by bench/explorer.py in its own process.

    The usage explorer's row is the Usage view of ``bench/explorer.py --usage`` (its worker's JSON line for this
    checkout: 2 x 9 picker changes, as ``--repeat 2``); its goal is a p90 under 50 ms.
    """
    script = Path(__file__).with_name("explorer.py")
    usage_rows = 50_000 if quick else 1_000_000
    runs = [(Row("explorer update: 100,000 outcomes", "closeframe"), []),
            (Row(f"usage explorer update: {usage_rows:,} activities", "closeframe"),
             ["--usage", "--worker", "--rows", str(usage_rows), "--repeat", "2", "--view", "Usage"])]
    rows = []
    for row, options in runs:
        rows.append(row)
        if importlib.util.find_spec("closeframe.views.catalogue_explorer") is None or not script.exists():
            row.note = "skipped: closeframe.views.catalogue_explorer / bench/explorer.py not on this branch"
            continue
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        done = subprocess.run([sys.executable, str(script), *options], capture_output=True, text=True,
                              timeout=timeout, cwd=ROOT, env=env)  # bench/explorer.py imports this checkout
        if "--usage" in options:
            _usage_explorer_row(row, done)
            continue
        match = re.search(r"update time: median ([0-9.]+) ms, p90 ([0-9.]+) ms", done.stdout)
        if done.returncode != 0 or not match:
            row.note = "bench/explorer.py failed or printed no 'update time'"
            continue
        row.wall = float(match.group(1)) / 1000
        row.ratio = f"{row.wall / 0.1:.2f} of 100 ms"
        row.note = f"median; p90 {float(match.group(2)):.0f} ms (table and chart included)"
    return rows


def _usage_explorer_row(row: Row, done: subprocess.CompletedProcess) -> None:
    """Fill the usage explorer's row from the worker's JSON line of the Usage view (wall median, wall p90, CPU p90;
    the goal: p90 under 50 ms)."""
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith('{"view"')]
    if done.returncode != 0 or not lines:
        row.note = "bench/explorer.py --usage failed or printed no view line"
        return
    usage = lines[0]
    row.wall = usage["median"] / 1000
    row.ratio = f"p90 {usage['p90'] / 50:.2f} of 50 ms"
    row.note = (f"median; p90 {usage['p90']:.0f} ms, CPU time p90 {usage['cpu_p90']:.0f} ms (Usage view: table and "
                "chart included)")


HEADER = ["scenario", "tool", "requests", "429s", "wall s", "ratio to bound", "peak MB", "CPU s (tool + sandbox)",
          "note"]


def shown_command(args: argparse.Namespace) -> str:
    """The options that chose what ran (not where its output went: those are paths of this machine)."""
    parts = ["--quick"] * args.quick + [f"--only {name}" for name in args.only or ()]
    parts += [f"--calls {args.calls}"] * (args.calls is not None) + [f"--repeat {args.repeat}"] * (args.repeat > 1)
    parts += [f"--baseline {ref}" for ref in args.baseline]
    return " ".join(parts)


def markdown(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines)


def machine() -> str:
    import pandas as pd

    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, pandas {pd.__version__}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="every scenario small (seconds)")
    parser.add_argument("--out", type=Path, help="where to write the markdown (default bench/results.md, "
                                                 "none with --quick)")
    parser.add_argument("--only", choices=["A", "A2", "B", "shaping", "explorer"], action="append",
                        help="run only these scenarios (repeatable)")
    parser.add_argument("--json", type=Path, help="also write every row as JSON (for tests)")
    parser.add_argument("--calls", type=int, help="calls in scenario B (default 200,000; 3,000 with --quick)")
    parser.add_argument("--repeat", type=int, default=1, help="turns of every tool on the outcome scenarios, the "
                                                                 "best wall time kept (a loaded machine)")
    parser.add_argument("--baseline", action="append", default=[], metavar="REF",
                        help="also run closeframe as it is at this git ref (repeatable)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        spec = json.loads(args.worker)
        sys.path.insert(0, spec["code"])  # this checkout's closeframe, or a baseline's
        print(json.dumps((run_loader if spec["mode"] == "load" else run_shaping)(spec)))
        return 0
    missing = [why for tool in LOADER_TOOLS if (why := _tool_available(tool))]
    if missing and not args.quick:
        parser.error("a full run compares every peer; " + "; ".join(missing))
    with ExitStack() as stack:
        for ref in args.baseline:
            CODE[f"closeframe @ {describe(ref)}"] = stack.enter_context(checkout(ref))
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    wanted = set(args.only or ["A", "A2", "B", "shaping", "explorer"])
    timeout = 120 if args.quick else 1800
    load_before = os.getloadavg()[0]
    rows: list[Row] = []
    for scenario in scenarios(args.quick, args.calls):
        if scenario.name in wanted:
            rows += bench_loading(scenario, timeout, args.repeat if scenario.kind == "outcomes" else 1)
    if "shaping" in wanted:
        rows += bench_shaping(20_000 if args.quick else 1_000_000, timeout)
    if "explorer" in wanted:
        rows += bench_explorer(args.quick, timeout)

    header = (f"Machine: {machine()}.\n\nCommand: `python bench/run.py {shown_command(args)}`.\n\nSandbox: "
              f"{LATENCY * 1000:.0f} ms latency (A2: 40 ms), {RATE_LIMIT:g} requests/s per "
              f"key, {RATE_LIMIT * ORG_RATE_FACTOR:g} per organization. Bound = max(pages x latency / concurrency, "
              "pages / rate limit) with pages the minimum page requests, concurrency the number of accounts (one "
              "chain of pages each), rate limit the accounts' summed per-key limits. Requests = page requests "
              "(+ others such as /me/). Wall = paging + frame, in the tool's own process; peak MB = that process's "
              "peak RSS (for shaping: growth above the input records).\n\n"
              f"Load average (1 min) at the start {load_before:.1f}, at the end {os.getloadavg()[0]:.1f}, on "
              f"{os.cpu_count()} cores: other work shared the machine when it is above a few tenths.")
    table = markdown(rows)
    print(table)
    out = args.out or (None if args.quick else ROOT / "bench" / "results.md")
    if out:
        out.write_text(f"# Benchmark results\n\n{header}\n\n{table}\n")
    if args.json:
        args.json.write_text(json.dumps([row.__dict__ for row in rows], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
