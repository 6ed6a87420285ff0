"""An embedded Close-compatible HTTP server with seeded synthetic organizations, for demos, notebooks and tests.

>>> from closeframe.sandbox import serve
>>> with serve(seed=0, calls=100) as sb:          # doctest: +SKIP
...     sb.base_url, sb.api_keys

See :class:`Sandbox` for the knobs, :class:`FaultPlan` for fault injection.
"""

from closeframe.sandbox.faults import FAULT_KINDS, FaultPlan
from closeframe.sandbox.ratelimit import ENDPOINT_GROUPS
from closeframe.sandbox.runner import Sandbox, run_forever, serve
from closeframe.sandbox.stats import Stats
from closeframe.sandbox.store import Store

__all__ = sorted(["ENDPOINT_GROUPS", "FAULT_KINDS", "FaultPlan", "Sandbox", "Stats", "Store", "run_forever", "serve"])
