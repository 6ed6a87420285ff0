"""The closeframe command, run as a real process: exit codes, one-line errors, files written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args, env=None, timeout=120):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CLOSE_")}
    environment["PYTHONPATH"] = str(ROOT) + os.pathsep + environment.get("PYTHONPATH", "")
    environment.update(env or {})
    return subprocess.run([sys.executable, "-m", "closeframe", *args], capture_output=True, text=True,
                          env=environment, timeout=timeout)


def test_demo_writes_parquet_and_csv_and_prints_a_summary(tmp_path):
    result = run_cli("demo", "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    parquet = pd.read_parquet(tmp_path / "out" / "outcomes.parquet")
    csv = pd.read_csv(tmp_path / "out" / "outcomes.csv")
    assert len(parquet) == len(csv) > 0
    assert f"{len(parquet)} outcomes from {parquet['organization_id'].nunique()} organizations" in result.stdout
    for name, count in parquet.groupby("organization_name", observed=True).size().items():
        assert f"{name}" in result.stdout and str(count) in result.stdout


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
