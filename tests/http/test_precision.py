"""The newest-first pager loses nothing whatever precision Close's date filters compare at, bursts or not.

Every test talks to the sandbox over HTTP. Expectations come from the sandbox's store, never from the pager.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

import closeframe as cf
from closeframe.http.client import CloseClient
from closeframe.http.paging import DateBounds, paginate_newest_first
from closeframe.sandbox import serve
from closeframe.sandbox.common import parse_us

PRECISIONS = ("microsecond", "millisecond", "second")
ROUNDINGS = ("bucket", "value")
#: No burst; one burst of 2.5 pages at one instant; three bursts around a page each; a dialer's 400 calls in a
#: minute (several per second, milliseconds apart).
BURSTS = {"none": (), "one-250": (250,), "three-99-100-101": (99, 100, 101), "dialer-400-in-60s": ((400, 60),)}


@pytest.fixture(scope="module", params=list(BURSTS))
def burst_sandbox(request):
    with serve(seed=11, organizations=1, calls=900, meetings=10, rate_limit=None, bursts=BURSTS[request.param],
               max_skip=300) as sb:
        yield sb


def _org(sb) -> str:
    return next(iter(sb.api_keys))


@pytest.mark.parametrize("rounding", ROUNDINGS)
@pytest.mark.parametrize("precision", PRECISIONS)
def test_every_call_once_at_every_precision_and_burst(burst_sandbox, precision, rounding):
    sb = burst_sandbox
    sb.set_filter_precision(precision, rounding)
    sb.stats.reset()
    with CloseClient(sb.api_keys[_org(sb)], base_url=sb.base_url) as client:
        ids = [r["id"] for r in paginate_newest_first(client, "activity/call/")]
    expected = [r["id"] for r in sb.store.calls(_org(sb))]
    assert len(ids) == len(set(ids))
    assert sorted(ids) == sorted(expected)
    # _skip never passes the cap (300, a third of the listing): no full offset scan, no 400.
    assert sb.stats.by_status.get(400, 0) == 0


@pytest.mark.parametrize("rounding", ROUNDINGS)
@pytest.mark.parametrize("precision", PRECISIONS)
def test_bounds_are_exact_at_every_precision(burst_sandbox, precision, rounding):
    """A window with sub-second bounds returns exactly the calls in it, though Close compares more coarsely."""
    sb = burst_sandbox
    sb.set_filter_precision(precision, rounding)
    calls = sb.store.calls(_org(sb))
    # Bounds on a call's own date (fraction and all) and 1 µs beside another's: the edges matter.
    start = calls[600]["date_created"]
    end_us = parse_us(calls[200]["date_created"]) + 1
    end = (datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=end_us)).isoformat()
    with CloseClient(sb.api_keys[_org(sb)], base_url=sb.base_url) as client:
        ids = [r["id"] for r in paginate_newest_first(
            client, "activity/call/", {"date_created__gte": start, "date_created__lt": end})]
    expected = [c["id"] for c in calls if parse_us(start) <= parse_us(c["date_created"]) < end_us]
    assert sorted(ids) == sorted(expected)
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("precision", PRECISIONS)
def test_load_calls_since_until_exact_with_bursts(fresh_sandbox, precision):
    sb = fresh_sandbox(seed=12, organizations=1, calls=700, meetings=5, bursts=(130, 130), filter_precision=precision)
    calls = sb.store.calls(_org(sb))
    since, until = calls[500]["date_created"], calls[20]["date_created"]
    frame = cf.load_calls(sb.api_keys, base_url=sb.base_url, since=since, until=until, progress=False)
    expected = [c["id"] for c in calls if parse_us(since) <= parse_us(c["date_created"]) < parse_us(until)]
    assert sorted(frame["id"]) == sorted(expected)
    assert frame["date_created"].is_monotonic_decreasing


@pytest.mark.parametrize("precision", PRECISIONS)
def test_no_extra_requests_but_the_last_page_without_bursts(fresh_sandbox, precision):
    sb = fresh_sandbox(seed=13, organizations=1, calls=6000, meetings=5, bursts=(), filter_precision=precision)
    sb.stats.reset()
    with CloseClient(sb.api_keys[_org(sb)], base_url=sb.base_url) as client:
        ids = [r["id"] for r in paginate_newest_first(client, "activity/call/")]
    assert len(ids) == 6000 == len(set(ids))
    minimum = math.ceil(6000 / 100)
    by_path = sb.stats.snapshot()["by_path"]
    # The records of a page's last second are skipped, not read again, while the event log is readable: the
    # last, partial page is the only one beyond the minimum, plus two questions to the log (at the start, at
    # the end: was any skipped record deleted?).
    assert by_path["/activity/call/"] <= minimum + 1, (by_path, minimum)
    assert by_path.get("/event/", 0) <= 2, by_path


def test_dense_dialer_seconds_lose_nothing(fresh_sandbox):
    """Second-precision dates: several calls in most seconds, and pages that end inside a crowded second."""
    sb = fresh_sandbox(seed=14, organizations=1, calls=1200, meetings=5, bursts=(40,) * 20,
                       date_resolution="second", filter_precision="second")
    with CloseClient(sb.api_keys[_org(sb)], base_url=sb.base_url) as client:
        ids = [r["id"] for r in paginate_newest_first(client, "activity/call/")]
    assert sorted(ids) == sorted(r["id"] for r in sb.store.calls(_org(sb)))


def test_meetings_with_future_and_manual_starts(fresh_sandbox):
    sb = fresh_sandbox(seed=15, organizations=1, calls=5, meetings=800, filter_precision="second")
    frame = cf.load_meetings(sb.api_keys, base_url=sb.base_url, progress=False)
    assert sorted(frame["id"]) == sorted(r["id"] for r in sb.store.meetings(_org(sb)))


def test_date_bounds_widen_to_whole_seconds():
    bounds, rest = DateBounds.from_params({"date_created__gte": "2025-01-01T10:00:00.250000+00:00",
                                           "date_created__lte": "2025-01-01T10:00:05.500+00:00", "user_id": "u"})
    assert rest == {"user_id": "u"}
    assert bounds.server_low == datetime(2025, 1, 1, 10, 0, 0, tzinfo=timezone.utc)
    assert bounds.server_high == datetime(2025, 1, 1, 10, 0, 6, tzinfo=timezone.utc)
    assert bounds.keeps(datetime(2025, 1, 1, 10, 0, 5, 500000, tzinfo=timezone.utc))
    assert not bounds.keeps(datetime(2025, 1, 1, 10, 0, 0, 249999, tzinfo=timezone.utc))
    whole, _ = DateBounds.from_params({"date_created__lt": "2025-01-01T10:00:05+00:00"})
    assert whole.server_high == datetime(2025, 1, 1, 10, 0, 5, tzinfo=timezone.utc)
    # A value that is not a date stays a filter for Close to judge.
    odd, rest = DateBounds.from_params({"date_created__gt": "yesterday"})
    assert rest == {"date_created__gt": "yesterday"} and odd.low is None


def test_frame_dates_keep_milliseconds(fresh_sandbox):
    sb = fresh_sandbox(seed=16, organizations=1, calls=50, meetings=5)
    frame = cf.load_calls(sb.api_keys, base_url=sb.base_url, progress=False)
    stored = pd.to_datetime([c["date_created"] for c in sb.store.calls(_org(sb))], utc=True)
    assert sorted(frame["date_created"]) == sorted(stored)
    assert (stored.microsecond % 1000 == 0).all() and (stored.microsecond != 0).any()


def test_without_the_event_log_the_last_second_is_read_again(fresh_sandbox):
    sb = fresh_sandbox(seed=13, organizations=1, calls=12_000, meetings=5, bursts=())
    sb.store.events.access = "none"  # the plan or the key cannot read GET /event/
    sb.stats.reset()
    with CloseClient(sb.api_keys[_org(sb)], base_url=sb.base_url) as client:
        ids = [r["id"] for r in paginate_newest_first(client, "activity/call/")]
    assert sorted(ids) == sorted(c["id"] for c in sb.store.calls(_org(sb)))
    by_path = sb.stats.snapshot()["by_path"]
    assert by_path["/event/"] == 1 and by_path["/activity/call/"] > math.ceil(12_000 / 100) + 1  # re-reading


@pytest.mark.parametrize("request_number", [4, 6, 9])
def test_a_skipped_record_deleted_between_two_pages_is_made_up_for(fresh_sandbox, request_number, caplog):
    import logging
    import time

    caplog.set_level(logging.INFO, logger="closeframe.http.paging")
    sb = fresh_sandbox(seed=13, organizations=1, calls=1500, meetings=5, bursts=(), latency=0.02)
    org = _org(sb)
    before = {c["id"] for c in sb.store.calls(org)}
    # The "delete" fault removes the newest record of the listing asked for: the record the page skips.
    sb.faults.script(*["pass"] * (request_number - 1), "delete", path="/activity/call/")
    with CloseClient(sb.api_keys[org], base_url=sb.base_url) as client:
        pager = paginate_newest_first(client, "activity/call/")
        ids = [next(pager)["id"]]
        time.sleep(0.3)  # the log has answered by now: later pages skip instead of reading again
        ids += [r["id"] for r in pager]
    after = {c["id"] for c in sb.store.calls(org)}
    assert len(before - after) == 1 and len(ids) == len(set(ids))
    assert before & after <= set(ids) <= before
    assert "skipped as read was deleted" in caplog.text  # the skip passed over a record: made up for at the end


def test_a_page_out_of_order_late_in_the_listing_switches_to_offsets_without_repeats(fresh_sandbox, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="closeframe.http.paging")
    sb = fresh_sandbox(seed=13, organizations=1, calls=1500, meetings=5, bursts=())
    org = _org(sb)
    # Seven pages read newest first (their older ids packed away), then a page out of order.
    sb.faults.script(*["pass"] * 7, "reversed", path="/activity/call/")
    with CloseClient(sb.api_keys[org], base_url=sb.base_url) as client:
        ids = [r["id"] for r in paginate_newest_first(client, "activity/call/")]
    assert "paging it by offset" in caplog.text
    assert len(ids) == len(set(ids)) and set(ids) == {c["id"] for c in sb.store.calls(org)}
