"""Activities and usage exported as hive-partitioned Parquet (organization, month), read back as one table."""

from __future__ import annotations

from collections import Counter

import pandas as pd
import pyarrow.dataset as ds
import pytest

import closeframe as cf
from closeframe.errors import ConfigurationError
from closeframe.usage.tables import outcome_usage
from test_cli import run_cli


@pytest.fixture(scope="module")
def calls(sandbox):
    return cf.load_calls(sandbox.api_keys, base_url=sandbox.base_url, progress=False)


def expected_per_organization(sandbox) -> dict[str, int]:
    return {sandbox.store.org_id(name): len(sandbox.store.calls(name)) for name in sandbox.api_keys}


def expected_per_month(sandbox) -> Counter:
    return Counter((sandbox.store.org_id(name), pd.Timestamp(r["date_created"]).tz_convert("UTC").strftime("%Y-%m"))
                   for name in sandbox.api_keys for r in sandbox.store.calls(name))


def test_month_partitions_read_back_with_pyarrow_dataset(sandbox, calls, tmp_path):
    path = cf.export(calls, tmp_path / "calls", partition_by=["organization_id", "month"])
    folders = {p.relative_to(path).parts[:2] for p in path.rglob("*.parquet")}
    assert {(f"organization_id={o}", f"month={m}") for o, m in expected_per_month(sandbox)} == folders
    table = ds.dataset(path, format="parquet", partitioning="hive").to_table().to_pandas()
    per_org = table.groupby(table["organization_id"].astype(str)).size().to_dict()
    assert per_org == expected_per_organization(sandbox)
    assert sorted(table["id"]) == sorted(calls["id"])


def test_month_partitions_read_back_with_duckdb(sandbox, calls, tmp_path):
    import duckdb

    path = cf.export(calls, tmp_path / "calls", partition_by=["organization_id", "month"])
    rows = duckdb.sql(f"select organization_id, month, count(*) from read_parquet('{path.as_posix()}/**/*.parquet', "
                      "hive_partitioning=true) group by all").fetchall()
    assert Counter({(o, m): n for o, m, n in rows}) == expected_per_month(sandbox)


def test_month_needs_date_created(sandbox, tmp_path):
    outcomes = cf.load_outcomes(sandbox.api_keys, base_url=sandbox.base_url, progress=False)
    usage = outcome_usage(outcomes)
    with pytest.raises(ConfigurationError, match="month"):
        cf.export(usage, tmp_path / "usage", partition_by=["organization_id", "month"])


def test_cli_exports_calls_by_month_and_usage(sandbox, tmp_path):
    name, key = next(iter(sandbox.api_keys.items()))
    env = {"CLOSE_API_KEY": key, "CLOSE_BASE_URL": sandbox.base_url}
    records = sandbox.store.calls(name)
    since, until = "2025-03-01", "2025-09-01"
    inside = [r for r in records
              if pd.Timestamp(since, tz="UTC") <= pd.Timestamp(r["date_created"]) < pd.Timestamp(until, tz="UTC")]
    out = tmp_path / "calls"
    result = run_cli("export", "calls", "--out", str(out), "--since", since, "--until", until,
                     "--partition-by", "organization_id,month", env=env)
    assert result.returncode == 0, result.stderr
    table = ds.dataset(out, format="parquet", partitioning="hive").to_table()
    assert sorted(table.column("id").to_pylist()) == sorted(r["id"] for r in inside)
    assert f"wrote {len(inside)} calls" in result.stdout

    usage_csv = tmp_path / "usage.csv"
    result = run_cli("export", "usage", "--format", "csv", "--out", str(usage_csv), env=env)
    assert result.returncode == 0, result.stderr
    usage = pd.read_csv(usage_csv)
    assert usage["calls"].sum() == len(records)
    assert usage["meetings"].sum() == len(sandbox.store.meetings(name))
    assert key not in result.stdout + result.stderr + usage_csv.read_text(encoding="utf-8")
