"""nbval runs these notebooks in a kernel of this checkout, offline, on the seeded sandbox.

The kernel is a child process: it inherits the environment, not pytest's sys.path, so the checkout goes on
PYTHONPATH; and no CLOSE_* variable reaches it, so a developer's real key is never used by the test suite.
"""

import os
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parent.parent)
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (_ROOT, os.environ.get("PYTHONPATH")) if p)
for _name in ("CLOSE_API_KEY", "CLOSE_BASE_URL", "CLOSEFRAME_API_KEYS"):
    os.environ.pop(_name, None)
