"""Paging that stays complete while the listing changes: no record present throughout is skipped or repeated.

Offset paging (``_skip``) has two failure modes when records change between two page requests: a record inserted
before the cursor pushes one already read onto the next page (a repeat, removed by id), and a record *deleted*
before the cursor pulls an unread one back onto the page already read (a silent skip). Two pagers close the skip,
neither adding more than one request per listing:

* :func:`paginate_newest_first` (calls and meetings, listed newest first): each page after the first asks for
  the records created before the end of the second of the last one read (``date_created__lt``), skipping that
  second's records already read (``_skip`` = how many) while Close's event log can be read, else re-reading them
  and dropping them by id. Its position no longer depends on what came before, so deletions and insertions before
  the cursor change nothing, and ``_skip`` stays tiny, far from Close's cap. Only the deletion of a skipped record
  between two pages would make the skip pass over an unread one: one question to the event log at the end
  (:mod:`closeframe.http.deletions`) finds it, and that second is read again. Close does not say how finely its date filters compare (a Singer tap says "to the second"); a
  whole-second bound means the same at every precision, so nothing is lost whether filters compare microseconds,
  milliseconds or seconds. A page whose records all share one second (a dialer, a bulk import) is followed by an
  offset scan of that one second only (:func:`paginate_verified`), then paging goes on below it.
* :func:`paginate_verified` (outcomes, which have no filters; and the fallback when a listing turns out not to be
  newest first): each page after the first starts one record early, at the last record already read. If that
  record is no longer there and an unread one is, records were deleted before the cursor: the listing is paged
  again from the start (at most :data:`MAX_RESTARTS` times, then :class:`~closeframe.errors.DataChangedError`).
  Starting one early costs 1 record in 100, i.e. at most one extra request for listings under 9,900 records.
  With ``ahead=``, the pages after the first are asked for several at once (a catalogue of a few hundred
  outcomes in two round trips, not one per page); each still opens with a record of the page before it, so the
  check stays exact whichever page the server answers first.

A record present for the whole load is returned exactly once. A record inserted or deleted during the load may or
may not be returned (see docs/reliability.md).
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator, Mapping, Sequence

from closeframe.http.client import PAGE_SIZE, CloseClient, list_query
from closeframe.http.deletions import DeletionLog, object_type_of
from closeframe.errors import CloseError, DataChangedError

__all__ = ["MAX_RESTARTS", "DateBounds", "paginate_newest_first", "paginate_verified", "record_created"]

#: Times a listing is paged again from the start after records were deleted under the pager.
MAX_RESTARTS = 3

log = logging.getLogger("closeframe.http.paging")

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


class _ReadIds:
    """The ids a newest-first listing has yielded: those that can come again in a set, the rest packed as text.

    A newest-first page can only repeat records of the second it is anchored on, so only those need a set of
    their own. Every older id is still needed, but only on the rare paths that re-read older records (a server
    that ignores the order, a skipped record deleted under the pager); there the packed ids become a set again.
    200,000 ids held as a set of ``str`` kept about 18 MB more at a calls load's peak (each id also pins the
    small-object memory of the record it was decoded with); packed 100 to a text they cost their characters.
    """

    _SEPARATOR = "\n"

    def __init__(self):
        self._recent: set = set()
        self._packed: list[str] = []
        self._count = 0

    def __contains__(self, key: Any) -> bool:
        # Only the unpacked ids: a page anchored below a second cannot hold a record read before that second
        # (one that did would fail the order check and switch to the offset pager, which asks for everything()).
        return key in self._recent

    def __len__(self) -> int:
        return self._count + len(self._recent)

    def add(self, key: Any) -> None:
        self._recent.add(key)

    def keep_only(self, anchored: set) -> None:
        """Pack every id except ``anchored`` (the ids the next page may repeat)."""
        packable = [key for key in self._recent
                    if key not in anchored and isinstance(key, str) and self._SEPARATOR not in key]
        if packable:
            self._packed.append(self._SEPARATOR.join(packable))
            self._count += len(packable)
            self._recent.difference_update(packable)

    def everything(self) -> set:
        """Every id read, as one set (the packed ids unpacked, once: from then on this behaves as a set)."""
        for text in self._packed:
            self._recent.update(text.split(self._SEPARATOR))
        self._packed, self._count = [], 0
        return self._recent


def paginate_verified(client: CloseClient, path: str, params: Mapping[str, Any] | None = None, *,
                      fields: Sequence[str] | str | None = None, page_size: int = PAGE_SIZE,
                      on_page: OnPage | None = None, seen: set | None = None, ahead: int = 1) -> Iterator[dict]:
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
    ahead : int, default 1
        Pages requested at once after the first (1: one after the other). Each still starts one record early;
        see the notes.

    Raises
    ------
    DataChangedError
        When records were deleted under the cursor on more than :data:`MAX_RESTARTS` passes.

    Notes
    -----
    With ``ahead > 1``, once the first page says more follow, the next ``ahead`` pages are asked for together,
    each at the offset it has if every page before it is full (``100 k - k``), so the listing's pages come back in
    one round trip instead of one each. Each such page is checked as a page asked alone would be: it must open
    with a record the page before it read (its last one, or an earlier one that an insertion pushed along). Two
    pages that share a record cover every record between them that was present throughout, whichever of the two
    the server answered first; so the check is exact without any request beyond the overlap. A page that fails
    it, or whose offset turned out wrong (a page before it was short), is dropped with the pages after it, and
    asked again alone, after the page before it: then a failed check means records were deleted, as in the
    one-at-a-time pager.
    """
    query = list_query(params, fields)
    seen = set() if seen is None else seen
    shown = "/" + path.strip("/") + "/"
    pool = ThreadPoolExecutor(max_workers=max(ahead - 1, 1), thread_name_prefix="closeframe-page")
    halt = threading.Event()

    def ask_ahead(page_query: dict) -> tuple[list, bool]:
        with client.stopped_in_thread(halt):
            return client.get_page(path, page_query)

    try:
        for attempt in range(MAX_RESTARTS + 1):
            changed = yield from _verified_pass(client, path, query, page_size, on_page, seen, ahead, pool,
                                                ask_ahead)
            if not changed:
                return
            log.info("%s for %s changed while paging (records deleted); paging it again (%d)", shown,
                     client.label, attempt + 1)
    finally:
        # A page asked ahead that is no longer needed (the listing ended before it, or the load failed or was
        # interrupted) is not waited for, and stops waiting for its turn under the rate limit.
        halt.set()
        pool.shutdown(wait=False, cancel_futures=True)
    raise DataChangedError(
        f"GET {shown} for {client.label}: records kept being deleted while it was paged ({MAX_RESTARTS + 1} "
        f"passes); {len(seen)} records were read but the listing could not be read consistently. Try again when "
        "fewer changes are being made.", path=shown, attempts=MAX_RESTARTS + 1)


