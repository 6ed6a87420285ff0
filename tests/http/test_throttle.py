"""Issue 10 items 13 and 14: rate-limit waits are bounded and stoppable; threads of one key stay under the limit.

Against the sandbox's token buckets over real sockets; the Ctrl-C case runs the command line as its own process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import closeframe as cf
from closeframe.http.ratelimit import Throttle, ThrottleWaitTooLong
from tests.guards import wall_clock_limit

ROOT = Path(__file__).resolve().parents[2]
LOADERS = {"outcomes": cf.load_outcomes, "calls": cf.load_calls, "meetings": cf.load_meetings}


def slow_sandbox(fresh_sandbox, per_second):
    # A bucket of one request refilled at 0.01/s: after the first request Close says "reset=100".
    return fresh_sandbox(organizations=[{"name": "Org", "outcomes": 250, "calls": 600, "meetings": 300}],
                         rate_limit=per_second, quirks=False)


@pytest.mark.parametrize("loader", LOADERS)
def test_a_rate_limit_wait_longer_than_max_wait_raises_at_once(fresh_sandbox, loader):
    sb = slow_sandbox(fresh_sandbox, 0.01)
    started = time.monotonic()
    with wall_clock_limit(20), pytest.raises(cf.RateLimitError) as info:
        LOADERS[loader](sb.api_keys["Org"], base_url=sb.base_url, progress=False, client_options={"max_wait": 5})
    assert time.monotonic() - started < 10
    assert "max_wait=5" in str(info.value) and "100 s" in str(info.value)


@pytest.mark.parametrize("kind", ["outcomes", "calls"])
def test_ctrl_c_ends_a_rate_limit_wait_at_once(fresh_sandbox, tmp_path, kind):
    sb = slow_sandbox(fresh_sandbox, 0.01)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSE_")}
    env.update(PYTHONPATH=str(ROOT), CLOSE_API_KEY=sb.api_keys["Org"], CLOSE_BASE_URL=sb.base_url)
    process = subprocess.Popen([sys.executable, "-m", "closeframe", "-q", "export", kind, "--out",
                                str(tmp_path / "out.csv")], env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while sb.stats.snapshot()["by_status"].get(200, 0) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)  # until the load is waiting on the 100 s reset
    time.sleep(1.0)
    process.send_signal(signal.SIGINT)
    interrupted = time.monotonic()
    try:
        _, stderr = process.communicate(timeout=15)
    finally:
        process.kill()
        process.wait()
    assert time.monotonic() - interrupted < 5
    assert process.returncode == 130 and "interrupted" in stderr and "Traceback" not in stderr


def _page_in_threads(sb, threads=8):
    dates = sorted(call["date_created"] for call in sb.store.calls("Org"))
    cuts = [dates[len(dates) * i // threads] for i in range(threads)] + [None]
    got, errors = [], []
    with cf.CloseClient(sb.api_keys["Org"], base_url=sb.base_url) as client:
        def page(low, high):
            params = {"date_created__gte": low, **({"date_created__lt": high} if high else {})}
            try:
                got.extend(r["id"] for r in client.paginate("activity/call/", params))
            except cf.CloseError as exc:
                errors.append(exc)

        workers = [threading.Thread(target=page, args=(cuts[i], cuts[i + 1])) for i in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    return got, errors


@pytest.mark.parametrize("per_second", [2, 10])
def test_threads_of_one_key_stay_under_the_rate_limit(fresh_sandbox, per_second):
    sb = fresh_sandbox(organizations=[{"name": "Org", "calls": 100 * 2 * per_second, "meetings": 0}],
                       rate_limit=per_second, quirks=False)
    with wall_clock_limit(60):
        got, errors = _page_in_threads(sb)
    assert errors == [] and sorted(got) == sorted(c["id"] for c in sb.store.calls("Org"))
    assert sb.stats.rate_limited == 0, sb.stats


def test_a_windowed_load_stays_under_the_rate_limit(fresh_sandbox):
    sb = fresh_sandbox(organizations=[{"name": "Org", "calls": 1500, "meetings": 0}], rate_limit=5, quirks=False)
    with wall_clock_limit(60):
        frame = cf.load_calls(sb.api_keys["Org"], base_url=sb.base_url, progress=False)
    assert sorted(frame["id"]) == sorted(c["id"] for c in sb.store.calls("Org"))
    assert sb.stats.rate_limited == 0, sb.stats


# -- the throttle alone, on a fake clock ---------------------------------------------------------------------------
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
    # The window sustains 10 requests per 2 s: one every 0.2 s, not all four at once.
    assert waits[0] == 0 and all(w == pytest.approx(0.2) for w in waits[1:])
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
