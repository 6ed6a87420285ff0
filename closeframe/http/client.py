"""CloseClient: one account's HTTP session to the Close API, its retry policy, and offset pagination.

Only this module and :mod:`closeframe.http.ratelimit` touch the network. Everything returns plain dicts.
"""

from __future__ import annotations

import datetime
import email.utils
import ipaddress
import json
import logging
import os
import random
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Mapping, Sequence
from urllib.parse import urlsplit

import requests

from closeframe.version import __version__
from closeframe.http.accounts import check_sendable, resolve_accounts
from closeframe.errors import ConfigurationError, RateLimitError, TransportError, error_for_status, mask_secret
from closeframe.http.ratelimit import Throttle, ThrottleStopped, ThrottleWaitTooLong, endpoint_group, rate_limit_wait
from closeframe.http.transport import Transport

__all__ = ["CLIENT_OPTIONS", "DEFAULT_BASE_URL", "PAGE_SIZE", "CloseClient", "check_client_options", "list_query",
           "normalize_fields", "resolve_base_url"]

DEFAULT_BASE_URL = "https://api.close.com/api/v1/"
#: Close's maximum ``_limit`` for outcomes, calls and meetings; asking for more is a 400.
PAGE_SIZE = 100

log = logging.getLogger("closeframe.http.client")

_RETRYABLE_STATUS = frozenset({500, 502, 503, 504})
_IDEMPOTENT = frozenset({"GET", "PUT", "DELETE", "HEAD", "OPTIONS"})


def _is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses, the only hosts allowed over plain HTTP."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve_base_url(base_url: str | None = None) -> str:
    """Return the API base URL to use, always ending in ``/``.

    Parameters
    ----------
    base_url : str, optional
        ``None`` reads ``CLOSE_BASE_URL``, else :data:`DEFAULT_BASE_URL`.

    Raises
    ------
    ConfigurationError
        When the URL is not ``http(s)://host/...``, or is plain ``http://`` to a host that is not loopback.
    """
    if base_url is not None and not isinstance(base_url, str):
        raise ConfigurationError(f"base_url={base_url!r} is a {type(base_url).__name__}, not a URL: pass a string "
                                 f"such as {DEFAULT_BASE_URL!r}, or None for CLOSE_BASE_URL.")
    url = base_url if base_url is not None else (os.environ.get("CLOSE_BASE_URL") or DEFAULT_BASE_URL)
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise ConfigurationError(f"Malformed base URL {url!r} ({exc}); use e.g. {DEFAULT_BASE_URL!r}.") from None
    if parts.scheme not in ("http", "https") or not host:
        raise ConfigurationError(
            f"Malformed base URL {url!r}: it must start with https:// (or http:// for 127.0.0.1/localhost) "
            f"and name a host, e.g. {DEFAULT_BASE_URL!r}."
        )
    if parts.username or parts.password:
        raise ConfigurationError("The base URL must not carry credentials; pass api_key= or token= instead.")
    if parts.scheme == "http" and not _is_loopback(host):
        raise ConfigurationError(
            f"Refusing plain http:// to {host!r}: keys would travel unencrypted. Use https://, "
            "or http:// only for a loopback host such as the closeframe sandbox."
        )
    if parts.query or parts.fragment:
        raise ConfigurationError(f"The base URL {url!r} must not have a query or fragment.")
    clean = f"{parts.scheme}://{parts.netloc}{parts.path}"
    return clean if clean.endswith("/") else clean + "/"


#: The keyword arguments of :class:`CloseClient` a loader's ``client_options=`` may set.
CLIENT_OPTIONS = ("timeout", "max_retries", "max_wait", "backoff", "sleep", "pool_size")


