"""Checks the ``filters=`` of load_calls / load_meetings and folds its ``date_created`` bounds into since/until.

The loaders page activities in ``date_created`` windows of their own, so a ``date_created__*`` filter sent as is
would be overridden in some windows and honoured in others. Folding it into ``since``/``until`` (the narrower bound
wins) keeps every window inside it. Paging parameters belong to the loader and are refused.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import pandas as pd

from closeframe.errors import ConfigurationError

__all__ = ["DATE_FILTERS", "fold_date_filters"]

#: The ``date_created`` filters Close knows, and how each becomes a half-open ``[since, until)`` bound.
_MICROSECOND = pd.Timedelta(microseconds=1)
DATE_FILTERS: dict[str, tuple[str, Callable[[pd.Timestamp], pd.Timestamp]]] = {
    "date_created__gte": ("since", lambda t: t),
    "date_created__gt": ("since", lambda t: t + _MICROSECOND),
    "date_created__lt": ("until", lambda t: t),
    "date_created__lte": ("until", lambda t: t + _MICROSECOND),
}
_LOADER_PARAMETERS = {"_skip": "the loader pages by itself", "_limit": "the loader pages by itself",
                      "_fields": "pass fields= instead", "_order_by": "the loader needs Close's own order",
                      "date_created": "pass since=/until= instead"}


def fold_date_filters(filters: Any, since: pd.Timestamp | None, until: pd.Timestamp | None,
                      parse: Callable[[Any, str], pd.Timestamp | None]
                      ) -> tuple[dict, pd.Timestamp | None, pd.Timestamp | None]:
    """Split ``filters=`` into the filters sent with every page and the narrowed ``since``/``until``.

    Parameters
    ----------
    filters : mapping or None
        Close's filters, e.g. ``{"user_id": "user_..."}``.
    since, until : Timestamp or None
        The parsed ``since=``/``until=``.
    parse : callable
        ``parse(value, name)`` reads a bound (the loaders' own date parser).

    Returns
    -------
    (dict, Timestamp or None, Timestamp or None)

    Raises
    ------
    ConfigurationError
        For filters that are not a mapping, a paging parameter, or a date filter that is not a date.
    """
    if filters is None:
        return {}, since, until
    if not isinstance(filters, Mapping):
        raise ConfigurationError(f"filters= takes a mapping such as {{'user_id': 'user_...'}}, not a "
                                 f"{type(filters).__name__}.")
    kept = {}
    for name, value in filters.items():
        if not isinstance(name, str):
            raise ConfigurationError(f"filters= names must be strings, got {name!r}.")
        if name in _LOADER_PARAMETERS:
            raise ConfigurationError(f"filters={{{name!r}: ...}} cannot be used: {_LOADER_PARAMETERS[name]}.")
        if name not in DATE_FILTERS:
            kept[name] = value
            continue
        side, to_bound = DATE_FILTERS[name]
        bound = to_bound(parse(value, f"filters[{name!r}]"))
        if side == "since":
            since = bound if since is None else max(since, bound)
        else:
            until = bound if until is None else min(until, bound)
    return kept, since, until
