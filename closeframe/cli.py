"""The ``closeframe`` command: a thin layer over the public functions.

Every failure is one line on stderr and a non-zero exit (1 for a failed load, 2 for bad arguments), no traceback.
Every command that loads from Close reads the same keys: ``CLOSEFRAME_API_KEYS`` (several organizations), else
``CLOSE_API_KEY`` (:func:`closeframe.load.source.configured_api_keys`); the base URL comes from ``CLOSE_BASE_URL``
(or ``--base-url``). ``report`` and ``dashboard`` fall back to the sandbox's made-up data when neither is set, and
say so; ``export`` refuses to.
"""

from __future__ import annotations

import argparse
import logging
import sys
import unicodedata
from pathlib import Path
from typing import Sequence

import pandas as pd

from closeframe.version import __version__
from closeframe.errors import CloseError, ConfigurationError
from closeframe.export import EXPORT_FORMATS, check_export_target, export
from closeframe.shape.frames import APPLIES_TO_MODES
from closeframe.load.outcomes import load_outcomes

__all__ = ["main", "port_argument", "summarize_outcomes", "summarize_usage"]

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


def summarize_usage(outcomes: pd.DataFrame, calls: pd.DataFrame, meetings: pd.DataFrame, *, top: int = 3) -> str:
    """A short text summary of outcome usage: per organization its calls and meetings, the share that carries an
    outcome, and its ``top`` most logged outcomes with their counts.

    Parameters
    ----------
    outcomes, calls, meetings : pandas.DataFrame
        As loaded by :func:`closeframe.load_outcomes`, :func:`closeframe.load_calls` and
        :func:`closeframe.load_meetings`.
    top : int, default 3
        How many outcomes to name per organization.
    """
    from closeframe.usage.selection import headline_table, prepare, top_outcomes

    data = prepare(outcomes, calls, meetings)
    headline = headline_table(data)
    ranked = top_outcomes(data, n=top)
    total, logged = int(headline["activities"].sum()), int(headline["with_outcome"].sum())
    share = f"{logged / total:.1%}" if total else "none"
    lines = [f"{total:,} calls and meetings, {share} with an outcome logged", "",
             "per organization:"]
    for name, row in headline.iterrows():
        activities = int(row["activities"])
        with_outcome = f"{row['share_with_outcome']:.1%}" if activities else "none"
        lines.append(f"  {_padded(name)}{activities:>7,} calls and meetings, {with_outcome} with an outcome")
        picks = ranked[ranked["organization"] == name]
        named = " · ".join(f"{r.outcome_name} {int(r.total):,}" for r in picks.itertuples())
        lines.append(f"      most logged: {named or 'none'}")
    return "\n".join(lines)


def _cmd_demo(args: argparse.Namespace) -> int:
    from closeframe.load.activities import load_calls, load_meetings
    from closeframe.sandbox import serve
    from closeframe.usage.tables import outcome_usage

    out = Path(args.out)
    print(f"Starting the offline sandbox (seed {args.seed}) and loading its outcomes, calls and meetings over HTTP…",
          flush=True)
    with serve(seed=args.seed) as sandbox:
        keys, base_url, progress = dict(sandbox.api_keys), sandbox.base_url, _progress(args)
        outcomes = load_outcomes(keys, base_url=base_url, progress=progress)
        calls = load_calls(keys, base_url=base_url, progress=progress)
        meetings = load_meetings(keys, base_url=base_url, progress=progress)
    written = [export(outcomes, out / "outcomes.parquet"), export(outcomes, out / "outcomes.csv"),
               export(outcome_usage(outcomes, calls, meetings), out / "usage.csv")]
    print("\nOutcome catalogue: " + summarize_outcomes(outcomes))
    print("\nOutcome usage: " + summarize_usage(outcomes, calls, meetings))
    print(f"\nwrote {', '.join(path.name for path in written[:-1])} and {written[-1].name} (how often each outcome "
          f"is logged, per organization) in {out}")
    seed = "" if args.seed == 0 else f" --seed {args.seed}"
    print(f"more: `closeframe report{seed}` writes report.html (usage, trend, users, catalogue) and "
          f"`closeframe dashboard{seed}`")
    print("      opens the same views in your browser; both use this sandbox's made-up data until you set")
    print("      CLOSE_API_KEY (or CLOSEFRAME_API_KEYS for several organizations).")
    return 0


def _progress(args: argparse.Namespace) -> bool:
    """The CLI shows a bar only on a terminal."""
    return bool(getattr(sys.stderr, "isatty", lambda: False)()) and not args.quiet