def _number(name: str, value: Any, *, low: float = 0.0, integer: bool = False, positive: bool = False) -> float:
    """``value`` as a number no smaller than ``low`` (above it with ``positive``), else a ConfigurationError."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value == value
    if ok and integer:
        ok = float(value).is_integer()
    if ok:
        ok = value > low if positive else value >= low
    if not ok:
        kind = "a whole number" if integer else "a number"
        bound = f"above {low:g}" if positive else f"at least {low:g}"
        raise ConfigurationError(f"{name}={value!r} is not valid: pass {kind} {bound}.")
    return value


def _check_timeout(timeout: Any) -> float | tuple[float, float]:
    if isinstance(timeout, tuple) and len(timeout) == 2:
        return tuple(_number("timeout", part, positive=True) for part in timeout)  # type: ignore[return-value]
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
        return _number("timeout", timeout, positive=True)
    raise ConfigurationError(f"timeout={timeout!r} is not valid: pass seconds (e.g. 30) or a pair (connect, read) "
                             "such as (5, 30).")


def check_client_options(options: Any) -> dict[str, Any]:
    """Check a loader's ``client_options=`` before any request: known names, sensible values.

    Raises
    ------
    ConfigurationError
        Naming the bad option or value and listing the valid names.
    """
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise ConfigurationError(f"client_options= takes a mapping such as {{'timeout': 30, 'max_wait': 600}}, not "
                                 f"a {type(options).__name__}.")
    unknown = [name for name in options if name not in CLIENT_OPTIONS]
    if unknown:
        raise ConfigurationError(f"Unknown client option{'s' if len(unknown) > 1 else ''} "
                                 f"{', '.join(map(repr, unknown))}; valid names are {', '.join(CLIENT_OPTIONS)}.")
    options = dict(options)
    if "timeout" in options:
        _check_timeout(options["timeout"])
    for name, integer, low in (("max_retries", True, 0), ("max_wait", False, 0), ("backoff", False, 0),
                               ("pool_size", True, 1)):
        if name in options:
            _number(name, options[name], low=low, integer=integer)
    if "sleep" in options and not callable(options["sleep"]):
        raise ConfigurationError(f"sleep={options['sleep']!r} is not callable.")
    return options


class _Auth(requests.auth.AuthBase):
    """Adds Close's credential to each request; its repr never shows the secret."""

    def __init__(self, api_key: str | None, token: str | None) -> None:
        self._api_key = api_key
        self._token = token

    @property
    def kind(self) -> str:
        return "token" if self._token else "api_key"

    @property
    def masked(self) -> str:
        return mask_secret(self._token or self._api_key)

    def header(self) -> str:
        """The ``Authorization`` header's value."""
        if self._token:
            return f"Bearer {self._token}"
        # Close: the key is the Basic username, with an empty password.
        return requests.auth._basic_auth_str(self._api_key, "")

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self.header()
        return request

    def __repr__(self) -> str:
        return f"<{self.kind} {self.masked}>"


