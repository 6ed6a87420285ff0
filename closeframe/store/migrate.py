"""A cache folder of the old format (JSON records in Parquet files per date range) meets the store once.

The old layout was ``<folder>/<host>/<organization>/{calls,meetings}[/variant-*]/<start>__<end>.parquet`` with a
``sync.json`` beside them, and ``outcomes/snapshots/*.json`` plus ``outcomes/events.json`` for the outcome history.
The outcome history cannot be fetched again (Close forgets deleted outcomes, and events after 30 days), so it is
imported into the store. The cached calls and meetings can: they are dropped, with a :class:`CacheWarning` saying
so, and the next load fetches them (its sync state was one of the silent-stale cases the store fixes). Either way
the old files are removed once imported, so this happens once; nothing is ever silently ignored.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

from closeframe.store.cache import CacheWarning
from closeframe.store.history import write_history
from closeframe.store.locking import folder_lock

__all__ = ["migrate_folder", "old_cache_folders"]

_KINDS = ("calls", "meetings")


def old_cache_folders(root: Path) -> list[Path]:
    """The ``<host>/<organization>`` folders of the old cache format under ``root``."""
    found = []
    for host in sorted(p for p in Path(root).iterdir() if p.is_dir()) if Path(root).is_dir() else []:
        for organization in sorted(p for p in host.iterdir() if p.is_dir()):
            if any((organization / name).is_dir() for name in (*_KINDS, "outcomes")):
                found.append(organization)
    return found


def _read_json(path: Path, default):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return default


def migrate_folder(root: Path) -> Path:
    """Import the old outcome history under ``root`` into the store and drop the old activity files; ``root``.

    A no-op (one directory listing) once done.
    """
    folders = old_cache_folders(root)
    if not folders:
        return root
    with folder_lock(Path(root)):
        dropped = 0
        for folder in old_cache_folders(root):
            host, organization = folder.parent.name, folder.name
            outcomes = folder / "outcomes"
            if outcomes.is_dir():
                snapshots = [s for s in (_read_json(p, None) for p in sorted((outcomes / "snapshots").glob("*.json")))
                             if isinstance(s, dict)]
                events = _read_json(outcomes / "events.json", {})
                write_history(root, host, organization, snapshots, events if isinstance(events, dict) else {})
            for kind in _KINDS:
                if (folder / kind).is_dir():
                    dropped += sum(1 for _ in (folder / kind).rglob("*.parquet"))
            shutil.rmtree(folder)
            if not any(folder.parent.iterdir()):
                folder.parent.rmdir()
    warnings.warn(f"The cache folder {str(root)!r} held the old cache format: its outcome history was imported "
                  f"into the store, and its {dropped} files of cached calls and meetings were removed (they are "
                  "fetched again on the next load, once).", CacheWarning, stacklevel=3)
    return root
