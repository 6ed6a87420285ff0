"""``closeframe dashboard``: the outcome usage explorer served as a web page by Voilà.

The data comes from where the report's does (:mod:`closeframe.load.source`): ``CLOSEFRAME_API_KEYS``, else
``CLOSE_API_KEY``, else the seeded sandbox, which the notebook kernel starts itself (its seed passed in
``CLOSEFRAME_SANDBOX_SEED``). The kernel inherits this process's environment, so keys never appear on a command
line or in the output.

The link printed is the one being served: the port is checked before Voilà starts, Voilà may not move to another
port on its own (``port_retries=0``), and the link is printed only once the page answers there.
"""

from __future__ import annotations

import errno
import http.client
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from closeframe.errors import ConfigurationError
from closeframe.load.source import SANDBOX_SEED_ENV, sandbox_in_use

__all__ = ["DASHBOARD_CSS", "DASHBOARD_NOTEBOOK", "DEFAULT_PORT", "choose_port", "dashboard_command",
           "dashboard_environment", "dashboard_header", "run_dashboard"]

#: The notebook Voilà serves; shipped inside the package so an installed closeframe can serve it.
DASHBOARD_NOTEBOOK = Path(__file__).with_name("dashboard.ipynb")
#: Voilà's usual port, tried first when none is given.
DEFAULT_PORT = 8866
#: How long Voilà may take to start answering.
START_TIMEOUT = 120.0
_HOST = "127.0.0.1"

