"""Progress bars for long loads: tqdm.auto in notebooks and terminals, silent elsewhere unless asked.

A calls or meetings load pages ``date_created`` windows newest first, so how far back it has read is known: the bar
shows the dates covered so far and, when every window's span is known (a ``since`` is given, or the window has
finished), the share done and an ETA from the pace so far. Rate-limit waiting is shown as wall time (the seconds
during which at least one request of the load was held back), not the sum over threads, which overstates it as
many times as there are windows waiting together.
"""

from __future__ import annotations

import sys
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Callable, Iterator

__all__ = ["LoadProgress", "LoadStopped", "WaitClock", "WindowTracker", "progress_enabled"]

#: Records between two readings of ``date_created`` (parsing every record's date would cost more than it tells).
DATE_EVERY = 50


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


class WaitClock:
    """Wall time during which at least one thread waited: overlapping waits of several threads count once.

    Parameters
    ----------
    clock : callable, default time.monotonic
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._waiting = 0
        self._since = 0.0
        self._total = 0.0

    @contextmanager
    def waiting(self) -> Iterator[None]:
        """Count the time spent inside the block."""
        with self._lock:
            if self._waiting == 0:
                self._since = self._clock()
            self._waiting += 1
        try:
            yield
        finally:
            with self._lock:
                self._waiting -= 1
                if self._waiting == 0:
                    self._total += self._clock() - self._since

    @property
    def seconds(self) -> float:
        """Wall seconds waited so far, the wait going on included."""
        with self._lock:
            return self._total + (self._clock() - self._since if self._waiting else 0.0)


def _created(record: Any) -> float | None:
    """A record's ``date_created`` as POSIX seconds, or None."""
    value = record.get("date_created") if isinstance(record, dict) else None
    if not isinstance(value, str):
        return None
    try:
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)).timestamp()


class WindowTracker:
    """How far one ``date_created`` window ``[start, end)``, paged newest first, has been read.

    Made by :meth:`LoadProgress.window`; ``start``/``end`` are POSIX seconds or None (open).
    """

    def __init__(self, bar: "LoadProgress", start: float | None, end: float | None) -> None:
        self._bar = bar
        self.start, self.end = start, end
        self.newest: float | None = end  # an open end is the newest record read (meetings can lie ahead)
        self.oldest: float | None = None  # the oldest date_created read so far
        self.finished = False
        self._count = 0

    def page(self, records: int) -> None:
        """Count a page (see :meth:`LoadProgress.page`)."""
        self._bar.page(records)

    def reached(self, record: Any) -> None:
        """Note a record read; its date is read every :data:`DATE_EVERY` records (and for the first)."""
        self._count += 1
        if self._count % DATE_EVERY != 1 and DATE_EVERY > 1:
            return
        created = _created(record)
        if created is None:
            return
        if self.newest is None:
            self.newest = created
        self.oldest = created if self.oldest is None else min(self.oldest, created)

    def finish(self) -> None:
        """The window is read to its start."""
        self.finished = True
        self._bar.refresh()

    def discard(self) -> None:
        """Stop counting this window (it was split; its halves track themselves)."""
        self._bar.forget(self)

    def span(self) -> float | None:
        """Seconds the window covers; None while its start is open and it has not finished."""
        if self.newest is None:
            return 0.0 if self.finished else None
        low = self.start if self.start is not None else (self.oldest if self.finished else None)
        return None if low is None else max(self.newest - low, 0.0)

    def covered(self) -> float:
        """Seconds of the window read so far (newest first)."""
        if self.newest is None:
            return 0.0
        if self.finished:
            return self.span() or 0.0
        return max(self.newest - self.oldest, 0.0) if self.oldest is not None else 0.0


