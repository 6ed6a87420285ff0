"""One account's connections: requests' adapter set up once, each request sent straight to its urllib3 pool.

``requests.Session.request`` spends 1 to 1.5 ms of CPU on every request before and after the network: it merges
the environment's proxy and CA settings again (reading every environment variable twice), looks at the CA bundle
on disk, prepares cookies, hooks and redirects. Close is one host, so all of that is the same for every request of
an account. :class:`Transport` asks the session once, when the client is made (the same proxies, ``NO_PROXY``,
``REQUESTS_CA_BUNDLE`` and certifi bundle requests would use), keeps the urllib3 connection pool requests' own
adapter would pick, and then sends each request to that pool, raising the very ``requests`` exceptions the
adapter raises. About 0.5 ms a request instead of 1.5 (``python bench/run.py --only A``): on a catalogue load of
100 requests, a tenth of a second of CPU.

A redirect (Close does not send them) is left to the session, which follows it as before.
"""

from __future__ import annotations

import json
from typing import Any, Mapping
from urllib.parse import urlencode, urlsplit

import requests
from requests import exceptions as rex
from urllib3 import exceptions as u3
from urllib3.util import Timeout

__all__ = ["Answer", "Transport"]

_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class Answer:
    """One answer: its status, headers (case-insensitive) and whole body."""

    __slots__ = ("status_code", "headers", "content")

    def __init__(self, status_code: int, headers: Mapping[str, str], content: bytes) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content


class Transport:
    """Send requests for one base URL through ``session``'s adapter, its settings resolved once.

    Parameters
    ----------
    session : requests.Session
        The account's session (its headers are sent with every request; it follows redirects).
    base_url : str
        The API base URL, ending in ``/``.
    """

    def __init__(self, session: requests.Session, base_url: str) -> None:
        self.session = session
        self.base_url = base_url
        settings = session.merge_environment_settings(base_url, {}, None, None, None)
        self._verify, self._cert, proxies = settings["verify"], settings["cert"], settings["proxies"]
        probe = requests.Request("GET", base_url).prepare()
        self._adapter = session.get_adapter(base_url)
        if hasattr(self._adapter, "get_connection_with_tls_context"):
            self._pool = self._adapter.get_connection_with_tls_context(probe, self._verify, proxies=proxies,
                                                                       cert=self._cert)
        else:  # requests before 2.32.2
            self._pool = self._adapter.get_connection(base_url, proxies)
        self._adapter.cert_verify(self._pool, base_url, self._verify, self._cert)
        # The request target: the path, or the whole URL when a plain-http proxy carries the request.
        target = self._adapter.request_url(probe, proxies)
        self._prefix = target[: -len(urlsplit(base_url).path)] if target != urlsplit(base_url).path else ""
        self._headers = dict(session.headers)

    def send(self, method: str, url: str, *, params: Mapping[str, Any] | None, json_body: Any, auth: str,
             timeout: float | tuple[float, float]) -> Answer:
        """Send one request and read its whole answer.

        Parameters
        ----------
        method : str
        url : str
            A URL under the base URL.
        params : mapping, optional
            The query (``None`` values left out, lists repeated, as requests does).
        json_body : optional
            Sent as JSON.
        auth : str
            The ``Authorization`` header.
        timeout : float or (float, float)
            Connect and read timeouts.

        Raises
        ------
        requests.exceptions.RequestException
            The subclass requests' adapter raises for the same failure.
        """
        path = url[len(self.base_url) - len(urlsplit(self.base_url).path):]
        query = _query(params)
        target = f"{self._prefix}{path}?{query}" if query else f"{self._prefix}{path}"
        headers = {**self._headers, "Authorization": auth}
        body = None
        if json_body is not None:
            body = json.dumps(json_body, allow_nan=False).encode("utf-8")
            headers["Content-Type"] = "application/json"
        elif method not in ("GET", "HEAD"):
            headers["Content-Length"] = "0"  # as requests says a bodiless DELETE is empty
        connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        try:
            raw = self._pool.urlopen(method, target, body=body, headers=headers, redirect=False,
                                     assert_same_host=False, preload_content=False, decode_content=False,
                                     retries=self._adapter.max_retries, timeout=Timeout(connect=connect, read=read))
        except Exception as exc:
            mapped = _as_requests_error(exc)
            if mapped is exc:
                raise
            raise mapped from exc
        try:
            content = raw.read(decode_content=True)
        except u3.ProtocolError as exc:
            raise rex.ChunkedEncodingError(exc) from exc
        except u3.DecodeError as exc:
            raise rex.ContentDecodingError(exc) from exc
        except u3.ReadTimeoutError as exc:
            raise rex.ConnectionError(exc) from exc
        except u3.SSLError as exc:
            raise rex.SSLError(exc) from exc
        finally:
            raw.release_conn()
        if raw.status in _REDIRECTS:  # never from Close; the session follows it as it always did
            response = self.session.request(method, url, params=params, json=json_body, timeout=timeout,
                                            headers={"Authorization": auth})
            return Answer(response.status_code, response.headers, response.content)
        return Answer(raw.status, raw.headers, content)

    def close(self) -> None:
        """Close the pooled connections."""
        self.session.close()


def _query(params: Mapping[str, Any] | None) -> str:
    """The query string requests would build (``None`` values left out, a list as repeated names), except that
    commas and colons stay as they are: both are allowed in a query (RFC 3986) and Close reads them either way, and
    a query without ``%`` takes urllib3's fast path, where a percent-encoded one is checked byte by byte in Python
    (an ``id__in`` of 100 ids: 0.7 ms of CPU a request against 0.17)."""
    if not params:
        return ""
    pairs = []
    for name, value in params.items():
        if value is None:
            continue
        values = value if isinstance(value, (list, tuple)) else [value]
        pairs += [(name, item) for item in values if item is not None]
    return urlencode(pairs, safe=",:")


def _as_requests_error(exc: Exception) -> Exception:
    """The requests exception its adapter raises for a urllib3 failure (``HTTPAdapter.send``), else ``exc``."""
    if isinstance(exc, u3.MaxRetryError):
        reason = exc.reason
        if isinstance(reason, u3.ConnectTimeoutError) and not isinstance(reason, u3.NewConnectionError):
            return rex.ConnectTimeout(exc)
        if isinstance(reason, u3.ResponseError):
            return rex.RetryError(exc)
        if isinstance(reason, u3.ProxyError):
            return rex.ProxyError(exc)
        if isinstance(reason, u3.SSLError):
            return rex.SSLError(exc)
        return rex.ConnectionError(exc)
    if isinstance(exc, (u3.ProtocolError, OSError, u3.ClosedPoolError)):
        return rex.ConnectionError(exc)
    if isinstance(exc, u3.ProxyError):
        return rex.ProxyError(exc)
    if isinstance(exc, u3.SSLError):
        return rex.SSLError(exc)
    if isinstance(exc, u3.ReadTimeoutError):
        return rex.ReadTimeout(exc)
    if isinstance(exc, u3.InvalidHeader):
        return rex.InvalidHeader(exc)
    return exc
