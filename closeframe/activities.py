"""load_calls / load_meetings: every activity, in ``date_created`` windows that stay under Close's ``_skip`` cap.

Offset paging cannot go past a resource's ``_skip`` cap (250,000 on Close's activity lists), and Close's advice is
to split deep reads into ``date_created`` windows. ``[since, until)`` is read as one listing, its pages requested
ahead (:mod:`closeframe.pager`), so it costs one partial last page, not one per window. A listing that reaches the
cap goes on below the oldest ``date_created`` it saw (Close lists activities newest first); if the order is not
that, the window is split in two and both halves are loaded again. Either way every activity is loaded and none
twice (windows are half-open, ``[start, end)``); never a silently truncated frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Callable, Iterable, Mapping, Sequence

import pandas as pd

from closeframe.client import CloseClient, normalize_fields
from closeframe.errors import ConfigurationError, SkipCapError
from closeframe.frames import calls_frame, meetings_frame
from closeframe.load import ON_ERROR_MODES, _check_choice, frame_from_results, load_records
from closeframe.pager import paginate_ahead
from closeframe.progress import LoadProgress

__all__ = ["Window", "load_calls", "load_meetings", "parse_bound", "split_window"]

#: No Close activity predates the company; the first window is open below this anyway, so nothing is missed.
EPOCH = pd.Timestamp("2013-01-01", tz="UTC")
_SMALLEST_WINDOW = pd.Timedelta(seconds=1)


@dataclass(frozen=True)
class Window:
    """A half-open ``date_created`` range ``[start, end)``; ``None`` leaves that side open."""

    start: pd.Timestamp | None
    end: pd.Timestamp | None

    def params(self) -> dict[str, str]:
        """The query filters of this window."""
        params = {}
        if self.start is not None:
            params["date_created__gte"] = self.start.isoformat()
        if self.end is not None:
            params["date_created__lt"] = self.end.isoformat()
        return params


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


def split_window(window: Window, now: pd.Timestamp | None = None) -> tuple[Window, Window]:
    """Split a window in two halves; an open side is first closed at a year beyond the other side.

    Raises
    ------
    SkipCapError
        When the window is already one second wide: more activities than the cap share one second.
    """
    now = now or pd.Timestamp.now(tz="UTC")
    start, end = window.start, window.end
    if start is None and end is None:
        middle = now.floor("D")
    elif start is None:
        middle = min(end, EPOCH) - pd.Timedelta(days=1) if end > EPOCH else end - pd.Timedelta(days=365)
    elif end is None:
        middle = max(start, now.ceil("D")) + pd.Timedelta(days=1)
    else:
        if end - start <= _SMALLEST_WINDOW:
            raise SkipCapError(400, f"More activities than the _skip cap share the second {start.isoformat()}; "
                                    "they cannot be paged by date_created windows.")
        middle = start + (end - start) / 2
    return Window(start, middle), Window(middle, end)


def _oldest_of_descending(records: list[dict]) -> pd.Timestamp | None:
    """The oldest ``date_created`` of records listed newest first; ``None`` if they are not in that order."""
    stamps = pd.to_datetime([r.get("date_created") for r in records], utc=True, format="ISO8601", errors="coerce")
    if len(stamps) == 0 or stamps.hasnans or not stamps.is_monotonic_decreasing:
        return None
    return stamps[-1]


def _load_window(client: CloseClient, path: str, window: Window, params: Mapping[str, Any],
                 fields: list[str] | None, bar: LoadProgress) -> list[dict]:
    """Every record of one window as one paged listing, continued past the ``_skip`` cap.

    One listing per window, not one per year: every listing ends in a partial page, i.e. a request more.
    Close lists activities newest first, so past the cap the rest of the window lies at or before the oldest
    ``date_created`` seen: the listing goes on there (the records sharing that second come again and are dropped
    as duplicates by id). If the listing turned out not to be in that order, both halves load afresh instead.
    """
    records: list[dict] = []
    try:
        for record in paginate_ahead(client, path, {**params, **window.params()}, fields=fields,
                                     on_page=bar.page):
            records.append(record)
        return records
    except SkipCapError:
        oldest = _oldest_of_descending(records)
        rest = None if oldest is None else Window(window.start, oldest + pd.Timedelta(microseconds=1))
        if rest is not None and rest != window:  # equal: a whole cap's worth shares one instant; split instead
            return records + _load_window(client, path, rest, params, fields, bar)
        left, right = split_window(window)
        return _load_window(client, path, left, params, fields, bar) + \
            _load_window(client, path, right, params, fields, bar)


def _window_fetch(path: str, window: Window, params: Mapping[str, Any],
                  fields: list[str] | None) -> Callable[[CloseClient, LoadProgress], Iterable[dict]]:
    def fetch(client: CloseClient, bar: LoadProgress) -> list[dict]:
        seen: set = set()
        records = []
        for record in _load_window(client, path, window, params, fields, bar):
            # A continued listing repeats the records of its first second; an id seen twice is kept once.
            key = record.get("id")
            if key is None or key not in seen:
                seen.add(key)
                records.append(record)
        return records

    return fetch


def _load_activities(kind: str, build: Callable[..., pd.DataFrame], api_key: Any, token: Any, base_url: str | None,
                     since: Any, until: Any, fields: Any, progress: bool | None, on_error: str,
                     filters: Mapping[str, Any] | None, client_options: Mapping[str, Any] | None) -> pd.DataFrame:
    _check_choice("on_error", on_error, ON_ERROR_MODES)
    start, end = parse_bound(since, "since"), parse_bound(until, "until")
    if start is not None and end is not None and start >= end:
        raise ConfigurationError(f"since={since!r} is not before until={until!r}; until is exclusive.")
    fetch = _window_fetch(f"activity/{kind}/", Window(start, end), dict(filters or {}), normalize_fields(fields))
    results = load_records(api_key, token=token, base_url=base_url, fetch=fetch, progress=progress,
                           desc=f"{kind}s", client_options=client_options)
    return frame_from_results(results, build, on_error=on_error, what=f"{kind}s")


_SHARED_DOC = """
    Parameters
    ----------
    api_key : str, list of str, mapping {{label: key}}, or None
        As for :func:`closeframe.load_outcomes`; ``None`` reads ``CLOSE_API_KEY``.
    token : str, list or mapping, optional
        OAuth access tokens instead of keys.
    base_url : str, optional
        ``None`` reads ``CLOSE_BASE_URL``, else Close's API.
    since, until : date, datetime, str, optional
        Only {what} whose ``date_created`` is in ``[since, until)`` (naive values are UTC).
    fields : list of str, optional
        Sent as ``_fields`` (``id`` is always added).
    progress : bool, optional
        Progress bar; ``None`` shows one in notebooks and terminals only.
    on_error : {{"raise", "warn"}}
        When some accounts fail, as for :func:`closeframe.load_outcomes`.
    filters : mapping, optional
        Close's own filters sent with every page, e.g. ``{{"user_id": "user_..."}}``.
    client_options : mapping, optional
        Passed to each :class:`~closeframe.client.CloseClient`.

    Returns
    -------
    pandas.DataFrame
        The typed frame of :func:`closeframe.frames.{frame}`.
