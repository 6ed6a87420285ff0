"""Reads Close's rate-limit signals and keeps one key under them, per endpoint group.

Close sends ``RateLimit: limit=100, remaining=50, reset=5`` on most answers; recorded real answers also carry
separate ``RateLimit-Limit``/``-Remaining``/``-Reset`` headers (2022) or ``X-Rate-Limit-Limit``/``-Remaining``/
``-Reset`` (2017-2019), and all are read (:func:`read_ratelimit`). On a 429 the wait comes from those headers'
``reset``, else ``Retry-After``, else the deprecated body ``{"error": {"rate_reset": s}}``, else the older body's
top-level ``"rate_reset": "<s>"`` (a string), else about 2 s.
Limits apply per key and per endpoint group, so a :class:`Throttle` belongs to one client (one key) and keeps one
window per group.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

__all__ = [
    "DEFAULT_RATE_LIMIT_WAIT",
    "RATE_LIMIT_SHAPES",
    "RateLimitInfo",
    "Throttle",
    "ThrottleStopped",
    "ThrottleWaitTooLong",
    "endpoint_group",
    "parse_ratelimit",
    "rate_limit_shape",
    "rate_limit_wait",
    "read_ratelimit",
]

#: How an answer told its rate limit, as :func:`rate_limit_shape` names it.
RATE_LIMIT_SHAPES = ("combined", "separate", "x-rate-limit", "retry-after", "body-error", "body-top-level", "none")
#: A reset above this is a Unix time, not a number of seconds (some APIs send ``X-Rate-Limit-Reset`` so).
_EPOCH_RESET = 1_000_000_000

#: Seconds to wait on a 429 that names no reset at all (what the official client does too).
DEFAULT_RATE_LIMIT_WAIT = 2.0

_NUMBER = r"([0-9]+(?:\.[0-9]+)?)"
_FIELDS = {name: re.compile(rf"\b{name}\s*=\s*{_NUMBER}") for name in ("limit", "remaining", "reset")}


@dataclass(frozen=True)
class RateLimitInfo:
    """One ``RateLimit`` header: the window's size, what is left of it, and seconds until it resets."""

    limit: float | None
    remaining: float | None
    reset: float | None
    shape: str = "combined"  # which header shape it came from (see RATE_LIMIT_SHAPES)


def parse_ratelimit(header: str | None) -> RateLimitInfo | None:
    """Parse a ``RateLimit`` header value; integer or fractional numbers, fields in any order.

    Parameters
    ----------
    header : str or None
        E.g. ``"limit=100, remaining=50, reset=5"``.

    Returns
    -------
    RateLimitInfo or None
        ``None`` when the header is missing or names none of the fields (a malformed header is ignored).
    """
    if not header:
        return None
    values = {}
    for name, pattern in _FIELDS.items():
        match = pattern.search(header)
        values[name] = float(match.group(1)) if match else None
    if all(v is None for v in values.values()):
        return None
    return RateLimitInfo(**values)


