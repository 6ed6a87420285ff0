"""Where the notebooks, the report and the dashboard get their data: Close when a key is set, else the sandbox.

Order: ``CLOSEFRAME_API_KEYS`` (a JSON object ``{label: key}``, several organizations at once), then
``CLOSE_API_KEY``, then a private seeded sandbox started for the load and stopped after it (its seed from
``CLOSEFRAME_SANDBOX_SEED``, which ``closeframe dashboard --seed`` sets for its kernel, else 0). ``CLOSE_BASE_URL``
applies to the first two. The description returned is plain language for the people reading a report: where the
data came from, never a key, never the URL or port of a server on this computer.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from typing import Any, Iterator
from urllib.parse import urlsplit

import pandas as pd

from closeframe.http.client import resolve_base_url
from closeframe.errors import ConfigurationError
from closeframe.load.outcomes import load_outcomes

__all__ = ["API_KEYS_ENV", "SANDBOX_SEED_ENV", "LoadedOutcomes", "LoadedUsage", "configured_api_keys",
           "describe_server", "load_default_outcomes", "load_default_usage", "sandbox_in_use"]

#: Environment variable with several labelled keys as JSON: ``{"EU team": "api_...", "US team": "api_..."}``.
API_KEYS_ENV = "CLOSEFRAME_API_KEYS"
#: Environment variable with the sandbox's seed, used when no key is set.
SANDBOX_SEED_ENV = "CLOSEFRAME_SANDBOX_SEED"
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class LoadedOutcomes:
    """An outcomes frame and a key-free sentence saying where it came from."""

    frame: pd.DataFrame
    source: str


@dataclass(frozen=True)
class LoadedUsage:
    """Outcomes, calls and meetings of the same organizations, and a key-free sentence saying where they came from.

    ``since`` and ``until`` are the ``date_created`` bounds asked for (``None``: open), UTC.
    """

    outcomes: pd.DataFrame
    calls: pd.DataFrame
    meetings: pd.DataFrame
    source: str
    since: pd.Timestamp | None = None
    until: pd.Timestamp | None = None


def _keys_from_env() -> dict | None:
    raw = os.environ.get(API_KEYS_ENV)
    if not raw:
        return None
    try:
        keys = json.loads(raw)
    except ValueError:
        keys = None
    if not isinstance(keys, dict) or not keys or not all(isinstance(v, str) and v for v in keys.values()):
        # Never echo the value: it holds keys.
        raise ConfigurationError(f"{API_KEYS_ENV} must be a JSON object {{label: API key}} with at least one key.")
    return keys


def configured_api_keys() -> dict | str:
    """The keys configured in the environment, as the loaders' ``api_key=``: ``CLOSEFRAME_API_KEYS``'s
    ``{label: key}``, else ``CLOSE_API_KEY``.

    The command line's ``export`` loads with this, so every command reads the same keys as the report and the
    dashboard (without their fallback to the sandbox: an export of made-up data would be a mistake).

    Raises
    ------
    ConfigurationError
        Neither is set, or ``CLOSEFRAME_API_KEYS`` is not a JSON object of keys (its value is never shown).
    """
    keys = _keys_from_env()
    if keys is not None:
        return keys
    key = os.environ.get("CLOSE_API_KEY")
    if key:
        return key
    raise ConfigurationError(f"No Close API key: set {API_KEYS_ENV} (JSON {{label: key}}, several organizations) "
                             "or CLOSE_API_KEY, or try the offline sandbox with `closeframe demo`.")


def sandbox_in_use() -> bool:
    """True when neither ``CLOSEFRAME_API_KEYS`` nor ``CLOSE_API_KEY`` is set: the data will be the sandbox's."""
    return not (os.environ.get(API_KEYS_ENV) or os.environ.get("CLOSE_API_KEY"))


def _sandbox_seed(seed: int | None) -> int:
    if seed is not None:
        return int(seed)
    raw = os.environ.get(SANDBOX_SEED_ENV, "0")
    try:
        return int(raw)
    except ValueError:
        raise ConfigurationError(f"{SANDBOX_SEED_ENV}={raw!r} is not a whole number; unset it or use e.g. 0.") \
            from None


