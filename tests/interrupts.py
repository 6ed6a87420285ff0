"""Ctrl-C for tests: run a Python script in its own process, press Ctrl-C (SIGINT) a while after it says ``start``,
and check that what it printed on its way out is a ``KeyboardInterrupt`` alone."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["ROOT", "ctrl_c_after", "keyboard_interrupt_alone", "reports_of_ctrl_c", "script_env"]

ROOT = Path(__file__).resolve().parents[1]


def script_env(**extra) -> dict:
    """The environment of a script run from the checkout: no Close credentials or closeframe settings of ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLOSE_", "CLOSEFRAME_"))}
    return {**env, "PYTHONPATH": str(ROOT), **extra}


def _start(script: str, args: list[str], env: dict | None) -> subprocess.Popen:
    """``script`` running in its own process, once it has printed ``start``."""
    process = subprocess.Popen([sys.executable, "-c", script, *args], env=env or script_env(),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
    assert process.stdout.readline().strip() == "start", process.communicate(timeout=120)[1][-2000:]
    return process


def ctrl_c_after(script: str, args: list[str], delay: float | None, env: dict | None = None) -> tuple[int, str, str]:
    """Run ``script`` (which prints ``start`` once ready), press Ctrl-C ``delay`` seconds later (never if ``None``),
    and return its exit code, standard output and standard error (a script still running a minute after the key press
    is killed, and says so)."""
    process = _start(script, args, env)
    if delay is not None:
        time.sleep(delay)
        process.send_signal(signal.SIGINT)
    try:
        out, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:  # the key press was lost: the script runs on
        process.kill()
        out, err = process.communicate()
        err += "\n(still running 60 s after Ctrl-C: killed)"
    return process.returncode, out, err


def keyboard_interrupt_alone(code: int, err: str) -> bool:
    """Whether a script that exited with ``code`` and printed ``err`` ended with ``KeyboardInterrupt``, and no
    report of DuckDB's about the Ctrl-C (``Query interrupted``, ``std::bad_cast``, an aborted transaction, ...)
    shows in its traceback.

    An exception that Python code was handling when the key press came (``pathlib`` looks up a cached attribute by
    catching ``AttributeError``, for one) is printed before the ``KeyboardInterrupt`` as its context: it is no error.
    """
    raised = [line for line in err.splitlines() if line and not line[0].isspace()
              and not line.startswith(("Traceback", "During handling", "Exception ignored", "The above exception"))]
    return code != 0 and bool(raised) and raised[-1].startswith("KeyboardInterrupt") and \
        not any(re.search(r"duckdb|interrupted|bad_cast|transaction", line, re.IGNORECASE) for line in raised)


def reports_of_ctrl_c(script: str, args: list[str], delays: list[float], env: dict | None = None) -> list[str]:
    """Run ``script``, which prints ``start``, then runs until Ctrl-C and prints how it was stopped, one line per
    key press (e.g. ``KeyboardInterrupt``, or another error's ``Type: message``); press Ctrl-C after each delay in
    turn and return the lines, ``"lost"`` for a key press it did not answer within a minute."""
    process = _start(script, args, env)
    try:
        reports = []
        for delay in delays:
            time.sleep(delay)
            process.send_signal(signal.SIGINT)
            answered, _, _ = select.select([process.stdout], [], [], 60)
            if not answered:
                reports.append("lost")
                break
            reports.append(process.stdout.readline().strip())
        return reports
    finally:
        process.kill()
        process.communicate()