def _verified_pass(client: CloseClient, path: str, query: dict, page_size: int, on_page: OnPage | None,
                   seen: set, ahead: int, pool: ThreadPoolExecutor,
                   ask_ahead: Callable[[dict], tuple[list, bool]]) -> Iterator[dict]:
    """One pass over the listing (see :func:`paginate_verified`); returns True when it must start again."""
    skip, last_id = 0, None
    while True:
        start = skip - 1 if last_id is not None else skip
        wave = [start]
        if last_id is not None and ahead > 1:
            # The offsets the next pages have if each page before them is full (each starts one record early).
            wave += [start + i * (page_size - 1) for i in range(1, ahead)]
        # The first page of a wave is asked for here, after every page before it came back; the others in the
        # pool, at the same time. A future not needed (the listing ended earlier) is never waited for.
        others = [pool.submit(ask_ahead, {**query, "_skip": s, "_limit": page_size})
                  for s in wave[1:]]
        try:
            try:
                answers = [client.get_page(path, {**query, "_skip": start, "_limit": page_size})]
            except CloseError:
                # The load fails here; the pages of the wave that did arrive are handed over first, so what
                # arrived is on the error's .partial (unchecked: the load is incomplete anyway).
                yield from _arrived(others, seen)
                raise
            for position, page_start in enumerate(wave):
                if position:
                    if page_start != start:  # a page before it was short: its offset is wrong, ask again
                        break
                    try:
                        answers.append(others[position - 1].result())
                    except CloseError:
                        yield from _arrived(others[position:], seen)  # as above
                        raise
                records, has_more = answers[-1]
                if last_id is not None:
                    first = _record_id(records[0]) if records else None
                    # The last record read should open this page. A record read before (an insertion moved it) is
                    # harmless; an unread one, or nothing, means records before the cursor were deleted -- or,
                    # for a page asked together with the one before it, that it was answered first.
                    if first != last_id and (first is None or first not in seen):
                        if position:
                            break  # asked again alone, after the page before it
                        return True
                fresh = _unseen(records, seen)
                if on_page is not None:
                    on_page(len(fresh))  # progress counts records, not the re-read overlap
                yield from fresh
                if not has_more or not records or (last_id is not None and len(records) <= 1):
                    return False
                last_id = _record_id(records[-1])
                skip = page_start + len(records)
                if last_id is None:  # records without ids cannot be checked; page on plainly
                    break
                start = skip - 1
        finally:
            for future in others:
                future.cancel()


