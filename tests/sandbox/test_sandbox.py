"""The sandbox over real HTTP: auth, paging, errors, filters, CRUD, rate limits, faults, the official client."""

from __future__ import annotations

import base64
import concurrent.futures
import json
import time

import pytest
import requests

import closeframe.sandbox as sandbox
from closeframe.sandbox import FaultPlan, Sandbox, serve
from closeframe.sandbox.common import parse_us

FIRST, SECOND = "Nordlicht Vertrieb GmbH", "Acme Robotics"


@pytest.fixture(scope="module")
def sb():
    """A shared read-mostly sandbox, unlimited rate, small sizes."""
    with serve(seed=7, calls=400, meetings=120, rate_limit=None) as box:
        yield box
        assert box.errors == []


@pytest.fixture
def fresh():
    """A sandbox of its own for tests that mutate data, faults or limits."""
    with serve(seed=3, outcomes=12, calls=150, meetings=40, rate_limit=None) as box:
        yield box
        assert box.errors == []


@pytest.fixture
def http():
    with requests.Session() as session:
        yield session


def get(http, box, path, key=None, **params):
    key = key or box.api_keys[FIRST]
    return http.get(box.base_url + path, auth=(key, ""), params=params, timeout=10)


def page_all(http, box, path, key=None, limit=100, **params):
    records, skip = [], 0
    while True:
        answer = get(http, box, path, key, _skip=skip, _limit=limit, **params)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert set(body) == {"data", "has_more"}
        records += body["data"]
        skip += limit
        if not body["has_more"]:
            return records


# -- package surface ---------------------------------------------------------------------------------------------
def test_exported_names():
    assert sandbox.__all__ == sorted(sandbox.__all__)
    for name in ("serve", "Sandbox", "FaultPlan", "run_forever"):
        assert name in sandbox.__all__


def test_base_url_keys_and_tokens(sb):
    assert sb.base_url.startswith("http://127.0.0.1:") and sb.base_url.endswith("/api/v1/")
    assert list(sb.api_keys) == [o["name"] for o in sb.store.organizations]
    assert any(not name.isascii() for name in sb.api_keys)
    keys = list(sb.api_keys.values()) + list(sb.tokens.values())
    assert len(set(keys)) == len(keys)
    for key in sb.api_keys.values():
        assert key.startswith("api_") and key[4:].isalnum() and 22 <= len(key) - 4 <= 40
    assert sb.keys_for(FIRST) == [sb.api_keys[FIRST]]


def test_determinism():
    a, b, c = Sandbox(seed=11, calls=50, meetings=10), Sandbox(seed=11, calls=50, meetings=10), Sandbox(seed=12)
    assert a.api_keys == b.api_keys and a.tokens == b.tokens
    assert a.store.organizations == b.store.organizations
    for org in a.api_keys:
        assert a.store.outcomes(org) == b.store.outcomes(org)
        assert a.store.calls(org) == b.store.calls(org)
        assert a.store.meetings(org) == b.store.meetings(org)
    assert a.api_keys != c.api_keys
    assert a.store.organizations != c.store.organizations


def test_id_shapes(sb):
    org = sb.store.organizations[0]
    assert org["id"].startswith("orga_") and len(org["id"]) == 48
    assert all(u["id"].startswith("user_") and len(u["id"]) == 48 for u in sb.store.users(FIRST))
    for outcome in sb.store.outcomes(FIRST):
        assert outcome["id"].startswith("outcome_") and len(outcome["id"]) == 30
        assert outcome["organization_id"] == org["id"]
        assert outcome["type"] in ("custom", "vm-dropped")
    call = sb.store.calls(FIRST)[0]
    assert call["id"].startswith("acti_") and len(call["id"]) == 48
    assert call["lead_id"].startswith("lead_") and len(call["lead_id"]) == 48


# -- auth --------------------------------------------------------------------------------------------------------
def test_basic_and_bearer_auth(sb, http):
    assert get(http, sb, "me/").status_code == 200
    answer = http.get(sb.base_url + "me/", headers={"Authorization": f"Bearer {sb.tokens[SECOND]}"}, timeout=10)
    assert answer.status_code == 200
    assert answer.json()["organizations"] == [{"id": sb.store.org_id(SECOND), "name": SECOND}]


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Basic " + base64.b64encode(b"api_notAKey123456789012345:").decode()},
    {"Authorization": "Bearer not-a-token-at-all"},
    {"Authorization": "Basic %%%"},
])
def test_bad_credentials_401_without_echo(sb, http, headers):
    answer = http.get(sb.base_url + "outcome/", headers=headers, timeout=10)
    assert answer.status_code == 401
    assert "error" in answer.json()
    assert "notAKey" not in answer.text and "not-a-token" not in answer.text
    assert answer.headers["Content-Type"] == "application/json; charset=utf-8"
    assert "RateLimit" in answer.headers


