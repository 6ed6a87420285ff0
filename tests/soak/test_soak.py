"""Soak at CI size: 10 accounts loading at once from one sandbox, 30 % of requests faulted, every frame exact."""

from __future__ import annotations

import pytest

from bench.soak import run_soak
from tests.guards import wall_clock_limit

#: A hang guard, not a speed target (speed lives in bench/): the CI-size soak takes ~10-20 s.
WALL_CLOCK_LIMIT = 120
#: Generous: the frames of ~5,000 records plus pages in flight take a few MB.
PEAK_MEMORY_MB = 200


@pytest.fixture
def wall_clock_guard():
    with wall_clock_limit(WALL_CLOCK_LIMIT):
        yield


def test_ten_accounts_under_thirty_percent_faults_load_exactly(wall_clock_guard, capsys):
    figures = run_soak(accounts=10, outcomes=120, calls=300, meetings=100, fault_rate=0.3)
    with capsys.disabled():
        print(f"\nsoak: {figures}")
    assert figures["exact"] and figures["sandbox_errors"] == []
    assert figures["records"] == 10 * (120 + 300 + 100)
    assert 0.15 < figures["fault_share"] < 0.45  # the faults really were injected, at about the asked rate
    assert figures["peak_mb"] < PEAK_MEMORY_MB
