"""Turns what the user passed (a key, a list, a mapping, a token, or nothing) into labelled accounts.

An account's label is what every message, column and warning shows; its secret is never shown.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Mapping

from closeframe.errors import ConfigurationError, mask_secret

__all__ = ["Account", "check_sendable", "resolve_accounts"]


@dataclass(frozen=True)
class Account:
    """One Close account to load: a label, and an API key or an OAuth token.

    Attributes
    ----------
    label : str
        What the user calls it (a mapping's key), else ``"account 1"``, ``"account 2"``… for a list,
        else ``None`` for a single key (the organization's name then speaks for it).
    api_key, token : str or None
        The secret; excluded from the repr.
    """

    label: str | None
    api_key: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        """A safe name for messages: the label, else the masked secret."""
        return self.label or mask_secret(self.api_key or self.token)

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments that give :class:`~closeframe.http.client.CloseClient` this account's credential."""
        return {"api_key": self.api_key, "token": self.token, "label": self.name}


def _as_secret(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(
            f"Each {what} must be a non-empty string, got "
            f"{'an empty one' if isinstance(value, str) else 'a value of type ' + type(value).__name__}. "
            "Pass one key, a list of keys, or a mapping {label: key}."
        )
    return value.strip()


def check_sendable(secret: str, what: str, name: str) -> None:
    """Refuse a key or token that cannot travel in an HTTP header, without ever showing it.

    Close's keys and tokens are visible ASCII; a line break, a space or a character such as ``é`` means a bad paste,
    and would otherwise fail deep in the HTTP library with the whole secret in the message.

    Raises
    ------
    ConfigurationError
        Naming the account and the position and kind of the first bad character, never the secret.
    """
    for position, char in enumerate(secret, start=1):
        if not " " < char < "\x7f":
            kind = "a line break" if char in "\r\n" else "a space or control character" if char.isspace() or \
                not char.isprintable() else "a character that is not plain ASCII"
            raise ConfigurationError(
                f"The {what} of {name} has {kind} at position {position}: copy it again, without line breaks or "
                "spaces (Close's keys are letters, digits and underscores).")


def _check_unique(accounts: list[Account], what: str) -> None:
    """Refuse one secret given twice, or two labels that read the same: the organization would count twice."""
    by_secret: dict[str, str] = {}
    labels: set[str] = set()
    for account in accounts:
        secret = account.api_key or account.token or ""
        if secret in by_secret:
            raise ConfigurationError(
                f"The same {what} is given twice ({by_secret[secret]!r} and {account.name!r}): its organization "
                "would be loaded and counted twice. Give each organization once.")
        by_secret[secret] = account.name
        if account.label is not None:
            if account.label in labels:
                raise ConfigurationError(
                    f"Two accounts are labelled {account.label!r} (labels are compared as text, so 1 and '1' are "
                    "the same): give each a label of its own.")
            labels.add(account.label)


def resolve_accounts(api_key: Any = None, token: Any = None) -> list[Account]:
    """Resolve the ``api_key=`` / ``token=`` arguments of the loaders into accounts.

    Parameters
    ----------
    api_key : str, list of str, mapping of str to str, or None
        One key, several keys, or ``{label: key}``. ``None`` (and no token) reads ``CLOSE_API_KEY``.
    token : str, list of str, mapping of str to str, or None
        OAuth access tokens, in the same forms, instead of keys.

    Returns
    -------
    list of Account

    Raises
    ------
    ConfigurationError
        No credential at all, both kinds at once, an empty collection, or a value that is not a string.
    """
    if api_key is not None and token is not None:
        raise ConfigurationError("Pass either api_key= or token=, not both.")
    kind, value = ("token", token) if token is not None else ("api_key", api_key)
    if value is None:
        value = os.environ.get("CLOSE_API_KEY") or None
    if value is None:
        raise ConfigurationError(
            "No Close API key: set CLOSE_API_KEY, pass api_key= (or token= for OAuth), "
            "or try the offline sandbox with `closeframe demo`."
        )
    what = "OAuth token" if kind == "token" else "API key"
    if isinstance(value, str):
        pairs = [(None, value)]
    elif isinstance(value, Mapping):
        pairs = [(str(label), secret) for label, secret in value.items()]
    elif isinstance(value, (list, tuple)):
        pairs = [(f"account {i}", secret) for i, secret in enumerate(value, start=1)]
    else:
        raise ConfigurationError(
            f"{kind}= takes one key, a list of keys or a mapping {{label: key}}, "
            f"not a value of type {type(value).__name__}."
        )
    if not pairs:
        raise ConfigurationError(f"{kind}= is empty: give at least one {what}.")
    accounts = [Account(label, **{kind: _as_secret(secret, what)}) for label, secret in pairs]
    _check_unique(accounts, what)
    return accounts
