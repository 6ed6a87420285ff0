"""Reading a point in time the user gave (``since``, ``until``, ``now``): a date, datetime or string; naive is UTC."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pandas as pd

from closeframe.errors import ConfigurationError

__all__ = ["parse_bound"]


def parse_bound(value: Any, name: str) -> pd.Timestamp | None:
    """Parse ``since``/``until``: a date, datetime, Timestamp or string; naive means UTC.

    Raises
    ------
    ConfigurationError
        When the value cannot be read as a point in time.
    """
    if value is None:
        return None
    if not isinstance(value, (str, date, datetime, pd.Timestamp)):
        raise ConfigurationError(
            f"{name}={value!r} is not a date: pass a date, a datetime, or a string such as '2025-01-31'.")
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise ConfigurationError(
            f"{name}={value!r} is not a date: pass a date, a datetime, or a string such as '2025-01-31'."
        ) from None
    if stamp is pd.NaT:
        raise ConfigurationError(f"{name}={value!r} is not a date.")
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