def _arrived(futures: list, seen: set) -> Iterator[dict]:
    """The unseen records of the pages asked ahead that came back (waiting a little for those on their way)."""
    wait(futures, timeout=_ARRIVAL_WAIT)
    for future in futures:
        if future.done() and not future.cancelled() and future.exception() is None:
            yield from _unseen(future.result()[0], seen)


#: Seconds a failing load waits for the pages of its last wave that are still on their way.
_ARRIVAL_WAIT = 10.0


def record_created(record: Any) -> datetime | None:
    """A record's ``date_created`` as an aware datetime (naive read as UTC), ``None`` when missing or unreadable."""
    value = record.get("date_created") if isinstance(record, dict) else None
    return _parse_date(value) if isinstance(value, str) else None


def _parse_date(value: Any) -> datetime | None:
    """A filter value or a record's date as an aware datetime (naive means UTC); ``None`` if unreadable."""
    if isinstance(value, datetime):
        stamp = value
    elif isinstance(value, str):
        try:
            stamp = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            return None
    else:
        try:  # a pandas Timestamp or a date
            stamp = datetime.fromisoformat(value.isoformat())
        except (AttributeError, TypeError, ValueError):
            return None
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=timezone.utc)


def _floor_second(stamp: datetime) -> datetime:
    return stamp.replace(microsecond=0)


def _iso(stamp: datetime) -> str:
    return stamp.astimezone(timezone.utc).isoformat()


_SECOND = timedelta(seconds=1)
_DATE_FILTERS = ("date_created__gt", "date_created__gte", "date_created__lt", "date_created__lte")


@dataclass(frozen=True)
class DateBounds:
    """The exact ``date_created`` range a caller asked for, and the whole-second range sent to Close instead.

    A whole-second bound selects the same records whether Close compares dates to the microsecond, the
    millisecond or the second; the records in the widened margins are dropped here, so the result is exact.
    """

    low: datetime | None = None  # exact lower bound
    low_inclusive: bool = True
    high: datetime | None = None  # exact upper bound
    high_inclusive: bool = False

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> tuple["DateBounds", dict]:
        """Take the ``date_created__*`` filters out of ``params``; return them and the other parameters.

        A filter whose value is not a readable date is left in the parameters, untouched.
        """
        rest = dict(params)
        low = high = None
        low_inclusive, high_inclusive = True, False
        for name in _DATE_FILTERS:
            if name not in rest:
                continue
            value = _parse_date(rest[name])
            if value is None:
                continue
            del rest[name]
            op = name.rsplit("__", 1)[1]
            if op in ("gt", "gte") and (low is None or value > low or (value == low and op == "gt")):
                low, low_inclusive = value, op == "gte"
            if op in ("lt", "lte") and (high is None or value < high or (value == high and op == "lt")):
                high, high_inclusive = value, op == "lte"
        return cls(low, low_inclusive, high, high_inclusive), rest

    @property
    def server_low(self) -> datetime | None:
        """Inclusive whole-second lower bound for Close."""
        return None if self.low is None else _floor_second(self.low)

    @property
    def server_high(self) -> datetime | None:
        """Exclusive whole-second upper bound for Close."""
        if self.high is None:
            return None
        whole = _floor_second(self.high)
        return whole if whole == self.high and not self.high_inclusive else whole + _SECOND

    def keeps(self, stamp: datetime) -> bool:
        """Whether a record created at ``stamp`` is in the exact range."""
        if self.low is not None and (stamp < self.low or (stamp == self.low and not self.low_inclusive)):
            return False
        return self.high is None or stamp < self.high or (stamp == self.high and self.high_inclusive)


