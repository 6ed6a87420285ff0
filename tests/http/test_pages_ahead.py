"""Outcome pages asked for several at once (paginate_verified(ahead=...)): each record once, few requests.

Against the sandbox over a real socket; faults insert or delete records while the pages of one wave are answered.
"""

from __future__ import annotations

import pytest

import closeframe as cf
from closeframe.http.paging import paginate_verified
from closeframe.load.outcomes import OUTCOME_PAGES_AHEAD


def _sandbox(fresh_sandbox, outcomes, **options):
    return fresh_sandbox(organizations=[{"name": "Org", "outcomes": outcomes, "calls": 0, "meetings": 0}],
                         quirks=False, **options)


@pytest.mark.parametrize("count", [0, 1, 100, 101, 199, 250, 298, 300, 397, 398, 1000])
def test_pages_asked_ahead_load_each_outcome_once_in_few_requests(fresh_sandbox, count):
    sb = _sandbox(fresh_sandbox, count)
    frame = cf.load_outcomes(sb.api_keys["Org"], base_url=sb.base_url, progress=False)
    assert sorted(frame["id"]) == sorted(r["id"] for r in sb.store.outcomes("Org"))
    # The first page reads 100, each later one 99 new records (it opens with the last record read); the last
    # wave may ask for pages past the end, at most OUTCOME_PAGES_AHEAD - 1 of them.
    needed = 1 + max(0, -(-(count - 100) // 99))
    pages = sb.stats.snapshot()["by_path"]["/outcome/"]
    assert needed <= pages <= needed + OUTCOME_PAGES_AHEAD - 1


@pytest.mark.parametrize("faults", [
    ("pass", "shift", "shift", "shift"),           # a record inserted at the front before each page of the wave
    ("pass", "pass", "shift", "pass", "shift"),
    ("pass", "delete"),                              # the first record deleted: the wave no longer fits
    ("pass", "pass", "delete"),
    ("pass", "pass", "pass", "delete"),
])
def test_records_changing_under_a_wave_are_neither_lost_nor_repeated(fresh_sandbox, faults):
    sb = _sandbox(fresh_sandbox, 450)
    before = {r["id"] for r in sb.store.outcomes("Org")}
    sb.faults.script(*faults, path="/outcome/")
    with cf.CloseClient(sb.api_keys["Org"], base_url=sb.base_url) as client:
        ids = [r["id"] for r in paginate_verified(client, "outcome/", ahead=OUTCOME_PAGES_AHEAD)]
    after = {r["id"] for r in sb.store.outcomes("Org")}
    assert len(ids) == len(set(ids))
    assert before & after <= set(ids) <= before | after
