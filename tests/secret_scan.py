"""A reusable scan for credentials in text, bytes, files and folders: ``assert_no_secrets(anything, secrets)``.

A secret counts as leaked in any of the forms it travels in: the key itself, and the HTTP Basic form
``base64(key + ":")`` that Close's auth header carries (with and without its ``=`` padding).
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Iterable

__all__ = ["assert_no_secrets", "secret_forms"]


def secret_forms(secrets: Iterable[str]) -> dict[bytes, str]:
    """``{bytes to look for: a safe description}`` for every form of every secret."""
    forms: dict[bytes, str] = {}
    for number, secret in enumerate(secrets):
        basic = base64.b64encode(f"{secret}:".encode()).decode()
        for kind, text in (("key", secret), ("Basic header", basic), ("Basic header", basic.rstrip("="))):
            forms[text.encode()] = f"secret #{number} as {kind}"
    return forms


def _sources(item) -> Iterable[tuple[str, bytes]]:
    if isinstance(item, Path):
        paths = [item] if item.is_file() else sorted(p for p in item.rglob("*") if p.is_file())
        for path in paths:
            yield str(path), path.read_bytes()
    elif isinstance(item, bytes):
        yield "bytes", item
    elif isinstance(item, str):
        yield "text", item.encode("utf-8", "surrogateescape")
    else:
        for part in item:
            yield from _sources(part)


def assert_no_secrets(source, secrets: Iterable[str]) -> int:
    """Fail if any form of any secret occurs in ``source``; return how many bytes were scanned.

    Parameters
    ----------
    source : str, bytes, Path (a file, or a folder scanned recursively), or an iterable of those
    secrets : iterable of str
    """
    forms = secret_forms(secrets)
    assert forms, "no secrets to look for"
    scanned = 0
    for name, data in _sources(source):
        scanned += len(data)
        for form, what in forms.items():
            assert form not in data, f"{what} found in {name}"  # the message itself never holds the secret
    return scanned
