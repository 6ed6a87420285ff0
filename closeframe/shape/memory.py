"""The C library's heap for closeframe's large copies, and handing its free memory back to the system after a load
let go of many small blocks.

pyarrow's default allocator (mimalloc) hands freed memory back to the system at once, so each large copy faults in
fresh pages, a cost the kernel (and a virtual machine's host) charges unevenly: with it a process's first 10^6
outcomes took 2.5 s to shape instead of 1.2 s and peaked 250 MiB higher, and a 300,000-call store read took 0.6 to
0.9 s (0.3 to 0.7 s of it in the kernel) against a steady 0.5 s. The conversions, the rank of ids and the store's
reads therefore copy into :data:`COPY_POOL`, glibc's heap, which reuses what it freed.

A load frees many small blocks in between the long-lived buffers of its frame: each page's dicts, and each
piece's numbers and codes once they are copied into the frame. glibc keeps such holes resident, and they are too
small for the frame's next large arrays, so without a trim a process's memory only grows through a load.
``malloc_trim(0)`` returns every whole free page of them. It changes no allocator setting (unlike ``mallopt``
or ``pyarrow.set_memory_pool``, which would change the user's whole process) and costs about a millisecond.
"""

from __future__ import annotations

import ctypes
from typing import Callable

import pyarrow as pa

__all__ = ["COPY_POOL", "release_free_memory"]

#: The allocator of closeframe's large Arrow copies: the C library's (see the module docstring).
COPY_POOL = pa.system_memory_pool()


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
