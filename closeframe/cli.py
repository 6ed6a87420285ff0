"""The ``closeframe`` command: a thin layer over the public functions.

Every failure is one line on stderr and a non-zero exit (1 for a failed load, 2 for bad arguments), no traceback.
The key comes from ``CLOSE_API_KEY`` and the base URL from ``CLOSE_BASE_URL`` (or ``--base-url``).
"""

from __future__ import annotations

import argparse
import logging
import sys
import unicodedata
from pathlib import Path
from typing import Sequence

import pandas as pd

from closeframe import __version__
from closeframe.errors import CloseError
from closeframe.export import EXPORT_FORMATS, export
from closeframe.frames import APPLIES_TO_MODES
from closeframe.load import load_outcomes

__all__ = ["main", "summarize_outcomes"]

EXPORT_KINDS = ("outcomes", "calls", "meetings", "usage")


def _padded(text: object, width: int = 40) -> str:
    """``text`` left-aligned in ``width`` terminal columns; CJK characters take two."""
    text = str(text)
    columns = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(width - columns, 1)


def summarize_outcomes(df: pd.DataFrame) -> str:
    """A short text summary of an outcomes frame: rows per organization, per type, per applies_to value."""
    org = "organization_name" if "organization_name" in df.columns else "organization_id"
    lines = [f"{len(df)} outcomes from {df[org].nunique()} organizations", "", "per organization:"]
    for name, count in df.groupby(org, observed=True).size().items():
        lines.append(f"  {_padded(name)}{count:>6}")
    lines += ["", "per type:"]
    for name, count in df["type"].value_counts(dropna=False).sort_index().items():
        lines.append(f"  {_padded(name)}{count:>6}")
    lines += ["", "per applies_to value:"]
    for col in [c for c in df.columns if c.startswith("applies_to_")]:
        lines.append(f"  {_padded(col.removeprefix('applies_to_'))}{int(df[col].sum()):>6}")
    return "\n".join(lines)


def _cmd_demo(args: argparse.Namespace) -> int:
    from closeframe.sandbox import serve

    out = Path(args.out)
    print(f"Starting the offline sandbox (seed {args.seed}) and loading every outcome over HTTP…", flush=True)
    with serve(seed=args.seed) as sandbox:
        df = load_outcomes(dict(sandbox.api_keys), base_url=sandbox.base_url, progress=_progress(args))
    parquet = export(df, out / "outcomes.parquet")
    csv = export(df, out / "outcomes.csv")
    print(summarize_outcomes(df))
    print(f"\nwrote {parquet} and {csv}")
    return 0


def _progress(args: argparse.Namespace) -> bool:
    """The CLI shows a bar only on a terminal."""
    return bool(getattr(sys.stderr, "isatty", lambda: False)()) and not args.quiet


def _load_for_export(args: argparse.Namespace) -> pd.DataFrame:
    """The frame ``closeframe export KIND`` writes."""
    from closeframe.activities import load_calls, load_meetings
    from closeframe.usage import outcome_usage

    if args.kind == "outcomes":
        return load_outcomes(base_url=args.base_url, fields=args.fields, applies_to=args.applies_to,
                             progress=_progress(args))
    window = dict(base_url=args.base_url, since=args.since, until=args.until, progress=_progress(args),
                  cache=args.cache)
    if args.kind == "calls":
        return load_calls(fields=args.fields, **window)
    if args.kind == "meetings":
        return load_meetings(fields=args.fields, **window)
    outcomes = load_outcomes(base_url=args.base_url, progress=_progress(args))
    return outcome_usage(outcomes, load_calls(**window), load_meetings(**window))


def _cmd_export(args: argparse.Namespace) -> int:
    df = _load_for_export(args)
    partition_by = [c.strip() for c in args.partition_by.split(",") if c.strip()] if args.partition_by else None
    path = export(df, args.out, format=args.format, partition_by=partition_by)
    print(f"wrote {len(df)} {args.kind} to {path}")
    return 0


def _cmd_sandbox(args: argparse.Namespace) -> int:
    from closeframe.sandbox import serve

    with serve(seed=args.seed, port=args.port) as sandbox:
        print(f"Close sandbox at {sandbox.base_url}  (Ctrl-C stops it)")
        print(f"export CLOSE_BASE_URL={sandbox.base_url}")
        for name, key in sandbox.api_keys.items():
            print(f"  {name}: {key}")
        sys.stdout.flush()
        try:
            import threading

            threading.Event().wait()
        except KeyboardInterrupt:
            print("stopped")
    return 0


def _date_argument(value: str) -> str:
    """``--since``/``--until``: refused at once (exit 2, with the usage) unless it reads as a date."""
    from closeframe.activities import parse_bound

    try:
        parse_bound(value, "date")
    except CloseError as exc:
        raise argparse.ArgumentTypeError(str(exc).replace("date=", "", 1)) from None
    return value


