"""Parsing Close's rate-limit signals and holding requests back, without a network and without sleeping."""

from __future__ import annotations

import pytest
from requests.structures import CaseInsensitiveDict

from closeframe.ratelimit import (DEFAULT_RATE_LIMIT_WAIT, Throttle, ThrottleWaitTooLong, endpoint_group, parse_ratelimit,
                                  rate_limit_wait)


@pytest.mark.parametrize("header, expected", [
    ("limit=100, remaining=50, reset=5", (100, 50, 5)),
    ("limit=20, remaining=0, reset=0.25", (20, 0, 0.25)),
    ("reset=3,remaining=1,limit=9", (9, 1, 3)),
])
def test_parse_ratelimit(header, expected):
    info = parse_ratelimit(header)
    assert (info.limit, info.remaining, info.reset) == expected


@pytest.mark.parametrize("header", [None, "", "garbage"])
def test_malformed_header_is_ignored(header):
    assert parse_ratelimit(header) is None


@pytest.mark.parametrize("headers, body, expected", [
    ({"RateLimit": "limit=1, remaining=0, reset=3", "Retry-After": "9"}, {"error": {"rate_reset": 7}}, 3.0),
    ({"Retry-After": "9"}, {"error": {"rate_reset": 7}}, 9.0),
    ({}, {"error": {"rate_reset": 0.5, "message": "slow down"}}, 0.5),
    ({"Retry-After": "soon"}, None, DEFAULT_RATE_LIMIT_WAIT),
    ({}, "not json", DEFAULT_RATE_LIMIT_WAIT),
])
def test_rate_limit_wait_order_of_authority(headers, body, expected):
    assert rate_limit_wait(CaseInsensitiveDict(headers), body) == pytest.approx(expected)


def test_endpoint_group():
    assert endpoint_group("/activity/call/acti_1/") == "activity" == endpoint_group("activity/meeting/")
    assert endpoint_group("outcome/") == "outcome"


class FakeTime:
    """A clock that an injected sleep moves on, so the throttle is tested without sleeping."""

    def __init__(self):
        self.now, self.slept = 100.0, []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)


def test_throttle_waits_only_when_the_window_is_spent():
    fake = FakeTime()
    throttle = Throttle(clock=fake.clock, sleep=fake.sleep)
    assert throttle.acquire("outcome") == 0  # nothing known yet: one request goes to learn the numbers
    throttle.update("outcome", {"RateLimit": "limit=2, remaining=1, reset=4"})
    assert throttle.acquire("outcome") == 0  # one left: it goes, and takes it
    throttle.update("outcome", {"RateLimit": "limit=2, remaining=0, reset=4"})
    assert throttle.acquire("outcome") == pytest.approx(4.0)
    assert fake.slept == [pytest.approx(4.0)] and throttle.waited == pytest.approx(4.0)
    assert throttle.acquire("activity") == 0  # other groups were never held


def test_throttle_counts_requests_in_flight_and_spreads_them():
    fake = FakeTime()
    throttle = Throttle(clock=fake.clock, sleep=fake.sleep)
    throttle.acquire("activity")
    throttle.update("activity", {"RateLimit": "limit=10, remaining=4, reset=2"})
    waits = [throttle.acquire("activity") for _ in range(4)]  # four go, none answered yet
    assert waits[0] == 0 and all(w == pytest.approx(0.5) for w in waits[1:])  # 4 in 2 s: one every 0.5 s
    # An answer says 3 remain, but three other requests are still in flight: they will take them.
    throttle.update("activity", {"RateLimit": "limit=10, remaining=3, reset=1"})
    assert throttle.delay("activity") == pytest.approx(1.0)


def test_throttle_never_waits_longer_than_allowed():
    fake = FakeTime()
    throttle = Throttle(clock=fake.clock, sleep=fake.sleep)
    throttle.acquire("me")
    throttle.update("me", {"RateLimit": "limit=10, remaining=0, reset=100"})
    with pytest.raises(ThrottleWaitTooLong) as info:
        throttle.acquire("me", max_wait=5)
    assert info.value.seconds == pytest.approx(100) and fake.slept == []


def test_throttle_block_after_429():
    fake = FakeTime()
    throttle = Throttle(clock=fake.clock, sleep=fake.sleep)
    throttle.block("me", 1.5)
    assert throttle.delay("me") == pytest.approx(1.5)
    fake.now += 2.0
    assert throttle.delay("me") == 0
