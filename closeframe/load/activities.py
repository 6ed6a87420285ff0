"""load_calls / load_meetings: every activity, in ``date_created`` windows, never stopped by Close's ``_skip`` cap.

Offset paging cannot go past a resource's ``_skip`` cap (250,000 on Close's activity lists); Close's advice is to
split deep reads by ``date_created``. Each window is paged newest first with every page anchored below the oldest
``date_created`` read so far (``_skip`` stays 0), so the cap is never reached; should a listing not be newest first,
the pager falls back to offset paging, and a window that then reaches the cap is split in two and both halves are
loaded again. Every activity is loaded and none twice (windows are half-open, ``[start, end)``); never a silently
truncated frame. Windows of one account load concurrently, within the key's rate limit, and with a cache each
completed window is stored at once, so an interrupted load resumes.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

import pandas as pd

from closeframe.shape.batches import BATCH_RECORDS, KeyedPiece
from closeframe.store.activities import MAX_TIME, MIN_TIME, ActivityStore
from closeframe.store.cache import check_cache_dir, parse_lookback, resolve_cache_dir, stored_end
from closeframe.store.migrate import migrate_folder
from closeframe.http.client import CloseClient
from closeframe.http.paging import paginate_newest_first, record_created
from closeframe.shape.dates import parse_bound
from closeframe.errors import CloseError, ConfigurationError, SkipCapError, StoreDamagedError
from closeframe.load.filters import fold_date_filters
from closeframe.shape.frames import CALL_FIELDS, MEETING_FIELDS, calls_frame, meetings_frame
from closeframe.load.outcomes import ON_ERROR_MODES, check_choice, check_fields, frame_from_results, load_records
from closeframe.http.progress import LoadProgress, LoadStopped
from closeframe.store.refresh import SyncPlan, apply_sync, begin_sync, warn_stale

__all__ = ["DEFAULT_LOOKBACK", "Window", "initial_windows", "load_calls", "load_meetings", "parse_bound",
           "split_window"]

log = logging.getLogger("closeframe.load.activities")

#: No Close activity predates the company; the first window is open below this anyway, so nothing is missed.
EPOCH = pd.Timestamp("2013-01-01", tz="UTC")
#: Windows of one account paged at once (the key's rate limit, not this, is what bounds the speed).
WINDOW_WORKERS = 4
_SMALLEST_WINDOW = pd.Timedelta(seconds=1)
#: With a cache, how far before the newest cached activity a re-run looks again for changed outcomes.
DEFAULT_LOOKBACK = "30D"


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


def initial_windows(since: pd.Timestamp | None, until: pd.Timestamp | None,
                    now: pd.Timestamp | None = None) -> list[Window]:
    """Cut ``[since, until)`` in two at the start of the last year it covers, open at the ends not given.

    Two windows page concurrently, which is enough to keep a key at Close's rate limit, and each window's last,
    partial page is the only request beyond one per 100 records: two windows cost at most one extra request.
    Pages are anchored by ``date_created`` (see :func:`closeframe.http.paging.paginate_newest_first`), so a window
    never needs cutting for the ``_skip`` cap unless the listing is not newest first.
    """
    now = now or pd.Timestamp.now(tz="UTC")
    high = until if until is not None else now
    cut = pd.Timestamp(year=high.year, month=1, day=1, tz="UTC")
    if cut >= high:
        cut = pd.Timestamp(year=high.year - 1, month=1, day=1, tz="UTC")
    if since is not None and since >= cut:
        return [Window(since, until)]
    # The outer ends stay open, so an activity dated before 2013 or an upcoming meeting is still loaded.
    return [Window(since, cut), Window(cut, until)]


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


Leaf = tuple  # (Window, frame pieces): a window, or the newer part of one, paged completely (or read from the store)
Shape = Callable[[list], pd.DataFrame]  # records -> a typed frame piece (closeframe.shape.frames.calls_frame...)
#: With a cache, a window being paged is also stored every this many records (its newer part is complete by then),
#: so an interrupted load refetches at most this much of it.
CHECKPOINT_RECORDS = 5_000
_MICROSECOND = pd.Timedelta(microseconds=1)


def _load_window(client: CloseClient, path: str, window: Window, params: Mapping[str, Any],
                 fields: list[str] | None, bar: LoadProgress, shape: Shape,
                 on_leaf: Callable[[Window, list, pd.DataFrame, pd.Timestamp], None] | None = None,
                 stop: threading.Event | None = None, arrived: list | None = None) -> list[Leaf]:
    """Every record of one window as leaves, splitting it (and loading both halves afresh) when it reaches the cap.

    Records are shaped into frame pieces (``shape``) every :data:`~closeframe.shape.batches.BATCH_RECORDS` records, so
    a window's records are never all held as dicts. ``on_leaf(window, records, started)`` is called as each leaf
    completes, with its records shaped as ``piece`` (the store writes it there: ``on_leaf(window, records, piece,
    started)``). While the listing comes newest first, everything newer than the last
    record read is complete: with ``on_leaf``, that part is handed over every :data:`CHECKPOINT_RECORDS` records
    as a leaf of its own. Every piece is also appended to ``arrived`` as it is shaped (and on a failure the
    records not shaped yet), so a failed load can hand over all it read.
    """
    arrived = [] if arrived is None else arrived
    # The server's clock, not ours: what is created after this moment may be missing from the window.
    server_now = client.server_now()
    started = pd.Timestamp(server_now) if server_now is not None else pd.Timestamp.now(tz="UTC")
    track = bar.window(window.start, window.end)  # the bar's dates covered and ETA
    leaves: list[Leaf] = []
    end = window.end  # the end of what is not handed over yet
    pending: list[dict] = []
    shaped: list[pd.DataFrame] = []  # without a cache: the records not handed over yet that are already shaped
    newest_first = on_leaf is not None
    previous = None
    try:
        for record in paginate_newest_first(client, path, {**params, **window.params()}, fields=fields,
                                            on_page=track.page):
            if stop is not None and stop.is_set():
                raise LoadStopped(f"{path} window stopped: another window of the load failed")
            pending.append(record)
            track.reached(record)
            if not newest_first:
                if on_leaf is None and len(pending) >= BATCH_RECORDS:
                    shaped.append(shape(pending))
                    arrived.append(shaped[-1])  # list.append is atomic: the windows of one account share it
                    pending = []
                continue
            created = record_created(record)
            if created is None or (previous is not None and created > previous):
                newest_first = False  # the pager fell back to offset paging: no more checkpoints
                continue
            previous = created
            if len(pending) >= CHECKPOINT_RECORDS:
                # Records at the last record's instant may continue on the next page: they stay pending.
                cut = pd.Timestamp(created) + _MICROSECOND
                done = [r for r in pending if record_created(r) >= cut]
                if done:
                    leaf = Window(cut, end)
                    piece = shape(done)
                    on_leaf(leaf, done, piece, started)
                    leaves.append((leaf, [piece]))
                    arrived.append(piece)
                    pending = [r for r in pending if record_created(r) < cut]
                    end = cut
    except SkipCapError:
        arrived.extend(pending)  # its part is loaded again below; what arrived twice is kept once
        track.discard()  # its halves are tracked on their own
        left, right = split_window(Window(window.start, end))
        return leaves + _load_window(client, path, left, params, fields, bar, shape, on_leaf, stop, arrived) + \
            _load_window(client, path, right, params, fields, bar, shape, on_leaf, stop, arrived)
    except BaseException:
        arrived.extend(pending)  # not shaped yet: the loader shapes them into what the failure hands over
        raise
    track.finish()
    rest = Window(window.start, end)
    piece = shape(pending) if pending or on_leaf is not None else None
    if on_leaf is not None:
        on_leaf(rest, pending, piece, started)
    if pending:
        shaped.append(piece)
        arrived.append(piece)
    return leaves + [(rest, shaped)]


def _start_key(window: Window) -> pd.Timestamp:
    return window.start if window.start is not None else MIN_TIME


def _newest_first(leaves: Iterable[Leaf]) -> list[pd.DataFrame]:
    """The frame pieces of disjoint leaves in Close's listing order (newest first).

    Windows are disjoint; an id in two of them moved while we paged: the loader keeps its first row
    (:func:`closeframe.shape.batches.drop_repeated_ids`).
    """
    return [piece for _, pieces in sorted(leaves, key=lambda leaf: _start_key(leaf[0]), reverse=True)
            for piece in pieces]


def _load_windows(client: CloseClient, path: str, windows: Sequence[Window], params: Mapping[str, Any],
                  fields: list[str] | None, bar: LoadProgress, shape: Shape, on_leaf=None,
                  arrived: list | None = None) -> list[Leaf]:
    """Load ``windows`` concurrently; on a failure (or Ctrl-C) windows not yet started are cancelled."""
    if not windows:
        return []
    stop = threading.Event()  # this account's windows only: another account's failure must not stop them
    pool = ThreadPoolExecutor(max_workers=min(WINDOW_WORKERS, len(windows)), thread_name_prefix="closeframe-window")
    # A window waiting on the rate limit (or backing off) wakes as soon as stop is set.
    with client.stopped_by(stop):
        try:
            futures = [pool.submit(_load_window, client, path, w, params, fields, bar, shape, on_leaf, stop,
                                   arrived) for w in windows]
            return [leaf for future in futures for leaf in future.result()]
        except BaseException:
            # One window failed, or Ctrl-C: the others stop at their next record or wait (what they checkpointed
            # stays cached) and windows not started are dropped.
            stop.set()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


@dataclass(frozen=True)
class CacheOptions:
    """How a load uses the local store (see :mod:`closeframe.store.activities`)."""

    root: Any
    refresh: bool
    lookback: pd.Timedelta


def _organization_key(client: CloseClient, path: str) -> str | None:
    """The id of the organization the key reads, which names its cache folder (never derived from the key).

    ``/me/`` lists every organization of the key's user, but a key reads one: with several listed, the first
    record of the listing says which. ``None`` when that cannot be told (no record yet): the load is not cached.
    """
    ids = sorted({org["id"] for org in client.get("me/").get("organizations") or []
                  if isinstance(org, dict) and isinstance(org.get("id"), str) and org["id"]})
    if len(ids) == 1:
        return ids[0]
    records, _ = client.get_page(path, {"_limit": 1, "_fields": "id,organization_id"})
    found = records[0].get("organization_id") if records and isinstance(records[0], dict) else None
    return found if isinstance(found, str) and found else None


def _cached_windows(store: ActivityStore, windows: Sequence[Window], plan: Any
                    ) -> tuple[list[Leaf], list[Window], pd.Timestamp | None]:
    """What the store already answers (as leaves), the windows still to fetch, and since when what it answers may
    be stale (``None``: all of it is up to date).

    Stored ranges at or after ``newest stored activity - lookback`` are not trusted: an outcome may have been set
    on those activities since, so they are fetched again (with the event log the lookback is 0). "Newest" counts
    only activities inside stored ranges, which end where their fetch began: upcoming meetings never push the
    lookback into the future.
    """
    options = plan.options
    coverage = store.coverage()
    ranges = [] if options.refresh else [stored for stored in coverage.ranges if stored.trusted]
    newest = store.newest() if ranges and options.lookback else None
    trusted_until = MAX_TIME if newest is None else newest + pd.Timedelta(microseconds=1) - options.lookback
    spans, gaps, stale = [], [], []
    for window in windows:
        low, high = _start_key(window), window.end if window.end is not None else MAX_TIME
        covered = []
        for stored in ranges:
            start, end = max(low, stored.start), min(high, stored.end, trusted_until)
            if start < end:
                covered.append((start, end))
                # Without the event log (started is None) nothing vouches for rows the lookback does not re-read.
                if plan.started is None or stored.exact_as_of < plan.fresh_from:
                    stale.append(stored.exact_as_of)
        spans += covered
        cursor = low
        for start, end in sorted(covered) + [(high, high)]:
            if cursor < start:
                gaps.append(Window(None if cursor <= MIN_TIME else cursor, None if start >= MAX_TIME else start))
            cursor = max(cursor, end)
    undated = any(window.start is None for window in windows) and bool(spans)
    # The store's rows are keyed by id: the frame looks for a repeated id only between them and fetched rows.
    leaves = [(Window(None if start <= MIN_TIME else start, end), [KeyedPiece(piece)])
              for (start, end), piece in store.read(_joined(spans), undated=undated)]
    return leaves, gaps, (min(stale) if stale else None)


def _joined(spans: list[tuple]) -> list[tuple]:
    """Spans that touch joined into one: the store reads each span as one piece, and one piece is not copied
    again when the frame is built (windows and checkpoints leave many adjacent ranges)."""
    joined: list[tuple] = []
    for start, end in sorted(spans):
        if joined and start <= joined[-1][1]:
            joined[-1] = (joined[-1][0], max(joined[-1][1], end))
        else:
            joined.append((start, end))
    return joined


def _windowed_fetch(path: str, kind: str, windows: Sequence[Window], params: Mapping[str, Any],
                    fields: list[str] | None, cache_options: CacheOptions | None, shape: Shape,
                    stale_since: dict | None = None
                    ) -> Callable[[CloseClient, LoadProgress], Iterable[pd.DataFrame]]:
    def fetch(client: CloseClient, bar: LoadProgress) -> list[pd.DataFrame]:
        arrived: list = []  # every piece (and on a failure, record) read so far, cached or fetched
        try:
            return _fetch(client, bar, arrived)
        except CloseError as error:
            error.records = list(arrived)  # frame pieces and records: the loader shapes them into .partial
            raise

    def _fetch(client: CloseClient, bar: LoadProgress, arrived: list) -> list[pd.DataFrame]:
        try:
            return _fetch_once(client, bar, arrived)
        except StoreDamagedError:
            # The store was dropped (a CacheWarning said so): once more, from a new, empty one.
            arrived.clear()
            return _fetch_once(client, bar, arrived)

    def _fetch_once(client: CloseClient, bar: LoadProgress, arrived: list) -> list[pd.DataFrame]:
        if cache_options is None:
            return _newest_first(_load_windows(client, path, windows, params, fields, bar, shape, arrived=arrived))
        organization = _organization_key(client, path)
        if organization is None:
            log.info("%s for %s: cannot tell which organization the key reads; loading without the cache", path,
                     client.label)
            return _newest_first(_load_windows(client, path, windows, params, fields, bar, shape, arrived=arrived))
        store = ActivityStore(cache_options.root, client.base_url, organization, kind, shape,
                              variant={"fields": fields, "filters": dict(params)})
        # The event log brings every stored row up to date where it can (then nothing stored is re-read).
        try:
            sync = begin_sync(client, store, kind, path, params, fields, cache_options)
        except CloseError:
            # The log could not be read at all (e.g. the key was revoked): the partial holds what the store answers.
            unsynced = SyncPlan(cache_options, "lookback", store, None, pd.Timestamp.now(tz="UTC"))
            with store.session():
                arrived.extend(p for _, pieces in _cached_windows(store, windows, unsynced)[0] for p in pieces)
            raise
        with store.session():  # one connection for the change set's transaction and the reads after it
            apply_sync(client, sync, kind)
            cached, gaps, stale = _cached_windows(store, windows, sync)
        if stale is not None:
            warn_stale(sync, kind, stale)
            if stale_since is not None:
                stale_since[organization] = stale

        def keep(window: Window, records: list, piece: pd.DataFrame, started: pd.Timestamp) -> None:
            if any(isinstance(r, dict) and r.get("organization_id") not in (None, organization) for r in records):
                # The key read another organization's records here too: this range is not stored, so a scope only
                # ever holds the one organization it is named by.
                log.info("%s for %s: records of several organizations in one range; not stored", path, client.label)
                return
            end = window.end if window.end is not None else MAX_TIME
            # What is dated after the fetch began (upcoming meetings) is stored too, but fetched again next time.
            store.write(_start_key(window), end, records, piece, started,
                        trusted_until=stored_end(end, started, records))

        for _, pieces in cached:
            arrived.extend(pieces)
        return _newest_first(cached + _load_windows(client, path, gaps, params, fields, bar, shape, on_leaf=keep,
                                                    arrived=arrived))

    return fetch


def _load_activities(kind: str, build: Callable[..., pd.DataFrame], api_key: Any, token: Any, base_url: str | None,
                     since: Any, until: Any, fields: Any, progress: bool | None, on_error: str,
                     filters: Mapping[str, Any] | None, client_options: Mapping[str, Any] | None,
                     cache: Any = None, refresh: bool = False, lookback: Any = DEFAULT_LOOKBACK) -> pd.DataFrame:
    check_choice("on_error", on_error, ON_ERROR_MODES)
    if not isinstance(refresh, bool):
        raise ConfigurationError(f"refresh={refresh!r} is not valid: pass True or False.")
    start, end = parse_bound(since, "since"), parse_bound(until, "until")
    filters, start, end = fold_date_filters(filters, start, end, parse_bound)
    if start is not None and end is not None and start >= end:
        raise ConfigurationError(f"since={since!r} is not before until={until!r}; until is exclusive, so pass a "
                                 "since earlier than until (or leave either out for an open end).")
    known = CALL_FIELDS if kind == "call" else MEETING_FIELDS
    root = resolve_cache_dir(cache)
    cache_options = None if root is None else CacheOptions(migrate_folder(check_cache_dir(root)), refresh,
                                                           parse_lookback(lookback))
    stale_since: dict = {}
    fetch = _windowed_fetch(f"activity/{kind}/", kind, initial_windows(start, end), dict(filters or {}),
                            check_fields(fields, known, f"{kind}s"), cache_options, build, stale_since)
    results = load_records(api_key, token=token, base_url=base_url, fetch=fetch, progress=progress,
                           desc=f"{kind}s", client_options=client_options, build=build, unique_ids=True)
    frame = frame_from_results(results, build, on_error=on_error, what=f"{kind}s")
    if stale_since:
        # Staleness is a state of the store: said on every load that serves such rows, per organization.
        frame.attrs["stale_since"] = dict(sorted(stale_since.items()))
    return frame


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
        Passed to each :class:`~closeframe.http.client.CloseClient`.
    cache : bool, str or Path, optional
        Keep the loaded {what} in a local store (a DuckDB file in that folder, :mod:`closeframe.store`) and on a
        re-run fetch only what it lacks: ``True`` uses ``$CLOSEFRAME_CACHE`` or ``~/.cache/closeframe``, a path
        that folder; ``None`` (default) no store. Windows are written as they complete, each in one transaction,
        so an interrupted load resumes where it stopped; while stored rows may be stale every load warns
        (:class:`~closeframe.EventRefreshWarning`) and ``frame.attrs["stale_since"]`` says since when.
    refresh : bool, default False
        With ``cache``: ignore what is cached and load everything again (and cache it).
    lookback : str, Timedelta, number of days or None, default "30D"
        With ``cache``: the cached {what} created within this span before the newest cached one are fetched
        again, because an outcome can be set on an activity long after it was created. ``None``: only new ones.

    Returns
    -------
    pandas.DataFrame
        The typed frame of :func:`closeframe.shape.frames.{frame}`.
"""