def _day(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%d")


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class LoadProgress:
    """A thread-safe bar of records loaded, with pages, dates covered, ETA and rate-limit waiting in its postfix.

    Parameters
    ----------
    progress : bool or None
        See :func:`progress_enabled`.
    desc : str
        What is loading, e.g. ``"outcomes"``.
    clock : callable, default time.monotonic
        For the ETA and the waits (injectable for tests).
    """

    def __init__(self, progress: bool | None, desc: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._started = clock()
        self.pages = 0
        self.records = 0
        self.waits = WaitClock(clock)
        self._windows: list[WindowTracker] = []
        # Set when the load is interrupted (Ctrl-C): every pager reports its pages here, so each stops at its next
        # page instead of loading to the end while the user waits.
        self.stopped = threading.Event()
        self._bar: Any = None
        if progress_enabled(progress):
            from tqdm.auto import tqdm

            self._bar = tqdm(desc=desc, unit=" rec", leave=True, dynamic_ncols=True)

    @property
    def rate_wait(self) -> float:
        """Wall seconds during which some request of this load waited for a rate limit."""
        return self.waits.seconds

    # -- windows -------------------------------------------------------------------------------------------------

    def window(self, start: Any = None, end: Any = None) -> WindowTracker:
        """Track a ``date_created`` window (datetimes, Timestamps or None for an open end) paged newest first."""
        tracker = WindowTracker(self, None if start is None else start.timestamp(),
                                None if end is None else end.timestamp())
        with self._lock:
            self._windows.append(tracker)
        return tracker

    def forget(self, tracker: WindowTracker) -> None:
        """Stop counting ``tracker``."""
        with self._lock:
            if tracker in self._windows:
                self._windows.remove(tracker)

    def coverage(self) -> dict[str, Any]:
        """What the windows tell: ``first``/``last`` day read, ``done`` (0-1) and ``eta`` (seconds), or None."""
        windows = list(self._windows)
        read = [w for w in windows if w.newest is not None and (w.oldest is not None or w.finished)]
        if not windows:
            return {}
        lows = [w.oldest if not w.finished or w.start is None else w.start for w in read]
        lows = [low for low in lows if low is not None]
        info: dict[str, Any] = {"first": min(lows) if lows else None,
                                "last": max(w.newest for w in read) if read else None, "done": None, "eta": None}
        spans = [w.span() for w in windows]
        if all(span is not None for span in spans):
            total = sum(spans)
            done = sum(w.covered() for w in windows) / total if total > 0 else 1.0
            info["done"] = min(done, 1.0)
            elapsed = self._clock() - self._started
            if 0 < done < 1:
                info["eta"] = elapsed * (1 - done) / done
        return info

    # -- pages ---------------------------------------------------------------------------------------------------

    def _postfix(self) -> dict[str, str]:
        postfix = {"pages": str(self.pages)}
        info = self.coverage()
        if info.get("first") is not None:
            postfix["dates"] = f"{_day(info['first'])}..{_day(info['last'])}"
        if info:
            done, eta = info.get("done"), info.get("eta")
            postfix["done"] = "?" if done is None else f"{done:.0%}"
            # An open start (no since) has no known span until it is read to its end: no guess then.
            postfix["eta"] = _duration(eta) if eta is not None else ("0:00" if done == 1 else "?")
        postfix["rate_wait"] = f"{self.rate_wait:.1f}s"
        return postfix

    def page(self, records: int) -> None:
        """Count one page of ``records`` records; raise :class:`LoadStopped` once the load was interrupted."""
        if self.stopped.is_set():
            raise LoadStopped("the load was interrupted")
        with self._lock:
            self.pages += 1
            self.records += records
            if self._bar is not None:
                self._bar.update(records)
                self._bar.set_postfix(self._postfix(), refresh=False)

    def refresh(self) -> None:
        """Redraw the postfix (a window finished)."""
        if self._bar is not None:
            with self._lock:
                self._bar.set_postfix(self._postfix(), refresh=False)

    # -- rate limits ---------------------------------------------------------------------------------------------

    @contextmanager
    def watch(self, throttle: Any) -> Iterator[None]:
        """Time a client's rate-limit waits on this bar's wall clock while it loads.

        The throttle's blocking call (``acquire``, or ``wait`` in older throttles) is wrapped on this instance for
        the duration, so every wait of every thread of the client counts, overlapping ones once.
        """
        name = "acquire" if hasattr(throttle, "acquire") else "wait"
        blocking = getattr(throttle, name)
        waits = self.waits

        def timed(*args: Any, **kwargs: Any) -> Any:
            with waits.waiting():
                return blocking(*args, **kwargs)

        setattr(throttle, name, timed)
        try:
            yield
        finally:
            try:
                delattr(throttle, name)  # the class's method shows through again
            except AttributeError:
                pass

    def close(self) -> None:
        """Finish the bar."""
        if self._bar is not None:
            self._bar.set_postfix(self._postfix())
            self._bar.close()

    def __enter__(self) -> "LoadProgress":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
