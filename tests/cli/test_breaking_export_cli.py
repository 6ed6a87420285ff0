"""Issue 10, export and the command line: atomic files and datasets, checks before loading, one-line errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
import requests

import closeframe as cf
from closeframe.sandbox import serve

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args, env=None, timeout=120):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CLOSE_")}
    environment["PYTHONPATH"] = str(ROOT)
    environment.update(env or {})
    return subprocess.run([sys.executable, "-m", "closeframe", *args], capture_output=True, text=True,
                          env=environment, timeout=timeout)


def big_frame(rows: int, tag: str) -> pd.DataFrame:
    return pd.DataFrame({"id": [f"{tag}{i}" for i in range(rows)],
                         "organization_id": ["orga_1", "orga_2"] * (rows // 2), "value": range(rows),
                         "date_created": pd.date_range("2025-01-01", periods=rows, freq="min", tz="UTC")})


# -- item 7: an export never leaves half a file ---------------------------------------------------------------------
WRITER = textwrap.dedent("""
    import sys
    import pandas as pd
    import closeframe as cf
    path, rows = sys.argv[1], int(sys.argv[2])
    frame = pd.DataFrame({"id": [f"new{i}" for i in range(rows)], "organization_id": ["orga_1", "orga_2"] * (rows // 2),
                          "value": range(rows),
                          "date_created": pd.date_range("2025-01-01", periods=rows, freq="min", tz="UTC")})
    print("writing", flush=True)
    cf.export(frame, path)
""")


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_ctrl_c_during_an_export_leaves_the_old_file_whole(tmp_path, suffix):
    target = tmp_path / f"out{suffix}"
    old = big_frame(300_000, "old")
    cf.export(old, target)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    outcomes = set()
    for delay in (0.05, 0.3, 0.8, 1.5):
        process = subprocess.Popen([sys.executable, "-c", WRITER, str(target), "300000"], env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert process.stdout.readline().strip() == "writing"
        time.sleep(delay)
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)
        back = pd.read_csv(target) if suffix == ".csv" else pd.read_parquet(target)
        assert len(back) == 300_000, f"a Ctrl-C after {delay} s left {len(back)} rows"
        outcomes.add(back["id"].iloc[0][:3])
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "a temporary file was left behind"
    assert outcomes <= {"old", "new"}


def test_a_narrower_dataset_export_replaces_the_folder(tmp_path):
    import pyarrow.dataset as ds

    target = tmp_path / "dataset"
    cf.export(big_frame(6000, "a"), target, partition_by="organization_id")
    cf.export(big_frame(1000, "b"), target, partition_by="organization_id")
    back = ds.dataset(target, format="parquet", partitioning="hive").to_table().to_pandas()
    assert len(back) == 1000 and set(back["id"].str[0]) == {"b"}
    cf.export(big_frame(1000, "c"), target, partition_by=["organization_id", "month"])
    back = ds.dataset(target, format="parquet", partitioning="hive").to_table().to_pandas()
    assert len(back) == 1000 and set(back["id"].str[0]) == {"c"}
    assert not [p for p in tmp_path.iterdir() if p.name != "dataset"]


def test_a_folder_that_is_not_a_dataset_is_never_replaced(tmp_path):
    precious = tmp_path / "documents"
    precious.mkdir()
    (precious / "thesis.txt").write_text("years of work")
    with pytest.raises(cf.ConfigurationError, match="thesis.txt|not a Parquet dataset"):
        cf.export(big_frame(10, "a"), precious, partition_by="organization_id")
    assert (precious / "thesis.txt").read_text() == "years of work"


# -- item 15: export targets checked before writing -----------------------------------------------------------------
@pytest.mark.parametrize("where, partition_by", [
    ("a folder", None), ("under a file", None), ("a file", "organization_id"), ("under a file", "organization_id"),
])
def test_an_unusable_export_target_is_a_clear_error(tmp_path, where, partition_by):
    blocker = tmp_path / "blocker.csv"
    blocker.write_text("x")
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    path = {"a folder": folder, "under a file": blocker / "out.csv", "a file": blocker}[where]
    with pytest.raises(cf.ConfigurationError) as info:
        cf.export(big_frame(10, "a"), path, partition_by=partition_by)
    assert str(blocker if where != "a folder" else folder) in str(info.value)
    assert blocker.read_text() == "x"


def test_an_empty_partition_by_says_what_to_pass(tmp_path):
    with pytest.raises(cf.ConfigurationError) as info:
        cf.export(big_frame(10, "a"), tmp_path / "d", partition_by=[])
    assert "partition_by" in str(info.value) and "organization_id" in str(info.value)
    assert "nothing not" not in str(info.value)


# -- item 16: CSV dates as the docs say -----------------------------------------------------------------------------
def test_csv_datetimes_carry_an_iso_offset(tmp_path):
    frame = big_frame(4, "a")
    frame.loc[1, "date_created"] = pd.NaT
    path = cf.export(frame, tmp_path / "o.csv")
    text = path.read_text()
    assert "+00:00" in text and "+0000" not in text
    back = pd.read_csv(path, parse_dates=["date_created"])
    assert back["date_created"].isna().sum() == 1
    assert list(back["date_created"].dropna()) == list(frame["date_created"].dropna())


# -- items 15/16: the command line checks before loading, one line on stderr ----------------------------------------
@pytest.mark.parametrize("args, named", [
    (["export", "outcomes", "--out", "{tmp}/o.txt"], "o.txt"),
    (["export", "calls", "--out", "{tmp}/c.csv", "--partition-by", "organization_id"], "--partition-by"),
    (["export", "calls", "--out", "{tmp}/c", "--format", "parquet", "--partition-by", ","], "--partition-by"),
    (["export", "calls", "--out", "{tmp}/c", "--format", "parquet", "--partition-by", "organisation_id"],
     "organisation_id"),
    (["export", "outcomes", "--out", "{tmp}/blocker/o.csv"], "blocker"),
    (["export", "outcomes", "--out", "{tmp}"], "folder"),
    (["export", "outcomes", "--since", "2026-01-01", "--out", "{tmp}/o.csv"], "--since"),
    (["export", "outcomes", "--cache", "{tmp}/cache", "--out", "{tmp}/o.csv"], "--cache"),
    (["export", "usage", "--fields", "id", "--out", "{tmp}/u.csv"], "--fields"),
    (["export", "calls", "--applies-to", "long", "--out", "{tmp}/c.csv"], "--applies-to"),
    (["sandbox", "--port", "99999"], "99999"),
    (["dashboard", "--port", "-1"], "-1"),
    (["--bogus"], "--bogus"),
    (["export", "--bogus", "--out", "{tmp}/o.csv"], "--bogus"),
])
def test_cli_refuses_bad_arguments_before_loading(sandbox, tmp_path, args, named):
    (tmp_path / "blocker").write_text("x")
    sandbox.stats.reset()
    result = run_cli(*[a.format(tmp=tmp_path) for a in args],
                     env={"CLOSE_API_KEY": next(iter(sandbox.api_keys.values())), "CLOSE_BASE_URL": sandbox.base_url})
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr
    assert named in result.stderr and "Traceback" not in result.stderr
    assert len(lines) == 1, lines
    assert sandbox.stats.requests == 0


def test_cli_os_error_has_no_empty_parentheses(tmp_path, monkeypatch, capsys):
    from closeframe import cli

    def fail(args):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(cli, "_cmd_demo", fail)
    assert cli.main(["demo"]) == 1
    err = capsys.readouterr().err
    assert "Permission denied" in err and "()" not in err


# -- item 16: Sandbox.stop() ends open connections too --------------------------------------------------------------
def test_sandbox_stop_closes_keep_alive_connections():
    sb = serve(seed=1, organizations=1, calls=10, meetings=5, rate_limit=None)
    key = next(iter(sb.api_keys.values()))
    session = requests.Session()
    session.auth = (key, "")
    assert session.get(sb.base_url + "me/", timeout=5).status_code == 200
    url = sb.base_url
    sb.stop()
    with pytest.raises(requests.exceptions.ConnectionError):
        session.get(url + "me/", timeout=5)
    session.close()


def test_python_m_sandbox_refuses_a_port_out_of_range():
    result = subprocess.run([sys.executable, "-m", "closeframe.sandbox", "--port", "99999"], capture_output=True,
                            text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert result.returncode == 2 and "99999" in result.stderr and "Traceback" not in result.stderr