"""


def load_calls(api_key: Any = None, *, token: Any = None, base_url: str | None = None, since: Any = None,
               until: Any = None, fields: Sequence[str] | str | None = None, progress: bool | None = None,
               on_error: str = "raise", filters: Mapping[str, Any] | None = None,
               client_options: Mapping[str, Any] | None = None) -> pd.DataFrame:
    return _load_activities("call", calls_frame, api_key, token, base_url, since, until, fields, progress,
                            on_error, filters, client_options)


def load_meetings(api_key: Any = None, *, token: Any = None, base_url: str | None = None, since: Any = None,
                  until: Any = None, fields: Sequence[str] | str | None = None, progress: bool | None = None,
                  on_error: str = "raise", filters: Mapping[str, Any] | None = None,
                  client_options: Mapping[str, Any] | None = None) -> pd.DataFrame:
    return _load_activities("meeting", meetings_frame, api_key, token, base_url, since, until, fields, progress,
                            on_error, filters, client_options)


load_calls.__doc__ = "Load every call of one or several organizations (with its ``outcome_id``).\n" + \
    _SHARED_DOC.format(what="calls", frame="calls_frame")
load_meetings.__doc__ = "Load every meeting of one or several organizations (with its ``outcome_id``).\n" + \
    _SHARED_DOC.format(what="meetings", frame="meetings_frame")
