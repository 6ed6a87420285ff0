"""Which calls or meetings were deleted since a moment, from Close's event log, for the newest-first pager.

The pager (:func:`closeframe.http.paging.paginate_newest_first`) skips the records of a page's last second that it
already read instead of reading them again. That is exact unless one of them is deleted between two pages; the
event log names every deleted activity, so one query at the end of the listing tells whether that happened. A key
that cannot read the log (Close answers 400/401/403/404, the plan lacks it) keeps the pager re-reading that second,
as before.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

from closeframe.errors import CloseError
from closeframe.http.client import CloseClient

__all__ = ["DeletionLog", "object_type_of"]

#: The event log's ``_limit`` (Close's largest for ``GET /event/``).
EVENT_PAGE = 50
#: The server's ``Date`` is rounded down to the second; the log is read from a little earlier still.
_MARGIN = timedelta(seconds=2)


def object_type_of(path: str) -> str | None:
    """The event log's ``object_type`` of a listing: ``activity/call/`` -> ``activity.call``; None for others."""
    parts = [part for part in path.split("/") if part]
    return f"activity.{parts[1]}" if len(parts) == 2 and parts[0] == "activity" and \
        parts[1] in ("call", "meeting") else None


class DeletionLog:
    """The deleted records of one listing since the pager's first answer, read from ``GET /event/``.

    Parameters
    ----------
    client : CloseClient
    object_type : str
        ``activity.call`` or ``activity.meeting``.

    Notes
    -----
    :meth:`start` asks the log once in the background (whether the key may read it); until that answer came,
    :attr:`available` is False and the pager re-reads as if there were no log. :meth:`deleted_ids` reads every
    deletion since the start at the end of the listing.
    """

    def __init__(self, client: CloseClient, object_type: str) -> None:
        self.client = client
        self.object_type = object_type
        self.since: datetime | None = None
        self._probe: Future | None = None
        self._halt = threading.Event()

    def _params(self) -> dict:
        since = self.since.astimezone(timezone.utc).replace(tzinfo=None).isoformat()  # the log's dates are naive UTC
        return {"object_type": self.object_type, "action": "deleted", "date_updated__gte": since}

    def start(self) -> None:
        """Note the server's time (after the listing's first answer) and ask the log in the background."""
        now = self.client.server_now() or datetime.now(timezone.utc)
        self.since = now - _MARGIN
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="closeframe-events")
        self._probe = pool.submit(self._ask, {**self._params(), "_limit": 1})
        pool.shutdown(wait=False)

    def _ask(self, params: dict) -> dict:
        with self.client.stopped_in_thread(self._halt):  # a probe still waiting ends with the listing
            return self.client.get("event/", params)

    @property
    def available(self) -> bool:
        """Whether the log answered (without waiting for it)."""
        probe = self._probe
        return probe is not None and probe.done() and not probe.cancelled() and probe.exception() is None

    def deleted_ids(self) -> set:
        """Ids of the records deleted since :meth:`start` (follows ``cursor_next``).

        Raises
        ------
        CloseError
            When the log, readable at the start, cannot be read now.
        """
        ids: set = set()
        cursor, seen = None, set()
        while True:
            page = self.client.get("event/", {**self._params(), "_limit": EVENT_PAGE,
                                              **({"_cursor": cursor} if cursor else {})})
            events = page.get("data") if isinstance(page, dict) else None
            if not isinstance(events, list):
                raise CloseError(f"GET /event/ for {self.client.label} answered without a 'data' list.")
            ids.update(event.get("object_id") for event in events if isinstance(event, dict))
            cursor = page.get("cursor_next")
            if not cursor or not events or cursor in seen:
                return ids
            seen.add(cursor)

    def close(self) -> None:
        """Forget a probe still waiting (the listing ended first, or failed)."""
        self._halt.set()
        if self._probe is not None:
            self._probe.cancel()