# -- paging, limits, fields --------------------------------------------------------------------------------------
def test_outcome_paging_matches_store(sb, http):
    for org, key in sb.api_keys.items():
        assert page_all(http, sb, "outcome/", key, limit=7) == sb.store.outcomes(org)


def test_outcome_pages_has_more(sb, http):
    outcomes = sb.store.outcomes(FIRST)
    first = get(http, sb, "outcome/", _limit=len(outcomes) - 1).json()
    assert first["has_more"] is True and len(first["data"]) == len(outcomes) - 1
    exact = get(http, sb, "outcome/", _limit=len(outcomes)).json()
    assert exact["has_more"] is False and "total_results" not in exact
    beyond = get(http, sb, "outcome/", _skip=len(outcomes)).json()
    assert beyond == {"data": [], "has_more": False}


def test_limit_and_skip_caps(sb, http):
    answer = get(http, sb, "outcome/", _limit=101)
    assert answer.status_code == 400
    assert answer.json() == {"error": "The limit you set is larger than the maximum limit for this resource "
                                      "(max_limit = 100)."}
    answer = get(http, sb, "activity/call/", _skip=250_001)
    assert answer.status_code == 400
    assert answer.json() == {"error": "The skip you set is larger than the maximum skip for this resource "
                                      "(max_skip = 250000). Please refine your search query."}
    assert get(http, sb, "activity/call/", _skip=250_000).json() == {"data": [], "has_more": False}
    for bad in ({"_skip": -1}, {"_limit": "ten"}, {"_skip": "1.5"}):
        answer = get(http, sb, "outcome/", **bad)
        assert answer.status_code == 400 and "error" in answer.json()


def test_set_max_skip(fresh, http):
    fresh.set_max_skip(10)
    assert get(http, fresh, "activity/call/", _skip=10).status_code == 200
    answer = get(http, fresh, "activity/call/", _skip=11)
    assert answer.status_code == 400 and "max_skip = 10" in answer.json()["error"]


def test_fields(sb, http):
    data = get(http, sb, "outcome/", _fields="name,type,nonsense").json()["data"]
    expected = [{"name": o["name"], "type": o["type"]} for o in sb.store.outcomes(FIRST)[:100]]
    assert data == expected
    call = get(http, sb, "activity/call/", _fields="id,outcome_id", _limit=1).json()["data"][0]
    assert set(call) == {"id", "outcome_id"}
    assert set(get(http, sb, "me/", _fields="email").json()) == {"email"}


# -- organizations, users, isolation -----------------------------------------------------------------------------
def test_org_isolation(sb, http):
    mine = {o["id"] for o in page_all(http, sb, "outcome/")}
    theirs = sb.store.outcomes(SECOND)
    assert mine and theirs and not mine & {o["id"] for o in theirs}
    assert get(http, sb, f"outcome/{theirs[0]['id']}/").status_code == 404
    their_call = sb.store.calls(SECOND)[0]["id"]
    assert get(http, sb, f"activity/call/{their_call}/").status_code == 404
    assert all(c["organization_id"] == sb.store.org_id(FIRST) for c in page_all(http, sb, "activity/call/"))


def test_me_organization_and_users(sb, http):
    users = sb.store.users(FIRST)
    me = get(http, sb, "me/").json()
    assert me["id"] == users[0]["id"] and me["email"] == users[0]["email"]
    assert me["organizations"] == [{"id": sb.store.org_id(FIRST), "name": FIRST}]
    org = get(http, sb, f"organization/{sb.store.org_id(FIRST)}/").json()
    assert org["name"] == FIRST
    assert [m["user_id"] for m in org["memberships"]] == [u["id"] for u in users]
    assert get(http, sb, f"organization/{sb.store.org_id(SECOND)}/").status_code == 403
    assert get(http, sb, "organization/orga_doesnotexist/").status_code == 404
    listed = page_all(http, sb, "user/", limit=1)
    assert [u["id"] for u in listed] == [u["id"] for u in users]
    assert {"id", "first_name", "last_name", "email"} <= set(listed[0])
    assert get(http, sb, f"user/{users[-1]['id']}/").json()["email"] == users[-1]["email"]


