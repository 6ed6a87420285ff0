"""CloseClient against the sandbox over a real socket: auth, paging, retries, rate limits, errors."""

from __future__ import annotations

import pytest

from closeframe import (
    AuthenticationError,
    CloseAPIError,
    CloseClient,
    ConfigurationError,
    RateLimitError,
    SkipCapError,
    TransportError,
    ValidationError,
)
from closeframe.http.client import resolve_base_url


def first_org(sb):
    name = next(iter(sb.api_keys))
    return name, sb.api_keys[name]


def client_for(sb, key=None, **options):
    options.setdefault("sleep", lambda seconds: None)
    return CloseClient(key or first_org(sb)[1], base_url=sb.base_url, **options)


def test_paginates_every_outcome_once_in_order(fresh_sandbox):
    sb = fresh_sandbox(organizations=[{"name": "Big", "outcomes": 250}])
    with client_for(sb) as client:
        records = list(client.paginate("outcome/"))
        assert client.requests_sent == 3  # 100 + 100 + 50, the last page says has_more=false
    assert [r["id"] for r in records] == [r["id"] for r in sb.store.outcomes("Big")]


def test_fields_are_sent_and_id_is_kept(sandbox):
    with client_for(sandbox) as client:
        records = list(client.paginate("outcome/", fields="name"))
    assert records and all(set(r) == {"id", "name"} for r in records)


def test_get_me_with_basic_and_bearer(sandbox):
    name, key = first_org(sandbox)
    with client_for(sandbox) as by_key, CloseClient(token=sandbox.tokens[name], base_url=sandbox.base_url) as by_token:
        me_key, me_token = by_key.get("me/"), by_token.get("/me")
    org_id = sandbox.store.org_id(name)
    assert [o["id"] for o in me_key["organizations"]] == [org_id]
    assert [o["id"] for o in me_token["organizations"]] == [org_id]


@pytest.mark.parametrize("fault, expected_wait", [
    ("429", 1.0), ("429-fractional", 0.25), ("429-retry-after", 1.0), ("429-body", 0.2),
])
def test_429_waits_for_what_close_says_then_succeeds(fresh_sandbox, fault, expected_wait):
    sb = fresh_sandbox(organizations=[{"name": "Org", "outcomes": 30}])
    sb.faults.script(fault, fault, path="/outcome/")
    waits = []
    with client_for(sb, sleep=waits.append, max_retries=0) as client:
        records = list(client.paginate("outcome/"))
    assert len(records) == len(sb.store.outcomes("Org"))
    assert waits == [pytest.approx(expected_wait, abs=0.05)] * 2  # and max_retries=0 was not used up by them
    assert client.rate_limit_waited == pytest.approx(2 * expected_wait)


def test_429_gives_up_after_the_wait_budget(fresh_sandbox):
    sb = fresh_sandbox(organizations=[{"name": "Org", "outcomes": 3}])
    sb.faults.script(*["429"] * 5, path="/outcome/")
    with client_for(sb, max_wait=2.5) as client, pytest.raises(RateLimitError) as info:
        list(client.paginate("outcome/"))
    assert info.value.status == 429 and "max_wait" in str(info.value)


@pytest.mark.parametrize("fault", ["503", "502-html", "500", "504", "reset-before", "reset-mid-body",
                                   "truncated-json"])
def test_transient_failures_are_retried_with_backoff(fresh_sandbox, fault):
    sb = fresh_sandbox(organizations=[{"name": "Org", "outcomes": 120}])
    sb.faults.script(fault, fault, path="/outcome/")
    waits = []
    with client_for(sb, sleep=waits.append, backoff=0.5) as client:
        records = list(client.paginate("outcome/"))
    assert [r["id"] for r in records] == [r["id"] for r in sb.store.outcomes("Org")]
    assert len(waits) == 2 and 0.25 <= waits[0] <= 0.5 and 0.5 <= waits[1] <= 1.0  # exponential, jittered


def test_a_stall_past_the_read_timeout_is_retried(fresh_sandbox):
    sb = fresh_sandbox(organizations=[{"name": "Org", "outcomes": 5}])
    sb.faults.script({"kind": "stall", "seconds": 2}, path="/outcome/")
    with client_for(sb, timeout=(2, 0.5)) as client:
        assert len(list(client.paginate("outcome/"))) == 5


def test_persistent_5xx_raises_after_the_retry_budget(fresh_sandbox):
    sb = fresh_sandbox(organizations=[{"name": "Org", "outcomes": 5}])
    sb.faults.script(*["503"] * 10, path="/outcome/")
    with client_for(sb, max_retries=2) as client, pytest.raises(CloseAPIError) as info:
        list(client.paginate("outcome/"))
    assert info.value.status == 503 and "3 times" in str(info.value)


