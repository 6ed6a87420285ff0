"""Progress bars for long loads: tqdm.auto in notebooks and terminals, silent elsewhere unless asked."""

from __future__ import annotations

import sys
import threading
from contextlib import contextmanager
from typing import Any, Iterator

__all__ = ["LoadProgress", "LoadStopped", "progress_enabled"]


def _in_notebook() -> bool:
    """True inside a Jupyter kernel, where tqdm.auto draws a widget."""
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def progress_enabled(progress: bool | None) -> bool:
    """Resolve ``progress=``: ``None`` shows a bar only in a notebook or on a terminal."""
    if progress is None:
        stream = sys.stderr
        return _in_notebook() or bool(getattr(stream, "isatty", lambda: False)())
    return bool(progress)


class LoadStopped(Exception):
    """Raised inside a load's worker threads once the load was interrupted, so they stop at their next page."""


class LoadProgress:
    """A thread-safe bar of records loaded, with pages and rate-limit waiting in its postfix.

    Parameters
    ----------
    progress : bool or None
        See :func:`progress_enabled`.
    desc : str
        What is loading, e.g. ``"outcomes"``.
    """

    def __init__(self, progress: bool | None, desc: str) -> None:
        self._lock = threading.Lock()
        self.pages = 0
        self.records = 0
        self.waited = 0.0
        self._watched: list = []  # throttles of clients still loading: their waits show while they happen
        # Set when the load is interrupted (Ctrl-C): every pager reports its pages here, so each stops at its next
        # page instead of loading to the end while the user waits.
        self.stopped = threading.Event()
        self._bar: Any = None
        if progress_enabled(progress):
            from tqdm.auto import tqdm

            self._bar = tqdm(desc=desc, unit=" rec", leave=True, dynamic_ncols=True)

    @property
    def rate_wait(self) -> float:
        """Seconds spent waiting on rate limits so far, by finished and still-loading accounts."""
        return self.waited + sum(throttle.waited for throttle in self._watched)

    def page(self, records: int) -> None:
        """Count one page of ``records`` records; raise :class:`LoadStopped` once the load was interrupted."""
        if self.stopped.is_set():
            raise LoadStopped("the load was interrupted")
        with self._lock:
            self.pages += 1
            self.records += records
            if self._bar is not None:
                self._bar.update(records)
                self._bar.set_postfix(pages=self.pages, rate_wait=f"{self.rate_wait:.1f}s", refresh=False)

    @contextmanager
    def watch(self, throttle: Any) -> Iterator[None]:
        """Show a client's rate-limit waits (``throttle.waited``) live while it loads; keep them afterwards."""
        with self._lock:
            self._watched.append(throttle)
        try:
            yield
        finally:
            with self._lock:
                self._watched.remove(throttle)
                self.waited += throttle.waited

    def close(self) -> None:
        """Finish the bar."""
        if self._bar is not None:
            self._bar.set_postfix(pages=self.pages, rate_wait=f"{self.rate_wait:.1f}s")
            self._bar.close()

    def __enter__(self) -> "LoadProgress":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
