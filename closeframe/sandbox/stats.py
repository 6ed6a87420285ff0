"""Thread-safe request counters of the sandbox, labelled so that no credential is ever stored or printed."""

from __future__ import annotations

import re
import threading
from collections import Counter

__all__ = ["Stats", "normalize_path"]

_ID = re.compile(r"/(outcome_|acti_|orga_|user_|lead_|cont_)[A-Za-z0-9]+/")


def normalize_path(path: str) -> str:
    """A path under ``/api/v1`` with record ids replaced by ``{id}``: ``/outcome/{id}/``."""
    return _ID.sub("/{id}/", path)


class Stats:
    """Counters: ``requests``, ``by_status``, ``by_path``, ``by_key`` (org name + user index labels),
    ``rate_limited`` (429s served) and ``dropped`` (connections closed without a status line)."""

    def __init__(self):
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Zero every counter."""
        with getattr(self, "_lock", threading.Lock()):
            self.requests = 0
            self.rate_limited = 0
            self.dropped = 0
            self.by_status: Counter = Counter()
            self.by_path: Counter = Counter()
            self.by_key: Counter = Counter()

    def record(self, path: str, key_label: str, status: int | None) -> None:
        """Count one request; ``status=None`` for a connection dropped before any answer."""
        with self._lock:
            self.requests += 1
            self.by_path[normalize_path(path)] += 1
            self.by_key[key_label] += 1
            if status is None:
                self.dropped += 1
            else:
                self.by_status[status] += 1
                if status == 429:
                    self.rate_limited += 1

    def snapshot(self) -> dict:
        """A consistent copy of all counters as plain dicts."""
        with self._lock:
            return {"requests": self.requests, "rate_limited": self.rate_limited, "dropped": self.dropped,
                    "by_status": dict(self.by_status), "by_path": dict(self.by_path), "by_key": dict(self.by_key)}

    def __repr__(self) -> str:
        snap = self.snapshot()
        return f"Stats(requests={snap['requests']}, by_status={snap['by_status']}, rate_limited={snap['rate_limited']})"
