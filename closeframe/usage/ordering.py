"""The one order of names people read: numbers inside names by value ("Org 7" before "Org 10"), case-insensitive."""

from __future__ import annotations

import re

__all__ = ["natural_key"]

_DIGITS = re.compile(r"(\d+)")


def natural_key(value: object) -> tuple:
    """Sort key that orders numbers inside names by value: ``"Org 7"`` before ``"Org 10"``, case-insensitive."""
    parts = _DIGITS.split(str(value).casefold())
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts if p != "")