def _load_for_export(args: argparse.Namespace) -> pd.DataFrame:
    """The frame ``closeframe export KIND`` writes."""
    from closeframe.load.activities import load_calls, load_meetings
    from closeframe.load.source import configured_api_keys
    from closeframe.usage.tables import outcome_usage

    keys = configured_api_keys()
    if args.kind == "outcomes":
        return load_outcomes(keys, base_url=args.base_url, fields=args.fields, applies_to=args.applies_to,
                             progress=_progress(args))
    window = dict(base_url=args.base_url, since=args.since, until=args.until, progress=_progress(args),
                  cache=args.cache)
    if args.kind == "calls":
        return load_calls(keys, fields=args.fields, **window)
    if args.kind == "meetings":
        return load_meetings(keys, fields=args.fields, **window)
    outcomes = load_outcomes(keys, base_url=args.base_url, progress=_progress(args))
    return outcome_usage(outcomes, load_calls(keys, **window), load_meetings(keys, **window))


#: Options of ``export`` that only some kinds use: giving one to another kind is refused, not ignored.
_ACTIVITY_KINDS = ("calls", "meetings", "usage")
_KIND_OPTIONS = {"--since": ("since", _ACTIVITY_KINDS), "--until": ("until", _ACTIVITY_KINDS),
                 "--cache": ("cache", _ACTIVITY_KINDS), "--fields": ("fields", ("outcomes", "calls", "meetings")),
                 "--applies-to": ("applies_to", ("outcomes",))}
#: Options that only one format uses.
_FORMAT_OPTIONS = {"--excel": ("excel", "csv")}


def _partition_columns(kind: str) -> set[str]:
    """The columns a frame of ``kind`` has for sure (unknown new fields aside): what --partition-by may name."""
    from closeframe.shape.frames import CALL_COLUMNS, MEETING_COLUMNS, OUTCOME_COLUMNS
    from closeframe.usage.tables import USAGE_COLUMNS

    return {"outcomes": {*OUTCOME_COLUMNS, "organization_name", "account", "applies_to", "applies_to_calls",
                         "applies_to_meetings"},
            "calls": {*CALL_COLUMNS, "organization_name", "account", "month"},
            "meetings": {*MEETING_COLUMNS, "organization_name", "account", "month"},
            "usage": set(USAGE_COLUMNS)}[kind]


def _check_export_args(args: argparse.Namespace) -> list[str] | None:
    """Everything about ``export``'s arguments that can be wrong, checked before anything loads.

    Returns the partition columns. Raises ConfigurationError naming the option.
    """
    for flag, (name, kinds) in _KIND_OPTIONS.items():
        if getattr(args, name) is not None and args.kind not in kinds:
            raise ConfigurationError(f"{flag} does not apply to {args.kind}; it is for {', '.join(kinds)}.")
    partition_by = None
    if args.partition_by is not None:
        partition_by = [c.strip() for c in args.partition_by.split(",") if c.strip()]
        if not partition_by:
            raise ConfigurationError("--partition-by names no column: pass e.g. --partition-by organization_id,month.")
        known = _partition_columns(args.kind)
        unknown = [c for c in partition_by if c not in known]
        if unknown:
            raise ConfigurationError(f"--partition-by {','.join(unknown)}: no such column in {args.kind}; choose "
                                     f"from {', '.join(sorted(known))}.")
        if args.format not in (None, "parquet") or Path(args.out).suffix.lower() == ".csv":
            raise ConfigurationError(f"--partition-by writes a Parquet dataset folder; --out {args.out} "
                                     f"{'with --format csv' if args.format == 'csv' else 'names a CSV file'}. "
                                     "Name a folder, e.g. --out calls-dataset.")
    check_export_target(args.out, args.format, partition_by)
    fmt = "parquet" if partition_by is not None else args.format or {".csv": "csv"}.get(Path(args.out).suffix.lower())
    for flag, (name, wanted) in _FORMAT_OPTIONS.items():
        if getattr(args, name) and fmt != wanted:
            raise ConfigurationError(f"{flag} is for {wanted} files; --out {args.out} is not one. Name a .{wanted} "
                                     f"file (or pass --format {wanted}), or leave {flag} out.")
    if partition_by is None and args.format is None and Path(args.out).suffix.lower() not in (".csv", ".parquet",
                                                                                             ".pq"):
        raise ConfigurationError(f"Cannot tell the format of --out {args.out}: end it in .csv or .parquet, or pass "
                                 f"--format ({', '.join(EXPORT_FORMATS)}).")
    return partition_by


def _cmd_export(args: argparse.Namespace) -> int:
    try:
        partition_by = _check_export_args(args)
    except ConfigurationError as exc:
        print(f"closeframe: error: {exc}", file=sys.stderr)
        return 2
    if args.kind == "outcomes" and args.applies_to is None:
        args.applies_to = "columns"
    df = _load_for_export(args)
    path = export(df, args.out, format=args.format, partition_by=partition_by, excel=args.excel)
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
    from closeframe.shape.dates import parse_bound

    try:
        parse_bound(value, "date")
    except CloseError as exc:
        raise argparse.ArgumentTypeError(str(exc).replace("date=", "", 1)) from None
    return value


