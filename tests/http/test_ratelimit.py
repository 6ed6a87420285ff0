"""Parsing Close's rate-limit signals and holding requests back, without a network and without sleeping."""

from __future__ import annotations

import pytest
from requests.structures import CaseInsensitiveDict

from closeframe.http.ratelimit import DEFAULT_RATE_LIMIT_WAIT, endpoint_group, parse_ratelimit, rate_limit_wait


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