def test_persistent_connection_failure_raises_transport_error(fresh_sandbox):
    sb = fresh_sandbox(organizations=[{"name": "Org", "outcomes": 5}])
    sb.faults.script(*["reset-before"] * 10, path="/outcome/")
    with client_for(sb, max_retries=1) as client, pytest.raises(TransportError, match="connection"):
        list(client.paginate("outcome/"))


def test_rejected_key_raises_without_showing_it(sandbox):
    bad_key = "api_ThisKeyIsNotKnownToTheSandbox123"
    client = client_for(sandbox, key=bad_key)
    with pytest.raises(AuthenticationError) as info:
        client.get("me/")
    for text in (str(info.value), repr(info.value), repr(client), str(info.value.body)):
        assert bad_key not in text
    assert "CLOSE_API_KEY" in str(info.value) and info.value.status == 401


def test_limit_over_the_maximum_is_a_validation_error(sandbox):
    with client_for(sandbox) as client, pytest.raises(ValidationError, match="max_limit = 100"):
        list(client.paginate("outcome/", page_size=101))


def test_skip_cap_raises_instead_of_truncating(fresh_sandbox):
    sb = fresh_sandbox(organizations=[{"name": "Org", "outcomes": 350}], max_skip=200)
    with client_for(sb) as client, pytest.raises(SkipCapError) as info:
        list(client.paginate("outcome/"))
    assert info.value.max_skip == 200 and "date_created windows" in str(info.value)


def test_lying_has_more_cannot_loop_forever(fresh_sandbox):
    sb = fresh_sandbox(organizations=[{"name": "Org", "outcomes": 150}])
    sb.faults.script(*["lying-has-more"] * 5, path="/outcome/")
    with client_for(sb) as client:
        ids = [r["id"] for r in client.paginate("outcome/")]
    assert ids == [r["id"] for r in sb.store.outcomes("Org")]


def test_records_shifting_between_pages_are_not_repeated(fresh_sandbox):
    sb = fresh_sandbox(organizations=[{"name": "Org", "outcomes": 150}])
    before = {r["id"] for r in sb.store.outcomes("Org")}
    sb.faults.script("pass", "shift", path="/outcome/")  # the second page sees a record inserted at the front
    with client_for(sb) as client:
        ids = [r["id"] for r in client.paginate("outcome/")]
    assert len(ids) == len(set(ids)) and before <= set(ids)


def test_real_rate_limit_is_respected_without_surfacing_429(fresh_sandbox):
    sb = fresh_sandbox(organizations=[{"name": "Org", "outcomes": 1500}], rate_limit=5)
    with client_for(sb, sleep=__import__("time").sleep) as client:
        ids = [r["id"] for r in client.paginate("outcome/")]
    assert len(ids) == 1500 == len(set(ids))


@pytest.mark.parametrize("url, expected", [
    ("https://api.close.com/api/v1", "https://api.close.com/api/v1/"),
    ("https://api.close.com/api/v1/", "https://api.close.com/api/v1/"),
    ("http://127.0.0.1:8000/api/v1", "http://127.0.0.1:8000/api/v1/"),
    ("http://localhost/api/v1/", "http://localhost/api/v1/"),
])
def test_base_url_forms(url, expected):
    assert resolve_base_url(url) == expected


@pytest.mark.parametrize("url, message", [
    ("http://api.close.com/api/v1/", "plain http"),
    ("ftp://api.close.com/", "Malformed"),
    ("api.close.com/api/v1", "Malformed"),
    ("https://user:pw@api.close.com/api/v1/", "credentials"),
    ("https://api.close.com:notaport/", "Malformed"),
])
def test_bad_base_urls_are_refused(url, message):
    with pytest.raises(ConfigurationError, match=message):
        resolve_base_url(url)


def test_base_url_from_environment(monkeypatch, sandbox):
    monkeypatch.setenv("CLOSE_BASE_URL", sandbox.base_url.rstrip("/"))
    monkeypatch.setenv("CLOSE_API_KEY", first_org(sandbox)[1])
    with CloseClient() as client:
        assert client.base_url == sandbox.base_url
        assert client.get("me/")["organizations"]


def test_no_key_says_what_to_do():
    with pytest.raises(ConfigurationError, match="CLOSE_API_KEY.*closeframe demo"):
        CloseClient()


def test_official_client_sees_the_same_outcomes(sandbox):
    closeio_api = pytest.importorskip("closeio_api")
    import closeframe as cf

    for name, key in sandbox.api_keys.items():
        api = closeio_api.API(sandbox.base_url, api_key=key)
        ids, skip = [], 0
        while True:
            page = api.get("outcome", params={"_skip": skip, "_limit": 100})
            ids += [r["id"] for r in page["data"]]
            skip += len(page["data"])
            if not page["has_more"]:
                break
        ours = cf.load_outcomes(key, base_url=sandbox.base_url, progress=False)
        assert ids == list(ours["id"]) and ids == [r["id"] for r in sandbox.store.outcomes(name)]
