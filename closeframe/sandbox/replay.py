"""Replay recorded real Close answers over HTTP, with Close's list semantics, so every loader can run on them.

The records are served exactly as recorded (every field, every null, in their recorded key order); only the
listing is Close's: outcomes in recorded order, calls and meetings newest first by ``(date_created, id)``, offset
paging with ``_skip``/``_limit`` (at most 100), ``_fields``, ``date_created__*``/``activity_at__*`` filters
(exact), comma-separated ``user_id``/``lead_id``/``contact_id``, ``id__in`` and ``organization_id``. Recorded
event-log entries (a page of ``GET /event/``, or a webhook's ``{"event": ...}`` envelope) are served by
``GET /event/``, newest first by ``date_updated``, filtered by ``object_type``, ``action``, ``object_id``,
``lead_id`` and ``date_created__*``/``date_updated__*`` (event dates carry no offset: read as UTC), cursor-paged
(``_cursor``, ``cursor_next``, at most 50 a page); without any, ``/event/`` is 404 (no log recorded). ``/me/`` is
not recorded: it is made up from the organizations the records belong to (their ids as names). Any credential
is accepted (Basic or Bearer); none is ever needed to read the recordings.

>>> from closeframe.sandbox.replay import load_recordings, serve_recordings   # doctest: +SKIP
>>> with serve_recordings(load_recordings("tests/fixtures/real")) as replay:  # doctest: +SKIP
...     cf.load_calls(replay.api_key, base_url=replay.base_url)
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import parse_qs, urlsplit

__all__ = ["Recordings", "ReplayServer", "load_recordings", "serve_recordings"]

API_PREFIX = "/api/v1"
MAX_LIMIT = 100
#: Close's largest ``_limit`` for events.
MAX_EVENT_LIMIT = 50
_STREAMS = {"call_activities": "calls", "meeting_activities": "meetings", "outcomes": "outcomes"}
_TYPES = {"Call": "calls", "Meeting": "meetings"}
_KINDS = {"activity/call": "calls", "activity/meeting": "meetings", "outcome": "outcomes"}
#: The fake key the replay hands out (any credential works).
REPLAY_KEY = "api_replay_of_recorded_close_answers"


@dataclass
class Recordings:
    """Recorded records by kind, and where each file came from."""

    outcomes: list = field(default_factory=list)
    calls: list = field(default_factory=list)
    meetings: list = field(default_factory=list)
    events: list = field(default_factory=list)
    files: list = field(default_factory=list)

    def organization_ids(self) -> list[str]:
        """Every ``organization_id`` in the records, in first-seen order."""
        seen: dict[str, None] = {}
        for record in [*self.outcomes, *self.calls, *self.meetings]:
            if isinstance(record.get("organization_id"), str):
                seen.setdefault(record["organization_id"], None)
        return list(seen)


def _kind_of(record: dict) -> str | None:
    if "object_type" in record and "action" in record:
        return "events"
    if record.get("_type") in _TYPES:
        return _TYPES[record["_type"]]
    if str(record.get("id", "")).startswith("outcome_"):
        return "outcomes"
    return None


def load_recordings(*folders: str | Path) -> Recordings:
    """Read every recording in ``folders`` (in order): JSON pages ``{"data": [...]}`` and JSON-lines stream records.

    A JSON-lines file holds one ``{"stream": <name>, "data": <record>}`` per line (a connector's recorded
    output); lines of streams other than calls, meetings and outcomes are skipped. Records of other kinds in a
    page (leads, notes) are skipped too, and so are sub-folders: a folder of built examples is read only when named.
    """
    if not folders:
        raise TypeError("load_recordings() needs at least one folder")
    found = Recordings()
    for path in [p for folder in folders for p in sorted(Path(folder).iterdir())]:
        if path.suffix == ".jsonl":
            lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            records = [(_STREAMS.get(line.get("stream")), line.get("data")) for line in lines]
        elif path.suffix == ".json":
            page = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(page, dict) and isinstance(page.get("event"), dict):  # a webhook's envelope
                page = {"data": [page["event"]]}
            data = page.get("data", []) if isinstance(page, dict) else page
            records = [(_kind_of(record), record) for record in data if isinstance(record, dict)]
        else:
            continue
        kept = [(kind, record) for kind, record in records if kind and isinstance(record, dict)]
        for kind, record in kept:
            getattr(found, kind).append(record)
        if kept:
            found.files.append(path.name)
    return found


def _date(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        stamp = datetime.fromisoformat(value.strip().replace(" ", "+").replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)


class _Error(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        """Silenced."""

    def do_GET(self):  # noqa: N802 - the base class's name
        replay: ReplayServer = self.server.replay  # type: ignore[attr-defined]
        split = urlsplit(self.path)
        params = {name: values[-1] for name, values in parse_qs(split.query, keep_blank_values=True).items()}
        try:
            if not (self.headers.get("Authorization") or "").strip():
                raise _Error(401, "Invalid or missing credentials.")
            if not split.path.startswith(API_PREFIX + "/") or not split.path.endswith("/"):
                raise _Error(404, f"Not found: {split.path!r}.")
            path = split.path[len(API_PREFIX):].strip("/")
            payload = replay.answer(path, params)
            status = 200
        except _Error as error:
            status, payload = error.status, {"error": error.message}
        replay.requests[status] += 1
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class ReplayServer:
    """Serves :class:`Recordings` on 127.0.0.1 (see the module docstring for what it answers)."""

    def __init__(self, recordings: Recordings, *, port: int = 0):
        self.recordings = recordings
        self.api_key = REPLAY_KEY
        self.requests: Counter = Counter()
        self._port = port
        self._server: ThreadingHTTPServer | None = None
        self._listings = {kind: self._newest_first(getattr(recordings, kind)) for kind in ("calls", "meetings")}
        self._listings["outcomes"] = list(recordings.outcomes)
        floor = datetime.min.replace(tzinfo=timezone.utc)
        self._events = sorted(recordings.events, reverse=True,
                              key=lambda e: (_date(e.get("date_updated")) or floor, str(e.get("id"))))
        self.paths: Counter = Counter()  # answered paths, e.g. "event" and "activity/call"

    @staticmethod
    def _newest_first(records: Iterable[dict]) -> list[dict]:
        floor = datetime.min.replace(tzinfo=timezone.utc)
        return sorted(records, key=lambda r: (_date(r.get("date_created")) or floor, str(r.get("id"))), reverse=True)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/api/v1/`` once started."""
        if self._server is None:
            raise RuntimeError("the replay server is not running; use it as a context manager")
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/v1/"

    def __enter__(self) -> "ReplayServer":
        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), _Handler)
        self._server.daemon_threads = True
        self._server.replay = self  # type: ignore[attr-defined]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    # -- answers ----------------------------------------------------------------------------------------------
    def answer(self, path: str, params: dict) -> dict:
        """The JSON answer to ``GET /api/v1/<path>/``."""
        self.paths[path] += 1
        if path == "event" and self._events:
            return self._event_page(params)
        if path == "me":
            organizations = [{"id": org, "name": org} for org in self.recordings.organization_ids()]
            return {"id": "user_replay", "first_name": "Recorded", "last_name": "Answers",
                    "organizations": organizations}
        kind = _KINDS.get(path)
        if kind is None:
            raise _Error(404, f"Not found: /{path}/ was not recorded.")
        skip, limit = self._paging(params)
        records = [r for r in self._listings[kind] if self._matches(r, params)]
        page = records[skip:skip + limit]
        return {"data": [self._fields(r, params.get("_fields")) for r in page], "has_more": len(records) > skip + limit}

    def _event_page(self, params: dict) -> dict:
        """A page of ``GET /event/``: the cursor is the position of the page's first event, as text."""
        start, limit = self._paging(params, "_cursor", MAX_EVENT_LIMIT)
        wanted = [e for e in self._events if self._event_matches(e, params)]
        page = wanted[start:start + limit]
        more = len(wanted) > start + limit
        return {"data": page, "cursor_next": str(start + limit) if more else None, "cursor_previous": None}

    @staticmethod
    def _event_matches(event: dict, params: dict) -> bool:
        for name in ("object_type", "action", "object_id", "lead_id"):
            if params.get(name) and event.get(name) != params[name]:
                return False
        return ReplayServer._dates_match(event, params, ("date_created", "date_updated"))

    @staticmethod
    def _dates_match(record: dict, params: dict, names: tuple[str, ...]) -> bool:
        for name in names:
            for op in ("gt", "gte", "lt", "lte"):
                raw = params.get(f"{name}__{op}")
                if not raw:
                    continue
                bound, value = _date(raw), _date(record.get(name))
                if bound is None:
                    raise _Error(400, f"{name}__{op}: {raw!r} is not an ISO 8601 date.")
                if value is None or not {"gt": value > bound, "gte": value >= bound, "lt": value < bound,
                                         "lte": value <= bound}[op]:
                    return False
        return True

    @staticmethod
    def _paging(params: dict, offset: str = "_skip", most: int = MAX_LIMIT) -> tuple[int, int]:
        """``(offset, limit)`` from ``params`` (the event log's cursor is an offset as text here)."""
        try:
            skip, limit = int(params.get(offset) or 0), int(params.get("_limit") or most)
        except ValueError:
            raise _Error(400, f"{offset} and _limit must be integers.") from None
        if limit > most:
            raise _Error(400, "The limit you set is larger than the maximum limit for this resource "
                              f"(max_limit = {most}).")
        return max(skip, 0), max(limit, 0)

    @staticmethod
    def _fields(record: dict, wanted: str | None) -> dict:
        if not wanted:
            return record
        names = [n.strip() for n in wanted.split(",")]
        return {name: record[name] for name in names if name in record}

    @staticmethod
    def _matches(record: dict, params: dict) -> bool:
        if not ReplayServer._dates_match(record, params, ("date_created", "activity_at")):
            return False
        for name in ("user_id", "lead_id", "contact_id", "organization_id"):
            wanted = [v for v in (params.get(name) or "").split(",") if v]
            if wanted and record.get(name) not in wanted:
                return False
        ids = params.get("id__in")
        return not ids or record.get("id") in ids.split(",")


def serve_recordings(recordings: Recordings, *, port: int = 0) -> ReplayServer:
    """A :class:`ReplayServer` for ``recordings``; use it as a context manager (it starts on entry)."""
    return ReplayServer(recordings, port=port)