def _cmd_report(args: argparse.Namespace) -> int:
    from closeframe.shape.dates import parse_bound
    from closeframe.load.source import load_default_usage, sandbox_in_use
    from closeframe.views.report import write_report

    if sandbox_in_use():
        print("No CLOSEFRAME_API_KEYS or CLOSE_API_KEY set: reporting on the closeframe sandbox's made-up data.",
              file=sys.stderr, flush=True)
    start, end = parse_bound(args.since, "since"), parse_bound(args.until, "until")
    load_since = args.since
    if start is not None and (end is None or start < end):
        # The report compares its period with the one before: load that one too (a calendar month is up to
        # 3 days longer than the one after it, hence the margin); the report itself covers [since, until).
        load_since = start - ((end or pd.Timestamp.now(tz="UTC")) - start) - pd.Timedelta(days=4)
    loaded = load_default_usage(seed=args.seed, since=load_since, until=args.until, progress=_progress(args),
                                cache=args.cache)
    path = write_report(loaded.outcomes, args.out, loaded.calls, loaded.meetings, source=loaded.source,
                        since=start, until=end)
    before = " (and the period before, to compare)" if load_since is not args.since else ""
    print(f"wrote {path} ({len(loaded.calls):,} calls, {len(loaded.meetings):,} meetings{before} and "
          f"{len(loaded.outcomes):,} outcomes from {loaded.source})")
    return 0


def _cmd_dashboard(args: argparse.Namespace) -> int:
    from closeframe.views.dashboard import run_dashboard

    return run_dashboard(args.port, seed=args.seed)


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line on stderr (no usage block), exit status 2."""

    def error(self, message: str):  # noqa: D102 - argparse's hook
        self.exit(2, f"closeframe: error: {message} (see {self.prog} --help)\n")


def port_argument(text: str) -> int:
    """A TCP port for --port: 0 (a free one) to 65535."""
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text} is not a port: pass 0 (a free one) to 65535")
    return port


#: The options the command line takes before its command.
_GLOBAL_OPTIONS = ("-h", "--help", "--version", "-v", "--verbose", "-q", "--quiet")


def _unknown_global_option(argv: Sequence[str]) -> str | None:
    """The first option before the command that closeframe does not know (argparse would only say a command is
    missing)."""
    for token in argv:
        if not token.startswith("-"):
            return None
        if token not in _GLOBAL_OPTIONS:
            return token
    return None


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="closeframe", description="Close CRM outcomes as pandas DataFrames.")
    parser.add_argument("--version", action="version", version=f"closeframe {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log each request (never a key)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = commands.add_parser("demo", help="load the offline sandbox's outcomes, calls and meetings; print a "
                                            "summary and write CSV and Parquet")
    demo.add_argument("--out", default="closeframe-demo", help="output folder (default ./closeframe-demo)")
    demo.add_argument("--seed", type=int, default=0, help="sandbox seed (default 0)")
    demo.set_defaults(run=_cmd_demo)

    exp = commands.add_parser("export", help="load from Close (CLOSEFRAME_API_KEYS or CLOSE_API_KEY) and write CSV "
                                             "or Parquet")
    exp.add_argument("kind", nargs="?", default="outcomes", choices=EXPORT_KINDS, help="what to export")
    exp.add_argument("--format", choices=EXPORT_FORMATS, default=None, help="default: from --out's suffix")
    exp.add_argument("--out", required=True, help="output file (a folder with --partition-by)")
    exp.add_argument("--fields", default=None, help="only these fields, e.g. id,name,type")
    exp.add_argument("--applies-to", choices=APPLIES_TO_MODES, default=None, dest="applies_to",
                     help="outcomes: columns (default) or long")
    exp.add_argument("--base-url", default=None, help="default: CLOSE_BASE_URL or https://api.close.com/api/v1/")
    exp.add_argument("--since", default=None, help="calls/meetings/usage: date_created from this date (UTC)")
    exp.add_argument("--until", default=None, help="calls/meetings/usage: date_created before this date")
    exp.add_argument("--partition-by", default=None, dest="partition_by",
                     help="write a Parquet dataset split by these columns, e.g. organization_id,month")
    exp.add_argument("--cache", default=None, help="calls/meetings/usage: a cache folder for re-runs")
    exp.add_argument("--excel", action="store_true",
                     help="CSV for Excel: starts with a UTF-8 byte order mark, so 東京 or Rückruf open as written")
    exp.set_defaults(run=_cmd_export)

    box = commands.add_parser("sandbox", help="run the Close-compatible sandbox in the foreground")
    box.add_argument("--port", type=port_argument, default=0, help="port on 127.0.0.1 (default: a free one)")
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
    dash.add_argument("--port", type=port_argument, default=None,
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
    argv = list(sys.argv[1:] if argv is None else argv)
    unknown = _unknown_global_option(argv)
    if unknown is not None:
        print(f"closeframe: error: unknown option {unknown!r}; before the command closeframe takes "
              f"{', '.join(_GLOBAL_OPTIONS)} (see closeframe --help)", file=sys.stderr)
        return 2
    args = _build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.run(args)
    except CloseError as exc:
        print(f"closeframe: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        where = getattr(exc, "filename", None)
        print(f"closeframe: error: {exc.strerror or exc}" + (f" ({where})" if where else ""), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("closeframe: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
