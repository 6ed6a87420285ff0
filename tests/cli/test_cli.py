"""The closeframe command, run as a real process: exit codes, one-line errors, files written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

import closeframe as cf

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args, env=None, timeout=120):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CLOSE_")}
    environment["PYTHONPATH"] = str(ROOT) + os.pathsep + environment.get("PYTHONPATH", "")
    environment.update(env or {})
    return subprocess.run([sys.executable, "-m", "closeframe", *args], capture_output=True, text=True,
                          env=environment, timeout=timeout)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "out"
    result = run_cli("demo", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return result.stdout, out


def test_demo_writes_parquet_and_csv_and_prints_a_summary(demo_run):
    stdout, out = demo_run
    parquet = pd.read_parquet(out / "outcomes.parquet")
    csv = pd.read_csv(out / "outcomes.csv")
    assert len(parquet) == len(csv) > 0
    assert f"{len(parquet)} outcomes from {parquet['organization_id'].nunique()} organizations" in stdout
    for name, count in parquet.groupby("organization_name", observed=True).size().items():
        assert f"{name}" in stdout and str(count) in stdout


def _store_usage(sandbox) -> dict[str, tuple[int, int, list[tuple[str, int]]]]:
    """{organization: (calls and meetings, those with an outcome, [(name, times logged)] most logged first)},
    counted straight from the sandbox's store (ties by name, as a reader would rank them)."""
    usage = {}
    for org in sandbox.store.organizations:
        name = org["name"]
        records = sandbox.store.calls(name) + sandbox.store.meetings(name)
        names = {o["id"]: o["name"] for o in sandbox.store.outcomes(name)}
        logged = Counter(r["outcome_id"] for r in records if r.get("outcome_id"))
        ranked = sorted(((names.get(i, i), n) for i, n in logged.items()), key=lambda pair: (-pair[1], pair[0]))
        usage[name] = (len(records), sum(logged.values()), ranked)
    return usage


def test_demo_prints_usage_per_organization_as_the_store_counts_it(sandbox, demo_run):
    stdout, _ = demo_run
    usage = _store_usage(sandbox)
    lines = stdout.splitlines()
    total, with_outcome = sum(u[0] for u in usage.values()), sum(u[1] for u in usage.values())
    assert f"{total:,} calls and meetings, {with_outcome / total:.1%} with an outcome logged" in stdout
    for name, (activities, logged, ranked) in usage.items():
        row = next(i for i, line in enumerate(lines) if line.strip().startswith(name) and "calls and meetings" in line)
        assert f"{activities:,} calls and meetings, {logged / activities:.1%} with an outcome" in lines[row]
        assert lines[row + 1].strip() == "most logged: " + " · ".join(f"{n} {c:,}" for n, c in ranked[:3])
    # Where to go next, and nothing a reader could not use (or should not see).
    assert "closeframe report" in stdout and "closeframe dashboard" in stdout
    assert "127.0.0.1" not in stdout and "localhost" not in stdout and not re.search(r":\d{4,5}/", stdout)
    assert not any(key in stdout for key in sandbox.api_keys.values())


def test_demo_usage_csv_is_outcome_usage_of_the_sandbox(sandbox, demo_run, tmp_path):
    _, out = demo_run
    keys = dict(sandbox.api_keys)
    outcomes = cf.load_outcomes(keys, base_url=sandbox.base_url)
    expected = cf.outcome_usage(outcomes, cf.load_calls(keys, base_url=sandbox.base_url),
                                cf.load_meetings(keys, base_url=sandbox.base_url))
    # Both go through the same CSV round trip, so dtypes compare like for like.
    written = pd.read_csv(out / "usage.csv")
    pd.testing.assert_frame_equal(written, pd.read_csv(cf.export(expected, tmp_path / "expected.csv")))
    # One row per organization and outcome, plus each organization's activities without one.
    store = _store_usage(sandbox)
    assert written["total"].sum() == sum(u[0] for u in store.values())
    assert written.loc[written["outcome_id"].notna(), "total"].sum() == sum(u[1] for u in store.values())


def test_export_reads_the_key_from_the_environment(sandbox, tmp_path):
    name, key = next(iter(sandbox.api_keys.items()))
    out = tmp_path / "o.csv"
    result = run_cli("-v", "export", "outcomes", "--format", "csv", "--out", str(out), "--fields", "name,type",
                     env={"CLOSE_API_KEY": key, "CLOSE_BASE_URL": sandbox.base_url})
    assert result.returncode == 0, result.stderr
    df = pd.read_csv(out)
    assert list(df["id"]) == [r["id"] for r in sandbox.store.outcomes(name)]
    assert key not in result.stdout + result.stderr + out.read_text(encoding="utf-8")


def test_export_long_parquet_with_base_url_flag(sandbox, tmp_path):
    key = next(iter(sandbox.api_keys.values()))
    out = tmp_path / "long.parquet"
    result = run_cli("export", "--out", str(out), "--applies-to", "long", "--base-url", sandbox.base_url,
                     env={"CLOSE_API_KEY": key})
    assert result.returncode == 0, result.stderr
    assert "applies_to" in pd.read_parquet(out).columns


def test_no_key_is_one_line_and_exit_1(tmp_path):
    result = run_cli("export", "--out", str(tmp_path / "x.csv"))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "CLOSE_API_KEY" in result.stderr and "Traceback" not in result.stderr


def test_rejected_key_is_one_line_without_the_key(sandbox, tmp_path):
    bad = "api_CompletelyWrongKey0000000000"
    result = run_cli("export", "--out", str(tmp_path / "x.csv"),
                     env={"CLOSE_API_KEY": bad, "CLOSE_BASE_URL": sandbox.base_url})
    assert result.returncode == 1 and "401" in result.stderr and bad not in result.stderr
    assert result.stderr.count("\n") == 1 and not (tmp_path / "x.csv").exists()


@pytest.mark.parametrize("args", [["export"], ["export", "--out", "x.csv", "--format", "xlsx"], ["nonsense"],
                                  ["export", "--out", "x.csv", "--applies-to", "wide"]])
def test_bad_arguments_exit_2_with_one_line(args):
    result = run_cli(*args)
    assert result.returncode == 2 and "--help" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_insecure_base_url_is_refused(tmp_path):
    result = run_cli("export", "--out", str(tmp_path / "x.csv"), "--base-url", "http://example.com/api/v1/",
                     env={"CLOSE_API_KEY": "api_whatever_key_123456"})
    assert result.returncode == 1 and "plain http" in result.stderr


def test_sandbox_command_prints_url_and_keys():
    process = subprocess.Popen([sys.executable, "-m", "closeframe", "sandbox", "--seed", "3"],
                               stdout=subprocess.PIPE, text=True, cwd=ROOT,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        first = process.stdout.readline()
        assert "http://127.0.0.1:" in first and "/api/v1/" in first
        import requests

        url = first.split()[3]
        key_line = [process.stdout.readline() for _ in range(2)][1]
        key = key_line.rsplit(":", 1)[1].strip()
        assert requests.get(url + "me/", auth=(key, ""), timeout=5).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()
