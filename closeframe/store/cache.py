"""The cache folder of a load's ``cache=`` argument, and the options that go with it (``lookback=``).

The folder holds the store (:mod:`closeframe.store.database`, one DuckDB file) and its lock file. Nothing in it is
named by or holds a key: scopes are named by API host and organization id.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from closeframe.errors import ConfigurationError

__all__ = ["CACHE_ENV", "CacheWarning", "check_cache_dir", "default_cache_dir", "parse_lookback", "resolve_cache_dir",
           "stored_end"]

#: The environment variable naming the cache folder used by ``cache=True``.
CACHE_ENV = "CLOSEFRAME_CACHE"


class CacheWarning(UserWarning):
    """Something in the cache folder was dropped (an old cache format, a damaged store): it is fetched again."""


def default_cache_dir() -> Path:
    """``$CLOSEFRAME_CACHE`` if set, else ``~/.cache/closeframe``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "closeframe").expanduser()


def resolve_cache_dir(cache: Any) -> Path | None:
    """The cache root for a loader's ``cache=`` argument: ``None``/``False`` (off), ``True`` (default) or a path.

    Raises
    ------
    ConfigurationError
        For any other value.
    """
    if cache is None or cache is False:
        return None
    if cache is True:
        return default_cache_dir()
    if isinstance(cache, (str, os.PathLike)) and str(cache).strip():
        return Path(cache).expanduser()
    raise ConfigurationError(
        f"cache={cache!r} is not valid: pass True (${CACHE_ENV} or ~/.cache/closeframe), a folder path, or None.")


def check_cache_dir(root: Path) -> Path:
    """Make sure ``root`` is a folder this process can write, before any request; return it.

    Raises
    ------
    ConfigurationError
        When ``root`` or a folder above it is a file, or the folder cannot be created or written.
    """
    for place in (root, *root.parents):
        if place.exists():
            if not place.is_dir():
                raise ConfigurationError(f"cache={str(root)!r} cannot be a cache folder: {str(place)!r} is a file. "
                                         "Pass a folder path (it is created if missing), or cache=None.")
            break
    try:
        root.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(dir=root, prefix=".probe-")
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        raise ConfigurationError(f"The cache folder {str(root)!r} cannot be written ({exc.strerror or exc}): pass "
                                 "a folder you can write with cache=, or cache=None.") from None
    return root


def parse_lookback(lookback: Any) -> pd.Timedelta:
    """``lookback=``: a Timedelta, a string such as ``"30D"``, a number of days, or ``None`` (no lookback).

    Raises
    ------
    ConfigurationError
        For a value that is not a non-negative duration.
    """
    if lookback is None:
        return pd.Timedelta(0)
    try:
        value = pd.Timedelta(days=lookback) if isinstance(lookback, (int, float)) and not isinstance(lookback, bool) \
            else pd.Timedelta(lookback)
    except (ValueError, TypeError):
        value = pd.NaT
    if value is pd.NaT or value < pd.Timedelta(0):
        raise ConfigurationError(
            f"lookback={lookback!r} is not a duration: pass e.g. '30D', '12h', a number of days, or None.")
    return value


def stored_end(end: pd.Timestamp, started: pd.Timestamp, records: list) -> pd.Timestamp:
    """The end a fetched window may be cached with: activities created after the fetch began may be missing.

    ``started`` is the server's clock when the fetch began (from its ``Date`` header, see
    :meth:`closeframe.http.client.CloseClient.server_now`), so a server clock behind ours cannot hide the activities
    it stamps after our fetch. ``min(end, started)``; the dates of the records fetched do not move it, since a
    meeting's ``date_created`` is its start and may lie in the future. ``records`` is kept for the signature.
    """
    return min(end, started)