def _seconds(value: Any) -> float | None:
    """Return ``value`` as non-negative seconds, or ``None`` if it is not a number."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return max(seconds, 0.0) if seconds == seconds else None  # NaN is not a wait


_SEPARATE = {"separate": ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"),
             "x-rate-limit": ("X-Rate-Limit-Limit", "X-Rate-Limit-Remaining", "X-Rate-Limit-Reset")}


def read_ratelimit(headers: Mapping[str, str], *, now: Callable[[], float] = time.time) -> RateLimitInfo | None:
    """Read an answer's rate limit from whichever header shape Close used.

    Parameters
    ----------
    headers : mapping
        The response headers (case-insensitive, as requests gives).
    now : callable, optional
        Wall clock, for a reset given as a Unix time.

    Returns
    -------
    RateLimitInfo or None
        From ``RateLimit``, else ``RateLimit-Limit``/``-Remaining``/``-Reset``, else ``X-Rate-Limit-*``;
        ``None`` when none is there or readable.
    """
    info = parse_ratelimit(headers.get("RateLimit"))
    if info is not None:
        return info
    for shape, names in _SEPARATE.items():
        limit, remaining, reset = (_seconds(headers.get(name)) for name in names)
        if limit is None and remaining is None and reset is None:
            continue
        if reset is not None and reset > _EPOCH_RESET:
            reset = max(reset - now(), 0.0)
        return RateLimitInfo(limit, remaining, reset, shape)
    return None


def rate_limit_shape(headers: Mapping[str, str], body: Any = None) -> str:
    """Name the signal a (429) answer gave its wait in: one of :data:`RATE_LIMIT_SHAPES`."""
    info = read_ratelimit(headers)
    if info is not None and info.reset is not None:
        return info.shape
    if _seconds(headers.get("Retry-After")) is not None:
        return "retry-after"
    if isinstance(body, dict) and isinstance(body.get("error"), dict) and \
            _seconds(body["error"].get("rate_reset")) is not None:
        return "body-error"
    if isinstance(body, dict) and _seconds(body.get("rate_reset")) is not None:
        return "body-top-level"
    return "none"


def rate_limit_wait(headers: Mapping[str, str], body: Any = None) -> float:
    """How long to wait after a 429, from Close's signals in their order of authority.

    Parameters
    ----------
    headers : mapping
        The response headers (case-insensitive mapping, as requests gives).
    body : object, optional
        The decoded JSON body, if any.

    Returns
    -------
    float
        Seconds: the rate-limit headers' reset (any shape), else ``Retry-After``, else ``error.rate_reset`` in the
        body, else a top-level ``rate_reset`` (a string in the older body), else :data:`DEFAULT_RATE_LIMIT_WAIT`.
    """
    info = read_ratelimit(headers)
    if info is not None and info.reset is not None:
        return info.reset
    retry_after = _seconds(headers.get("Retry-After"))
    if retry_after is not None:
        return retry_after
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        rate_reset = _seconds(body["error"].get("rate_reset"))
        if rate_reset is not None:
            return rate_reset
    if isinstance(body, dict):
        rate_reset = _seconds(body.get("rate_reset"))
        if rate_reset is not None:
            return rate_reset
    return DEFAULT_RATE_LIMIT_WAIT


def endpoint_group(path: str) -> str:
    """Name the endpoint group of an API path: its first segment (``activity/call/x/`` → ``activity``).

    Close does not publish its groups; the first segment is the narrowest guess that never lets two
    differently limited resources share a window by mistake in the other direction.
    """
    parts = [p for p in path.split("/") if p]
    return parts[0] if parts else ""


class ThrottleWaitTooLong(Exception):
    """A request would have to wait longer than the caller allows (``max_wait``); ``.seconds`` says how long."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the rate limit asks to wait {seconds:.1f} s")
        self.seconds = seconds


class ThrottleStopped(Exception):
    """The caller asked to stop (Ctrl-C, or another part of the load failed) while a request waited its turn."""


@dataclass
class _Window:
    """What one endpoint group's last answers said, and the requests counted against it."""

    budget: float = 0.0         # requests that may still start before reset_at
    limit: float = 0.0          # the window's size, as the last answer gave it (0: not said)
    reset_at: float = 0.0
    spacing: float = 0.0        # seconds between request starts: the window's sustainable pace
    period: float = 0.0         # the longest reset seen: how long a window of ``limit`` requests lasts
    next_at: float = 0.0        # the earliest start of the next request
    in_flight: int = 0          # requests sent and not answered yet
    known: bool = False         # an answer with a RateLimit header came
    free: bool = False          # answers come without a RateLimit header: nothing to hold back
    probing: bool = False       # a request is out to learn the window's numbers; the others wait for it