def test_keys_per_org_are_different_users(http):
    with serve(seed=5, organizations=1, keys_per_org=3, users=1, calls=5, meetings=5, rate_limit=None) as box:
        name = next(iter(box.api_keys))
        keys = box.keys_for(name)
        assert len(set(keys)) == 3 and keys[0] == box.api_keys[name]
        ids = [get(http, box, "me/", key).json()["id"] for key in keys]
        assert ids == [u["id"] for u in box.store.users(name)[:3]]


def test_organization_specs_and_empty_org(http):
    specs = [{"name": "Empty Org", "outcomes": 0, "calls": 0, "meetings": 0}, {"outcomes": 3, "calls": 4}]
    with serve(seed=1, organizations=specs, meetings=2, rate_limit=None) as box:
        assert list(box.api_keys)[0] == "Empty Org"
        key = box.api_keys["Empty Org"]
        for path in ("outcome/", "activity/call/", "activity/meeting/"):
            assert get(http, box, path, key).json() == {"data": [], "has_more": False}
        other = list(box.api_keys)[1]
        assert len(box.store.outcomes(other)) == 3
        assert len(box.store.calls(other)) == 4 and len(box.store.meetings(other)) == 2
    with pytest.raises(ValueError, match="valid keys"):
        Sandbox(organizations=[{"nmae": "typo"}])


# -- routing and errors ------------------------------------------------------------------------------------------
def test_routing_errors(sb, http):
    key = sb.api_keys[FIRST]
    no_slash = http.get(sb.base_url + "outcome", auth=(key, ""), timeout=10)
    assert no_slash.status_code == 404 and "error" in no_slash.json()
    assert get(http, sb, "nothing-here/").status_code == 404
    assert http.get(sb.base_url.replace("/api/v1/", "/other/"), auth=(key, ""), timeout=10).status_code == 404
    wrong = http.delete(sb.base_url + "outcome/", auth=(key, ""), timeout=10)
    assert wrong.status_code == 405 and "error" in wrong.json() and "GET" in wrong.headers["Allow"]
    assert http.patch(sb.base_url + "me/", auth=(key, ""), json={}, timeout=10).status_code == 405


# -- outcome CRUD ------------------------------------------------------------------------------------------------
def test_outcome_crud(fresh, http):
    key = fresh.api_keys[FIRST]
    url = fresh.base_url + "outcome/"
    created = http.post(url, auth=(key, ""), json={"name": "Rückruf ✅", "type": "vm-dropped"}, timeout=10)
    assert created.status_code == 201
    record = created.json()
    assert record["applies_to"] == ["calls"] and record["organization_id"] == fresh.store.org_id(FIRST)
    assert record["created_by"] == fresh.store.users(FIRST)[0]["id"]
    assert fresh.store.get_outcome(FIRST, record["id"]) == record
    assert record in page_all(http, fresh, "outcome/")

    updated = http.put(url + record["id"] + "/", auth=(key, ""), json={"description": "neu"}, timeout=10)
    assert updated.status_code == 200
    assert updated.json()["description"] == "neu" and updated.json()["name"] == "Rückruf ✅"
    assert fresh.store.get_outcome(FIRST, record["id"])["description"] == "neu"

    deleted = http.delete(url + record["id"] + "/", auth=(key, ""), timeout=10)
    assert deleted.status_code == 200 and deleted.json() == {}
    assert get(http, fresh, f"outcome/{record['id']}/").status_code == 404
    assert http.delete(url + record["id"] + "/", auth=(key, ""), timeout=10).status_code == 404


def test_outcome_validation(fresh, http):
    url = fresh.base_url + "outcome/"
    auth = (fresh.api_keys[FIRST], "")
    missing = http.post(url, auth=auth, json={"description": "no name"}, timeout=10)
    assert missing.status_code == 400
    assert missing.json() == {"errors": [], "field-errors": {"name": "This field is required."}}
    bad_json = http.post(url, auth=auth, data=b"{not json", headers={"Content-Type": "application/json"},
                         timeout=10)
    assert bad_json.status_code == 400 and "error" in bad_json.json()
    bad_type = http.post(url, auth=auth, json={"name": "x", "type": "weird"}, timeout=10)
    assert "type" in bad_type.json()["field-errors"]


