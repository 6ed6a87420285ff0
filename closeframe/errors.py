"""The exception tree: one root, chosen from the HTTP status, messages that say what to do.

::

    CloseError                      root of everything closeframe raises on purpose
    ├── ConfigurationError          bad argument or setting (also a ValueError): no key, bad URL, bad option
    ├── TransportError              the request never got a usable answer: connection, timeout, broken body
    ├── PartialLoadError            some accounts or windows loaded, others failed; ``.partial`` keeps what loaded
    ├── DataChangedError            records kept being deleted while a listing was paged; no complete read
    ├── StoreDamagedError           the local store's file turned out damaged in use; it was dropped (run again)
    └── CloseAPIError               Close answered with an error status (``.status``)
        ├── ValidationError         400, with Close's ``errors`` and ``field-errors``
        │   └── SkipCapError        400 because ``_skip`` passed the resource's cap
        ├── AuthenticationError     401 / 403
        ├── NotFoundError           404
        └── RateLimitError          429 after the wait budget ran out

No message, repr or attribute holds a credential: keys are shown only through :func:`mask_secret`.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

__all__ = [
    "AuthenticationError",
    "CloseAPIError",
    "CloseError",
    "ConfigurationError",
    "DataChangedError",
    "NotFoundError",
    "PartialLoadError",
    "RateLimitError",
    "SkipCapError",
    "StoreDamagedError",
    "TransportError",
    "ValidationError",
    "error_for_status",
    "mask_secret",
]


def mask_secret(secret: str | None) -> str:
    """Return a form of ``secret`` that is safe to show: at most its first 4 characters, then ``…``.

    Parameters
    ----------
    secret : str or None
        An API key or OAuth token.

    Returns
    -------
    str
        ``"<none>"`` for a missing secret, else e.g. ``"api_…"``; short secrets show nothing of themselves.
    """
    if not secret:
        return "<none>"
    shown = secret[:4] if len(secret) >= 12 else ""
    # A pasted key may start with a line break or a stray character: show its start only when it is plain text.
    if not all(" " < ch < "\x7f" for ch in shown):
        shown = ""
    return f"{shown}…"


class CloseError(Exception):
    """Root of every error closeframe raises on purpose."""


class ConfigurationError(CloseError, ValueError):
    """A bad argument or setting: no key, a malformed or insecure base URL, an unknown option value."""


class TransportError(CloseError):
    """No usable answer after the retries: connection refused or reset, timeout, or a body that is not JSON.

    Attributes
    ----------
    path : str or None
        The API path that failed (never with credentials).
    attempts : int
        How many times the request was sent.
    """

    def __init__(self, message: str, *, path: str | None = None, attempts: int = 1) -> None:
        super().__init__(message)
        self.path = path
        self.attempts = attempts


class DataChangedError(CloseError):
    """A listing kept changing under the pager (records deleted before the cursor) and no consistent read came.

    Attributes
    ----------
    path : str
        The API path of the listing.
    attempts : int
        How many times the listing was paged from the start.
    """

    def __init__(self, message: str, *, path: str, attempts: int) -> None:
        super().__init__(message)
        self.path = path
        self.attempts = attempts


class StoreDamagedError(CloseError):
    """The store file (``cache=``) turned out damaged while in use; it was dropped (with a
    :class:`~closeframe.store.cache.CacheWarning`), and the operation can be run again on a new, empty store.

    Loaders run once more by themselves when this happens; it reaches the caller only if that fails too. Also
    importable from :mod:`closeframe.store.database`, where it is raised.
    """


class PartialLoadError(CloseError):
    """Some accounts (or windows) loaded and some failed; nothing that loaded is lost.

    Attributes
    ----------
    partial : pandas.DataFrame
        The rows of everything that did load.
    failed : dict
        ``{account label: exception}`` for each account that failed (labels, never keys).
    loaded : list of str
        The labels of the accounts that loaded.
    """

    def __init__(self, message: str, *, partial: Any, failed: Mapping[str, BaseException], loaded: list[str]):
        super().__init__(message)
        self.partial = partial
        self.failed = dict(failed)
        self.loaded = list(loaded)


class CloseAPIError(CloseError):
    """Close answered with an error status.

    Parameters
    ----------
    status : int
        The HTTP status code.
    message : str
        What went wrong and what to do.
    path : str, optional
        The API path (no query string, no credential).
    body : object, optional
        The decoded JSON error body, or ``None``.

    Attributes
    ----------
    status, path, body : as given
    """

    def __init__(self, status: int, message: str, *, path: str | None = None, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.path = path
        self.body = body


class ValidationError(CloseAPIError):
    """400: Close rejected the request. ``.errors`` and ``.field_errors`` hold Close's explanation."""

    def __init__(self, status: int, message: str, *, path: str | None = None, body: Any = None) -> None:
        super().__init__(status, message, path=path, body=body)
        body = body if isinstance(body, dict) else {}
        self.errors = list(body.get("errors") or [])
        self.field_errors = dict(body.get("field-errors") or {})


