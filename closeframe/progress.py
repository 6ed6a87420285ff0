"""Progress bars for long loads: tqdm.auto in notebooks and terminals, silent elsewhere unless asked."""

from __future__ import annotations

import sys
import threading
from typing import Any

__all__ = ["LoadProgress", "progress_enabled"]


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
        self._bar: Any = None
        if progress_enabled(progress):
            from tqdm.auto import tqdm

            self._bar = tqdm(desc=desc, unit=" rec", leave=True, dynamic_ncols=True)

    def page(self, records: int) -> None:
        """Count one page of ``records`` records."""
        with self._lock:
            self.pages += 1
            self.records += records
            if self._bar is not None:
                self._bar.update(records)
                self._bar.set_postfix(pages=self.pages, rate_wait=f"{self.waited:.1f}s", refresh=False)

    def add_wait(self, seconds: float) -> None:
        """Count seconds spent waiting on rate limits."""
        with self._lock:
            self.waited += seconds

    def close(self) -> None:
        """Finish the bar."""
        if self._bar is not None:
            self._bar.set_postfix(pages=self.pages, rate_wait=f"{self.waited:.1f}s")
            self._bar.close()

    def __enter__(self) -> "LoadProgress":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
