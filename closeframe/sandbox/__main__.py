"""``python -m closeframe.sandbox``: serve the sandbox on a fixed port until Ctrl+C."""

import argparse

from closeframe.cli import port_argument
from closeframe.sandbox.runner import run_forever


def main(argv=None) -> None:
    """Parse the command line and run the sandbox."""
    parser = argparse.ArgumentParser(prog="python -m closeframe.sandbox", description=__doc__)
    parser.add_argument("--port", type=port_argument, default=8765, help="port on 127.0.0.1 (0 = any free port)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--calls", type=int, default=2000, help="calls per organization")
    parser.add_argument("--meetings", type=int, default=500, help="meetings per organization")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    parser.add_argument("--rate-limit", type=float, default=20.0, help="requests/s per key and group; 0 = off")
    args = parser.parse_args(argv)
    try:
        run_forever(port=args.port, seed=args.seed, calls=args.calls, meetings=args.meetings, latency=args.latency,
                    rate_limit=args.rate_limit)
    except OSError as exc:  # the port is taken, or not ours to bind
        parser.exit(1, f"{parser.prog}: error: cannot serve on 127.0.0.1:{args.port}: {exc.strerror or exc}\n")


if __name__ == "__main__":
    main()