def test_store_injection_is_served_verbatim(fresh, http):
    odd = fresh.store.add_outcome(FIRST, name="SMS reply", applies_to=["calls", "sms"], color="#ff0000",
                                  position=0)
    raw = fresh.store.add_outcome(FIRST, _raw={"id": "outcome_rawrawrawrawrawrawraw1", "name": "Raw"})
    served = page_all(http, fresh, "outcome/")
    assert served[0] == odd and served[0]["applies_to"] == ["calls", "sms"] and served[0]["color"] == "#ff0000"
    assert raw in served and set(raw) == {"id", "name"}


def test_quirk_extra_field(sb):
    assert any("color" in o for org in sb.api_keys for o in sb.store.outcomes(org))
    clean = Sandbox(seed=7, calls=5, meetings=5, quirks=False)
    assert not any("color" in o for org in clean.api_keys for o in clean.store.outcomes(org))


# -- calls and meetings ------------------------------------------------------------------------------------------
def test_activity_listing_matches_store(sb, http):
    calls = page_all(http, sb, "activity/call/")
    assert calls == sb.store.calls(FIRST)
    created = [parse_us(c["date_created"]) for c in calls]
    assert created == sorted(created, reverse=True)
    meetings = page_all(http, sb, "activity/meeting/", key=sb.api_keys[SECOND])
    assert meetings == sb.store.meetings(SECOND)
    assert all(m["date_created"] == m["starts_at"] for m in meetings)
    assert all({"email", "name", "status"} <= set(a) for m in meetings for a in m["attendees"])


def test_date_windows_partition_calls(sb, http):
    calls = sb.store.calls(FIRST)
    stamps = sorted(parse_us(c["date_created"]) for c in calls)
    # window edges at existing timestamps, so the gte/lt boundaries really matter
    edges = [c["date_created"] for c in (calls[-1], calls[300], calls[150], calls[20])]
    edges.append("2099-01-01T00:00:00Z")
    seen = []
    for lo, hi in zip(edges, edges[1:]):
        window = page_all(http, sb, "activity/call/", date_created__gte=lo, date_created__lt=hi)
        assert all(parse_us(lo) <= parse_us(c["date_created"]) < parse_us(hi) for c in window)
        seen += [c["id"] for c in window]
    assert sorted(seen) == sorted(c["id"] for c in calls)
    assert len(stamps) == len(seen)
    pivot = calls[100]["date_created"]
    gt = page_all(http, sb, "activity/call/", date_created__gt=pivot)
    lte = page_all(http, sb, "activity/call/", date_created__lte=pivot)
    assert len(gt) == 100 and len(gt) + len(lte) == len(calls)


def test_naive_and_offset_datetimes(sb, http):
    calls = sb.store.calls(FIRST)
    pivot = parse_us(calls[50]["date_created"])
    expected = [c["id"] for c in calls if parse_us(c["date_created"]) >= pivot]
    as_z = calls[50]["date_created"].replace("+00:00", "Z")
    naive_utc = calls[50]["date_created"].replace("+00:00", "")
    assert [c["id"] for c in page_all(http, sb, "activity/call/", date_created__gte=as_z)] == expected
    assert [c["id"] for c in page_all(http, sb, "activity/call/", date_created__gte=naive_utc)] == expected
    # naive values are in the X-TZ-Offset zone: two hours east means two hours earlier in UTC
    shifted = http.get(sb.base_url + "activity/call/", auth=(sb.api_keys[FIRST], ""), timeout=10,
                       headers={"X-TZ-Offset": "2"}, params={"date_created__gte": naive_utc, "_limit": 100})
    earlier = [c["id"] for c in calls if parse_us(c["date_created"]) >= pivot - 2 * 3600 * 10**6][:100]
    assert [c["id"] for c in shifted.json()["data"]] == earlier
    assert get(http, sb, "activity/call/", date_created__gte="yesterday").status_code == 400


