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


class Throttle:
    """Holds back requests of one key while an endpoint group's window is spent.

    Parameters
    ----------
    clock : callable, optional
        Monotonic clock (injectable for tests).
    sleep : callable, optional
        Sleep function (injectable so unit tests never really sleep).

    Notes
    -----
    After each answer :meth:`update` records ``remaining`` and when the window resets. :meth:`wait` then blocks a
    request only while ``remaining`` is spent and the reset has not come, so a polite client never provokes a 429
    it could have foreseen. Thread-safe: the threads of one account share it.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, float]] = {}  # group -> (remaining, reset_at)
        self.waited = 0.0  # seconds spent holding requests back, for progress reports

    def update(self, group: str, headers: Mapping[str, str]) -> RateLimitInfo | None:
        """Record the rate-limit headers of an answer for ``group`` (any shape); return what they said."""
        info = read_ratelimit(headers)
        if info is None or info.remaining is None or info.reset is None:
            return info
        with self._lock:
            self._windows[group] = (info.remaining, self._clock() + info.reset)
        return info

    def block(self, group: str, seconds: float) -> None:
        """Mark ``group`` spent for ``seconds`` (after a 429), so other threads of the key wait as well."""
        with self._lock:
            self._windows[group] = (0.0, self._clock() + seconds)

    def delay(self, group: str) -> float:
        """Seconds a request to ``group`` should wait now (0 when it may go)."""
        with self._lock:
            remaining, reset_at = self._windows.get(group, (1.0, 0.0))
            if remaining >= 1:
                # Count this request against the window so concurrent threads do not all take the last slot.
                if group in self._windows:
                    self._windows[group] = (remaining - 1, reset_at)
                return 0.0
            return max(reset_at - self._clock(), 0.0)

    def wait(self, group: str) -> float:
        """Block until a request to ``group`` may go; return the seconds waited."""
        pause = self.delay(group)
        if pause <= 0:
            return 0.0
        self._sleep(pause)
        with self._lock:
            # The window is over: let requests go until an answer tells us the new numbers.
            self._windows.pop(group, None)
            self.waited += pause
        return pause
