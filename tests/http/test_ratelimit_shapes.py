"""Every rate-limit shape seen on real Close answers is read, ahead of time and on a 429."""

from __future__ import annotations

import pytest
from requests.structures import CaseInsensitiveDict

import closeframe as cf
from closeframe.http.client import CloseClient
from closeframe.http.ratelimit import (DEFAULT_RATE_LIMIT_WAIT, RATE_LIMIT_SHAPES, Throttle, rate_limit_shape,
                                  rate_limit_wait, read_ratelimit)
from closeframe.sandbox.ratelimit import HEADER_SHAPES


@pytest.mark.parametrize("headers, expected", [
    ({"RateLimit": "limit=100, remaining=50, reset=5"}, (100, 50, 5, "combined")),
    ({"RateLimit-Limit": "60", "RateLimit-Remaining": "0", "RateLimit-Reset": "2"}, (60, 0, 2, "separate")),
    ({"ratelimit-limit": "60", "ratelimit-remaining": "3", "ratelimit-reset": "0.5"}, (60, 3, 0.5, "separate")),
    ({"X-Rate-Limit-Limit": "40", "X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": "1"},
     (40, 0, 1, "x-rate-limit")),
])
def test_read_ratelimit_every_header_shape(headers, expected):
    info = read_ratelimit(CaseInsensitiveDict(headers))
    assert (info.limit, info.remaining, info.reset, info.shape) == expected


def test_reset_given_as_a_unix_time_becomes_seconds():
    info = read_ratelimit({"X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": "1700000010"},
                          now=lambda: 1_700_000_000.0)
    assert info.reset == pytest.approx(10.0)


def test_no_or_garbage_headers_read_as_nothing():
    assert read_ratelimit({}) is None
    assert read_ratelimit({"RateLimit-Reset": "soon", "X-Rate-Limit-Limit": ""}) is None


@pytest.mark.parametrize("headers, body, wait, shape", [
    ({"RateLimit-Remaining": "0", "RateLimit-Reset": "3"}, None, 3.0, "separate"),
    ({"X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": "4"}, {}, 4.0, "x-rate-limit"),
    ({}, {"rate_reset": "1.25", "rate_limit_type": "api_key", "rate_window": 1}, 1.25, "body-top-level"),
    ({}, {"error": {"rate_reset": 0.5}}, 0.5, "body-error"),
    ({"Retry-After": "2"}, None, 2.0, "retry-after"),
    ({}, None, DEFAULT_RATE_LIMIT_WAIT, "none"),
    ({}, {"rate_reset": "soon"}, DEFAULT_RATE_LIMIT_WAIT, "none"),
])
def test_429_wait_and_shape_from_every_recorded_shape(headers, body, wait, shape):
    assert rate_limit_wait(CaseInsensitiveDict(headers), body) == pytest.approx(wait)
    assert rate_limit_shape(CaseInsensitiveDict(headers), body) == shape
    assert shape in RATE_LIMIT_SHAPES


@pytest.mark.parametrize("headers", [
    {"RateLimit-Limit": "2", "RateLimit-Remaining": "0", "RateLimit-Reset": "4"},
    {"X-Rate-Limit-Limit": "2", "X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": "4"},
])
def test_throttle_holds_back_on_the_older_headers(headers):
    now = [0.0]
    throttle = Throttle(clock=lambda: now[0], sleep=lambda s: None)
    throttle.update("activity", CaseInsensitiveDict(headers))
    assert throttle.delay("activity") == pytest.approx(4.0)


@pytest.mark.parametrize("shape", HEADER_SHAPES)
def test_sandbox_sends_the_header_shape(fresh_sandbox, shape):
    sb = fresh_sandbox(organizations=1, calls=10, meetings=2, rate_limit=5, rate_limit_headers=shape)
    with CloseClient(next(iter(sb.api_keys.values())), base_url=sb.base_url) as client:
        response = client.session.get(client.url("me/"))
    info = read_ratelimit(response.headers)
    if shape == "none":
        assert info is None
    else:
        assert info.shape == shape and info.limit == 5 and info.remaining is not None


@pytest.mark.parametrize("headers, body", [("combined", "error"), ("separate", "error"),
                                           ("x-rate-limit", "error"), ("x-rate-limit", "top-level"),
                                           ("none", "error"), ("none", "top-level")])
def test_load_complete_under_a_tight_limit_in_every_shape(fresh_sandbox, headers, body):
    sb = fresh_sandbox(seed=5, organizations=1, calls=700, meetings=20, rate_limit=10, rate_limit_headers=headers,
                       rate_limit_body=body)
    frame = cf.load_calls(sb.api_keys, base_url=sb.base_url, progress=False)
    assert sorted(frame["id"]) == sorted(c["id"] for c in sb.store.calls(next(iter(sb.api_keys))))
    limited = sb.stats.by_status.get(429, 0)
    if headers != "none":
        # Read ahead of time, the headers leave at most the 429 of the first concurrent burst.
        assert limited <= 2, (headers, limited)


def test_429_with_the_older_top_level_body_waits_what_it_says(fresh_sandbox):
    sb = fresh_sandbox(organizations=1, calls=5, meetings=1)
    sb.faults.script({"kind": "429-top-level", "reset": 0.3}, path="outcome/")
    with CloseClient(next(iter(sb.api_keys.values())), base_url=sb.base_url) as client:
        client.get("outcome/")
        assert client.rate_limit_waited == pytest.approx(0.3)


def test_empty_bodied_504_is_retried(fresh_sandbox):
    sb = fresh_sandbox(organizations=1, calls=5, meetings=1)
    sb.faults.script("504-empty", "504-empty", path="outcome/")
    frame = cf.load_outcomes(sb.api_keys, base_url=sb.base_url, progress=False,
                             client_options={"backoff": 0.01})
    assert sorted(frame["id"]) == sorted(o["id"] for o in sb.store.outcomes(next(iter(sb.api_keys))))
    assert sb.stats.by_status[504] == 2
