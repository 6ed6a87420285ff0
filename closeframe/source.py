"""Where the notebooks, the report and the dashboard get outcomes: Close when a key is set, else the sandbox.

Order: ``CLOSEFRAME_API_KEYS`` (a JSON object ``{label: key}``, set by ``closeframe dashboard`` for its notebook
kernel, so one kernel sees every organization of the dashboard's sandbox), then ``CLOSE_API_KEY``, then a private
seeded sandbox started for the load and stopped after it. ``CLOSE_BASE_URL`` applies to the first two. The
description returned says where the data came from and never contains a key.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import pandas as pd

from closeframe.client import resolve_base_url
from closeframe.errors import ConfigurationError
from closeframe.load import load_outcomes

__all__ = ["API_KEYS_ENV", "LoadedOutcomes", "load_default_outcomes"]

#: Environment variable with several labelled keys as JSON; ``closeframe dashboard`` sets it for its kernel.
API_KEYS_ENV = "CLOSEFRAME_API_KEYS"


@dataclass(frozen=True)
class LoadedOutcomes:
    """An outcomes frame and a key-free sentence saying where it came from."""

    frame: pd.DataFrame
    source: str


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


def load_default_outcomes(*, seed: int = 0, progress: bool | None = False) -> LoadedOutcomes:
    """Load outcomes from Close if a key is configured, else from a seeded sandbox.

    Parameters
    ----------
    seed : int, default 0
        The sandbox's seed when no key is set (same seed, same data: notebooks stay reproducible).
    progress : bool or None, default False
        Passed to :func:`closeframe.load_outcomes`.

    Returns
    -------
    LoadedOutcomes
        ``.frame`` and ``.source`` (e.g. ``"the closeframe sandbox (seed 0, 3 organizations)"``).
    """
    keys = _keys_from_env()
    if keys is not None:
        base_url = resolve_base_url()
        frame = load_outcomes(keys, base_url=base_url, progress=progress)
        return LoadedOutcomes(frame, f"{len(keys)} accounts at {base_url} ({API_KEYS_ENV})")
    if os.environ.get("CLOSE_API_KEY"):
        base_url = resolve_base_url()
        return LoadedOutcomes(load_outcomes(progress=progress), f"Close at {base_url} (CLOSE_API_KEY)")
    from closeframe.sandbox import serve

    with serve(seed=seed, rate_limit=None) as sandbox:
        frame = load_outcomes(dict(sandbox.api_keys), base_url=sandbox.base_url, progress=progress)
        count = len(sandbox.api_keys)
    return LoadedOutcomes(frame, f"the closeframe sandbox (seed {seed}, {count} organizations)")
