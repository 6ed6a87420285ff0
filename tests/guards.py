"""A wall-clock guard for tests: a hang becomes a failure (SIGALRM interrupts the blocked main thread)."""

from __future__ import annotations

import signal
from contextlib import contextmanager
from typing import Iterator

__all__ = ["Hung", "wall_clock_limit"]


class Hung(Exception):
    """Raised by the guard; deliberately not a CloseError, so no code under test can swallow it as one."""


@contextmanager
def wall_clock_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`Hung` in the main thread if the block runs longer than ``seconds``."""
    def fire(signum, frame):
        raise Hung(f"still running after {seconds} s: a wait or retry is unbounded")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
