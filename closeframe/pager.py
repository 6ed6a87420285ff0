"""Offset paging with pages requested ahead: a listing's pages in flight together, in order, at most one too many.

A plain ``_skip`` loop waits a full round trip per page, because a page's ``has_more`` is only known once it
arrived. :func:`paginate_ahead` keeps the next pages in flight while earlier ones travel, but never more than
``ahead`` pages beyond the last page *known* to exist (a full page that said ``has_more`` proves its successor
exists). So a listing of ``n`` pages costs at most ``n + ahead`` requests, and a speculative page that turns out to
lie past the end (empty, or even refused by the ``_skip`` cap) is dropped without a trace. Records come out in
listing order, each once, with the same stopping rules as :meth:`CloseClient.paginate
<closeframe.client.CloseClient.paginate>`. Rate limits stay the client's business: every page goes through
``client.get`` and its throttle.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Iterator, Mapping, Sequence

from closeframe.client import PAGE_SIZE, CloseClient, normalize_fields
from closeframe.errors import TransportError

__all__ = ["paginate_ahead"]

#: Pages requested beyond the last page known to exist: 1 keeps two pages in flight and costs at most one extra
#: (empty) request per listing, which at Close's latencies already outruns a key's rate limit.
AHEAD = 1


def paginate_ahead(client: CloseClient, path: str, params: Mapping[str, Any] | None = None, *,
                   fields: Sequence[str] | str | None = None, page_size: int = PAGE_SIZE,
                   on_page: Callable[[int], None] | None = None, ahead: int = AHEAD) -> Iterator[dict]:
    """Every record of a list endpoint, with up to ``ahead + 1`` pages in flight.

    Parameters
    ----------
    client : CloseClient
        The account's client; pages go through its retry policy and rate-limit throttle.
    path : str
        E.g. ``"outcome/"`` or ``"activity/call/"``.
    params : mapping, optional
        Filters sent with every page.
    fields : list of str or "a,b", optional
        Sent as ``_fields``.
    page_size : int, default 100
        ``_limit``; Close's maximum is 100.
    on_page : callable, optional
        Called with the number of records of each page used, in order.
    ahead : int, default 1
        Pages requested beyond the last one known to exist; ``0`` pages one at a time.

    Yields
    ------
    dict
        Each record once, in listing order.

    Raises
    ------
    CloseError
        The first error of a page that lies within the listing (errors of pages past its end are ignored).
    """
    query = dict(params or {})
    field_list = normalize_fields(fields)
    if field_list is not None:
        query["_fields"] = ",".join(field_list)
    seen: set = set()

    def fetch(skip: int) -> dict:
        return client.get(path, {**query, "_skip": skip, "_limit": page_size})

    # Nothing asked ahead: each page is fetched when it is needed, in the caller's thread.
    pool = ThreadPoolExecutor(max_workers=ahead + 1, thread_name_prefix="closeframe-page") if ahead else None
    submit = pool.submit if pool else _call_now
    in_flight: dict[int, Future] = {}
    try:
        skip = 0  # the next page to use, in listing order
        known = 0  # the furthest skip known to hold records (page 0 is always asked for)
        while True:
            # Keep every page from `skip` to `known + ahead` pages in flight.
            for next_skip in range(skip, known + (ahead + 1) * page_size, page_size):
                if next_skip not in in_flight:
                    in_flight[next_skip] = submit(fetch, next_skip)
            page = in_flight.pop(skip).result()
            records = page.get("data")
            if not isinstance(records, list):
                raise TransportError(
                    f"GET /{path.strip('/')}/ for {client.label} answered without a 'data' list; "
                    "is the base URL a Close API (…/api/v1/)?", path=path)
            if on_page is not None:
                on_page(len(records))
            for record in records:
                key = record.get("id") if isinstance(record, dict) else None
                if key is not None:
                    if key in seen:
                        continue
                    seen.add(key)
                yield record
            if not page.get("has_more") or not records:
                return
            skip += len(records)
            if len(records) != page_size:
                # A short page that still has more: the pages asked ahead start at the wrong offsets.
                for future in in_flight.values():
                    future.cancel()
                in_flight.clear()
            known = max(known, skip)
    finally:
        for future in in_flight.values():
            future.cancel()
        if pool:
            pool.shutdown(wait=False, cancel_futures=True)


def _call_now(function: Callable, *args: Any) -> Future:
    """Run ``function`` at once and return its outcome as a finished future (the no-thread ``submit``)."""
    future: Future = Future()
    try:
        future.set_result(function(*args))
    except BaseException as exc:  # noqa: BLE001 - handed to the caller by future.result(), as a pool would
        future.set_exception(exc)
    return future
