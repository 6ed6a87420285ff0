"""The HTTP side of the sandbox: routes, auth, paging, filters, rate limits and faults acted out on the wire.

One :class:`Handler` instance serves one connection (HTTP/1.1 keep-alive) in its own thread of a
:class:`SandboxHTTPServer`. The server object carries a reference to the :class:`~closeframe.sandbox.Sandbox`
whose store, fault plan, limiter and counters the handler uses.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import socket
import struct
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from closeframe.sandbox.common import format_us, parse_us
from closeframe.sandbox.events import EVENT_PAGE_LIMIT, EventFilterError
from closeframe.sandbox.ratelimit import Decision, endpoint_group
from closeframe.sandbox.store import applies_to_for
from closeframe.sandbox.tables import coarsen_bounds

__all__ = ["Handler", "Principal", "SandboxHTTPServer", "encode_json"]

API_PREFIX = "/api/v1"
JSON_TYPE = "application/json; charset=utf-8"
AUTH_ERROR = ("Invalid or missing credentials. Send your API key with HTTP Basic auth (the key as username, an "
              "empty password) or an OAuth access token as 'Authorization: Bearer <token>'.")
_OUTCOME_TYPES = ("custom", "vm-dropped")
_PROXY_PAGE = ("<html><head><title>{status} {reason}</title></head><body><center><h1>{status} {reason}</h1>"
               "</center><hr><center>nginx</center></body></html>\n")
# Faults answered instead of the request; the others change how the real answer is produced or sent.
_REPLACING = {"429", "429-fractional", "429-retry-after", "429-body", "429-top-level", "500", "502", "503", "504",
              "500-html", "502-html", "503-html", "504-html", "504-empty", "reset-before"}
_REASONS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


def _add_lone_surrogate(payload: Any, field: str | None) -> None:
    """Append half an emoji (a lone high surrogate) to a text field of the answer's first record (the fault)."""
    records = payload.get("data") if isinstance(payload, dict) and isinstance(payload.get("data"), list) else [payload]
    for record in records[:1]:
        if not isinstance(record, dict):
            return
        name = field or next((n for n in ("user_name", "title", "name", "note") if isinstance(record.get(n), str)),
                             None)
        if name is not None:
            record[name] = (record.get(name) or "") + "half an emoji \ud83c"


@dataclass(frozen=True)
class Principal:
    """Who a credential is: its organization (name), its user, and a printable label (never the secret)."""

    org: str
    org_id: str
    user: dict
    label: str


_PLAIN = frozenset({str, int, bool, type(None)})


def _plain(value: Any) -> bool:
    """Whether ``value`` holds only strings, integers, booleans, None, lists and dicts: JSON that orjson writes
    byte for byte as ``json.dumps`` does (a float could be written another way, ``1e16`` against ``1e+16``, and NaN
    as null). A key that is not a string makes orjson refuse, so keys need no look here."""
    stack = [value]
    pop, push = stack.pop, stack.append
    while stack:
        value = pop()
        kind = value.__class__
        if kind is dict:
            for item in value.values():
                if item.__class__ not in _PLAIN:
                    push(item)
        elif kind is list or kind is tuple:
            for item in value:
                if item.__class__ not in _PLAIN:
                    push(item)
        elif kind not in _PLAIN:
            return False
    return True


def encode_json(payload: Any, *, ascii_only: bool = False) -> bytes:
    """An answer's body: ``json.dumps(payload, separators=(",", ":"))`` in UTF-8, non-ASCII kept unless
    ``ascii_only``.

    The same bytes come from orjson when the payload allows it (see :func:`_plain`): a page of 100 outcomes in
    0.03 ms instead of 0.7 ms, which was half of the sandbox's CPU per page, CPU the client's benchmarks share.
    """
    if not ascii_only and _plain(payload):
        try:
            return orjson.dumps(payload)
        except TypeError:  # an integer beyond 64 bits, a key not a string, a lone surrogate: json.dumps decides
            pass
    return json.dumps(payload, ensure_ascii=ascii_only, separators=(",", ":")).encode("utf-8")


