"""Token buckets per (key, endpoint group) and per (organization, endpoint group), and the RateLimit header.

Close limits each API key per endpoint group, and each organization at a multiple of that. A bucket holds one
second's worth of requests (the burst) and refills continuously; a request needs a token from both its key's and
its organization's bucket. The header describes the tighter of the two.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Callable

__all__ = ["ENDPOINT_GROUPS", "HEADER_SHAPES", "REFUSAL_BODIES", "Decision", "RateLimiter", "endpoint_group"]

#: The rate-limit header shapes seen on real Close answers: one ``RateLimit`` header (current), separate
#: ``RateLimit-Limit/-Remaining/-Reset`` (2022), ``X-Rate-Limit-Limit/-Remaining/-Reset`` (2017-2019), none.
HEADER_SHAPES = ("combined", "separate", "x-rate-limit", "none")
#: The 429 bodies: ``error.rate_reset`` (documented), top-level string ``rate_reset`` (older), empty.
REFUSAL_BODIES = ("error", "top-level", "empty")

#: Endpoint groups, by the first path segment under ``/api/v1/``. Methods share their path's group.
ENDPOINT_GROUPS = {
    "outcome": "outcome",
    "activity": "activity",
    "me": "account",
    "user": "account",
    "organization": "account",
}

_UNLIMITED = 1_000_000


def endpoint_group(path: str) -> str:
    """The endpoint group of a path relative to ``/api/v1/`` (``"other"`` for unknown paths)."""
    first = path.strip("/").split("/", 1)[0]
    return ENDPOINT_GROUPS.get(first, "other")


@dataclass
class Decision:
    """The outcome of asking for a token: allowed or not, and what the RateLimit header says."""

    allowed: bool
    limit: int
    remaining: int
    reset: float  # seconds until the bucket is full again (or, when refused, until a token is free)

    def header(self) -> str:
        """``limit=<int>, remaining=<int>, reset=<int>`` with reset rounded up to whole seconds."""
        return f"limit={self.limit}, remaining={self.remaining}, reset={math.ceil(self.reset)}"

    def headers(self, shape: str = "combined") -> dict[str, str]:
        """The rate-limit headers of an answer in one of the :data:`HEADER_SHAPES` Close has used."""
        reset = str(math.ceil(self.reset))
        if shape == "combined":
            return {"RateLimit": self.header()}
        if shape == "separate":
            return {"RateLimit-Limit": str(self.limit), "RateLimit-Remaining": str(self.remaining),
                    "RateLimit-Reset": reset}
        if shape == "x-rate-limit":
            return {"X-Rate-Limit-Limit": str(self.limit), "X-Rate-Limit-Remaining": str(self.remaining),
                    "X-Rate-Limit-Reset": reset}
        return {}

    def refusal(self, shape: str = "combined", body: str = "error") -> tuple[dict, dict]:
        """Headers and JSON body of a 429 for this (refused) decision.

        ``body="error"``: ``{"error": {"message", "rate_reset": <float>}}`` (documented, deprecated 2024);
        ``"top-level"``: the older ``{"rate_reset": "<seconds>", "rate_limit_type", "rate_window"}`` with no
        ``error`` object; ``"empty"``: ``{}``. ``Retry-After`` comes only with the current (combined) headers.
        """
        headers = self.headers(shape)
        if shape == "combined":
            headers["Retry-After"] = str(max(1, math.ceil(self.reset)))
        if body == "top-level":
            payload: dict = {"rate_reset": f"{self.reset:.3f}", "rate_limit_type": "api_key", "rate_window": 1}
        elif body == "empty":
            payload = {}
        else:
            payload = {"error": {"message": "API call count exceeded for this period",
                                 "rate_reset": round(self.reset, 3)}}
        return headers, payload


class _Bucket:
    __slots__ = ("capacity", "rate", "tokens", "stamp")

    def __init__(self, capacity: float, rate: float, now: float):
        self.capacity, self.rate, self.tokens, self.stamp = capacity, rate, capacity, now

    def refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def until_full(self) -> float:
        return (self.capacity - self.tokens) / self.rate

    def until_token(self) -> float:
        return max(0.0, (1.0 - self.tokens) / self.rate)


class RateLimiter:
    """Token buckets keyed by ``(key label, group)`` and ``(organization, group)``.

    Parameters
    ----------
    rate : float or None
        Requests per second per key and group (also the burst). ``None`` or ``0`` disables limiting; the header
        then reports a large limit.
    org_factor : float
        The organization's limit as a multiple of ``rate`` (Close's docs: 3).
    clock : callable
        Monotonic seconds; injectable for tests.
    """

    def __init__(self, rate: float | None = 20.0, org_factor: float = 3.0,
                 clock: Callable[[], float] = time.monotonic):
        self._lock = threading.Lock()
        self._clock = clock
        self.configure(rate, org_factor)

    def configure(self, rate: float | None, org_factor: float = 3.0) -> None:
        """Change the limits; all buckets start full again."""
        if rate is not None and rate < 0 or org_factor <= 0:
            raise ValueError(f"rate must be >= 0 or None and org_factor > 0, got {rate!r} and {org_factor!r}")
        with self._lock:
            self.rate = float(rate) if rate else None
            self.org_factor = float(org_factor)
            self._buckets: dict[tuple, _Bucket] = {}

    def _bucket(self, key: tuple, rate: float, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(max(1.0, rate), rate, now)
        bucket.refill(now)
        return bucket

    def acquire(self, key_label: str, org: str, group: str, *, consume: bool = True) -> Decision:
        """Take a token for one request (or only look, with ``consume=False``).

        Returns
        -------
        Decision
            ``allowed`` is false when either bucket is empty; nothing is taken then.
        """
        if not self.rate:
            return Decision(True, _UNLIMITED, _UNLIMITED, 0)
        with self._lock:
            now = self._clock()
            key_bucket = self._bucket(("key", key_label, group), self.rate, now)
            org_bucket = self._bucket(("org", org, group), self.rate * self.org_factor, now)
            buckets = (key_bucket, org_bucket)
            empty = [b for b in buckets if b.tokens < 1.0]
            if empty:
                worst = max(empty, key=lambda b: b.until_token())
                return Decision(False, int(worst.capacity), 0, max(worst.until_token(), 1e-3))
            if consume:
                for bucket in buckets:
                    bucket.tokens -= 1.0
            tight = min(buckets, key=lambda b: (math.floor(b.tokens), -b.until_full()))
            return Decision(True, int(tight.capacity), math.floor(tight.tokens), tight.until_full())
