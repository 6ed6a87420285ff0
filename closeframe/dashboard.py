"""``closeframe dashboard``: the outcome explorer served as a web page by Voilà, on the sandbox unless a key is set.

Without ``CLOSE_API_KEY`` this process runs the seeded sandbox and hands it to Voilà's notebook kernel through
the environment (``CLOSE_BASE_URL`` and ``CLOSEFRAME_API_KEYS``, see :mod:`closeframe.source`); the keys are
synthetic and never printed. With ``CLOSE_API_KEY`` the kernel inherits it and reads Close.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator

from closeframe.errors import ConfigurationError
from closeframe.source import API_KEYS_ENV

__all__ = ["DASHBOARD_NOTEBOOK", "dashboard_command", "dashboard_environment", "run_dashboard"]

#: The notebook Voilà serves; shipped inside the package so an installed closeframe can serve it.
DASHBOARD_NOTEBOOK = Path(__file__).with_name("dashboard.ipynb")


def dashboard_command(port: int, *, notebook: Path = DASHBOARD_NOTEBOOK) -> list[str]:
    """The Voilà command line serving ``notebook`` on 127.0.0.1:``port`` without opening a browser.

    Raises
    ------
    ConfigurationError
        When Voilà is not installed, saying which extra installs it.
    """
    if importlib.util.find_spec("voila") is None:
        raise ConfigurationError('Voilà is not installed: pip install "closeframe[dashboard]".')
    return [sys.executable, "-m", "voila", str(notebook), f"--port={port}", "--no-browser",
            "--Voila.ip=127.0.0.1", "--show_tracebacks=False"]


@contextlib.contextmanager
def dashboard_environment(seed: int = 0) -> Iterator[tuple[dict, str]]:
    """The environment for Voilà and a key-free description of the data; runs the sandbox while open.

    Yields
    ------
    (dict, str)
        The child's environment (this checkout of closeframe on ``PYTHONPATH``, so the kernel imports the same
        code) and e.g. ``"the closeframe sandbox (seed 0)"``.
    """
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    if env.get("CLOSE_API_KEY"):
        env.pop(API_KEYS_ENV, None)
        yield env, "Close (CLOSE_API_KEY)"
        return
    from closeframe.sandbox import serve

    with serve(seed=seed, rate_limit=None) as sandbox:
        env["CLOSE_BASE_URL"] = sandbox.base_url
        env[API_KEYS_ENV] = json.dumps(dict(sandbox.api_keys))
        yield env, f"the closeframe sandbox (seed {seed})"


def run_dashboard(port: int = 8866, *, seed: int = 0) -> int:
    """Serve the dashboard until interrupted; return Voilà's exit status.

    Parameters
    ----------
    port : int, default 8866
        Port on 127.0.0.1.
    seed : int, default 0
        The sandbox's seed when ``CLOSE_API_KEY`` is not set.
    """
    command = dashboard_command(port)
    if threading.current_thread() is threading.main_thread():
        # SIGTERM (a service manager, a test) must stop Voilà and the sandbox too, not orphan them.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with dashboard_environment(seed) as (env, source):
        print(f"closeframe dashboard on http://127.0.0.1:{port}/ with data from {source} (Ctrl-C stops it)",
              flush=True)
        child = subprocess.Popen(command, env=env)
        try:
            return child.wait()
        except KeyboardInterrupt:
            return 0
        finally:
            if child.poll() is None:
                child.terminate()  # Voilà shuts its kernels down on SIGTERM
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()
