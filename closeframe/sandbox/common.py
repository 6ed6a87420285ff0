"""Shared primitives of the sandbox: its fixed clock, Close's ISO datetimes, random ids and derived secrets."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np

__all__ = ["ALPHABET", "DAY_US", "EPOCH", "NOW", "NOW_US", "derive_secret", "format_us", "json_copy", "parse_us",
           "random_id", "random_ids"]

#: The sandbox's "now": seeded activity dates lie in the two years before it (fixed so runs are deterministic).
NOW = datetime(2026, 11, 1, tzinfo=timezone.utc)
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
NOW_US = (NOW - EPOCH) // timedelta(microseconds=1)
DAY_US = 86_400_000_000
ALPHABET = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ALPHABET_ARRAY = np.frombuffer(ALPHABET, dtype=np.uint8)


def random_ids(rng: np.random.Generator, n: int, length: int) -> np.ndarray:
    """Draw ``n`` random alphanumeric ids of ``length`` characters as a fixed-width bytes array.

    Parameters
    ----------
    rng : numpy.random.Generator
        The seeded generator.
    n, length : int
        How many ids, and how long each is.

    Returns
    -------
    numpy.ndarray
        dtype ``S<length>``; vectorised so a million ids take a fraction of a second.
    """
    codes = rng.integers(0, len(ALPHABET), size=(n, length), dtype=np.uint8)
    return np.frombuffer(_ALPHABET_ARRAY[codes].tobytes(), dtype=f"S{length}").copy()

def random_id(rng: np.random.Generator, prefix: str, length: int) -> str:
    """One id like Close's: ``prefix`` followed by ``length`` alphanumeric characters."""
    return prefix + random_ids(rng, 1, length)[0].decode("ascii")

def derive_secret(seed: int, *parts: Any, length: int = 32) -> str:
    """A deterministic alphanumeric secret from the seed and ``parts`` (for API keys and OAuth tokens).

    Hashing keeps the keys stable per seed but unrelated to each other and to the record ids.
    """
    digest = hashlib.sha256(repr(("closeframe-sandbox", seed) + parts).encode("utf-8")).digest()
    number = int.from_bytes(digest, "big")
    chars = []
    for _ in range(length):
        number, rest = divmod(number, len(ALPHABET))
        chars.append(chr(ALPHABET[rest]))
    return "".join(chars)

def format_us(us: int) -> str:
    """Render microseconds since the epoch as Close does: ``2025-07-29T10:30:00.000000+00:00``.

    Whole seconds come out without a fraction (``2025-07-29T10:30:00+00:00``), as some Close records do.
    """
    return (EPOCH + timedelta(microseconds=int(us))).isoformat()

def parse_us(text: str, tz_offset_hours: float = 0.0) -> int:
    """Parse an ISO 8601 date or datetime into microseconds since the epoch.

    Parameters
    ----------
    text : str
        ``Z``, ``+hh:mm`` offsets and naive values are accepted; a bare date means its midnight.
    tz_offset_hours : float
        The zone of naive values, in hours east of UTC (Close's ``X-TZ-Offset`` header).

    Raises
    ------
    ValueError
        If ``text`` is not ISO 8601.
    """
    text = text.strip()
    if "T" in text:
        # A "+" in an unencoded query string arrives as a space; "Z" is not understood before Python 3.11.
        text = text.replace(" ", "+")
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone(timedelta(hours=tz_offset_hours)))
    return (value - EPOCH) // timedelta(microseconds=1)


def json_copy(value: Any) -> Any:
    """A copy of a JSON value (dicts, lists, scalars): the hot paths' copy (listings, event pages), where
    ``copy.deepcopy`` and its memo cost more than serving the page (a benchmark would time the sandbox, not the
    client)."""
    if isinstance(value, dict):
        return {key: json_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_copy(item) for item in value]
    return value
