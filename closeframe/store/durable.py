"""Writes that are all or nothing: a temporary file (or folder) beside the target, fsynced, then renamed over it.

A crash, a kill or Ctrl-C leaves either the old target or the new one, never a part of one; after return the new one
survives a power loss. The cache and the exports both write this way.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

__all__ = ["fsync_folder", "replace_folder", "write_durably"]


def fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (a no-op where folders cannot be opened, e.g. Windows)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _fsync_file(path: str) -> None:
    with open(path, "rb+") as stream:
        os.fsync(stream.fileno())


def write_durably(target: Path, write: Callable[[str], None]) -> Path:
    """Call ``write(temporary_path)``, then make that file ``target`` atomically and durably; return ``target``."""
    target = Path(target)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.partial-")
    os.close(handle)
    try:
        write(temporary)
        _fsync_file(temporary)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    fsync_folder(target.parent)
    return target


def replace_folder(target: Path, write: Callable[[str], None]) -> Path:
    """Call ``write(temporary_folder)``, then put that folder in ``target``'s place (the old one is removed).

    The new folder is complete before it takes the name; the old one is moved aside first and removed after, so an
    interruption leaves the old folder or the new one under ``target`` (or, between the two renames, the old one
    beside it as ``.<name>.old-…``).
    """
    target = Path(target)
    temporary = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.partial-"))
    aside = None
    try:
        write(str(temporary))
        for path in temporary.rglob("*"):
            if path.is_file():
                _fsync_file(str(path))
        if target.exists():
            aside = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.old-"))
            os.replace(target, aside / "old")
        os.replace(temporary, target)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        if aside is not None and (aside / "old").exists() and not target.exists():
            os.replace(aside / "old", target)  # put the old folder back
        raise
    finally:
        if aside is not None:
            shutil.rmtree(aside, ignore_errors=True)
    fsync_folder(target.parent)
    return target
