"""Handing the C heap's free memory back to the system after a load let go of many small blocks.

A load frees many small blocks in between the long-lived buffers of its frame: each page's dicts, and each
piece's numbers and codes once they are copied into the frame. glibc keeps such holes resident, and they are too
small for the frame's next large arrays, so without a trim a process's memory only grows through a load.
``malloc_trim(0)`` returns every whole free page of them. It changes no allocator setting (unlike ``mallopt``
or ``pyarrow.set_memory_pool``, which would change the user's whole process) and costs about a millisecond.
"""

from __future__ import annotations

import ctypes
from typing import Callable

__all__ = ["release_free_memory"]


def _c_library_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or ``None`` where the C library has none (macOS, musl, Windows)."""
    try:
        return ctypes.CDLL(None).malloc_trim  # the symbols the process has loaded: no library search
    except (OSError, AttributeError, TypeError):
        return None


_MALLOC_TRIM = _c_library_trim()


def release_free_memory() -> None:
    """Hand the C heap's free pages back to the system (glibc's ``malloc_trim(0)``; elsewhere nothing)."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)
