"""One lock per cache folder that holds across threads and processes, so readers never see a half-trimmed folder.

A load reads a folder's entries once, under the lock, and each completed window rewrites the entries it overlaps,
under the lock; two processes (two notebooks, a notebook and a cron job) on one folder then never read a file that
the other is replacing. The cross-process part is an OS file lock (:mod:`filelock`); the lock file is ``.lock`` in
the folder and is left in place (removing it would race with the next process to take it).

The lock is re-entrant within a thread: a step that must hold the folder across several cache reads and writes
(the event-log refresh's read-modify-write) takes it around calls that take it again.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from filelock import FileLock, Timeout

from closeframe.errors import CloseError

__all__ = ["LOCK_TIMEOUT", "CacheLockTimeout", "folder_lock"]

#: Seconds to wait for another process's hold on a folder; holds last one read or one write, far less than this.
LOCK_TIMEOUT = 120.0
_LOCAL: dict[str, threading.RLock] = {}
_LOCAL_GUARD = threading.Lock()
#: How deep the thread that owns a folder's RLock holds it; read and changed only while holding that RLock.
_DEPTH: dict[str, int] = {}


class CacheLockTimeout(CloseError):
    """Another process held a cache folder for longer than :data:`LOCK_TIMEOUT`."""


def _local_lock(folder: Path) -> threading.RLock:
    with _LOCAL_GUARD:
        return _LOCAL.setdefault(str(folder), threading.RLock())


@contextmanager
def folder_lock(folder: Path, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Hold ``folder``'s lock (created with the folder if missing) for the block.

    Raises
    ------
    CacheLockTimeout
        When another process holds it for more than ``timeout`` seconds.
    """
    folder.mkdir(parents=True, exist_ok=True)
    # Threads of this process queue on an RLock first (no polling); one of them at a time takes the file lock.
    with _local_lock(folder):
        key = str(folder)
        if _DEPTH.get(key, 0):
            # This thread holds the folder already (only the RLock's owner gets here): a second OS lock on the
            # same file would wait for the first, i.e. for ever.
            _DEPTH[key] += 1
            try:
                yield
            finally:
                _DEPTH[key] -= 1
            return
        lock = FileLock(str(folder / ".lock"), timeout=timeout, is_singleton=False)
        try:
            lock.acquire(poll_interval=0.02)
        except Timeout:
            raise CacheLockTimeout(f"The cache folder {str(folder)!r} stayed locked by another process for "
                                   f"{timeout:g} s; wait for that load to finish, or use another cache= folder."
                                   ) from None
        _DEPTH[key] = 1
        try:
            yield
        finally:
            _DEPTH[key] = 0
            lock.release()
