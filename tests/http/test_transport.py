"""The transport asks requests once per client for what it would do on every request: the same proxy and CA choice."""

from pathlib import Path

import certifi
import pytest

from closeframe.http.client import CloseClient

CLOSE = "https://api.close.com/api/v1/"
KEY = "api_0123456789abcdefghij"


@pytest.fixture
def clean_env(monkeypatch):
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY",
                 "no_proxy", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_https_is_verified_against_the_bundle_requests_would_use(clean_env):
    with CloseClient(KEY, base_url=CLOSE) as client:
        pool = client._transport._pool
        assert pool.host == "api.close.com" and pool.port == 443 and pool.cert_reqs == "CERT_REQUIRED"
        assert pool.ca_certs == certifi.where() and pool.proxy is None


def test_the_environment_chooses_the_ca_bundle_and_the_proxy(clean_env, tmp_path):
    bundle = tmp_path / "corporate.pem"
    bundle.write_text(Path(certifi.where()).read_text(encoding="utf-8"), encoding="utf-8")
    clean_env.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    clean_env.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    with CloseClient(KEY, base_url=CLOSE) as client:
        pool = client._transport._pool
        assert pool.ca_certs == str(bundle)
        assert pool.proxy is not None and (pool.proxy.host, pool.proxy.port) == ("127.0.0.1", 3128)
    clean_env.setenv("NO_PROXY", "api.close.com")
    with CloseClient(KEY, base_url=CLOSE) as client:
        assert client._transport._pool.proxy is None


def test_the_key_travels_only_in_the_header_and_never_in_the_transport_repr(clean_env):
    with CloseClient(KEY, base_url=CLOSE) as client:
        assert KEY not in repr(client._transport) and KEY not in repr(client._transport._pool)
        assert KEY not in str(client._transport.__dict__)
