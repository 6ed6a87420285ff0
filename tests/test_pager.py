"""paginate_ahead and the activity listing past the _skip cap, against the sandbox over HTTP."""

from __future__ import annotations

import pytest

import closeframe as cf
from closeframe.pager import paginate_ahead


def _client(sb, name):
    return cf.CloseClient(sb.api_keys[name], base_url=sb.base_url)


@pytest.mark.parametrize("count", [0, 99, 100, 250, 300])
def test_pages_ahead_yield_the_listing_in_order_with_at_most_one_extra_request(fresh_sandbox, count):
    sb = fresh_sandbox(organizations=[{"name": "Org", "outcomes": count}], rate_limit=None)
    with _client(sb, "Org") as client:
        records = list(paginate_ahead(client, "outcome/"))
    assert [r["id"] for r in records] == [r["id"] for r in sb.store.outcomes("Org")]
    pages = sb.stats.snapshot()["by_path"]["/outcome/"]
    minimum = max(1, -(-count // 100))
    assert minimum <= pages <= minimum + 1


def test_page_ahead_past_the_skip_cap_is_dropped_when_the_listing_ends_before_it(fresh_sandbox):
    # 250 outcomes with max_skip=200: pages 0, 100, 200 are the listing; the guess at 300 is refused by the cap.
    sb = fresh_sandbox(organizations=[{"name": "Org", "outcomes": 250}], max_skip=200, rate_limit=None)
    with _client(sb, "Org") as client:
        records = list(paginate_ahead(client, "outcome/", fields=["id", "name"]))
    assert [r["id"] for r in records] == [r["id"] for r in sb.store.outcomes("Org")]
    assert set(records[0]) == {"id", "name"}


def test_skip_cap_within_the_listing_is_raised(fresh_sandbox):
    sb = fresh_sandbox(organizations=[{"name": "Org", "outcomes": 350}], max_skip=200, rate_limit=None)
    with _client(sb, "Org") as client, pytest.raises(cf.errors.SkipCapError):
        list(paginate_ahead(client, "outcome/"))


@pytest.mark.parametrize("fields", [None, ["id", "outcome_id"]])
def test_calls_past_the_skip_cap_load_once_each(fresh_sandbox, fields):
    # Without date_created in the fields the listing's order cannot be checked: the window is split instead.
    sb = fresh_sandbox(organizations=[{"name": "Org", "calls": 1234, "meetings": 0}], max_skip=300,
                       rate_limit=None)
    df = cf.load_calls(sb.api_keys["Org"], base_url=sb.base_url, fields=fields, progress=False)
    expected = [r["id"] for r in sb.store.activity_page("Org", "call", 0, 10**9)[0]]
    assert sorted(df["id"]) == sorted(expected) and df["id"].is_unique