def describe_server(base_url: str) -> str:
    """A plain-language name for the API at ``base_url``: ``"Close"``, a server on this computer, or a host name.

    Never the URL, port or path: a report is read by people who could not use them, and a loopback address is
    meaningless off this computer.
    """
    host = (urlsplit(base_url).hostname or "").lower()
    if host == "close.com" or host.endswith(".close.com"):
        return "Close"
    if host in _LOOPBACK or host.startswith("127."):
        return "a Close-compatible server on this computer"
    return f"the Close-compatible server {host}"


@contextlib.contextmanager
def _default_account(seed: int | None) -> Iterator[tuple[Any, str | None, str]]:
    """``(api_key argument, base_url, description)`` of the configured account(s), running the sandbox if none."""
    keys = _keys_from_env()
    if keys is not None:
        base_url = resolve_base_url()
        noun = "organization" if len(keys) == 1 else "organizations"
        yield keys, base_url, f"{describe_server(base_url)}: {len(keys)} {noun} (keys from {API_KEYS_ENV})"
        return
    if os.environ.get("CLOSE_API_KEY"):
        base_url = resolve_base_url()
        yield None, base_url, f"{describe_server(base_url)} (key from CLOSE_API_KEY)"
        return
    from closeframe.sandbox import serve

    seed = _sandbox_seed(seed)
    with serve(seed=seed, rate_limit=None) as sandbox:
        yield dict(sandbox.api_keys), sandbox.base_url, \
            f"the closeframe sandbox: made-up demo data (seed {seed}), not a Close account"


def load_default_outcomes(*, seed: int | None = None, progress: bool | None = False) -> LoadedOutcomes:
    """Load outcomes from Close if a key is configured, else from a seeded sandbox.

    Parameters
    ----------
    seed : int, optional
        The sandbox's seed when no key is set (same seed, same data: notebooks stay reproducible); ``None`` reads
        ``CLOSEFRAME_SANDBOX_SEED``, else 0.
    progress : bool or None, default False
        Passed to :func:`closeframe.load_outcomes`.

    Returns
    -------
    LoadedOutcomes
        ``.frame`` and ``.source`` (e.g. ``"the closeframe sandbox: made-up demo data (seed 0), not a Close account"``).
    """
    with _default_account(seed) as (api_key, base_url, source):
        return LoadedOutcomes(load_outcomes(api_key, base_url=base_url, progress=progress), source)


def load_default_usage(*, seed: int | None = None, since: Any = None, until: Any = None,
                       progress: bool | None = False, cache: Any = None) -> LoadedUsage:
    """Load outcomes, calls and meetings from Close if a key is configured, else from a seeded sandbox.

    Parameters
    ----------
    seed : int, optional
        As for :func:`load_default_outcomes`.
    since, until : date, datetime or str, optional
        Only calls and meetings whose ``date_created`` is in ``[since, until)``; ``None`` leaves that end open.
    progress : bool or None, default False
        Passed to the loaders.
    cache : bool, str or Path, optional
        Passed to :func:`closeframe.load_calls` and :func:`closeframe.load_meetings` (not used for the sandbox).

    Returns
    -------
    LoadedUsage

    Raises
    ------
    ConfigurationError
        A bad ``since``/``until`` (before anything is loaded).
    """
    from closeframe.load.activities import load_calls, load_meetings, parse_bound

    start, end = parse_bound(since, "since"), parse_bound(until, "until")
    if start is not None and end is not None and start >= end:
        raise ConfigurationError(f"since={since!r} is not before until={until!r}: until is exclusive, so give a "
                                 "since earlier than until (or leave either out).")
    # The sandbox is local and fast, and its address changes every run: caching it would only pile up made-up data.
    window = dict(since=start, until=end, progress=progress, cache=None if sandbox_in_use() else cache)
    with _default_account(seed) as (api_key, base_url, source):
        outcomes = load_outcomes(api_key, base_url=base_url, progress=progress)
        calls = load_calls(api_key, base_url=base_url, **window)
        meetings = load_meetings(api_key, base_url=base_url, **window)
    return LoadedUsage(outcomes, calls, meetings, source, start, end)