def test_equality_and_activity_at_filters(sb, http):
    calls = sb.store.calls(FIRST)
    user = calls[0]["user_id"]
    assert page_all(http, sb, "activity/call/", user_id=user) == [c for c in calls if c["user_id"] == user]
    lead = calls[3]["lead_id"]
    assert page_all(http, sb, "activity/call/", lead_id=lead) == [c for c in calls if c["lead_id"] == lead]
    contact = next(c["contact_id"] for c in calls if c["contact_id"])
    assert page_all(http, sb, "activity/call/", contact_id=contact) == [
        c for c in calls if c["contact_id"] == contact]
    pivot = calls[40]["activity_at"]
    assert page_all(http, sb, "activity/call/", activity_at__lt=pivot) == [
        c for c in calls if parse_us(c["activity_at"]) < parse_us(pivot)]
    assert page_all(http, sb, "activity/call/", organization_id=sb.store.org_id(FIRST)) == calls
    assert page_all(http, sb, "activity/call/", organization_id=sb.store.org_id(SECOND)) == []
    assert page_all(http, sb, "activity/call/", user_id="user_unknown") == []


def test_outcome_usage_on_activities(sb):
    for org in sb.api_keys:
        live = {o["id"]: o for o in sb.store.outcomes(org)}
        calls = sb.store.calls(org)
        used = [c["outcome_id"] for c in calls if c["outcome_id"]]
        assert 0.3 < len(used) / len(calls) < 0.7
        deleted = [o for o in used if o not in live]
        assert deleted and set(deleted) <= set(sb.store.deleted_outcome_ids(org))
        for meeting in sb.store.meetings(org):
            if meeting["outcome_id"] in live:
                assert "meetings" in live[meeting["outcome_id"]]["applies_to"]
                assert live[meeting["outcome_id"]]["type"] != "vm-dropped"


def test_set_activity_outcome_over_http(fresh, http):
    call = fresh.store.calls(FIRST)[5]
    outcome = fresh.store.outcomes(FIRST)[0]
    url = fresh.base_url + f"activity/call/{call['id']}/"
    answer = http.put(url, auth=(fresh.api_keys[FIRST], ""), json={"outcome_id": outcome["id"]}, timeout=10)
    assert answer.status_code == 200 and answer.json()["outcome_id"] == outcome["id"]
    assert fresh.store.get_call(FIRST, call["id"])["outcome_id"] == outcome["id"]
    assert parse_us(answer.json()["date_updated"]) > parse_us(call["date_updated"])
    bad = http.put(url, auth=(fresh.api_keys[FIRST], ""), json={"outcome_id": "outcome_nope"}, timeout=10)
    assert bad.status_code == 400 and "outcome_id" in bad.json()["field-errors"]
    meeting = fresh.store.meetings(FIRST)[-1]
    cleared = http.put(fresh.base_url + f"activity/meeting/{meeting['id']}/", auth=(fresh.api_keys[FIRST], ""),
                       json={"outcome_id": None}, timeout=10)
    assert cleared.json()["outcome_id"] is None
    fresh.store.set_call_outcome(FIRST, call["id"], "outcome_madeUpAndDeleted000")
    assert get(http, fresh, f"activity/call/{call['id']}/").json()["outcome_id"] == "outcome_madeUpAndDeleted000"


def test_store_add_call(fresh, http):
    added = fresh.store.add_call(FIRST, date_created="2030-01-01T00:00:00Z", outcome_id="outcome_x",
                                 sentiment="positive")
    first = get(http, fresh, "activity/call/", _limit=1).json()["data"][0]
    assert first == added and first["sentiment"] == "positive" and first["outcome_id"] == "outcome_x"


def test_id_in_answers_as_a_scan_after_inserts_and_deletes(fresh, http):
    """``id__in`` is answered from an id index (built once, dropped when rows move): the answer is the listing's
    records with those ids, through inserts, deletions and ids sharing their first characters."""
    def by_ids(ids, **params):
        return page_all(http, fresh, "activity/call/", id__in=",".join(ids), limit=7, **params)

    def expected(ids, **params):
        return [c for c in page_all(http, fresh, "activity/call/", **params) if c["id"] in set(ids)]

    calls = fresh.store.calls(FIRST)
    asked = [c["id"] for c in calls[::9]] + [calls[0]["id"], "acti_" + "0" * 43, "acti_short", "lead_x"]
    assert by_ids(asked) == expected(asked) and len(expected(asked)) == len(calls[::9])
    # A new call whose id shares its first 20 characters with a stored one (the index keys on the first 8).
    fresh.store.delete_activity(FIRST, "call", calls[9]["id"])
    assert by_ids(asked) == expected(asked)
    twin = calls[5]["id"][:25] + "z" * 23
    fresh.store.add_call(FIRST, id=twin, date_created=calls[5]["date_created"])
    asked += [twin, calls[5]["id"]]
    assert by_ids(asked) == expected(asked)
    assert {twin, calls[5]["id"]} <= {c["id"] for c in by_ids(asked)} and calls[9]["id"] not in {
        c["id"] for c in by_ids(asked)}
    window = {"date_created__lte": calls[40]["date_created"]}
    assert by_ids(asked, **window) == expected(asked, **window)
    assert get(http, fresh, f"activity/call/{twin}/").json()["id"] == twin