class SkipCapError(ValidationError):
    """400: ``_skip`` passed the resource's cap, so offset paging cannot reach the rest.

    Attributes
    ----------
    max_skip : int or None
        The cap Close named, if it named one.
    """

    def __init__(self, status: int, message: str, *, path: str | None = None, body: Any = None,
                 max_skip: int | None = None) -> None:
        super().__init__(status, message, path=path, body=body)
        self.max_skip = max_skip


class AuthenticationError(CloseAPIError):
    """401 or 403: the key or token was rejected, or lacks access."""


class NotFoundError(CloseAPIError):
    """404: no such object or path."""


class RateLimitError(CloseAPIError):
    """429 kept coming after the total wait budget was spent."""


_STATUS_CLASSES: dict[int, type[CloseAPIError]] = {
    400: ValidationError,
    401: AuthenticationError,
    403: AuthenticationError,
    404: NotFoundError,
    429: RateLimitError,
}

_MAX_SKIP = re.compile(r"max_skip\s*=\s*(\d+)")

_ADVICE = {
    401: "Check CLOSE_API_KEY (or the token): Close did not accept it. Create a key under Settings > API Keys.",
    403: "The key's user lacks access to this resource; use a key of a user who has it.",
    404: "Check the base URL and the id.",
    429: "Close kept rate limiting; wait a minute, load fewer accounts at once, or raise max_wait.",
}


def _body_text(body: Any) -> str:
    """Return a one-line text of Close's error body."""
    if isinstance(body, dict):
        parts = []
        err = body.get("error")
        if isinstance(err, dict):
            err = err.get("message") or err.get("detail")
        if err:
            parts.append(str(err))
        if body.get("errors"):
            parts.append("; ".join(str(e) for e in body["errors"]))
        if body.get("field-errors"):
            parts.append("; ".join(f"{k}: {v}" for k, v in body["field-errors"].items()))
        return " ".join(parts)
    return ""


def error_for_status(status: int, *, path: str | None = None, body: Any = None, account: str | None = None,
                     hint: str | None = None) -> CloseAPIError:
    """Build the exception for an error answer.

    Parameters
    ----------
    status : int
        HTTP status.
    path : str, optional
        The API path that was called.
    body : object, optional
        The decoded JSON body, if it was JSON.
    account : str, optional
        A safe label of the account (masked key or organization label), for the message.
    hint : str, optional
        Extra advice to append.

    Returns
    -------
    CloseAPIError
        The subclass that fits ``status``.
    """
    detail = _body_text(body)
    where = f" for {account}" if account else ""
    message = f"Close answered {status} on GET {path or '?'}{where}"
    if detail:
        message += f": {detail.rstrip('. ')}"
    match = _MAX_SKIP.search(detail)
    if status == 400 and (match or "maximum skip" in detail):
        max_skip = int(match.group(1)) if match else None
        message += (". Offset paging cannot go deeper: load in date_created windows "
                    "(load_calls/load_meetings do this with since=/until=).")
        return SkipCapError(status, message, path=path, body=body, max_skip=max_skip)
    advice = hint or _ADVICE.get(status)
    if advice:
        message += f". {advice}"
    cls = _STATUS_CLASSES.get(status, CloseAPIError)
    return cls(status, message, path=path, body=body)