class CloseClient:
    """A session to the Close API for one account (one API key or OAuth token).

    Parameters
    ----------
    api_key : str, optional
        A Close API key. ``None`` (and no ``token``) reads ``CLOSE_API_KEY``.
    token : str, optional
        An OAuth 2.0 access token, sent as ``Bearer``; use instead of ``api_key``.
    base_url : str, optional
        ``None`` reads ``CLOSE_BASE_URL``, else ``https://api.close.com/api/v1/``.
    timeout : float or (float, float), default (5, 30)
        Connect and read timeouts in seconds, on every request.
    max_retries : int, default 4
        Retries of a request after a 5xx, a dropped connection, a timeout or a broken body.
    max_wait : float, default 300
        Total seconds this client may spend waiting on rate limits before giving up with ``RateLimitError``.
        429 waits do not use up ``max_retries``.
    backoff : float, default 0.5
        First backoff in seconds; doubled per retry, capped at 30 s, with jitter.
    label : str, optional
        A safe name of the account for messages (never the key); defaults to the masked key.
    sleep : callable, default time.sleep
        Injectable so unit tests never really sleep.
    pool_size : int, default 10
        Connections kept per host (for concurrent pages of one account).

    Examples
    --------
    >>> client = CloseClient("api_...")                                # doctest: +SKIP
    >>> outcomes = list(client.paginate("outcome/", fields=["id", "name"]))  # doctest: +SKIP
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        token: str | None = None,
        base_url: str | None = None,
        timeout: float | tuple[float, float] = (5.0, 30.0),
        max_retries: int = 4,
        max_wait: float = 300.0,
        backoff: float = 0.5,
        label: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        pool_size: int = 10,
    ) -> None:
        for name, value in (("api_key", api_key), ("token", token)):
            if value is not None and not isinstance(value, str):
                raise ConfigurationError(
                    f"CloseClient takes one {name} string, not a {type(value).__name__}; for several "
                    "organizations pass them to cf.load_outcomes (or load_calls / load_meetings).")
        (account,) = resolve_accounts(api_key, token)  # the environment, emptiness, both-at-once: one set of rules
        check_client_options({"timeout": timeout, "max_retries": max_retries, "max_wait": max_wait,
                              "backoff": backoff, "sleep": sleep, "pool_size": pool_size})
        self.base_url = resolve_base_url(base_url)
        self.timeout = timeout
        self.max_retries = int(max_retries)
        self.max_wait = float(max_wait)
        self.backoff = float(backoff)
        self._auth = _Auth(account.api_key, account.token)
        self.label = label or self._auth.masked
        check_sendable(account.api_key or account.token, "OAuth token" if account.token else "API key", self.label)
        self._sleep = sleep
        # Waits end early when one of these is set (Ctrl-C, or another part of the load failed).
        self._stop_events: list[threading.Event] = [threading.Event()]
        self._local = threading.local()  # a stop event of one thread only (see stopped_in_thread)
        self.throttle = Throttle(sleep=None if sleep is time.sleep else sleep)
        self.rate_limit_waited = 0.0  # seconds spent waiting after 429s
        self._server_offset: float | None = None  # the server's clock minus time.time(), from Date headers
        self.requests_sent = 0
        self.session = requests.Session()
        self.session.auth = self._auth
        self.session.headers["User-Agent"] = f"closeframe/{__version__} {requests.utils.default_user_agent()}"
        self.session.headers["Accept"] = "application/json"
        adapter = requests.adapters.HTTPAdapter(pool_connections=2, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self._transport = Transport(self.session, self.base_url)

    def __repr__(self) -> str:
        return f"CloseClient(base_url={self.base_url!r}, auth={self._auth!r}, label={self.label!r})"

    def __enter__(self) -> "CloseClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections."""
        self.session.close()

    def stop(self) -> None:
        """Make every wait of this client (rate limits, backoff) end now; requests then raise ``LoadStopped``."""
        self._stop_events[0].set()

    @contextmanager
    def stopped_by(self, event: threading.Event):
        """While inside, setting ``event`` stops this client's waits as :meth:`stop` does."""
        self._stop_events.append(event)
        try:
            yield self
        finally:
            self._stop_events.remove(event)

    @contextmanager
    def stopped_in_thread(self, event: threading.Event):
        """While inside, setting ``event`` stops the waits of this thread's requests only (a page asked ahead
        that is no longer needed), leaving the client's other threads alone."""
        previous = getattr(self._local, "stop", None)
        self._local.stop = event
        try:
            yield self
        finally:
            self._local.stop = previous

    def _stop_requested(self) -> bool:
        own = getattr(self._local, "stop", None)
        return (own is not None and own.is_set()) or any(event.is_set() for event in list(self._stop_events))

    def _pause(self, seconds: float) -> None:
        """Sleep ``seconds``, or less when the client is stopped (the injected ``sleep`` is used as given)."""
        if self._sleep is not time.sleep:
            self._sleep(seconds)
            return
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if self._stop_requested():
                break
            self._stop_events[0].wait(min(left, Throttle.POLL))
        self._raise_if_stopped()

    def _raise_if_stopped(self) -> None:
        if self._stop_requested():
            from closeframe.http.progress import LoadStopped

            raise LoadStopped(f"the load for {self.label} was stopped")

    def url(self, path: str) -> str:
        """The full URL of an API path; Close's paths always end in ``/``."""
        path = path.strip("/")
        return f"{self.base_url}{path}/" if path else self.base_url

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> dict:
        """GET an API path and return its decoded JSON object.

        Parameters
        ----------
        path : str
            E.g. ``"outcome/"`` or ``"me/"``.
        params : mapping, optional
            Query parameters.
        """
        return self.request("GET", path, params=params)

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                json_body: Any = None) -> dict:
        """Send one request under the retry policy and return the decoded JSON body.

        The policy, in one place: before sending, wait while the endpoint group's ``RateLimit`` window is spent.
        A 429 waits for Close's reset (``RateLimit``, then ``Retry-After``, then the body's ``rate_reset``, then
        2 s); those waits count against ``max_wait``, not ``max_retries``. A 5xx (JSON or a proxy's HTML page), a
        dropped connection, a timeout, or a body that is not JSON is retried up to ``max_retries`` times with
        exponential backoff and full jitter (only for idempotent methods, and for any method when the connection
        never opened). Other 4xx raise at once. urllib3's ``Retry`` is not used: it knows neither the ``RateLimit``
        header nor a body that breaks after the headers arrived.

        Raises
        ------
        CloseAPIError
            A subclass chosen from the status (see :mod:`closeframe.errors`).
        TransportError
            No usable answer after the retries.
        """
        method = method.upper()
        url = self.url(path)
        shown_path = "/" + path.strip("/") + "/"
        group = endpoint_group(path)
        failures = 0
        last_problem = ""
        while True:
            self._acquire(group, shown_path)
            try:
                self.requests_sent += 1
                # The whole body is read here, so a mid-body reset is caught.
                response = self._transport.send(method, url, params=params, json_body=json_body,
                                                auth=self._auth.header(), timeout=self.timeout)
                body_bytes = response.content
            except BaseException as exc:
                self.throttle.release(group)  # no answer: it no longer counts against the window
                if not isinstance(exc, requests.exceptions.RequestException):
                    raise
                never_sent = isinstance(exc, (requests.exceptions.ConnectTimeout,)) or (
                    isinstance(exc, requests.exceptions.ConnectionError)
                    and "Connection refused" in str(exc)
                )
                if method not in _IDEMPOTENT and not never_sent:
                    raise TransportError(
                        f"{method} {shown_path} for {self.label} failed in transit ({type(exc).__name__}); "
                        "it may or may not have been applied, so it was not retried.",
                        path=shown_path, attempts=failures + 1,
                    ) from None
                last_problem = _describe_transport_error(exc)
                failures = self._backoff_or_raise(failures, shown_path, last_problem)
                continue

            self._note_server_clock(response.headers.get("Date"))
            status = response.status_code
            log.debug("%s %s %s -> %s (%s)", method, shown_path, dict(params or {}), status, self.label)
            self.throttle.update(group, response.headers)
            body = _decode_json(body_bytes, response.headers.get("Content-Type", ""))
            if status == 429:
                wait = rate_limit_wait(response.headers, body)
                if self.rate_limit_waited + wait > self.max_wait:
                    raise error_for_status(429, path=shown_path, body=body, account=self.label,
                                           hint=f"Gave up after waiting {self.rate_limit_waited:.1f} s in all "
                                                f"(max_wait={self.max_wait:g}); raise max_wait or load fewer "
                                                "accounts at once.")
                self.rate_limit_waited += wait
                self.throttle.block(group, wait)
                continue
            if status in _RETRYABLE_STATUS and method in _IDEMPOTENT:
                last_problem = f"Close answered {status}" + ("" if isinstance(body, dict) else " (not JSON)")
                failures = self._backoff_or_raise(failures, shown_path, last_problem, status=status, body=body)
                continue
            if status >= 400:
                raise error_for_status(status, path=shown_path, body=body if isinstance(body, dict) else None,
                                       account=self.label)
            if status == 204 or not body_bytes.strip():
                return {}
            if not isinstance(body, dict):
                # A 200 whose body is cut short or is not a JSON object: the answer is unusable, ask again.
                last_problem = "the answer was not a complete JSON object"
                if method not in _IDEMPOTENT:
                    raise TransportError(f"{method} {shown_path} for {self.label}: {last_problem}.",
                                         path=shown_path, attempts=failures + 1)
                failures = self._backoff_or_raise(failures, shown_path, last_problem)
                continue
            return body

    def _note_server_clock(self, date_header: str | None) -> None:
        """Remember how far the server's clock (its ``Date`` header) is from ours."""
        if not date_header:
            return
        try:
            server = email.utils.parsedate_to_datetime(date_header).timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            return
        # Date is rounded down to the second, so server + offset is a lower bound of the server's time: keep the
        # tightest one seen.
        offset = server - time.time()
        if self._server_offset is None or offset > self._server_offset:
            self._server_offset = offset

    def server_now(self) -> datetime.datetime | None:
        """The server's clock now, as its ``Date`` headers tell it (never later than the truth); ``None`` before
        any answer with a ``Date`` header."""
        if self._server_offset is None:
            return None
        return datetime.datetime.fromtimestamp(time.time() + self._server_offset, tz=datetime.timezone.utc)

    def _acquire(self, group: str, shown_path: str) -> None:
        """Wait for the throttle's go, within ``max_wait`` for any single wait, and stoppable."""
        self._raise_if_stopped()
        try:
            self.throttle.acquire(group, max_wait=self.max_wait, stop=self._stop_requested)
        except ThrottleWaitTooLong as exc:
            raise RateLimitError(429, f"GET {shown_path} for {self.label}: Close's rate limit asks to wait "
                                      f"{exc.seconds:.0f} s before the next request, longer than max_wait="
                                      f"{self.max_wait:g}; raise max_wait or try again later.",
                                 path=shown_path) from None
        except ThrottleStopped:
            self._raise_if_stopped()
            raise

    def _backoff_or_raise(self, failures: int, path: str, problem: str, *, status: int | None = None,
                          body: Any = None) -> int:
        """Sleep before retry number ``failures + 1``, or raise once ``max_retries`` are used up."""
        failures += 1
        if failures > self.max_retries:
            message = f"{problem} on GET {path} for {self.label}, {failures} times; giving up. " \
                      "Close or the network may be down: try again later."
            if status is not None:
                err = error_for_status(status, path=path, body=body if isinstance(body, dict) else None,
                                       account=self.label)
                err.args = (message,)
                raise err
            raise TransportError(message, path=path, attempts=failures)
        # Full jitter: a random wait up to the exponential step, so many clients do not retry in lockstep.
        step = min(30.0, self.backoff * 2 ** (failures - 1))
        self._pause(random.uniform(step / 2, step))
        return failures

    def paginate(self, path: str, params: Mapping[str, Any] | None = None, *,
                 fields: Sequence[str] | str | None = None, page_size: int = PAGE_SIZE,
                 on_page: Callable[[int], None] | None = None) -> Iterator[dict]:
        """Yield every record of an offset-paged list, lazily, page by page.

        Parameters
        ----------
        path : str
            A list endpoint, e.g. ``"outcome/"``.
        params : mapping, optional
            Filters sent with every page.
        fields : sequence of str or str, optional
            Sent as ``_fields``; ``id`` is added so pages can be checked for repeats.
        page_size : int, default 100
            ``_limit``; Close's maximum is 100.
        on_page : callable, optional
            Called with the number of records of each page (for progress bars).

        Yields
        ------
        dict
            Each record once: a record seen on an earlier page (records shift while paging) is skipped.

        Notes
        -----
        Stops when ``has_more`` is false, or when a page comes back empty even though ``has_more`` said otherwise
        (so a lying server cannot make it loop forever). A ``_skip`` past Close's cap raises
        :class:`~closeframe.errors.SkipCapError`: never a silently truncated list.
        """
        query = list_query(params, fields)
        seen: set = set()
        skip = 0
        while True:
            records, has_more = self.get_page(path, {**query, "_skip": skip, "_limit": page_size})
            if on_page is not None:
                on_page(len(records))
            for record in records:
                key = record.get("id") if isinstance(record, dict) else None
                if key is not None:
                    if key in seen:
                        continue
                    seen.add(key)
                yield record
            if not has_more or not records:
                return
            skip += len(records)

    def get_page(self, path: str, query: Mapping[str, Any]) -> tuple[list, bool]:
        """GET one page of a list endpoint and return its records and ``has_more``.

        Raises
        ------
        TransportError
            When the answer has no ``data`` list (the base URL is not a Close API).
        """
        page = self.get(path, query)
        records = page.get("data")
        if not isinstance(records, list):
            raise TransportError(f"GET /{path.strip('/')}/ for {self.label} answered without a 'data' list; is "
                                 "the base URL a Close API (…/api/v1/)?", path=path)
        return records, bool(page.get("has_more"))