class Throttle:
    """Keeps the requests of one key under each endpoint group's window, counting requests in flight.

    Parameters
    ----------
    clock : callable, optional
        Monotonic clock (injectable for tests).
    sleep : callable, optional
        ``None`` (default) waits on a condition, woken by every answer and every ``stop`` check. An injected
        ``sleep`` (unit tests) is called with each pause instead, and the throttle's clock moves on by the pause,
        so a sleep that returns at once still lets time pass for the throttle.

    Notes
    -----
    Each answer's ``RateLimit`` header gives ``limit``, ``remaining`` and ``reset``; the requests still in flight
    will count against that ``remaining`` too, so the budget is ``remaining - in flight``, and requests start at the
    pace the window sustains (``limit`` per the longest ``reset`` seen) instead of all at once, except while more
    than half the window is left (a few pages asked together go at once). Until a group's
    first answer, and after each reset, one request goes alone and the others wait for its answer (a burst of
    threads at a fresh window is what provokes 429s). Thread-safe: the threads of one account share it.
    """

    #: The longest single pause between two checks of ``stop`` (Ctrl-C stays prompt).
    POLL = 0.1

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] | None = None):
        self._real_clock = clock
        self._sleep = sleep
        self._skipped = 0.0  # time an injected sleep stood for
        self._cond = threading.Condition()
        self._windows: dict[str, _Window] = {}
        self.waited = 0.0  # seconds spent holding requests back, for progress reports

    def _clock(self) -> float:
        return self._real_clock() + self._skipped

    def _decide(self, group: str, now: float) -> float:
        """Let one request go (return 0 and count it) or return how long it should wait; holding the lock."""
        window = self._windows.setdefault(group, _Window())
        if window.free:
            window.in_flight += 1
            return 0.0
        if not window.known or (window.budget < 1 and now >= window.reset_at):
            if window.probing:
                return self.POLL  # its answer (or failure) wakes us
            window.probing = True
            window.in_flight += 1
            return 0.0
        if window.budget >= 1:
            # While more than half the window is left, a few requests at once cannot run it dry: they go now
            # (the pages of a small listing asked together). Below that, requests keep the sustainable pace.
            if window.next_at > now and not (window.limit and window.budget - 1 >= window.limit / 2):
                return window.next_at - now
            window.budget -= 1
            window.in_flight += 1
            window.next_at = now + window.spacing
            return 0.0
        return window.reset_at - now

    def acquire(self, group: str, *, max_wait: float | None = None,
                stop: Callable[[], bool] | None = None) -> float:
        """Block until a request to ``group`` may go, count it as in flight, and return the seconds waited.

        Every :meth:`acquire` must be followed by :meth:`update` (an answer came) or :meth:`release` (none did).

        Raises
        ------
        ThrottleWaitTooLong
            When a single pause the server asks for is longer than ``max_wait``: nothing is waited then.
        ThrottleStopped
            When ``stop()`` turns true while waiting.
        """
        waited = 0.0
        while True:
            with self._cond:
                pause = self._decide(group, self._clock())
                if pause <= 0:
                    self.waited += waited
                    return waited
                if max_wait is not None and pause > max_wait:
                    raise ThrottleWaitTooLong(pause)
                if self._sleep is None:
                    before = self._clock()
                    self._cond.wait(min(pause, self.POLL))  # woken early by any answer
                    step = self._clock() - before
            if stop is not None and stop():
                raise ThrottleStopped("stopped while waiting for the rate limit")
            if self._sleep is not None:
                self._sleep(pause)
                with self._cond:
                    self._skipped += pause
                step = pause
            waited += step

    def update(self, group: str, headers: Mapping[str, str]) -> RateLimitInfo | None:
        """Record an answer for ``group`` (one request less in flight) and its rate-limit headers (any shape)."""
        info = read_ratelimit(headers)
        with self._cond:
            window = self._windows.setdefault(group, _Window())
            window.in_flight = max(window.in_flight - 1, 0)
            window.probing = False
            if info is None or info.remaining is None or info.reset is None:
                window.free = not window.known  # a server that never sends the header is never held back
            else:
                now = self._clock()
                window.known, window.free = True, False
                window.budget = max(info.remaining - window.in_flight, 0.0)
                window.reset_at = now + info.reset
                window.period = max(window.period, info.reset)
                window.limit = info.limit or 0.0
                # Spread requests at the pace the window sustains (limit per period), never bunched at its start;
                # without a limit, spread what remains until the reset.
                window.spacing = window.period / info.limit if info.limit else \
                    info.reset / window.budget if window.budget >= 1 else 0.0
                window.next_at = min(window.next_at, now + window.spacing)
            self._cond.notify_all()
        return info

    def release(self, group: str) -> None:
        """A request counted by :meth:`acquire` got no answer (a transport failure): stop counting it."""
        with self._cond:
            window = self._windows.setdefault(group, _Window())
            window.in_flight = max(window.in_flight - 1, 0)
            window.probing = False
            self._cond.notify_all()

    def block(self, group: str, seconds: float) -> None:
        """Mark ``group`` spent for ``seconds`` (after a 429), so other threads of the key wait as well."""
        with self._cond:
            window = self._windows.setdefault(group, _Window())
            window.known, window.free, window.budget = True, False, 0.0
            window.reset_at = max(window.reset_at, self._clock() + seconds)

    def delay(self, group: str) -> float:
        """Seconds a request to ``group`` would wait now (0 when it may go); nothing is counted."""
        with self._cond:
            window = self._windows.get(group)
            if window is None or window.free:
                return 0.0
            now = self._clock()
            if window.budget >= 1:
                return max(window.next_at - now, 0.0)
            return max(window.reset_at - now, 0.0) if window.known else 0.0
