"""``closeframe dashboard`` without a browser: its port, its data source, the link it prints."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from closeframe import cli
from closeframe.views.dashboard import DEFAULT_PORT, choose_port, dashboard_environment
from closeframe.errors import ConfigurationError
from closeframe.load.source import SANDBOX_SEED_ENV

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def busy_port():
    """A port some other program listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.fixture
def no_keys(monkeypatch):
    for name in ("CLOSEFRAME_API_KEYS", "CLOSE_API_KEY", "CLOSE_BASE_URL", SANDBOX_SEED_ENV):
        monkeypatch.delenv(name, raising=False)


def test_a_port_given_and_taken_is_one_clear_error(busy_port, capsys):
    with pytest.raises(ConfigurationError, match=f"Port {busy_port} on 127.0.0.1 is already in use.*--port 0"):
        choose_port(busy_port)
    assert cli.main(["dashboard", "--port", str(busy_port)]) == 1
    err = capsys.readouterr().err
    assert f"Port {busy_port}" in err and "Traceback" not in err


def test_no_port_given_takes_the_default_or_a_free_one():
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", DEFAULT_PORT))
            sock.listen()
        except OSError:
            pass  # something already listens there: just as good for this test
        port = choose_port(None)
    assert port != DEFAULT_PORT and 0 < port < 65536
    assert choose_port(0) > 0
    with pytest.raises(ConfigurationError, match="not a port number"):
        choose_port(70000)


def test_environment_without_keys_runs_the_sandbox_in_the_kernel(no_keys):
    env, source = dashboard_environment(seed=3)
    assert env[SANDBOX_SEED_ENV] == "3" and "sandbox" in source and "seed 3" in source
    assert str(ROOT) in env["PYTHONPATH"].split(os.pathsep)


def test_environment_passes_closeframe_api_keys_through(no_keys, monkeypatch, sandbox):
    keys = json.dumps(dict(sandbox.api_keys))
    monkeypatch.setenv("CLOSEFRAME_API_KEYS", keys)
    monkeypatch.setenv("CLOSE_API_KEY", "api_other")
    env, source = dashboard_environment()
    assert env["CLOSEFRAME_API_KEYS"] == keys and SANDBOX_SEED_ENV not in env
    assert "CLOSEFRAME_API_KEYS" in source and keys not in source


def test_environment_passes_close_api_key_through(no_keys, monkeypatch):
    monkeypatch.setenv("CLOSE_API_KEY", "api_abc")
    env, source = dashboard_environment()
    assert env["CLOSE_API_KEY"] == "api_abc" and "api_abc" not in source and SANDBOX_SEED_ENV not in env


def test_the_link_printed_is_the_one_served_when_the_default_port_is_busy(tmp_path):
    pytest.importorskip("voila", reason="Voilà is not installed (the dashboard extra)")
    blocker = socket.socket()
    try:
        blocker.bind(("127.0.0.1", DEFAULT_PORT))
        blocker.listen()
    except OSError:
        pass  # already taken by someone else: the dashboard must move all the same
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSE")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    process = subprocess.Popen([sys.executable, "-m", "closeframe", "dashboard"], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        lines = []
        deadline = time.monotonic() + 90
        link = None
        while time.monotonic() < deadline and link is None:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            match = re.search(r"closeframe dashboard: (http://127\.0\.0\.1:(\d+)/)", line)
            if match:
                link = match
        assert link is not None, "".join(lines)
        assert int(link.group(2)) != DEFAULT_PORT
        assert any("No key set" in line and "sandbox" in line for line in lines)
        assert sum("http://" in line for line in lines) == 1  # one link, the right one
        with urllib.request.urlopen(link.group(1), timeout=90) as answer:  # the dashboard itself, rendered
            page = answer.read().decode("utf-8", "replace")
        assert answer.status == 200 and "voila" in page.lower() and "closeframe-explorer" in page
    finally:
        blocker.close()
        process.send_signal(signal.SIGTERM)
        try:
            process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the group this test started, by its id
            process.communicate()


def _svg_text_px(svg: str) -> list[float]:
    """The size in CSS px of every font size an SVG sets, shown at its own width (points count 4/3 px)."""
    head = re.search(r"<svg[^>]*>", svg).group(0)
    width = re.search(r' width="([\d.]+)(pt|px)?"', head)
    view_width = float(re.search(r'viewBox="[\d.\-]+ [\d.\-]+ ([\d.]+)', head).group(1))
    scale = float(width.group(1)) * (4 / 3 if width.group(2) == "pt" else 1) / view_width
    sizes = re.findall(r'font-size="([\d.]+)"', svg) + re.findall(r"font: ?(?:[a-z]+ )*([\d.]+)px", svg) + \
        re.findall(r"font-size: ?([\d.]+)px", svg)
    return [float(size) * scale for size in sizes]


def test_every_view_draws_text_of_at_least_10_px(sandbox):
    import closeframe as cf
    from closeframe.views.usage_explorer import USAGE_VIEWS

    keys, url = dict(sandbox.api_keys), sandbox.base_url
    explorer = cf.explore(cf.load_outcomes(keys, base_url=url, progress=False),
                          cf.load_calls(keys, base_url=url, progress=False),
                          cf.load_meetings(keys, base_url=url, progress=False))
    drawn = 0
    for view in USAGE_VIEWS:
        explorer.view.value = view
        svg = bytes(explorer.chart.value).decode("utf-8")
        if not svg:
            continue  # a view without a chart (nothing to draw)
        sizes = _svg_text_px(svg)
        assert sizes and min(sizes) >= 10, (view, min(sizes))
        # The phone's chart: as readable, and narrow enough for the ~390 px a 420 px screen leaves the explorer.
        narrow = bytes(explorer.chart_narrow.value).decode("utf-8")
        sizes = _svg_text_px(narrow)
        assert sizes and min(sizes) >= 10, (view, min(sizes))
        assert float(re.search(r' width="([\d.]+)"', narrow).group(1)) <= 390, view
        drawn += 1
    # The page shows charts at their own size (DASHBOARD_CSS: the wide one on a wide screen, the narrow one on a
    # phone), so this is what people read.
    assert drawn >= len(USAGE_VIEWS) - 1


def test_default_usage_caches_close_data_but_never_the_sandboxs(no_keys, monkeypatch, sandbox, tmp_path):
    from closeframe.load.source import load_default_usage

    first = load_default_usage(cache=tmp_path / "sandbox-cache")
    assert len(first.calls) and not (tmp_path / "sandbox-cache").exists()
    name, key = next(iter(sandbox.api_keys.items()))
    monkeypatch.setenv("CLOSE_API_KEY", key)
    monkeypatch.setenv("CLOSE_BASE_URL", sandbox.base_url)
    loaded = load_default_usage(cache=tmp_path / "cache")
    assert len(loaded.calls) == len(sandbox.store.calls(name)) and (tmp_path / "cache" / "closeframe.duckdb").is_file()
    assert "key from CLOSE_API_KEY" in loaded.source and key not in loaded.source