def list_query(params: Mapping[str, Any] | None, fields: Sequence[str] | str | None,
               also: Sequence[str] = ()) -> dict:
    """The query of every page of a listing: the filters, and ``_fields`` (with ``id`` and the ``also`` names)."""
    query = dict(params or {})
    names = normalize_fields(fields)
    if names is not None:
        query["_fields"] = ",".join([*names, *(n for n in also if n not in names)])
    return query


def normalize_fields(fields: Sequence[str] | str | None) -> list[str] | None:
    """Turn ``fields`` (``"a,b"`` or ``["a", "b"]``) into a clean list that includes ``id``; ``None`` stays.

    Raises
    ------
    ConfigurationError
        For an empty list or a name that is not a plain field name.
    """
    if fields is None:
        return None
    if not isinstance(fields, (str, Sequence)) and not isinstance(fields, (set, frozenset)):
        raise ConfigurationError(f"fields={fields!r} is not a list of field names: pass e.g. ['id', 'name'] or "
                                 "'id,name', or None for every field.")
    names = fields.split(",") if isinstance(fields, str) else list(fields)
    clean = []
    for name in names:
        if not isinstance(name, str) or not name.strip() or not name.strip().replace("_", "a").isalnum():
            raise ConfigurationError(
                f"Bad field name {name!r} in fields=: use plain names such as 'id', 'name', 'applies_to'.")
        if name.strip() not in clean:
            clean.append(name.strip())
    if not clean:
        raise ConfigurationError("fields= is empty: pass None for every field, or names such as ['id', 'name'].")
    return clean if "id" in clean else ["id", *clean]