def paginate_newest_first(client: CloseClient, path: str, params: Mapping[str, Any] | None = None, *,
                          fields: Sequence[str] | str | None = None, page_size: int = PAGE_SIZE,
                          on_page: OnPage | None = None) -> Iterator[dict]:
    """Yield every record of a newest-first activity listing once, each page anchored on a whole second.

    Parameters are those of :func:`paginate_verified`. ``date_created`` is added to ``_fields``.

    Notes
    -----
    ``date_created__*`` filters in ``params`` are sent widened to whole seconds and applied exactly here. A page
    after the first asks for ``date_created__lt=<the second after the oldest record read>``, so a record sharing
    that second is never lost, however coarsely Close compares. Once the event log answered (asked in the
    background after the first page), the records of that second already read are skipped (``_skip``) instead of
    read again; at the end, the log says whether a skipped record was deleted between two pages (the skip then
    passed over an unread record), and that second is read again. Without the log they come again and are dropped
    by id (about 1% more requests). When a whole page shares one second, that second alone is read by offset
    (:func:`paginate_verified`), then paging continues below it. The order is checked on every page: a record without a
    readable ``date_created`` or id, one out of order, or one outside the bounds asked for (a server ignoring the
    date filter) switches to :func:`paginate_verified` for the rest, keeping what was read.
    """
    bounds, rest = DateBounds.from_params(params or {})
    query = list_query(rest, fields, also=("date_created",))
    seen = _ReadIds()
    low, upper = bounds.server_low, bounds.server_high
    if low is not None:
        query["date_created__gte"] = _iso(low)

    def fallback() -> Iterator[dict]:
        log.info("%s for %s is not listed newest first within its date filter; paging it by offset", path,
                 client.label)
        for record in paginate_verified(client, path, params, fields=fields, page_size=page_size,
                                        on_page=on_page, seen=seen.everything()):
            created = record_created(record)
            if created is None or bounds.keeps(created):
                yield record

    object_type = object_type_of(path)
    deletions = None
    skip = 0  # records of the second below ``upper`` already read, skipped instead of read again
    anchors: list[tuple[datetime, list]] = []  # (that second, the ids skipped), checked against the log at the end

    def pages() -> Iterator[dict]:
        nonlocal upper, skip, deletions
        while True:
            page_query = {**query, "_skip": skip, "_limit": page_size}
            if upper is not None:
                page_query["date_created__lt"] = _iso(upper)
            records, has_more = client.get_page(path, page_query)
            if deletions is None and object_type is not None and records and has_more:
                deletions = DeletionLog(client, object_type)
                deletions.start()  # asked in the background: until it answers, pages re-read as before
            dates = [record_created(record) for record in records]
            readable = all(d is not None and _record_id(r) is not None for d, r in zip(dates, records))
            if not readable or any(later > earlier for earlier, later in zip(dates, dates[1:])) or any(
                    (upper is not None and d >= upper) or (low is not None and d < low) for d in dates):
                yield from fallback()
                return
            fresh = []
            for record, created in zip(records, dates):
                if record["id"] not in seen:
                    seen.add(record["id"])
                    if bounds.keeps(created):
                        fresh.append(record)
            if on_page is not None:
                on_page(len(fresh))
            yield from fresh
            if not has_more or not records:
                return
            second = _floor_second(dates[-1])
            if _floor_second(dates[0]) == second:
                # A whole page in one second (a dialer, a bulk import): read that second alone by offset.
                log.info("%s for %s: more than a page of records in the second %s; reading it by offset", path,
                         client.label, _iso(second))
                window = {**rest, "date_created__gte": _iso(second), "date_created__lt": _iso(second + _SECOND)}
                for record in paginate_verified(client, path, window, fields=list_query({}, fields,
                                                also=("date_created",)).get("_fields"), page_size=page_size,
                                                on_page=on_page, seen=seen):
                    created = record_created(record)
                    if created is None or bounds.keeps(created):
                        yield record
                upper, skip = second, 0
                seen.keep_only(set())  # every later record is older than that second
                if low is not None and upper <= low:
                    return
                continue
            upper = second + _SECOND
            skip = 0
            seen.keep_only({r["id"] for r, d in zip(records, dates) if _floor_second(d) == second})
            if deletions is not None and deletions.available:
                # The records of that second read so far open the next page: skipped, not read again. Only a
                # deletion of one of them before the next page would make the skip pass over an unread record;
                # the event log names it at the end, and that second is then read again.
                skipped = [r["id"] for r, d in zip(records, dates) if _floor_second(d) == second]
                skip = len(skipped)
                anchors.append((second, skipped))

    try:
        yield from pages()
        if anchors:
            deleted = deletions.deleted_ids()
            for second, skipped in anchors:
                if deleted.isdisjoint(skipped):
                    continue
                log.info("%s for %s: a record of %s skipped as read was deleted; reading that second again",
                         path, client.label, _iso(second))
                records, _ = client.get_page(path, {**query, "_skip": 0, "_limit": page_size,
                                                    "date_created__lt": _iso(second + _SECOND)})
                every_id = seen.everything()  # this page holds older records too
                for record in records:
                    created = record_created(record)
                    if _record_id(record) is not None and record["id"] not in every_id and \
                            (created is None or bounds.keeps(created)):
                        seen.add(record["id"])
                        yield record
    finally:
        if deletions is not None:
            deletions.close()
