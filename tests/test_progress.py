"""Progress bars of real loads against the sandbox: records, pages and rate-limit waits; silent when asked."""

from __future__ import annotations

import re

import closeframe as cf
from closeframe import cli
from closeframe.progress import progress_enabled


def test_bar_counts_records_pages_and_rate_limit_waits(fresh_sandbox, capsys):
    sb = fresh_sandbox(organizations=[{"outcomes": 250}], calls=0, meetings=0, rate_limit=2.0)
    (name, key), = sb.api_keys.items()
    df = cf.load_outcomes(key, base_url=sb.base_url, progress=True)
    err = capsys.readouterr().err
    final = err.replace("\r", "\n").strip().splitlines()[-1]
    assert f"{len(sb.store.outcomes(name))}" in final and len(df) == len(sb.store.outcomes(name))
    assert "pages=3" in final  # 250 outcomes at Close's 100 per page
    waited = float(re.search(r"rate_wait=([0-9.]+)s", final).group(1))
    assert waited > 0  # 2 requests per second with a burst of 2: the third page waited


def test_progress_false_is_silent(sandbox, capsys):
    key = next(iter(sandbox.api_keys.values()))
    cf.load_outcomes(key, base_url=sandbox.base_url, progress=False)
    assert capsys.readouterr().err == ""


def test_default_is_off_outside_notebooks_and_terminals():
    # pytest captures stderr, so it is not a terminal, and no Jupyter kernel runs here.
    assert progress_enabled(None) is False
    assert progress_enabled(True) is True and progress_enabled(False) is False


def test_cli_shows_no_bar_when_not_on_a_terminal(tmp_path, capsys):
    assert cli.main(["demo", "--out", str(tmp_path)]) == 0
    assert "rate_wait" not in capsys.readouterr().err
