"""An embedded Close-compatible HTTP server with seeded synthetic organizations, for demos, notebooks and tests.

>>> from closeframe.sandbox import serve
>>> with serve(seed=0, calls=100) as sb:          # doctest: +SKIP
...     sb.base_url, sb.api_keys

Behaviour worth knowing when coding against it (the rest follows ``close-api.md``):

- Endpoints under ``/api/v1/`` (trailing slash required): ``outcome/`` (GET, POST), ``outcome/{id}/`` (GET, PUT,
  DELETE), ``me/``, ``user/``, ``user/{id}/``, ``organization/{id}/``, ``activity/call/``,
  ``activity/meeting/`` (GET), ``activity/call/{id}/``, ``activity/meeting/{id}/`` (GET, PUT).
- Rate-limit endpoint groups (:data:`ENDPOINT_GROUPS`): ``outcome``; ``activity`` (calls and meetings);
  ``account`` (``me``, ``user``, ``organization``); ``other`` (unknown paths). All methods of a path share its group.
- List order: outcomes by ``(date_created, id)`` ascending unless a test inserted one at a ``position``;
  calls and meetings newest first, i.e. ``date_created`` descending, ties by ``id`` descending; users in
  creation order.
- The fixed "now" is 2026-11-01T00:00:00Z; records written later get a logical clock one second per write after it.

Payloads follow recorded real Close answers; what Close does not document is a knob of :class:`Sandbox`
(``filter_precision``, ``filter_rounding``, ``rate_limit_headers``, ``rate_limit_body``, ``bursts``,
``date_resolution``). :mod:`closeframe.sandbox.replay` serves recorded real answers instead of synthetic ones.

See :class:`Sandbox` for the knobs, :class:`FaultPlan` (and :data:`FAULT_KINDS`) for fault injection,
:class:`Store` for injecting data and :class:`Stats` for the counters.
"""

from closeframe.sandbox.faults import FAULT_KINDS, FaultPlan
from closeframe.sandbox.ratelimit import ENDPOINT_GROUPS
from closeframe.sandbox.runner import Sandbox, run_forever, serve
from closeframe.sandbox.stats import Stats
from closeframe.sandbox.store import Store

__all__ = sorted(["ENDPOINT_GROUPS", "FAULT_KINDS", "FaultPlan", "Sandbox", "Stats", "Store", "run_forever", "serve"])