def load_calls(api_key: Any = None, *, token: Any = None, base_url: str | None = None, since: Any = None,
               until: Any = None, fields: Sequence[str] | str | None = None, progress: bool | None = None,
               on_error: str = "raise", filters: Mapping[str, Any] | None = None,
               client_options: Mapping[str, Any] | None = None, cache: Any = None, refresh: bool = False,
               lookback: Any = DEFAULT_LOOKBACK) -> pd.DataFrame:
    return _load_activities("call", calls_frame, api_key, token, base_url, since, until, fields, progress,
                            on_error, filters, client_options, cache, refresh, lookback)


def load_meetings(api_key: Any = None, *, token: Any = None, base_url: str | None = None, since: Any = None,
                  until: Any = None, fields: Sequence[str] | str | None = None, progress: bool | None = None,
                  on_error: str = "raise", filters: Mapping[str, Any] | None = None,
                  client_options: Mapping[str, Any] | None = None, cache: Any = None, refresh: bool = False,
                  lookback: Any = DEFAULT_LOOKBACK) -> pd.DataFrame:
    return _load_activities("meeting", meetings_frame, api_key, token, base_url, since, until, fields, progress,
                            on_error, filters, client_options, cache, refresh, lookback)


load_calls.__doc__ = "Load every call of one or several organizations (with its ``outcome_id``).\n" + \
    _SHARED_DOC.format(what="calls", frame="calls_frame")
load_meetings.__doc__ = "Load every meeting of one or several organizations (with its ``outcome_id``).\n" + \
    _SHARED_DOC.format(what="meetings", frame="meetings_frame")
