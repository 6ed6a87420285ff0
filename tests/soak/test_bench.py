"""bench/run.py --quick keeps working: every tool loads the same data, closeframe sees no 429, a table comes out.

Correctness only: timings are the benchmark's business, never asserted here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--out", str(out / "r.md"),
                           "--json", str(out / "rows.json")], capture_output=True, text=True, timeout=600,
                          cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return done.stdout, (out / "r.md").read_text(), json.loads((out / "rows.json").read_text())


def test_table_is_printed_and_written(quick_run):
    stdout, written, rows = quick_run
    assert stdout.splitlines()[0].startswith("| scenario | tool | requests | 429s | wall s | ratio to bound")
    assert stdout.strip() in written and "Machine:" in written
    assert {row["scenario"].split(":")[0] for row in rows} >= {"A", "B", "shaping"}


def test_every_loader_got_the_sandbox_data(quick_run):
    _, _, rows = quick_run
    loaded = [row for row in rows if row["scenario"][:2] in ("A:", "B:") and not row["note"].startswith("left out")]
    assert {row["tool"] for row in loaded} >= {"closeframe", "requests loop", "closeio"}
    for scenario in {row["scenario"] for row in loaded}:
        same = [row for row in loaded if row["scenario"] == scenario]
        assert all(row["rows"] == row["extra"]["expected_rows"] for row in same), same
        assert len({row["ids"] for row in same}) == 1, same
    # CPU beside the wall time, the tool's and the sandbox's: both did work for every load.
    assert all(row["cpu"] > 0 and row["sandbox_cpu"] > 0 for row in loaded), loaded


def test_closeframe_sees_no_429_and_asks_the_fewest_pages_allowed(quick_run):
    _, _, rows = quick_run
    ours = [row for row in rows if row["tool"] == "closeframe" and row["scenario"][:2] in ("A:", "B:")]
    assert len(ours) == 2
    for row in ours:
        assert row["rate_limited"] == "0"
        assert row["extra"]["min_pages"] <= row["extra"]["pages"] <= row["extra"]["allowed_pages"]


def test_shaping_rows_agree(quick_run):
    _, _, rows = quick_run
    shaping = [row for row in rows if row["scenario"].startswith("shaping")]
    assert len(shaping) == 2 and shaping[0]["rows"] == shaping[1]["rows"] > 0