class _NotJSON:
    """Marker for a body that did not decode as JSON."""


_NOT_JSON: Any = _NotJSON()


try:
    # orjson decodes a page of 100 calls in about 0.2 ms of CPU, the standard library in 0.33 ms
    # (python bench/memory.py --decode).
    from orjson import loads as _fast_loads
except ImportError:  # pragma: no cover - orjson is a dependency; an environment without it still works
    _fast_loads = json.loads


def _decode_json(content: bytes, content_type: str) -> Any:
    """Decode a body as JSON; return the marker when it is not JSON (an HTML proxy page, a cut body)."""
    if not content.strip():
        return None
    if "html" in content_type.lower():
        return _NOT_JSON
    try:
        return _fast_loads(content)
    except ValueError:  # orjson.JSONDecodeError is one
        pass
    try:
        # What orjson refuses but JSON readers accept (NaN, integers beyond 64 bits, UTF-16, a lone surrogate), or
        # not JSON at all.
        return _without_lone_surrogates(json.loads(content))
    except ValueError:
        return _NOT_JSON


def _without_lone_surrogates(value: Any) -> Any:
    """``value`` with each lone surrogate (``"\\ud83c"``, half an emoji, escaped in an answer) replaced by U+FFFD.

    Such a string cannot be written as UTF-8: Arrow, Parquet, DuckDB and every export would fail on it with a raw
    ``UnicodeEncodeError``. It is mended once, here, where answers become Python values; the rest of the text stays.
    """
    if isinstance(value, str):
        if any("\ud800" <= ch <= "\udfff" for ch in value):
            return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        return value
    if isinstance(value, list):
        return [_without_lone_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {_without_lone_surrogates(k): _without_lone_surrogates(v) for k, v in value.items()}
    return value


def _describe_transport_error(exc: requests.exceptions.RequestException) -> str:
    """One safe line for a transport failure (no URL with query, no header)."""
    if isinstance(exc, requests.exceptions.Timeout):
        return "the request timed out"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "the connection broke while the answer was read"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return "the connection failed or was dropped"
    return f"the request failed ({type(exc).__name__})"
