"""Fault injection: which request gets which failure (scripted queues, random faults, revoked keys).

The plan only decides; :mod:`closeframe.sandbox.server` acts the faults out on the wire.
"""

from __future__ import annotations

import random
import threading
from collections import deque
from typing import Any, Iterable

__all__ = ["FAULT_KINDS", "FaultPlan", "normalize_fault"]

#: Every fault kind, with what the client sees.
FAULT_KINDS = {
    "pass": "the real answer, unchanged (holds a place in a script, e.g. to fault only the second page)",
    "429": "429 with RateLimit reset=<int> (param reset, default 1), Retry-After and body rate_reset",
    "429-fractional": "429 with RateLimit reset=0.25 (param reset), Retry-After: 1 and body rate_reset",
    "429-retry-after": "429 with only Retry-After: 1 (param reset): no RateLimit header, no body rate_reset",
    "429-body": "429 with only the body {'error': {'rate_reset': 0.2}} (param reset), no rate-limit headers",
    "500": "500 JSON error",
    "502": "502 JSON error",
    "503": "503 JSON error",
    "504": "504 JSON error",
    "500-html": "500 with a text/html proxy page",
    "502-html": "502 with a text/html proxy page",
    "503-html": "503 with a text/html proxy page",
    "504-html": "504 with a text/html proxy page",
    "504-empty": "504 with an empty body typed application/json (as recorded from Close)",
    "429-top-level": "429 with no rate-limit header and the older body {'rate_reset': '0.2', 'rate_limit_type', "
                     "'rate_window'} (param reset): rate_reset a string, no error object",
    "reset-before": "the connection is closed without an answer",
    "reset-mid-body": "headers with the full Content-Length, part of the body, then the connection closes",
    "truncated-json": "200 whose body (Content-Length matching) is cut-off JSON",
    "stall": "the real answer after sleeping (param seconds, default 5)",
    "lying-has-more": "the real page but has_more is always true",
    "reversed": "the real page with its records in reverse order (a server that ignores the listing's order)",
    "lone-surrogate": "the real answer with half an emoji (a lone surrogate, escaped as \\ud83c) appended to a text "
                      "field (param field; default user_name, title or name) of its first record",
    "shift": "a new record is inserted at the front of the requested listing (filters applied) before answering",
    "delete": "the first record of the requested listing (filters applied) is deleted before answering",
}


def normalize_fault(fault: str | dict) -> dict:
    """``"503"`` or ``{"kind": "stall", "seconds": 3}`` → a dict with ``kind`` and its parameters.

    Raises
    ------
    ValueError
        For an unknown kind; the message lists the valid ones.
    """
    spec = {"kind": fault} if isinstance(fault, str) else dict(fault)
    if spec.get("kind") not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind {spec.get('kind')!r}; valid kinds are {sorted(FAULT_KINDS)}")
    return spec


def _normalize_path(path: str | None) -> str | None:
    # Accept "/api/v1/outcome/", "outcome/" or "/outcome/" alike: matching is on the path under /api/v1.
    if path is None:
        return None
    path = "/" + path.lstrip("/")
    if path.startswith("/api/v1/"):
        path = path[len("/api/v1"):]
    return path


class _Rule:
    def __init__(self, path, key, faults=None, probability=0.0, kinds=(), seed=0):
        self.path, self.key = _normalize_path(path), key
        self.queue = deque(faults or ())
        self.probability, self.kinds, self.random = probability, list(kinds), random.Random(seed)

    def matches(self, path: str, credential: str | None) -> bool:
        return (self.path is None or path.startswith(self.path)) and (self.key is None or self.key == credential)


class FaultPlan:
    """The faults the sandbox will inject; thread-safe.

    Scripted faults are used first (queues in the order they were scripted), then random rules. Keys named in
    :meth:`revoke_after` answer 401 once their allowance of successful requests is spent.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._scripts: list[_Rule] = []
        self._random: list[_Rule] = []
        self._allowance: dict[str, int] = {}

    def script(self, *faults: str | dict, path: str | None = None, key: str | None = None) -> "FaultPlan":
        """Queue ``faults`` for the next matching requests, one fault per request, in order.

        Parameters
        ----------
        *faults : str or dict
            Kinds from :data:`FAULT_KINDS`, or dicts ``{"kind": ..., <param>: ...}``.
        path : str, optional
            Only requests whose path (under ``/api/v1``) starts with this, e.g. ``"/outcome/"``.
        key : str, optional
            Only requests made with this API key or OAuth token.
        """
        rule = _Rule(path, key, faults=[normalize_fault(f) for f in faults])
        with self._lock:
            self._scripts.append(rule)
        return self

    def random(self, probability: float, kinds: Iterable[str | dict] = ("503",), seed: int = 0,
               path: str | None = None, key: str | None = None) -> "FaultPlan":
        """Give each matching request a fault drawn from ``kinds`` with ``probability`` (seeded)."""
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"probability must be within [0, 1], got {probability!r}")
        rule = _Rule(path, key, probability=probability, kinds=[normalize_fault(k) for k in kinds], seed=seed)
        with self._lock:
            self._random.append(rule)
        return self

    def revoke_after(self, key: str, n: int) -> "FaultPlan":
        """Let ``key`` make ``n`` more successful requests, then answer 401 (a key revoked mid-load)."""
        with self._lock:
            self._allowance[key] = int(n)
        return self

    def clear(self) -> None:
        """Forget all scripted and random faults and revocations."""
        with self._lock:
            self._scripts.clear()
            self._random.clear()
            self._allowance.clear()

    def pending(self) -> int:
        """Number of scripted faults not yet used."""
        with self._lock:
            return sum(len(rule.queue) for rule in self._scripts)

    def next_fault(self, path: str, credential: str | None) -> dict | None:
        """The fault for this request, if any (consumes a scripted one)."""
        with self._lock:
            for rule in self._scripts:
                if rule.queue and rule.matches(path, credential):
                    return dict(rule.queue.popleft())
            for rule in self._random:
                if rule.matches(path, credential) and rule.random.random() < rule.probability:
                    return dict(rule.random.choice(rule.kinds))
        return None

    def admit(self, credential: str | None) -> bool:
        """Reserve one request of a revocable key's allowance; ``False`` means it is revoked now."""
        with self._lock:
            if credential not in self._allowance:
                return True
            if self._allowance[credential] <= 0:
                return False
            self._allowance[credential] -= 1
            return True

    def refund(self, credential: str | None) -> None:
        """Give back a reservation whose request did not succeed (only successes use up the allowance)."""
        with self._lock:
            if credential in self._allowance:
                self._allowance[credential] += 1

    def describe(self) -> dict[str, Any]:
        """What is planned, without any credential."""
        with self._lock:
            return {"scripted": sum(len(r.queue) for r in self._scripts),
                    "random_rules": len(self._random), "revocable_keys": len(self._allowance)}
