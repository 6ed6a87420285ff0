"""Issue 10, the loaders: nothing lost on a failure, nothing counted twice, bad input refused at the door.

Every expectation is computed from the sandbox's store (or its request counters), never from the code under test.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

import closeframe as cf
from tests.guards import wall_clock_limit

LOADERS = {"outcomes": cf.load_outcomes, "calls": cf.load_calls, "meetings": cf.load_meetings}
PATHS = {"outcomes": "/outcome/", "calls": "/activity/call/", "meetings": "/activity/meeting/"}
ORG = "Org"


def store_records(sb, loader, org=ORG):
    return {"outcomes": sb.store.outcomes, "calls": sb.store.calls, "meetings": sb.store.meetings}[loader](org)


def big_sandbox(fresh_sandbox, *names):
    specs = [{"name": name, "outcomes": 700, "calls": 1500, "meetings": 1500} for name in names or (ORG,)]
    return fresh_sandbox(organizations=specs, quirks=False)


def pages_answered(sb, loader):
    """Successful page answers of the listing: each of them handed over up to 100 records."""
    # /me/ and the event log (asked whether a record skipped as read was deleted) hand over no record.
    return sb.stats.by_status.get(200, 0) - sum(n for path, n in sb.stats.by_path.items()
                                                 if path in ("/me/", "/event/"))


# -- item 1: .partial holds every record that arrived ---------------------------------------------------------------
@pytest.mark.parametrize("loader", LOADERS)
def test_partial_holds_every_record_that_arrived(fresh_sandbox, loader):
    sb = big_sandbox(fresh_sandbox)
    # /me/, six pages (and, for calls and meetings, two questions to the event log) succeed, then the key is revoked
    sb.faults.revoke_after(sb.api_keys[ORG], 7 if loader == "outcomes" else 9)
    with pytest.raises(cf.AuthenticationError) as info:
        LOADERS[loader](sb.api_keys[ORG], base_url=sb.base_url, progress=False)
    partial = list(info.value.partial["id"])
    pages = pages_answered(sb, loader)
    assert pages >= 5
    assert len(partial) == len(set(partial)) and set(partial) <= {r["id"] for r in store_records(sb, loader)}
    # Every full page that arrived is kept (each window's last page may be short: at most one per window).
    assert len(partial) >= 100 * (pages - 2), (len(partial), pages)
    assert f"{len(partial)} {loader} loaded before this failure" in " ".join(info.value.__notes__)


@pytest.mark.parametrize("loader", ["calls", "meetings"])
def test_partial_of_a_failed_account_among_several_keeps_what_arrived(fresh_sandbox, loader):
    sb = big_sandbox(fresh_sandbox, ORG, "Healthy")
    sb.faults.revoke_after(sb.api_keys[ORG], 8)  # /me/, two questions to the event log, five pages
    with pytest.raises(cf.PartialLoadError) as info:
        LOADERS[loader]({"broken": sb.api_keys[ORG], "healthy": sb.api_keys["Healthy"]}, base_url=sb.base_url,
                        progress=False)
    broken = info.value.failed["broken"]
    arrived = list(broken.partial["id"])
    assert len(arrived) >= 300 and len(arrived) == len(set(arrived))
    assert set(arrived) <= {r["id"] for r in store_records(sb, loader)}
    assert sorted(info.value.partial["id"]) == sorted(r["id"] for r in store_records(sb, loader, "Healthy"))


# -- item 3: one organization given twice is never counted twice ----------------------------------------------------
@pytest.mark.parametrize("keys", [
    lambda k: [k, k],
    lambda k: {1: k, "1": k},
    lambda k: {"a": k, "b": " " + k},
])
def test_the_same_key_twice_is_refused_before_any_request(sandbox, keys):
    key = next(iter(sandbox.api_keys.values()))
    before = sandbox.stats.requests
    with pytest.raises(cf.ConfigurationError) as info:
        cf.load_calls(keys(key), base_url=sandbox.base_url, progress=False)
    assert key not in str(info.value) and "twice" in str(info.value)
    assert sandbox.stats.requests == before


@pytest.mark.parametrize("loader", LOADERS)
def test_two_keys_of_one_organization_load_it_once(fresh_sandbox, loader):
    sb = fresh_sandbox(organizations=[{"name": ORG, "outcomes": 30, "calls": 300, "meetings": 200}],
                       keys_per_org=2, quirks=False)
    first, second = sb.keys_for(ORG)
    with pytest.warns(cf.DuplicateOrganizationWarning, match="'alice'.*'bob'"):
        frame = LOADERS[loader]({"alice": first, "bob": second}, base_url=sb.base_url, progress=False)
    assert sorted(frame["id"]) == sorted(r["id"] for r in store_records(sb, loader))
    assert set(frame["account"]) == {"alice"}


def test_usage_of_one_organization_given_twice_counts_once(fresh_sandbox):
    sb = fresh_sandbox(organizations=[{"name": ORG, "outcomes": 20, "calls": 300, "meetings": 100}],
                       keys_per_org=2, quirks=False)
    keys = sb.keys_for(ORG)
    with pytest.warns(cf.DuplicateOrganizationWarning):
        frames = [load(keys, base_url=sb.base_url, progress=False) for load in LOADERS.values()]
    usage = cf.outcome_usage(*frames)
    for kind in ("calls", "meetings"):
        expected = Counter(r["outcome_id"] for r in store_records(sb, kind) if r.get("outcome_id"))
        got = usage.groupby("outcome_id", observed=True)[kind].sum()
        assert {oid: int(got.get(oid, 0)) for oid in expected} == dict(expected)


# -- item 4: date filters in filters= are honoured ------------------------------------------------------------------
@pytest.mark.parametrize("filters, keep", [
    ({"date_created__gte": "2030-01-01"}, lambda d: d >= pd.Timestamp("2030-01-01", tz="UTC")),
    ({"date_created__gte": "2026-03-01", "date_created__lt": "2026-06-01"},
     lambda d: (d >= pd.Timestamp("2026-03-01", tz="UTC")) & (d < pd.Timestamp("2026-06-01", tz="UTC"))),
    ({"date_created__gt": "2025-12-01T00:00:00+00:00", "date_created__lte": "2026-02-01T00:00:00+00:00"},
     lambda d: (d > pd.Timestamp("2025-12-01", tz="UTC")) & (d <= pd.Timestamp("2026-02-01", tz="UTC"))),
])
@pytest.mark.parametrize("loader", ["calls", "meetings"])
def test_date_filters_passed_in_filters_are_honoured(sandbox, loader, filters, keep):
    name, key = next(iter(sandbox.api_keys.items()))
    frame = LOADERS[loader](key, base_url=sandbox.base_url, progress=False, filters=filters)
    records = store_records(sandbox, loader, name)
    dates = pd.to_datetime(pd.Series([r["date_created"] for r in records]), utc=True, format="ISO8601")
    expected = {r["id"] for r, kept in zip(records, keep(dates)) if kept}
    assert sorted(frame["id"]) == sorted(expected)


def test_date_filters_and_since_together_take_the_narrower_range(sandbox):
    name, key = next(iter(sandbox.api_keys.items()))
    frame = cf.load_calls(key, base_url=sandbox.base_url, progress=False, since="2026-01-01",
                          filters={"date_created__gte": "2026-04-01"})
    assert len(frame) > 0 and frame["date_created"].min() >= pd.Timestamp("2026-04-01", tz="UTC")


# -- item 5: the identity fields are always asked for ---------------------------------------------------------------
@pytest.mark.parametrize("loader, fields", [("outcomes", ["name", "type"]), ("calls", ["outcome_id"]),
                                            ("meetings", ["outcome_id", "title"])])
def test_fields_subset_still_carries_the_organization(sandbox, loader, fields):
    name, key = next(iter(sandbox.api_keys.items()))
    frame = LOADERS[loader](key, base_url=sandbox.base_url, fields=fields, progress=False)
    assert len(frame) > 0
    assert set(frame["organization_id"].astype(object)) == {sandbox.store.org_id(name)}


def test_outcome_usage_of_a_fields_subset_marks_nothing_deleted_wrongly(sandbox):
    name, key = next(iter(sandbox.api_keys.items()))
    outcomes = cf.load_outcomes(key, base_url=sandbox.base_url, fields=["name", "type"], progress=False)
    calls = cf.load_calls(key, base_url=sandbox.base_url, progress=False, since="2026-06-01")
    meetings = cf.load_meetings(key, base_url=sandbox.base_url, progress=False, since="2026-06-01")
    usage = cf.outcome_usage(outcomes, calls, meetings)
    live = {o["id"] for o in sandbox.store.outcomes(name)}
    assert usage["organization_id"].notna().all()
    assert not usage.loc[usage["outcome_id"].isin(live), "deleted"].any()


# -- item 12: keys that cannot travel in a header -------------------------------------------------------------------
BAD_SECRETS = ["api_Secret\nInjected000000000000", "api_Secret\r\nX-Evil: 1000000", "api_Sécret\u2603000000000000",
               "api_Sec ret00000000000000000"]


@pytest.mark.parametrize("secret", BAD_SECRETS)
@pytest.mark.parametrize("kind", ["api_key", "token"])
def test_a_key_that_cannot_be_sent_is_refused_without_showing_it(sandbox, secret, kind):
    before = sandbox.stats.requests
    with pytest.raises(cf.ConfigurationError) as info:
        cf.load_outcomes(**{kind: secret}, base_url=sandbox.base_url, progress=False)
    told = str(info.value) + " ".join(getattr(info.value, "__notes__", [])) + repr(info.value)
    assert "Secret" not in told and "Sécret" not in told and "\n" not in str(info.value)
    assert sandbox.stats.requests == before
    with pytest.raises(cf.ConfigurationError):
        cf.CloseClient(**{kind: secret}, base_url=sandbox.base_url)


def test_one_bad_key_among_good_ones_is_a_partial_load(sandbox):
    name, key = next(iter(sandbox.api_keys.items()))
    with pytest.raises(cf.PartialLoadError) as info:
        cf.load_outcomes({"good": key, "bad": BAD_SECRETS[0]}, base_url=sandbox.base_url, progress=False)
    assert info.value.loaded == ["good"] and isinstance(info.value.failed["bad"], cf.ConfigurationError)
    assert sorted(info.value.partial["id"]) == sorted(o["id"] for o in sandbox.store.outcomes(name))
    assert "Secret" not in str(info.value)


def test_a_masked_secret_never_shows_a_control_character():
    assert "\n" not in cf.errors.mask_secret("\napi_Secret000000000000")
    assert cf.errors.mask_secret("a\r\nbcdefghijklmnop").isprintable()


# -- item 15: bad arguments are refused before any request ----------------------------------------------------------
@pytest.mark.parametrize("loader", LOADERS)
@pytest.mark.parametrize("kwargs, named", [
    ({"base_url": 5}, "base_url"),
    ({"base_url": Path("/api/v1")}, "base_url"),
    ({"fields": 5}, "fields"),
    ({"fields": [5]}, "5"),
    ({"client_options": {"timeut": 5}}, "'timeut'"),
    ({"client_options": {"timeout": "5"}}, "timeout"),
    ({"client_options": {"timeout": -1}}, "timeout"),
    ({"client_options": {"max_retries": "many"}}, "max_retries"),
    ({"client_options": {"max_wait": None}}, "max_wait"),
    ({"client_options": [("timeout", 5)]}, "client_options"),
    ({"progress": "yes"}, "progress"),
])
def test_bad_arguments_are_refused_before_any_request(sandbox, loader, kwargs, named):
    key = next(iter(sandbox.api_keys.values()))
    before = sandbox.stats.requests
    with pytest.raises(cf.ConfigurationError) as info:
        LOADERS[loader](key, **{"base_url": sandbox.base_url, "progress": False, **kwargs})
    assert named in str(info.value)
    assert sandbox.stats.requests == before


@pytest.mark.parametrize("loader", ["calls", "meetings"])
@pytest.mark.parametrize("kwargs, named", [
    ({"filters": [("user_id", "x")]}, "filters"),
    ({"filters": {"_skip": 5}}, "_skip"),
    ({"filters": {"date_created__gte": "not a date"}}, "date_created__gte"),
    ({"refresh": "yes"}, "refresh"),
])
def test_bad_activity_arguments_are_refused_before_any_request(sandbox, loader, kwargs, named):
    key = next(iter(sandbox.api_keys.values()))
    before = sandbox.stats.requests
    with pytest.raises(cf.ConfigurationError) as info:
        LOADERS[loader](key, base_url=sandbox.base_url, progress=False, **kwargs)
    assert named in str(info.value)
    assert sandbox.stats.requests == before


@pytest.mark.parametrize("where", ["a file", "under a file"])
@pytest.mark.parametrize("loader", ["calls", "meetings"])
def test_an_unusable_cache_folder_is_refused_before_any_request(sandbox, tmp_path, loader, where):
    key = next(iter(sandbox.api_keys.values()))
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    cache = blocker if where == "a file" else blocker / "cache"
    before = sandbox.stats.requests
    with pytest.raises(cf.ConfigurationError) as info:
        LOADERS[loader](key, base_url=sandbox.base_url, progress=False, cache=cache)
    assert str(blocker) in str(info.value)
    assert sandbox.stats.requests == before


def test_the_401_message_reads_well(sandbox):
    with pytest.raises(cf.AuthenticationError) as info:
        cf.load_outcomes("api_NotAKnownKeyAtAll12345", base_url=sandbox.base_url, progress=False)
    assert ".." not in str(info.value)


def test_bad_input_never_hangs(sandbox):
    with wall_clock_limit(20):
        with pytest.raises(cf.ConfigurationError):
            cf.load_calls(next(iter(sandbox.api_keys.values())), base_url=sandbox.base_url, progress=False,
                          client_options={"timeout": (1, "x")})


def test_partial_of_a_cached_load_holds_what_the_cache_answered(fresh_sandbox, tmp_path):
    sb = big_sandbox(fresh_sandbox)
    key = sb.api_keys[ORG]
    cf.load_calls(key, base_url=sb.base_url, progress=False, cache=tmp_path)
    sb.faults.revoke_after(key, 2)  # the two /me/ requests; every page is refused
    with pytest.raises(cf.AuthenticationError) as info:
        cf.load_calls(key, base_url=sb.base_url, progress=False, cache=tmp_path)
    calls = store_records(sb, "calls")
    newest = max(pd.Timestamp(c["date_created"]) for c in calls)
    trusted = {c["id"] for c in calls if pd.Timestamp(c["date_created"]) < newest - pd.Timedelta("30D")}
    partial = set(info.value.partial["id"])
    assert trusted and trusted <= partial <= {c["id"] for c in calls}
