"""No credential in any output, log line, repr, error, progress bar or written file; transport stays safe.

The scans use :func:`tests.secret_scan.assert_no_secrets`, so scanning a new output (a notebook, a report) is one
line: ``assert_no_secrets(path_or_text, all_secrets(sandbox))``.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import closeframe as cf
from closeframe.http.accounts import resolve_accounts
from closeframe.http.client import resolve_base_url
from closeframe.sandbox import Sandbox
from tests.secret_scan import assert_no_secrets

ROOT = Path(__file__).resolve().parents[2]


def all_secrets(sb) -> list[str]:
    """Every API key and OAuth token of a sandbox."""
    keys = [key for name in sb.api_keys for key in sb.keys_for(name)]
    return keys + list(sb.tokens.values())


def run_cli(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """``python -m closeframe <args>`` in ``cwd`` with HOME there too, so any file it writes is found."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CLOSE_")}
    environment.update(HOME=str(cwd), PYTHONPATH=str(ROOT), **env)
    return subprocess.run([sys.executable, "-m", "closeframe", *args], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=120)


def test_verbose_cli_export_shows_and_writes_no_key(sandbox, tmp_path):
    name, key = next(iter(sandbox.api_keys.items()))
    for out in ("outcomes.csv", "outcomes.parquet"):
        done = run_cli(["-v", "export", "--out", out], tmp_path, CLOSE_API_KEY=key,
                       CLOSE_BASE_URL=sandbox.base_url)
        assert done.returncode == 0, done.stderr
        assert "DEBUG" in done.stderr and "/outcome/" in done.stderr  # verbose really logged the requests
        assert_no_secrets([done.stdout, done.stderr], all_secrets(sandbox))
    assert {p.name for p in tmp_path.iterdir()} >= {"outcomes.csv", "outcomes.parquet"}
    assert_no_secrets(tmp_path, all_secrets(sandbox))  # exports, and anything else written under cwd/HOME


def test_verbose_cli_with_a_rejected_key_shows_no_key(sandbox, tmp_path):
    bad = "api_RejectedKeyThatMustNotLeak0123456789"
    done = run_cli(["-v", "export", "--out", "x.csv"], tmp_path, CLOSE_API_KEY=bad, CLOSE_BASE_URL=sandbox.base_url)
    assert done.returncode == 1 and "401" in done.stderr
    assert_no_secrets([done.stdout, done.stderr, tmp_path], [bad])


def test_verbose_cli_demo_shows_and_writes_no_key(tmp_path):
    done = run_cli(["-v", "demo", "--out", "out"], tmp_path)
    assert done.returncode == 0, done.stderr
    demo_keys = all_secrets(Sandbox(seed=0))  # the demo's sandbox: same seed, same keys (not started here)
    assert_no_secrets([done.stdout, done.stderr, tmp_path], demo_keys)
    assert (tmp_path / "out" / "outcomes.parquet").is_file()


def test_debug_logs_progress_bar_and_reprs_hold_no_key(sandbox, caplog, capsys):
    secrets = all_secrets(sandbox)
    caplog.set_level(logging.DEBUG)  # root: closeframe, urllib3 and requests all at DEBUG
    for logger in ("closeframe", "urllib3", "requests"):
        logging.getLogger(logger).setLevel(logging.DEBUG)
    keys = dict(sandbox.api_keys)
    frames = [cf.load_outcomes(keys, base_url=sandbox.base_url, progress=True),
              cf.load_calls(token=list(sandbox.tokens.values()), base_url=sandbox.base_url, progress=True,
                            since="2026-01-01")]
    client = cf.CloseClient(next(iter(keys.values())), base_url=sandbox.base_url)
    captured = capsys.readouterr()
    assert any(r.name.startswith("urllib3") for r in caplog.records)  # the scan covered urllib3's DEBUG lines
    assert "rec" in captured.err  # a tqdm bar was drawn
    texts = [caplog.text, captured.out, captured.err, repr(client), str(client), repr(client._auth),
             repr(resolve_accounts(keys)), repr(resolve_accounts(token=list(sandbox.tokens.values()))),
             repr(sandbox), repr(sandbox.stats), repr(sandbox.faults.describe())]
    texts += [repr(record.__dict__) for record in caplog.records]
    texts += [frame.to_csv() for frame in frames]
    assert_no_secrets(texts, secrets)


def test_errors_hold_no_key(sandbox):
    bad = "api_AnotherRejectedKey_ABCDEFGHIJKLMNOP"
    good = next(iter(sandbox.api_keys.values()))
    with pytest.raises(cf.PartialLoadError) as info:
        cf.load_outcomes([good, bad], base_url=sandbox.base_url, progress=False)
    error = info.value
    inner = error.failed["account 2"]
    texts = [str(error), repr(error), repr(error.failed), str(inner), repr(inner), repr(inner.body),
             " ".join(getattr(inner, "__notes__", [])), repr(error.__cause__)]
    with pytest.raises(cf.AuthenticationError) as single:
        cf.CloseClient(bad, base_url=sandbox.base_url).get("me/")
    texts += [str(single.value), repr(single.value.args)]
    assert_no_secrets(texts, [bad, good])


def test_tls_verification_is_never_disabled():
    pattern = re.compile(r"verify\s*=\s*False|\.verify\s*=|disable_warnings|CERT_NONE|check_hostname\s*=\s*False")
    offenders = [f"{path.relative_to(ROOT)}:{n}" for path in sorted((ROOT / "closeframe").rglob("*.py"))
                 for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if pattern.search(line)]
    assert offenders == []


@pytest.mark.parametrize("url", ["http://api.close.com/api/v1/", "http://10.0.0.5:8000/api/v1/",
                                 "http://example.localhost.evil.com/api/v1/"])
def test_plain_http_is_refused_except_for_loopback(url):
    with pytest.raises(cf.ConfigurationError, match="https"):
        resolve_base_url(url)


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/api/v1/", "http://[::1]:9/api/v1/", "http://localhost:9/"])
def test_plain_http_is_allowed_on_loopback(url):
    assert resolve_base_url(url).startswith("http://")


def test_sandbox_listens_on_loopback_only(sandbox):
    host, port = sandbox._server.socket.getsockname()[:2]
    assert host == "127.0.0.1" and sandbox.base_url.startswith(f"http://127.0.0.1:{port}/")


def test_committed_notebooks_show_no_key():
    # Every notebook loads from a seeded sandbox; collect the keys of the seeds they use (not started here).
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb")) + [ROOT / "closeframe" / "views" / "dashboard.ipynb"]
    seeds = {0} | {int(seed) for path in notebooks
                   for seed in re.findall(r"seed=(\d+)", path.read_text(encoding="utf-8"))}
    secrets = [secret for seed in sorted(seeds) for secret in all_secrets(Sandbox(seed=seed))]
    assert len(notebooks) >= 4 and assert_no_secrets(notebooks, secrets) > 10_000


def test_report_with_a_key_in_the_environment_holds_no_key(sandbox, tmp_path):
    key = next(iter(sandbox.api_keys.values()))
    done = run_cli(["-v", "report", "--out", "report.html"], tmp_path, CLOSE_API_KEY=key,
                   CLOSE_BASE_URL=sandbox.base_url)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "report.html").stat().st_size > 10_000  # the report, with its plots, was written
    assert_no_secrets([done.stdout, done.stderr, tmp_path], all_secrets(sandbox))