def test_million_calls():
    start = time.perf_counter()
    with serve(seed=2, organizations=[{"name": "Big", "calls": 1_000_000, "meetings": 10, "outcomes": 20}],
               rate_limit=None) as box, requests.Session() as http:
        built = time.perf_counter() - start
        key = box.api_keys["Big"]
        top = get(http, box, "activity/call/", key, _limit=100).json()
        assert len(top["data"]) == 100 and top["has_more"] is True
        deep = get(http, box, "activity/call/", key, _limit=100, _skip=250_000).json()
        assert len(deep["data"]) == 100 and deep["has_more"] is True
        assert parse_us(deep["data"][0]["date_created"]) < parse_us(top["data"][-1]["date_created"])
        one = deep["data"][37]
        assert get(http, box, f"activity/call/{one['id']}/", key).json() == one
        window = get(http, box, "activity/call/", key, date_created__lte=one["date_created"],
                     user_id=one["user_id"], _limit=1).json()
        assert window["data"] == [one] and window["has_more"] is True
        assert box.errors == []
    assert built < 30  # generous: only catches a fall back to per-record Python generation


# -- rate limits -------------------------------------------------------------------------------------------------
def test_ratelimit_header_everywhere_and_429(http):
    with serve(seed=4, organizations=1, calls=10, meetings=5, rate_limit=5) as box:
        answers = [get(http, box, "outcome/") for _ in range(12)]
        assert all("RateLimit" in a.headers for a in answers)
        statuses = [a.status_code for a in answers]
        assert statuses[:5] == [200] * 5 and 429 in statuses
        limited = next(a for a in answers if a.status_code == 429)
        assert limited.headers["RateLimit"].startswith("limit=5, remaining=0, reset=")
        assert int(limited.headers["Retry-After"]) >= 1
        assert limited.json()["error"]["message"] == "API call count exceeded for this period"
        assert 0 < limited.json()["error"]["rate_reset"] <= 1
        # other endpoint groups have their own buckets
        assert get(http, box, "activity/call/").status_code == 200
        assert get(http, box, "me/").status_code == 200
        assert "RateLimit" in get(http, box, "missing/").headers
        time.sleep(1.05)
        assert get(http, box, "outcome/").status_code == 200
        assert box.stats.rate_limited >= 2


def test_org_bucket_is_shared_by_keys(http):
    with serve(seed=4, organizations=1, keys_per_org=2, calls=5, meetings=5, rate_limit=4,
               org_rate_factor=1.0) as box:
        a, b = box.keys_for(next(iter(box.api_keys)))
        codes = [get(http, box, "outcome/", key).status_code for key in (a, b, a, b, a, b)]
        assert codes[:4] == [200] * 4 and codes[4:] == [429, 429]
        box.set_rate_limit(None)
        answer = get(http, box, "outcome/", a)
        assert answer.status_code == 200 and "RateLimit" in answer.headers


# -- faults ------------------------------------------------------------------------------------------------------
def test_fault_kinds_validated():
    with pytest.raises(ValueError, match="valid kinds"):
        FaultPlan().script("418")


@pytest.mark.parametrize("kind", ["500", "502", "503", "504"])
def test_fault_json_5xx(fresh, http, kind):
    fresh.faults.script(kind, path="/outcome/")
    assert get(http, fresh, "me/").status_code == 200  # other paths are not matched
    answer = get(http, fresh, "outcome/")
    assert answer.status_code == int(kind) and "error" in answer.json()
    assert get(http, fresh, "outcome/").status_code == 200
    assert fresh.stats.by_status[int(kind)] == 1


