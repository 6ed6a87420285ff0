"""Start and stop the sandbox: the :class:`Sandbox` object, the :func:`serve` context manager, :func:`run_forever`."""

from __future__ import annotations

import threading
from typing import Any, Sequence

from closeframe.sandbox.common import derive_secret
from closeframe.sandbox.data import generate_organization, resolve_choice, resolve_org_specs
from closeframe.sandbox.faults import FaultPlan
from closeframe.sandbox.ratelimit import HEADER_SHAPES, REFUSAL_BODIES, RateLimiter
from closeframe.sandbox.server import Principal, SandboxHTTPServer
from closeframe.sandbox.stats import Stats
from closeframe.sandbox.store import Store
from closeframe.sandbox.tables import AUTOFILL_MARKINGS, FILTER_PRECISIONS, FILTER_ROUNDINGS

__all__ = ["Sandbox", "run_forever", "serve"]


class Sandbox:
    """A Close-compatible API on 127.0.0.1 with seeded synthetic organizations.

    Parameters
    ----------
    seed : int
        Same seed, same organizations, ids, keys and records.
    organizations : int or sequence of dict
        How many default organizations, or dicts with any of ``name``, ``outcomes``, ``calls``, ``meetings``,
        ``users`` (missing keys use the defaults below).
    outcomes, calls, meetings, users : int or (int, int)
        Per organization: exactly that many, or a seeded count in the closed range.
    latency : float
        Seconds each request waits before it is answered (in its own thread).
    rate_limit : float or None
        Requests per second per key and endpoint group (and the burst); ``None``/``0`` disables limiting.
    org_rate_factor : float
        An organization's limit as a multiple of ``rate_limit``.
    max_limit, max_skip : int
        Largest ``_limit`` and ``_skip`` accepted; beyond them Close answers 400.
    keys_per_org : int
        API keys per organization, each of a different user.
    port : int
        0 picks a free port.
    quirks : bool
        Seed a couple of records with an unknown extra field, as Close adds fields over time.
    date_resolution : {"millisecond", "microsecond", "second"}, default "millisecond"
        Precision of the seeded activity dates (real Close: milliseconds).
    bursts : sequence of int or (int, float), or None
        Per organization, groups of calls created together: a count puts them on one instant (a bulk import),
        ``(count, seconds)`` spreads them over that span (a power dialer). ``None``: one burst of 150 at one
        instant in organizations with 1,000 calls or more; ``()`` none.
    filter_precision : {"second", "millisecond", "microsecond"}, default "second"
        How finely ``date_created__*``/``activity_at__*`` filters compare. Close does not document it; a Singer
        tap for Close says "to the second", so that is the default. See :func:`tables.coarsen_bounds`.
    filter_rounding : {"bucket", "value"}, default "bucket"
        ``bucket`` compares the truncated stored date with the truncated value; ``value`` truncates the value only.
    rate_limit_headers : {"combined", "separate", "x-rate-limit", "none"}, default "combined"
        The rate-limit header shape of every answer (all were seen on real Close answers).
    rate_limit_body : {"error", "top-level", "empty"}, default "error"
        The body of a 429 from the limiter: ``error.rate_reset``, or the older top-level string ``rate_reset``.
    autofill_marking : {"reason-and-text", "text-kept", "text-only", "reason-only", "none"}
        Which of Close's outcome autofill fields the answers carry (Close documents their values, not which an
        organization sees). ``reason-and-text`` (default, the documented shape): ``outcome_reason``
        ``user-selected``/``autofilled``/``voicemail-dropped``, and ``outcome_autofill_confidence``
        (``low``/``medium``/``high``) with an ``outcome_autofill_reasoning`` text on autofilled outcomes;
        ``text-kept``: as the default, but a person's pick that replaced an autofilled one keeps its confidence and
        text; ``text-only``: no ``outcome_reason``, the confidence and text on autofilled outcomes; ``reason-only``:
        ``outcome_reason`` alone; ``none``: none of the fields has a value.
    call_outcome_reason : bool, default False
        Calls carry the same three fields as meetings (voicemail drops as ``voicemail-dropped``). Off by default:
        Close's documented call schema has none of them.

    Attributes
    ----------
    store : Store
        The data; tests inject and mutate records through it.
    faults : FaultPlan
        Fault injection.
    stats : Stats
        Request counters.
    date_header : bool
        Whether answers carry a ``Date`` header (default True).
    clock_offset : float
        Seconds the ``Date`` header runs ahead of (negative: behind) the clock that stamps records and events.
    id_in : {"all", "first"}
        Whether ``id__in`` matches every listed id (default) or only the first, as a server that misreads it.
    page_cap : int or None
        Activity lists answer at most this many records a page whatever ``_limit`` asks (a server paging at 50).

    The event log's knobs are attributes of ``store.events`` (:class:`~closeframe.sandbox.events.EventLog`):
    ``outcome_events``, ``refusal_status``, ``access``, ``deleted_state``, ``date_format``, ``merge_seconds``.
    """

    def __init__(self, *, seed: int = 0, organizations: int | Sequence[dict] = 3, outcomes: Any = (5, 40),
                 calls: Any = 2000, meetings: Any = 500, users: Any = (2, 6), latency: float = 0.0,
                 rate_limit: float | None = 20.0, org_rate_factor: float = 3.0, max_limit: int = 100,
                 max_skip: int = 250_000, keys_per_org: int = 1, port: int = 0, quirks: bool = True,
                 date_resolution: str = "millisecond", bursts: Any = None, filter_precision: str = "second",
                 filter_rounding: str = "bucket", rate_limit_headers: str = "combined",
                 rate_limit_body: str = "error", autofill_marking: str = "reason-and-text",
                 call_outcome_reason: bool = False):
        if keys_per_org < 1:
            raise ValueError(f"keys_per_org must be at least 1, got {keys_per_org!r}")
        specs = resolve_org_specs(organizations, seed=seed, outcomes=outcomes, calls=calls, meetings=meetings,
                                  users=users, keys_per_org=keys_per_org)
        orgs = [generate_organization(seed, i, spec, quirks=quirks, date_resolution=date_resolution, bursts=bursts)
                for i, spec in enumerate(specs)]
        self.set_filter_precision(filter_precision, filter_rounding)
        self.set_rate_limit_shape(rate_limit_headers, rate_limit_body)
        self.seed = seed
        self.store = Store(orgs, seed=seed)
        self.set_autofill_marking(autofill_marking)
        self.set_call_outcome_reason(call_outcome_reason)
        self.faults = FaultPlan()
        self.stats = Stats()
        self.limiter = RateLimiter(rate_limit, org_rate_factor)
        self.latency = float(latency)
        self.max_limit = int(max_limit)
        self.max_skip = int(max_skip)
        self.stall_seconds = 5.0
        #: Whether answers carry a ``Date`` header (HTTP servers do; a proxy may drop it).
        self.date_header = True
        #: Seconds the ``Date`` header runs ahead of (negative: behind) the clock that stamps records and events.
        self.clock_offset = 0.0
        #: ``"all"``: ``id__in`` matches every id listed; ``"first"``: only the first (a server that misreads it).
        self.id_in = "all"
        #: Activity lists answer at most this many records a page whatever ``_limit`` asks (``None``: ``_limit``).
        self.page_cap: int | None = None
        self.port = port
        self.errors: list[str] = []  # unexpected handler exceptions, for tests to assert empty
        self.principals: dict[str, Principal] = {}
        self._keys: dict[str, list[str]] = {}
        self.tokens: dict[str, str] = {}
        for i, org in enumerate(orgs):
            keys = []
            for u in range(keys_per_org):
                key = "api_" + derive_secret(seed, "key", i, u, length=32)
                keys.append(key)
                self.principals[key] = Principal(org["name"], org["id"], org["users"][u], f"{org['name']}/user{u}")
            self._keys[org["name"]] = keys
            token = derive_secret(seed, "oauth", i, length=40)
            self.tokens[org["name"]] = token
            self.principals[token] = Principal(org["name"], org["id"], org["users"][0], f"{org['name']}/oauth")
        self.memberships: dict[str, list[str]] = {}  # principal label -> further organizations its user is in
        self._server: SandboxHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- credentials --------------------------------------------------------------------------------------------
    @property
    def api_keys(self) -> dict[str, str]:
        """``{organization name: its first API key}``, in organization order."""
        return {name: keys[0] for name, keys in self._keys.items()}

    def keys_for(self, org_name: str) -> list[str]:
        """All API keys of an organization, one per user."""
        if org_name not in self._keys:
            raise KeyError(f"no organization {org_name!r}; the organizations are {list(self._keys)}")
        return list(self._keys[org_name])

    # -- knobs --------------------------------------------------------------------------------------------------
    def share_user(self, *org_names: str) -> None:
        """Make the first keys' users of ``org_names`` one person in all of them: each key still reads only its
        own organization, but its ``/me/`` lists every one (as Close's does for a user in several)."""
        for name in org_names:
            self.keys_for(name)  # KeyError naming the organizations for an unknown one
        ids = {name: self.store.org_id(name) for name in org_names}
        for name in org_names:
            label = self.principals[self._keys[name][0]].label
            self.memberships[label] = [ids[other] for other in org_names if other != name]

    def set_latency(self, seconds: float) -> None:
        """Delay every later request by ``seconds``."""
        self.latency = float(seconds)

    def set_rate_limit(self, per_second: float | None, org_factor: float = 3.0) -> None:
        """New rate limits; all buckets start full."""
        self.limiter.configure(per_second, org_factor)

    def set_max_skip(self, n: int) -> None:
        """New ``_skip`` cap."""
        self.max_skip = int(n)

    def set_max_limit(self, n: int) -> None:
        """New ``_limit`` cap."""
        self.max_limit = int(n)

    def set_filter_precision(self, precision: str, rounding: str = "bucket") -> None:
        """How finely date filters compare from now on (see the ``filter_precision`` parameter)."""
        self.filter_precision_us = resolve_choice("filter_precision", precision, FILTER_PRECISIONS)
        resolve_choice("filter_rounding", rounding, {r: r for r in FILTER_ROUNDINGS})
        self.filter_precision, self.filter_rounding = precision, rounding

    def set_rate_limit_shape(self, headers: str = "combined", body: str = "error") -> None:
        """The rate-limit header shape of every answer and the body of a 429, from now on."""
        resolve_choice("rate_limit_headers", headers, {h: h for h in HEADER_SHAPES})
        resolve_choice("rate_limit_body", body, {b: b for b in REFUSAL_BODIES})
        self.rate_limit_headers, self.rate_limit_body = headers, body

    def set_autofill_marking(self, marking: str) -> None:
        """How answers mark an outcome filled in automatically, from now on (see ``autofill_marking``)."""
        resolve_choice("autofill_marking", marking, {m: m for m in AUTOFILL_MARKINGS})
        with self.store.lock:
            for org in self.store.organizations:  # calls and meetings of an organization share one context
                self.store.table(org["name"], "call").context.autofill_marking = marking
        self.autofill_marking = marking

    def set_call_outcome_reason(self, on: bool) -> None:
        """Whether calls carry the outcome autofill fields from now on (see ``call_outcome_reason``)."""
        if not isinstance(on, bool):
            raise ValueError(f"call_outcome_reason={on!r} is not one of True, False")
        with self.store.lock:
            for org in self.store.organizations:
                self.store.table(org["name"], "call").context.call_outcome_reason = on
        self.call_outcome_reason = on

    # -- lifecycle ----------------------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/api/v1/`` (only once started)."""
        if self._server is None:
            raise RuntimeError("the sandbox is not running; call start() or use serve()")
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/v1/"

    def start(self) -> "Sandbox":
        """Bind 127.0.0.1 and serve in a daemon thread."""
        if self._server is not None:
            raise RuntimeError("the sandbox is already running")
        self._server = SandboxHTTPServer(("127.0.0.1", self.port), self)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="closeframe-sandbox", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close the listening socket and end open connections (idempotent)."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
            server.close_connections()
            self._thread.join(timeout=5)

    def __enter__(self) -> "Sandbox":
        return self.start() if self._server is None else self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = f" at {self.base_url}" if self._server else ""
        return f"Sandbox(seed={self.seed}, organizations={list(self._keys)}{where})"


def serve(**kwargs: Any) -> Sandbox:
    """Build and start a :class:`Sandbox`; use it as a context manager so it stops on exit.

    Parameters
    ----------
    **kwargs
        See :class:`Sandbox`.

    Examples
    --------
    >>> with serve(seed=1, calls=10, meetings=5) as sb:
    ...     sb.base_url.startswith("http://127.0.0.1:")
    True
    """
    return Sandbox(**kwargs).start()


def run_forever(port: int = 8765, seed: int = 0, **kwargs: Any) -> None:
    """Serve until interrupted, after printing the base URL and each organization's API key and token.

    The keys are the sandbox's own fake keys; printing them is the point (the CLI hands them to the user).
    """
    import time

    with serve(port=port, seed=seed, **kwargs) as sb:
        print(f"closeframe sandbox listening on {sb.base_url}", flush=True)
        print(f'  export CLOSE_BASE_URL="{sb.base_url}"')
        for name, key in sb.api_keys.items():
            print(f"  {name}: CLOSE_API_KEY={key}  (OAuth token: {sb.tokens[name]})")
        print("Press Ctrl+C to stop.", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