def _cmd_report(args: argparse.Namespace) -> int:
    from closeframe.report import write_report
    from closeframe.source import load_default_usage, sandbox_in_use

    if sandbox_in_use():
        print("No CLOSEFRAME_API_KEYS or CLOSE_API_KEY set: reporting on the closeframe sandbox's made-up data.",
              file=sys.stderr, flush=True)
    loaded = load_default_usage(seed=args.seed, since=args.since, until=args.until, progress=_progress(args),
                                cache=args.cache)
    path = write_report(loaded.outcomes, args.out, loaded.calls, loaded.meetings, source=loaded.source,
                        since=loaded.since, until=loaded.until)
    print(f"wrote {path} ({len(loaded.calls):,} calls, {len(loaded.meetings):,} meetings and "
          f"{len(loaded.outcomes):,} outcomes from {loaded.source})")
    return 0


def _cmd_dashboard(args: argparse.Namespace) -> int:
    from closeframe.dashboard import run_dashboard

    return run_dashboard(args.port, seed=args.seed)


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="closeframe", description="Close CRM outcomes as pandas DataFrames.")
    parser.add_argument("--version", action="version", version=f"closeframe {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log each request (never a key)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = commands.add_parser("demo", help="load the offline sandbox's outcomes and write CSV and Parquet")
    demo.add_argument("--out", default="closeframe-demo", help="output folder (default ./closeframe-demo)")
    demo.add_argument("--seed", type=int, default=0, help="sandbox seed (default 0)")
    demo.set_defaults(run=_cmd_demo)

    exp = commands.add_parser("export", help="load from Close (CLOSE_API_KEY) and write CSV or Parquet")
    exp.add_argument("kind", nargs="?", default="outcomes", choices=EXPORT_KINDS, help="what to export")
    exp.add_argument("--format", choices=EXPORT_FORMATS, default=None, help="default: from --out's suffix")
    exp.add_argument("--out", required=True, help="output file (a folder with --partition-by)")
    exp.add_argument("--fields", default=None, help="only these fields, e.g. id,name,type")
    exp.add_argument("--applies-to", choices=APPLIES_TO_MODES, default="columns", dest="applies_to")
    exp.add_argument("--base-url", default=None, help="default: CLOSE_BASE_URL or https://api.close.com/api/v1/")
    exp.add_argument("--since", default=None, help="calls/meetings/usage: date_created from this date (UTC)")
    exp.add_argument("--until", default=None, help="calls/meetings/usage: date_created before this date")
    exp.add_argument("--partition-by", default=None, dest="partition_by",
                     help="write a Parquet dataset split by these columns, e.g. organization_id,month")
    exp.add_argument("--cache", default=None, help="calls/meetings/usage: a cache folder for re-runs")
    exp.set_defaults(run=_cmd_export)

    box = commands.add_parser("sandbox", help="run the Close-compatible sandbox in the foreground")
    box.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    box.add_argument("--seed", type=int, default=0, help="seed of the synthetic organizations")
    box.set_defaults(run=_cmd_sandbox)

    report = commands.add_parser("report", help="write a self-contained HTML report on outcome usage (Close with "
                                                "CLOSEFRAME_API_KEYS or CLOSE_API_KEY, else the sandbox)")
    report.add_argument("--out", default="report.html", help="output file (default ./report.html)")
    report.add_argument("--since", default=None, type=_date_argument,
                        help="only calls and meetings logged from this date (UTC); default: every one")
    report.add_argument("--until", default=None, type=_date_argument,
                        help="only calls and meetings logged before this date (UTC)")
    report.add_argument("--cache", default=None, help="a cache folder for calls and meetings, for re-runs")
    report.add_argument("--seed", type=int, default=0, help="sandbox seed when no key is set")
    report.set_defaults(run=_cmd_report)

    dash = commands.add_parser("dashboard", help="serve the outcome usage explorer in the browser with Voilà "
                                                 "(CLOSEFRAME_API_KEYS or CLOSE_API_KEY, else the sandbox)")
    dash.add_argument("--port", type=int, default=None,
                      help="port on 127.0.0.1 (default 8866, or a free one when it is taken; 0: any free one)")
    dash.add_argument("--seed", type=int, default=0, help="sandbox seed when no key is set")
    dash.set_defaults(run=_cmd_dashboard)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; ``None`` reads ``sys.argv``.
    """
    args = _build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.run(args)
    except CloseError as exc:
        print(f"closeframe: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"closeframe: error: {exc.strerror or exc} ({getattr(exc, 'filename', '') or ''})", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("closeframe: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