@pytest.mark.parametrize("kind", ["500-html", "502-html", "503-html", "504-html"])
def test_fault_html(fresh, http, kind):
    fresh.faults.script(kind)
    answer = get(http, fresh, "outcome/")
    assert answer.status_code == int(kind[:3]) and answer.headers["Content-Type"].startswith("text/html")
    with pytest.raises(ValueError):
        answer.json()


def test_fault_429_variants(fresh, http):
    fresh.faults.script("429", "429-fractional", "429-retry-after", "429-body", {"kind": "429", "reset": 3})
    plain, fractional, retry_after, body_only, custom = (get(http, fresh, "outcome/") for _ in range(5))
    assert all(a.status_code == 429 for a in (plain, fractional, retry_after, body_only, custom))
    assert plain.headers["RateLimit"].endswith("reset=1") and plain.headers["Retry-After"] == "1"
    assert plain.json()["error"]["rate_reset"] == 1
    assert fractional.headers["RateLimit"].endswith("reset=0.25")
    assert retry_after.headers["Retry-After"] == "1" and "RateLimit" not in retry_after.headers
    assert "rate_reset" not in retry_after.json()["error"]
    assert "RateLimit" not in body_only.headers and "Retry-After" not in body_only.headers
    assert body_only.json()["error"]["rate_reset"] == 0.2
    assert custom.headers["RateLimit"].endswith("reset=3") and custom.headers["Retry-After"] == "3"
    assert fresh.stats.rate_limited == 5


def test_fault_connection_level(fresh, http):
    fresh.faults.script("reset-before", "reset-mid-body", "truncated-json")
    with pytest.raises(requests.ConnectionError):
        get(http, fresh, "outcome/")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        get(http, fresh, "outcome/")
    truncated = get(http, fresh, "outcome/")
    assert truncated.status_code == 200
    assert int(truncated.headers["Content-Length"]) == len(truncated.content)
    with pytest.raises(json.JSONDecodeError):
        json.loads(truncated.content)
    assert get(http, fresh, "outcome/").json()["data"] == fresh.store.outcomes(FIRST)
    assert fresh.stats.dropped == 1


def test_fault_stall(fresh, http):
    fresh.faults.script({"kind": "stall", "seconds": 0.6})
    with pytest.raises(requests.Timeout):
        http.get(fresh.base_url + "me/", auth=(fresh.api_keys[FIRST], ""), timeout=0.2)
    assert get(http, fresh, "me/").status_code == 200


def test_fault_lying_has_more(fresh, http):
    fresh.faults.script("lying-has-more", "lying-has-more")
    last = get(http, fresh, "outcome/").json()
    assert last["data"] == fresh.store.outcomes(FIRST) and last["has_more"] is True
    after = get(http, fresh, "outcome/", _skip=100).json()
    assert after == {"data": [], "has_more": True}


def test_fault_shift_and_delete(fresh, http):
    before = fresh.store.outcomes(FIRST)
    fresh.faults.script("shift", path="/outcome/")
    page = get(http, fresh, "outcome/", _skip=1, _limit=3).json()["data"]
    assert page == before[:3]  # the new front record pushed everything one place back
    fresh.faults.script("delete", path="/outcome/")
    page = get(http, fresh, "outcome/").json()["data"]
    assert page == before  # the inserted one was first and got deleted
    calls = fresh.store.calls(FIRST)
    fresh.faults.script("delete", path="/activity/call/")
    assert get(http, fresh, "activity/call/", _limit=2).json()["data"] == calls[1:3]
    fresh.faults.script("shift", path="/activity/call/")
    assert get(http, fresh, "activity/call/", _skip=1, _limit=2).json()["data"] == calls[1:3]


def test_fault_matching_by_key_and_random(fresh, http):
    other = fresh.api_keys[SECOND]
    fresh.faults.script("503", key=other)
    assert get(http, fresh, "outcome/").status_code == 200
    assert get(http, fresh, "outcome/", other).status_code == 503
    assert fresh.faults.pending() == 0
    fresh.faults.random(0.5, kinds=["500", "503"], seed=1, path="/activity/")
    codes = [get(http, fresh, "activity/call/", _limit=1).status_code for _ in range(40)]
    assert 5 < codes.count(200) < 35 and set(codes) <= {200, 500, 503}
    fresh.faults.clear()
    assert {get(http, fresh, "activity/call/", _limit=1).status_code for _ in range(5)} == {200}