#: The page's own CSS: readable type, and on a narrow screen pickers, table and chart stacked at full width.
DASHBOARD_CSS = """<style>
body { font-family: system-ui, -apple-system, "Segoe UI", "Noto Sans", "Noto Sans CJK JP", sans-serif; }
.closeframe-source { color: #444; margin: 0 0 .6rem; }
.closeframe-explorer .widget-html-content p { white-space: normal; max-width: 52em; }
.closeframe-explorer .closeframe-status { max-width: 60em; }
.closeframe-explorer .closeframe-status .widget-html-content { white-space: normal; line-height: 1.35; }
/* The chart keeps its drawn size (text of 10 px or more, never scaled down); a table wider than the screen
   scrolls sideways in its own box. */
.closeframe-explorer .closeframe-charts > .widget-image { max-width: none !important; flex: 0 0 auto; }
.closeframe-explorer .closeframe-view-table, .closeframe-explorer .closeframe-drill { max-width: 100%;
  overflow-x: auto; }
.closeframe-narrow-note { display: none; color: #555; font-size: 90%; }
/* A phone: the explorer's narrow chart (NARROW_CHART_WIDTH px, legend below) instead of the wide one, and the
   chart first: views, status and chart, then the pickers (shorter lists), then the table. */
@media (max-width: 820px) {
  .closeframe-explorer .closeframe-charts > .widget-image.closeframe-chart-wide { display: none; }
  .closeframe-explorer .closeframe-charts > .widget-image.closeframe-chart-narrow { display: block;
    max-width: 100% !important; height: auto; }
  .closeframe-explorer > .closeframe-views { order: 1; }
  .closeframe-explorer > .closeframe-status { order: 2; }
  .closeframe-explorer > .closeframe-charts { order: 3; }
  .closeframe-explorer > .closeframe-settings { order: 4; }
  .closeframe-explorer > .closeframe-pickers { order: 5; }
  .closeframe-explorer > .closeframe-report-link { order: 6; }
  .closeframe-explorer > .closeframe-table-download, .closeframe-explorer > .closeframe-view-table { order: 7; }
  .closeframe-explorer > .closeframe-drill { order: 8; }
  .closeframe-explorer .closeframe-pickers select { max-height: 7.5em; }
  .closeframe-explorer .widget-toggle-buttons .widget-toggle-button { font-size: 12px; padding: 0 6px; }
}
@media (max-width: 900px) {
  .closeframe-explorer .widget-hbox { flex-wrap: wrap !important; max-width: calc(100vw - 24px); }
  .closeframe-explorer .widget-select-multiple, .closeframe-explorer select { width: 100% !important; }
  .closeframe-narrow-note { display: block; }
}
</style>"""


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as tornado binds: TIME_WAIT is no obstacle
        try:
            sock.bind((_HOST, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((_HOST, 0))
        return sock.getsockname()[1]


def choose_port(port: int | None) -> int:
    """The port to serve on: ``port`` if free; with ``None``, :data:`DEFAULT_PORT` or else any free one.

    Parameters
    ----------
    port : int or None
        ``None``: the default port, or a free one when it is taken; ``0``: any free port.

    Raises
    ------
    ConfigurationError
        ``port`` was given and is in use (or not a port number), naming what to do instead.
    """
    if port is None:
        return DEFAULT_PORT if _port_is_free(DEFAULT_PORT) else _free_port()
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ConfigurationError(f"--port {port!r} is not a port number: use 1-65535, or 0 for any free port.")
    if port == 0:
        return _free_port()
    if not _port_is_free(port):
        raise ConfigurationError(f"Port {port} on {_HOST} is already in use (another dashboard or Jupyter?). Stop "
                                 "that, or pass --port 0 for any free port (or leave --port out).")
    return port


def dashboard_command(port: int, *, notebook: Path = DASHBOARD_NOTEBOOK) -> list[str]:
    """The Voilà command line serving ``notebook`` on 127.0.0.1:``port`` only, without opening a browser.

    Raises
    ------
    ConfigurationError
        When Voilà is not installed, saying which extra installs it.
    """
    if importlib.util.find_spec("voila") is None:
        raise ConfigurationError('Voilà is not installed: pip install "closeframe[dashboard]".')
    return [sys.executable, "-m", "voila", str(notebook), f"--port={port}", "--no-browser",
            f"--Voila.ip={_HOST}", "--Voila.port_retries=0", "--show_tracebacks=False"]


def dashboard_environment(seed: int = 0) -> tuple[dict, str]:
    """The environment for Voilà's kernel and a key-free sentence on where its data comes from.

    Returns
    -------
    (dict, str)
        The child's environment (this checkout of closeframe first on ``PYTHONPATH``, so the kernel imports the
        same code; ``CLOSEFRAME_SANDBOX_SEED`` when no key is set) and e.g. ``"Close (key from CLOSE_API_KEY)"``.
    """
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    if env.get("CLOSEFRAME_API_KEYS"):
        return env, "the organizations in CLOSEFRAME_API_KEYS"
    if env.get("CLOSE_API_KEY"):
        return env, "the organization of CLOSE_API_KEY"
    env[SANDBOX_SEED_ENV] = str(int(seed))
    return env, f"the closeframe sandbox's made-up demo data (seed {seed})"


def dashboard_header(loaded) -> str:
    """The line above the explorer: how many calls, meetings and outcomes of how many organizations, from where.

    Parameters
    ----------
    loaded : closeframe.load.source.LoadedUsage
    """
    import html

    organizations = loaded.outcomes["organization_id"].nunique() if len(loaded.outcomes) else 0
    return (f"{DASHBOARD_CSS}<p class=\"closeframe-source\">{len(loaded.calls):,} calls, {len(loaded.meetings):,} "
            f"meetings and {len(loaded.outcomes):,} outcomes of {organizations:,} organizations from "
            f"{html.escape(loaded.source)}.</p><p class=\"closeframe-narrow-note\">On a phone the chart comes first; "
            "the pickers follow it, then the table (a wide table scrolls sideways in its own box).</p>")


def _wait_until_served(port: int, child: subprocess.Popen, timeout: float) -> bool:
    """True once Voilà answers HTTP on ``port``; False if it exits first or ``timeout`` passes.

    It asks for ``/api`` (an answer without rendering the notebook: requesting the page itself would start a
    kernel and load every activity just to check the server is up).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and child.poll() is None:
        connection = http.client.HTTPConnection(_HOST, port, timeout=5)
        try:
            connection.request("GET", "/api")
            if connection.getresponse().status < 500:
                return child.poll() is None  # and it is ours: with port_retries=0 a loser of the port exits
        except OSError:
            time.sleep(0.25)
        finally:
            connection.close()
    return False


def run_dashboard(port: int | None = None, *, seed: int = 0) -> int:
    """Serve the dashboard until interrupted; return Voilà's exit status.

    Parameters
    ----------
    port : int, optional
        Port on 127.0.0.1: ``None`` tries :data:`DEFAULT_PORT`, then any free one; ``0`` any free one.
    seed : int, default 0
        The sandbox's seed when no key is set.

    Raises
    ------
    ConfigurationError
        The port given is taken, or Voilà is not installed.
    """
    port = choose_port(port)
    command = dashboard_command(port)
    if threading.current_thread() is threading.main_thread():
        # SIGTERM (a service manager, a test) must stop Voilà and its kernel too, not orphan them.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    env, source = dashboard_environment(seed)
    if sandbox_in_use():
        print("No key set (neither CLOSEFRAME_API_KEYS nor CLOSE_API_KEY): the dashboard shows the closeframe "
              "sandbox's made-up data.", flush=True)
    url = f"http://{_HOST}:{port}/"
    print(f"Starting the closeframe dashboard on port {port} with data from {source}…", flush=True)
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    try:
        if _wait_until_served(port, child, START_TIMEOUT):
            print(f"closeframe dashboard: {url}  (Ctrl-C stops it)", flush=True)
        elif child.poll() is not None:
            print(f"closeframe: error: the dashboard stopped before serving {url} (exit {child.returncode}); "
                  "its messages are above.", file=sys.stderr, flush=True)
            return child.returncode or 1
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
