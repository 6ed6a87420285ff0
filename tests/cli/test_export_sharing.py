"""Exports others can open: permissions from the umask, a BOM for Excel, and the same keys as the report."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pandas as pd
import pytest

import closeframe as cf
from closeframe import cli
from closeframe.errors import ConfigurationError

BOM = b"\xef\xbb\xbf"


@pytest.fixture(scope="module")
def outcomes(sandbox):
    return cf.load_outcomes(sandbox.api_keys, base_url=sandbox.base_url, progress=False)


@pytest.fixture
def umask():
    """Set the process umask for one test and put the old one back."""
    previous = os.umask(0o022)
    os.umask(previous)

    def set_(mask: int) -> None:
        os.umask(mask)

    yield set_
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("mask", [0o022, 0o027])
def test_exported_files_and_folders_follow_the_umask(outcomes, tmp_path, umask, mask):
    umask(mask)
    csv = cf.export(outcomes, tmp_path / "outcomes.csv")
    parquet = cf.export(outcomes, tmp_path / "outcomes.parquet")
    dataset = cf.export(outcomes, tmp_path / "dataset", partition_by="organization_id")
    assert _mode(csv) == _mode(parquet) == 0o666 & ~mask
    assert _mode(dataset) == 0o777 & ~mask
    inside = list(dataset.rglob("*"))
    assert inside and all(_mode(p) == (0o777 if p.is_dir() else 0o666) & ~mask for p in inside)
    # A re-export replaces the file and keeps those permissions.
    assert _mode(cf.export(outcomes, csv)) == 0o666 & ~mask


def test_excel_csv_starts_with_a_bom_and_reads_back_the_same(outcomes, tmp_path):
    names = set(outcomes["organization_name"].astype(str)) | set(outcomes["name"].astype(str))
    assert any(not name.isascii() for name in names)  # the sandbox has 東京 and Rückruf: the point of the BOM
    plain = cf.export(outcomes, tmp_path / "plain.csv")
    excel = cf.export(outcomes, tmp_path / "excel.csv", excel=True)
    assert excel.read_bytes().startswith(BOM) and not plain.read_bytes().startswith(BOM)
    assert excel.read_bytes()[len(BOM):] == plain.read_bytes()
    back = pd.read_csv(excel, encoding="utf-8-sig")
    assert list(back.columns) == list(outcomes.columns)
    assert set(back["name"]) == set(outcomes["name"].astype(str))


def test_excel_is_refused_for_parquet(outcomes, tmp_path):
    with pytest.raises(ConfigurationError, match="excel=True writes a CSV"):
        cf.export(outcomes, tmp_path / "outcomes.parquet", excel=True)
    assert not (tmp_path / "outcomes.parquet").exists()


def _store_rows(sandbox, names, kind) -> int:
    if kind == "outcomes":
        return sum(len(sandbox.store.outcomes(n)) for n in names)
    return sum(len(getattr(sandbox.store, kind)(n)) for n in names)


@pytest.mark.parametrize("kind", cli.EXPORT_KINDS)
def test_every_export_reads_closeframe_api_keys(sandbox, tmp_path, monkeypatch, capsys, kind):
    chosen = dict(list(sandbox.api_keys.items())[:2])  # two of the three: the export loads exactly these
    monkeypatch.setenv("CLOSEFRAME_API_KEYS", json.dumps(chosen))
    monkeypatch.setenv("CLOSE_BASE_URL", sandbox.base_url)
    out = tmp_path / f"{kind}.csv"
    assert cli.main(["-q", "export", kind, "--out", str(out), "--excel"]) == 0
    printed = capsys.readouterr()
    assert out.read_bytes().startswith(BOM)
    frame = pd.read_csv(out, encoding="utf-8-sig")
    if kind == "usage":
        assert frame["calls"].sum() == _store_rows(sandbox, chosen, "calls")
        assert frame["meetings"].sum() == _store_rows(sandbox, chosen, "meetings")
    else:
        assert len(frame) == _store_rows(sandbox, chosen, kind)
    assert set(frame["organization_name"]) == set(chosen)
    text = out.read_text(encoding="utf-8-sig") + printed.out + printed.err
    assert not any(key in text for key in sandbox.api_keys.values())


def test_export_without_any_key_names_both_variables(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("CLOSEFRAME_API_KEYS", raising=False)
    assert cli.main(["export", "outcomes", "--out", str(tmp_path / "o.csv")]) == 1
    err = capsys.readouterr().err
    assert "CLOSEFRAME_API_KEYS" in err and "CLOSE_API_KEY" in err and "Traceback" not in err
    assert not (tmp_path / "o.csv").exists()


def test_excel_flag_for_a_parquet_file_is_refused_before_loading(tmp_path, capsys):
    assert cli.main(["export", "outcomes", "--out", str(tmp_path / "o.parquet"), "--excel"]) == 2
    assert "--excel is for csv files" in capsys.readouterr().err