def test_revoke_after(fresh, http):
    key = fresh.api_keys[FIRST]
    fresh.faults.revoke_after(key, 2)
    assert get(http, fresh, "nothing/").status_code == 404  # failures don't use up the allowance
    assert [get(http, fresh, "me/").status_code for _ in range(4)] == [200, 200, 401, 401]
    assert get(http, fresh, "me/", fresh.api_keys[SECOND]).status_code == 200


# -- latency, keep-alive, stats ----------------------------------------------------------------------------------
def test_latency_is_per_request_thread(fresh):
    fresh.set_latency(0.3)
    urls = [fresh.base_url + "me/"] * 4
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        codes = list(pool.map(lambda u: requests.get(u, auth=(fresh.api_keys[FIRST], ""), timeout=5).status_code,
                              urls))
    elapsed = time.perf_counter() - start
    assert codes == [200] * 4 and 0.3 <= elapsed < 1.1


def test_keep_alive(fresh, http):
    first = get(http, fresh, "me/")
    assert first.headers.get("Connection", "").lower() != "close"
    assert get(http, fresh, "me/").status_code == 200
    assert len(http.adapters["http://"].poolmanager.pools) == 1


def test_stats(fresh, http):
    fresh.stats.reset()
    outcome = fresh.store.outcomes(FIRST)[0]["id"]
    get(http, fresh, "outcome/")
    get(http, fresh, f"outcome/{outcome}/")
    get(http, fresh, "activity/call/", _limit=1)
    http.get(fresh.base_url + "me/", timeout=10)
    snap = fresh.stats.snapshot()
    assert snap["requests"] == 4
    assert snap["by_path"] == {"/outcome/": 1, "/outcome/{id}/": 1, "/activity/call/": 1, "/me/": 1}
    assert snap["by_status"] == {200: 3, 401: 1}
    assert snap["by_key"] == {f"{FIRST}/user0": 3, "anonymous": 1}
    printable = repr(fresh.stats) + json.dumps(snap, default=str)
    assert not any(key in printable for key in list(fresh.api_keys.values()) + list(fresh.tokens.values()))


# -- the official client -----------------------------------------------------------------------------------------
def test_official_closeio_client(sb):
    closeio_api = pytest.importorskip("closeio_api")
    for org, key in sb.api_keys.items():
        api = closeio_api.API(sb.base_url, api_key=key)
        records, skip = [], 0
        while True:
            page = api.get("outcome", params={"_skip": skip, "_limit": 5})
            records += page["data"]
            skip += 5
            if not page["has_more"]:
                break
        api.session.close()
        assert records == sb.store.outcomes(org)
    api = closeio_api.API(sb.base_url, api_key=sb.api_keys[FIRST])
    try:
        me = api.get("me")
        assert me["organizations"][0]["name"] == FIRST
        calls = api.get("activity/call", params={"_limit": 10})
        assert calls["data"] == sb.store.calls(FIRST)[:10]
    finally:
        api.session.close()


def test_python_dash_m_prints_url_and_keys():
    import os
    import pathlib
    import subprocess
    import sys

    root = pathlib.Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=str(root), PYTHONIOENCODING="utf-8")
    process = subprocess.Popen([sys.executable, "-m", "closeframe.sandbox", "--port", "0", "--calls", "10",
                                "--meetings", "5"], stdout=subprocess.PIPE, text=True, encoding="utf-8",
                               cwd=root, env=env)
    try:
        first = process.stdout.readline()
        url = first.split()[-1]
        assert url.startswith("http://127.0.0.1:") and url.endswith("/api/v1/")
        lines = [process.stdout.readline() for _ in range(4)]
        key = lines[1].split("CLOSE_API_KEY=")[1].split()[0]
        with requests.Session() as http:
            assert http.get(url + "me/", auth=(key, ""), timeout=10).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()


def test_concurrent_clients_and_errors_keep_connection_usable(sb):
    def load(org):
        with requests.Session() as session:
            assert get(session, sb, "missing/", sb.api_keys[org]).status_code == 404
            return org, page_all(session, sb, "activity/meeting/", sb.api_keys[org], limit=13)

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        results = list(pool.map(load, list(sb.api_keys) * 2))
    for org, meetings in results:
        assert meetings == sb.store.meetings(org)
