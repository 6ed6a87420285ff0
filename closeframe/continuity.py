"""Paging that stays complete while the listing changes: no record present throughout is skipped or repeated.

Offset paging (``_skip``) has two failure modes when records change between two page requests: a record inserted
before the cursor pushes one already read onto the next page (a repeat, removed by id), and a record *deleted*
before the cursor pulls an unread one back onto the page already read (a silent skip). Two pagers close the skip,
neither adding more than one request per listing:

* :func:`paginate_newest_first` (calls and meetings, listed newest first): each page after the first asks for
  the records older than the last one read (``date_created__lt``, ``_skip=0``). Its position no longer depends
  on what came before, so deletions and insertions before the cursor change nothing, at no extra request (and
  ``_skip`` stays 0, far from Close's cap).
* :func:`paginate_verified` (outcomes, which have no filters; and the fallback when a listing turns out not to be
  newest first): each page after the first starts one record early, at the last record already read. If that
  record is no longer there and an unread one is, records were deleted before the cursor: the listing is paged
  again from the start (at most :data:`MAX_RESTARTS` times, then :class:`~closeframe.errors.DataChangedError`).
  Starting one early costs 1 record in 100, i.e. at most one extra request for listings under 9,900 records.

A record present for the whole load is returned exactly once. A record inserted or deleted during the load may or
may not be returned (see docs/reliability.md).
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any, Callable, Iterator, Mapping, Sequence

from closeframe.client import PAGE_SIZE, CloseClient, list_query
from closeframe.errors import DataChangedError

__all__ = ["MAX_RESTARTS", "paginate_newest_first", "paginate_verified", "record_created"]

#: Times a listing is paged again from the start after records were deleted under the pager.
MAX_RESTARTS = 3

log = logging.getLogger("closeframe.continuity")

OnPage = Callable[[int], None]


def _unseen(records: list, seen: set) -> list:
    """The records whose id is not in ``seen`` (adding them); records without an id always count as new."""
    fresh = []
    for record in records:
        key = _record_id(record)
        if key is not None:
            if key in seen:
                continue
            seen.add(key)
        fresh.append(record)
    return fresh


def _record_id(record: Any) -> Any:
    return record.get("id") if isinstance(record, dict) else None


def paginate_verified(client: CloseClient, path: str, params: Mapping[str, Any] | None = None, *,
                      fields: Sequence[str] | str | None = None, page_size: int = PAGE_SIZE,
                      on_page: OnPage | None = None, seen: set | None = None) -> Iterator[dict]:
    """Yield every record of an offset-paged listing once, re-paging when records are deleted under the cursor.

    Parameters
    ----------
    client : CloseClient
    path : str
        A list endpoint, e.g. ``"outcome/"``.
    params : mapping, optional
        Filters sent with every page.
    fields : sequence of str or str, optional
        Sent as ``_fields`` (``id`` added).
    page_size : int, default 100
    on_page : callable, optional
        Called with the number of records of each page.
    seen : set, optional
        Ids already yielded by the caller (they are not yielded again).

    Raises
    ------
    DataChangedError
        When records were deleted under the cursor on more than :data:`MAX_RESTARTS` passes.
    """
    query = list_query(params, fields)
    seen = set() if seen is None else seen
    shown = "/" + path.strip("/") + "/"
    for attempt in range(MAX_RESTARTS + 1):
        skip, last_id, changed = 0, None, False
        while True:
            start = skip - 1 if last_id is not None else skip
            records, has_more = client.get_page(path, {**query, "_skip": start, "_limit": page_size})
            if last_id is not None:
                first = _record_id(records[0]) if records else None
                # The last record read should open this page. A record read before (an insertion moved it) is
                # harmless; an unread one, or nothing, means records before the cursor were deleted.
                if first != last_id and (first is None or first not in seen):
                    changed = True
                    break
            fresh = _unseen(records, seen)
            if on_page is not None:
                on_page(len(fresh))  # progress counts records, not the re-read overlap
            yield from fresh
            if not has_more or not records or (last_id is not None and len(records) <= 1):
                return
            last_id = _record_id(records[-1])
            if last_id is None:  # records without ids cannot be checked; page on plainly
                skip, last_id = start + len(records), None
                continue
            skip = start + len(records)
        if changed:
            log.info("%s for %s changed while paging (records deleted); paging it again (%d)", shown,
                     client.label, attempt + 1)
    raise DataChangedError(
        f"GET {shown} for {client.label}: records kept being deleted while it was paged ({MAX_RESTARTS + 1} "
        f"passes); {len(seen)} records were read but the listing could not be read consistently. Try again when "
        "fewer changes are being made.", path=shown, attempts=MAX_RESTARTS + 1)


def record_created(record: Any) -> datetime | None:
    value = record.get("date_created") if isinstance(record, dict) else None
    if not isinstance(value, str):
        return None
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        return None
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=timezone.utc)


def paginate_newest_first(client: CloseClient, path: str, params: Mapping[str, Any] | None = None, *,
                          fields: Sequence[str] | str | None = None, page_size: int = PAGE_SIZE,
                          on_page: OnPage | None = None) -> Iterator[dict]:
    """Yield every record of a newest-first activity listing once, each page anchored at the last date read.

    Parameters are those of :func:`paginate_verified`. ``date_created`` is added to ``_fields``.

    Notes
    -----
    A page after the first asks for ``date_created__lt=<oldest date read>`` with ``_skip=0``: what was deleted or
    inserted above that date cannot move it. When that date is shared by several records read, or has no
    microseconds (second-precision dates make ties likely), it asks ``__lte`` instead and re-reads that instant
    (dropped by id), so a record sharing it is not lost. The order is checked on every record: a record without
    a readable ``date_created``, one newer than the record before it, or a page with nothing new (a server that
    ignores the date filter) switches to :func:`paginate_verified` for the rest, keeping what was read.
    """
    query = list_query(params, fields, also=("date_created",))
    seen: set = set()
    anchor, anchor_text, ties = None, None, 0
    while True:
        page_query = {**query, "_skip": 0, "_limit": page_size}
        if anchor is not None:
            unique_instant = ties == 1 and anchor.microsecond != 0
            page_query.pop("date_created__lte" if unique_instant else "date_created__lt", None)
            page_query["date_created__lt" if unique_instant else "date_created__lte"] = anchor_text
        records, has_more = client.get_page(path, page_query)
        dates = [record_created(record) for record in records]
        ordered = all(d is not None and _record_id(r) is not None for d, r in zip(dates, records)) and all(
            later <= earlier for earlier, later in zip([anchor or dates[0], *dates], dates)) if records else True
        if not ordered:
            log.info("%s for %s is not listed newest first; paging it by offset", path, client.label)
            yield from paginate_verified(client, path, params, fields=fields, page_size=page_size,
                                         on_page=on_page, seen=seen)
            return
        fresh = []
        for record, created in zip(records, dates):
            ties = ties + 1 if created == anchor else 1
            anchor, anchor_text = created, record["date_created"]
            if record["id"] not in seen:
                seen.add(record["id"])
                fresh.append(record)
        if on_page is not None:
            on_page(len(fresh))
        yield from fresh
        if not has_more or not records:
            return
        if not fresh:
            log.info("%s for %s ignored the date anchor; paging it by offset", path, client.label)
            yield from paginate_verified(client, path, params, fields=fields, page_size=page_size,
                                         on_page=on_page, seen=seen)
            return