class _HTTPError(Exception):
    """Raised inside a route to answer ``status`` with ``payload``."""

    def __init__(self, status: int, payload: Any, headers: dict | None = None):
        super().__init__(status)
        self.status, self.payload, self.headers = status, payload, headers or {}


def _error(status: int, message: str, headers: dict | None = None) -> _HTTPError:
    return _HTTPError(status, {"error": message}, headers)


class SandboxHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server whose handler threads are daemons and are not joined on close."""

    daemon_threads = True
    block_on_close = False  # a stalled handler must not hold up shutdown
    # socketserver's default backlog of 5 drops the SYNs of a burst of new connections (20 accounts opening
    # theirs at once), and each dropped SYN costs the client a 1 s retransmit: a stall no real API shows.
    request_queue_size = 128

    def __init__(self, address, sandbox):
        self.sandbox = sandbox
        self._connections: set = set()  # open client sockets, so stopping ends keep-alive connections too
        self._connections_lock = threading.Lock()
        super().__init__(address, Handler)

    def process_request(self, request, client_address):
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """End every open connection: a stopped sandbox must not keep answering on keep-alive sockets."""
        with self._connections_lock:
            connections, self._connections = list(self._connections), set()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request, client_address):
        # Clients hanging up mid-answer (timeouts, the reset faults) are expected; anything else is a bug that a
        # test should see, so it goes to the sandbox's error list rather than being printed with the request.
        import sys

        error = sys.exc_info()[1]
        if not isinstance(error, (ConnectionError, TimeoutError, OSError)):
            self.sandbox.errors.append(repr(error))


class Handler(BaseHTTPRequestHandler):
    """Serves Close's API for one connection."""

    protocol_version = "HTTP/1.1"  # keep-alive, so clients can pool connections
    def version_string(self) -> str:
        """The Server header."""
        return "closeframe-sandbox"

    def date_time_string(self, timestamp=None) -> str:
        """The Date header, from the store's clock: the clock that stamps the records it creates, as Close's
        Date and its records' dates come from one clock (unless the ``clock_offset`` knob sets the Date apart).
        It stands behind the real one (see ``NOW``)."""
        if timestamp is not None:
            return super().date_time_string(timestamp)
        sb = self.server.sandbox
        return super().date_time_string(sb.store.clock_us() / 1_000_000 + sb.clock_offset)

    def send_response(self, code, message=None) -> None:
        """The status line, ``Server`` and ``Date`` (left out under the ``date_header=False`` knob)."""
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Server", self.version_string())
        if self.server.sandbox.date_header:
            self.send_header("Date", self.date_time_string())
    timeout = 60  # idle keep-alive connections end eventually

    def setup(self) -> None:
        """Disable Nagle: headers and body go out in separate writes, which would otherwise cost a delayed-ACK
        round trip (~40 ms) per keep-alive request."""
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        """Silenced: the default log would print every request line."""

    # -- entry points -------------------------------------------------------------------------------------------
    def do_GET(self):
        self._serve("GET")

    def do_POST(self):
        self._serve("POST")

    def do_PUT(self):
        self._serve("PUT")

    def do_DELETE(self):
        self._serve("DELETE")

    def do_PATCH(self):
        self._serve("PATCH")

    def do_HEAD(self):
        self._serve("HEAD")

    def do_OPTIONS(self):
        self._serve("OPTIONS")

    # -- the request cycle --------------------------------------------------------------------------------------
    def _serve(self, method: str) -> None:
        sb = self.server.sandbox
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        if sb.latency:
            time.sleep(sb.latency)  # in this connection's thread only
        split = urlsplit(self.path)
        in_api = split.path.startswith(API_PREFIX + "/")
        path = split.path[len(API_PREFIX):] if in_api else split.path
        credential = self._credential()
        principal = sb.principals.get(credential) if credential else None
        label = principal.label if principal else "anonymous"
        group = endpoint_group(path) if in_api else "other"

        fault = sb.faults.next_fault(path, credential)
        if fault and fault["kind"] in _REPLACING:
            status = self._answer_fault(fault, principal, group)
            sb.stats.record(path, label, status)
            return

        admitted = principal is not None and sb.faults.admit(credential)
        decision = None
        try:
            if not admitted:
                raise _error(401, AUTH_ERROR)
            decision = sb.limiter.acquire(principal.label, principal.org, group)
            if not decision.allowed:
                refusal_headers, refusal = decision.refusal(sb.rate_limit_headers, sb.rate_limit_body)
                raise _HTTPError(429, refusal, refusal_headers)
            if fault and fault["kind"] == "stall":
                time.sleep(float(fault.get("seconds", sb.stall_seconds)))
            if fault and fault["kind"] in ("shift", "delete"):
                self._mutate_for_fault(fault["kind"], principal, path, parse_qs(split.query))
            if not in_api:
                raise _error(404, f"Not found. API paths start with {API_PREFIX}/.")
            with sb.store.events.acting(principal.user["id"], **self._credential_ids(credential, principal),
                                        meta={"request_method": method, "request_path": split.path}):
                status, payload = self._route(method, path, parse_qs(split.query, keep_blank_values=True), body,
                                              principal)
            if fault and fault["kind"] == "lying-has-more" and isinstance(payload, dict) and "has_more" in payload:
                payload["has_more"] = True
            if fault and fault["kind"] == "reversed" and isinstance(payload, dict) and \
                    isinstance(payload.get("data"), list):
                payload["data"].reverse()
            if fault and fault["kind"] == "lone-surrogate":
                _add_lone_surrogate(payload, fault.get("field"))
            headers: dict = {}
        except _HTTPError as answer:
            status, payload, headers = answer.status, answer.payload, answer.headers
        if decision is None:
            decision = self._peek(principal, group)
        if admitted and not 200 <= status < 300:
            sb.faults.refund(credential)
        headers.update(decision.headers(sb.rate_limit_headers))
        kind = fault["kind"] if fault else None
        # A lone surrogate cannot be UTF-8: it travels escaped (\\ud83c), as a JSON encoder writing ASCII sends it.
        data = encode_json(payload, ascii_only=kind == "lone-surrogate")
        sb.stats.record(path, label, status)
        if kind == "truncated-json":
            data = data[: max(1, len(data) // 2)]
        self._write(status, data, JSON_TYPE, headers, cut=kind == "reset-mid-body")

    def _peek(self, principal: Principal | None, group: str) -> Decision:
        sb = self.server.sandbox
        if principal is None:
            return sb.limiter.acquire("anonymous", "anonymous", group, consume=False)
        return sb.limiter.acquire(principal.label, principal.org, group, consume=False)

    def _credential_ids(self, credential: str, principal: Principal) -> dict:
        """What an event says of the credential: an API key's id, or an OAuth client and scope (never the secret)."""
        digest = hashlib.sha256(principal.label.encode()).hexdigest()[:22]
        if credential in self.server.sandbox.tokens.values():
            return {"oauth_client_id": "oa2client_" + digest, "oauth_scope": "all.full_access"}
        return {"api_key_id": "api_" + digest}

    def _credential(self) -> str | None:
        header = self.headers.get("Authorization") or ""
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer":
            return value.strip() or None
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError, ValueError):
                return None
            return decoded.partition(":")[0] or None
        return None

    def _write(self, status: int, data: bytes, content_type: str, headers: dict, *, cut: bool = False) -> None:
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            if not cut and hasattr(self, "_headers_buffer"):
                # Headers and body in one write: one send (and one wake-up of the client) per answer, not two.
                self._headers_buffer += [b"\r\n", data]
                self.flush_headers()
                return
            self.end_headers()
            if cut:
                # Full Content-Length announced, half the body sent, then the connection ends.
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.close_connection = True
            else:
                self.wfile.write(data)
        except OSError:
            self.close_connection = True

    # -- faults -------------------------------------------------------------------------------------------------
    def _answer_fault(self, fault: dict, principal: Principal | None, group: str) -> int | None:
        kind = fault["kind"]
        if kind == "reset-before":
            # Linger 0 turns the close into a TCP reset: "connection reset by peer", no status line at all.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return None
        if kind == "504-empty":
            self._write(504, b"", JSON_TYPE, {})  # recorded from Close: an empty body typed as JSON
            return 504
        if kind.endswith("-html"):
            status = int(kind[:3])
            page = _PROXY_PAGE.format(status=status, reason=_REASONS[status]).encode("utf-8")
            self._write(status, page, "text/html", {})
            return status
        if kind.startswith("429"):
            reset = float(fault.get("reset", {"429": 1, "429-fractional": 0.25, "429-retry-after": 1,
                                               "429-body": 0.2, "429-top-level": 0.2}[kind]))
            if kind == "429-top-level":
                body = {"rate_reset": f"{reset:g}", "rate_limit_type": "api_key", "rate_window": 1}
                self._write(429, json.dumps(body).encode("utf-8"), JSON_TYPE, {})
                return 429
            limit = self._peek(principal, group).limit
            headers = {}
            error: dict = {"message": "API call count exceeded for this period"}
            if kind in ("429", "429-fractional"):
                shown = f"{reset:g}" if kind == "429-fractional" else str(int(-(-reset // 1)))
                headers["RateLimit"] = f"limit={limit}, remaining=0, reset={shown}"
            if kind != "429-body":
                headers["Retry-After"] = str(max(1, int(-(-reset // 1))))
            if kind in ("429", "429-fractional", "429-body"):
                error["rate_reset"] = reset
            self._write(429, json.dumps({"error": error}).encode("utf-8"), JSON_TYPE, headers)
            return 429
        status = int(kind)
        headers = self._peek(principal, group).headers(self.server.sandbox.rate_limit_headers)
        body = json.dumps({"error": f"{status} {_REASONS[status]} (injected fault). Try again later."})
        self._write(status, body.encode("utf-8"), JSON_TYPE, headers)
        return status

    def _mutate_for_fault(self, kind: str, principal: Principal, path: str, query: dict) -> None:
        store = self.server.sandbox.store
        if path.startswith("/activity/call/") or path.startswith("/activity/meeting/"):
            table = "call" if path.startswith("/activity/call/") else "meeting"
            # The listing this request pages (its date window and filters), so the change shifts *its* pages.
            filters = self._activity_filters({name: values[-1] for name, values in query.items()})
            if kind == "shift":
                store.shift_activities(principal.org, table, **filters)
            else:
                store.delete_first_activity(principal.org, table, **filters)
        elif kind == "shift":
            store.add_outcome(principal.org, position=0, name="Inserted while you paged")
        else:
            store.delete_first_outcome(principal.org)

    # -- routing ------------------------------------------------------------------------------------------------
    def _route(self, method: str, path: str, query: dict, body: bytes, who: Principal) -> tuple[int, Any]:
        if not path.endswith("/"):
            raise _error(404, f"Not found: {path!r}. Close's paths end with a slash, e.g. {path + '/'!r}.")
        parts = path.strip("/").split("/") if path.strip("/") else []
        params = {name: values[-1] for name, values in query.items()}
        routes = {
            ("outcome",): {"GET": self._outcome_list, "POST": self._outcome_create},
            ("outcome", "*"): {"GET": self._outcome_get, "PUT": self._outcome_update,
                               "DELETE": self._outcome_delete},
            ("me",): {"GET": self._me},
            ("user",): {"GET": self._user_list},
            ("user", "*"): {"GET": self._user_get},
            ("organization", "*"): {"GET": self._organization_get},
            ("activity", "call"): {"GET": self._activity_list},
            ("activity", "meeting"): {"GET": self._activity_list},
            ("activity", "call", "*"): {"GET": self._activity_get, "PUT": self._activity_update,
                                        "DELETE": self._activity_delete},
            ("activity", "meeting", "*"): {"GET": self._activity_get, "PUT": self._activity_update,
                                           "DELETE": self._activity_delete},
            ("event",): {"GET": self._event_list},
            ("event", "*"): {"GET": self._event_get},
        }
        shape = tuple(parts[:2] if parts[:1] == ["activity"] else parts[:1]) + ("*",) * (
            len(parts) - (2 if parts[:1] == ["activity"] else 1))
        methods = routes.get(shape)
        if methods is None or not parts:
            raise _error(404, f"Not found: {path!r}.")
        if method not in methods:
            raise _error(405, f"Method {method} is not allowed on {path!r}; use {', '.join(methods)}.",
                         {"Allow": ", ".join(methods)})
        return methods[method](who=who, parts=parts, params=params, body=body)

    # -- helpers ------------------------------------------------------------------------------------------------
    def _paging(self, params: dict) -> tuple[int, int]:
        sb = self.server.sandbox
        values = {}
        for name, default in (("_skip", 0), ("_limit", 100)):
            raw = params.get(name, "")
            if raw == "":
                values[name] = default
                continue
            try:
                values[name] = int(raw)
            except ValueError:
                values[name] = -1
            if values[name] < 0:
                raise _error(400, f"{name} must be a non-negative integer, got {raw!r}.")
        if values["_limit"] > sb.max_limit:
            raise _error(400, "The limit you set is larger than the maximum limit for this resource "
                              f"(max_limit = {sb.max_limit}).")
        if values["_skip"] > sb.max_skip:
            raise _error(400, "The skip you set is larger than the maximum skip for this resource "
                              f"(max_skip = {sb.max_skip}). Please refine your search query.")
        return values["_skip"], values["_limit"]

    @staticmethod
    def _fields(params: dict, record: dict) -> dict:
        wanted = params.get("_fields")
        if not wanted:
            return record
        names = [name.strip() for name in wanted.split(",")]
        return {name: record[name] for name in names if name in record}

    def _page(self, params: dict, records: list[dict], has_more: bool) -> tuple[int, dict]:
        return 200, {"data": [self._fields(params, r) for r in records], "has_more": has_more}

    @staticmethod
    def _json_body(body: bytes) -> dict:
        try:
            data = json.loads(body.decode("utf-8") or "null")
        except (UnicodeDecodeError, ValueError):
            raise _error(400, "The request body is not valid JSON.") from None
        if not isinstance(data, dict):
            raise _error(400, "The request body must be a JSON object.")
        return data

    # -- outcomes -----------------------------------------------------------------------------------------------
    def _outcome_list(self, who, params, **_):
        skip, limit = self._paging(params)
        return self._page(params, *self.server.sandbox.store.outcome_page(who.org, skip, limit))

    def _outcome_get(self, who, parts, params, **_):
        record = self.server.sandbox.store.get_outcome(who.org, parts[1])
        if record is None:
            raise _error(404, f"Outcome {parts[1]!r} not found.")
        return 200, self._fields(params, record)

    @staticmethod
    def _validate_outcome(data: dict, *, creating: bool) -> dict:
        field_errors = {}
        if creating or "name" in data:
            name = data.get("name")
            if not isinstance(name, str) or not name.strip():
                field_errors["name"] = "This field is required."
        if "description" in data and data["description"] is not None and not isinstance(data["description"], str):
            field_errors["description"] = "Must be a string or null."
        if "type" in data and data["type"] not in _OUTCOME_TYPES:
            field_errors["type"] = f"Not a valid choice: {data['type']!r}. Valid choices are {list(_OUTCOME_TYPES)}."
        if "applies_to" in data and not (isinstance(data["applies_to"], list)
                                         and all(isinstance(v, str) for v in data["applies_to"])):
            field_errors["applies_to"] = "Must be a list of strings."
        if field_errors:
            raise _HTTPError(400, {"errors": [], "field-errors": field_errors})
        return {name: data[name] for name in ("name", "description", "type", "applies_to") if name in data}

    def _outcome_create(self, who, body, **_):
        fields = self._validate_outcome(self._json_body(body), creating=True)
        fields.setdefault("applies_to", applies_to_for(fields.get("type", "custom")))
        record = self.server.sandbox.store.add_outcome(who.org, created_by=who.user["id"],
                                                      updated_by=who.user["id"], **fields)
        return 201, record

    def _outcome_update(self, who, parts, body, **_):
        store = self.server.sandbox.store
        data = self._json_body(body)
        if store.get_outcome(who.org, parts[1]) is None:
            raise _error(404, f"Outcome {parts[1]!r} not found.")
        fields = self._validate_outcome(data, creating=False)
        if "type" in fields and "applies_to" not in fields:
            fields["applies_to"] = applies_to_for(fields["type"])  # derived from type since 2026-03-06
        fields.update(updated_by=who.user["id"], date_updated=format_us(store.now_us()))
        try:
            return 200, store.update_outcome(who.org, parts[1], **fields)
        except KeyError:
            raise _error(404, f"Outcome {parts[1]!r} not found.") from None

    def _outcome_delete(self, who, parts, **_):
        try:
            self.server.sandbox.store.delete_outcome(who.org, parts[1])
        except KeyError:
            raise _error(404, f"Outcome {parts[1]!r} not found.") from None
        return 200, {}

    # -- account ------------------------------------------------------------------------------------------------
    def _me(self, who, params, **_):
        store = self.server.sandbox.store
        me = {name: value for name, value in who.user.items() if name != "organizations"}
        others = self.server.sandbox.memberships.get(who.label, [])
        me["organizations"] = [{"id": org_id, "name": store.org_name(org_id)} for org_id in [who.org_id, *others]]
        return 200, self._fields(params, me)

    def _user_list(self, who, params, **_):
        skip, limit = self._paging(params)
        users = [self._public_user(u) for u in self.server.sandbox.store.users(who.org)]
        return self._page(params, users[skip:skip + limit], len(users) > skip + limit)

    def _user_get(self, who, parts, params, **_):
        for user in self.server.sandbox.store.users(who.org):
            if user["id"] == parts[1]:
                return 200, self._fields(params, self._public_user(user))
        raise _error(404, f"User {parts[1]!r} not found.")

    @staticmethod
    def _public_user(user: dict) -> dict:
        return {name: value for name, value in user.items() if name != "organizations"}

    def _organization_get(self, who, parts, params, **_):
        store = self.server.sandbox.store
        if parts[1] != who.org_id:
            known = any(org["id"] == parts[1] for org in store.organizations)
            if known:
                raise _error(403, "You don't have access to this organization.")
            raise _error(404, f"Organization {parts[1]!r} not found.")
        return 200, self._fields(params, store.organization(who.org))

    # -- activities ---------------------------------------------------------------------------------------------
    def _activity_filters(self, params: dict) -> dict:
        """The store filters of an activity list request (date bounds in µs, id equality filters)."""
        try:
            offset = float(self.headers.get("X-TZ-Offset") or 0)
        except ValueError:
            offset = 0.0
        bounds = {}
        for field in ("date_created", "activity_at"):
            values = []
            for op in ("gt", "gte", "lt", "lte"):
                raw = params.get(f"{field}__{op}")
                if raw is None or raw == "":
                    values.append(None)
                    continue
                try:
                    values.append(parse_us(raw, offset))
                except ValueError:
                    raise _error(400, f"{field}__{op}: {raw!r} is not an ISO 8601 date or datetime.") from None
            bounds[field] = tuple(values)
        sb = self.server.sandbox
        # Close's date filters may compare more coarsely than the stored dates (a knob: see Sandbox).
        created, activity = (coarsen_bounds(bounds[name], sb.filter_precision_us, sb.filter_rounding)
                             for name in ("date_created", "activity_at"))
        filters = {"created": created, "activity": activity}
        for name in ("user_id", "lead_id", "contact_id"):
            # Close takes comma-separated lists of ids for these.
            values = [v.strip() for v in (params.get(name) or "").split(",") if v.strip()]
            filters[name] = (values[0] if len(values) == 1 else values) if values else None
        ids = params.get("id__in")
        if ids is not None:
            filters["ids"] = [v.strip() for v in ids.split(",") if v.strip()]
            if sb.id_in == "first":
                filters["ids"] = filters["ids"][:1]  # a server that reads only the first id of the list
        return filters

    def _activity_list(self, who, parts, params, **_):
        skip, limit = self._paging(params)
        if self.server.sandbox.page_cap:
            limit = min(limit, self.server.sandbox.page_cap)  # a server paging at its own size, whatever is asked
        filters = self._activity_filters(params)
        org_filter = params.get("organization_id")
        if org_filter and org_filter != who.org_id:
            return self._page(params, [], False)
        records, has_more = self.server.sandbox.store.activity_page(who.org, parts[1], skip, limit,
                                                                    requested=self._requested(params), **filters)
        return self._page(params, records, has_more)

    @staticmethod
    def _requested(params: dict) -> tuple:
        return tuple(name.strip() for name in (params.get("_fields") or "").split(","))

    def _activity_get(self, who, parts, params, **_):
        record = self.server.sandbox.store.get_activity(who.org, parts[1], parts[2], self._requested(params))
        if record is None:
            raise _error(404, f"{parts[1].capitalize()} {parts[2]!r} not found.")
        return 200, self._fields(params, record)

    def _activity_update(self, who, parts, body, **_):
        store = self.server.sandbox.store
        data = self._json_body(body)
        if store.get_activity(who.org, parts[1], parts[2]) is None:
            raise _error(404, f"{parts[1].capitalize()} {parts[2]!r} not found.")
        if "outcome_id" not in data:
            return 200, store.get_activity(who.org, parts[1], parts[2])
        outcome_id = data["outcome_id"]
        if outcome_id is not None and store.get_outcome(who.org, outcome_id) is None:
            raise _HTTPError(400, {"errors": [], "field-errors": {"outcome_id": "Object does not exist."}})
        return 200, store.set_activity_outcome(who.org, parts[1], parts[2], outcome_id)

    def _activity_delete(self, who, parts, **_):
        try:
            self.server.sandbox.store.delete_activity(who.org, parts[1], parts[2])
        except KeyError:
            raise _error(404, f"{parts[1].capitalize()} {parts[2]!r} not found.") from None
        return 200, {}

    # -- the event log ------------------------------------------------------------------------------------------
    def _event_reader(self, who) -> bool:
        """Whether ``who`` is an admin; 403 when the log's access knob keeps them out."""
        store = self.server.sandbox.store
        admin = any(m["user_id"] == who.user["id"] and m["role_id"] == "admin"
                    for m in store.organization(who.org)["memberships"])
        access = store.events.access
        if access == "none" or (access == "admins" and not admin):
            raise _error(store.events.refusal_status, "You don't have access to the event log of this organization.")
        return admin

    def _event_list(self, who, params, **_):
        admin = self._event_reader(who)
        raw = params.get("_limit", "")
        try:
            limit = int(raw) if raw != "" else EVENT_PAGE_LIMIT
        except ValueError:
            limit = -1
        if limit < 0:
            raise _error(400, f"_limit must be a non-negative integer, got {raw!r}.")
        if limit > EVENT_PAGE_LIMIT:
            raise _error(400, "The limit you set is larger than the maximum limit for this resource "
                              f"(max_limit = {EVENT_PAGE_LIMIT}).")
        store = self.server.sandbox.store
        try:
            events, cursor_next, cursor_previous = store.events.page(who.org_id, params, admin=admin,
                                                                     limit=limit or EVENT_PAGE_LIMIT)
        except EventFilterError as exc:
            raise _error(400, str(exc)) from None
        return 200, {"data": [self._fields(params, e) for e in events], "cursor_next": cursor_next,
                     "cursor_previous": cursor_previous}

    def _event_get(self, who, parts, params, **_):
        admin = self._event_reader(who)
        for event in self.server.sandbox.store.events.page(who.org_id, {}, admin=admin, limit=None)[0]:
            if event["id"] == parts[1]:
                return 200, self._fields(params, event)
        raise _error(404, f"Event {parts[1]!r} not found.")
