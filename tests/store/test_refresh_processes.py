"""Issue 10 item 11 for the event-log refresh: several processes refreshing one cache folder at once each get what
a fresh load gets, and leave the folder consistent. Expectations come from the sandbox's store and fresh loads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
from pandas.testing import assert_frame_equal

import closeframe as cf
from closeframe.store.locking import folder_lock
from tests.store.test_refresh import _change_everything, _expected_from_store

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 4
LOADERS = {"call": cf.load_calls, "meeting": cf.load_meetings}

# Each worker refreshes calls and meetings from the shared cache and pickles the frames (exact dtypes) for the test.
WORKER = textwrap.dedent("""
    import sys
    import closeframe as cf
    key, base_url, cache, out = sys.argv[1:5]
    for kind, load in (("call", cf.load_calls), ("meeting", cf.load_meetings)):
        load(key, base_url=base_url, cache=cache, progress=False).to_pickle(f"{out}-{kind}.pkl")
""")


def _run_workers(sb, key, cache: Path, out: Path, round_number: int) -> list[Path]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSE_")}
    env["PYTHONPATH"] = str(ROOT)
    prefixes = [out / f"round{round_number}-worker{n}" for n in range(WORKERS)]
    workers = [subprocess.Popen([sys.executable, "-W", "error", "-c", WORKER, key, sb.base_url, str(cache),
                                 str(prefix)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for prefix in prefixes]
    for worker in workers:
        _, err = worker.communicate(timeout=240)
        assert worker.returncode == 0, err[-2000:]
    return prefixes


def _outcomes(frame: pd.DataFrame) -> dict:
    return dict(zip(frame["id"], frame["outcome_id"].astype(object).where(frame["outcome_id"].notna(), None)))


def _cache_files(cache: Path) -> list[Path]:
    return [p for p in cache.rglob("*.parquet") if not p.name.startswith(".")]


def test_several_processes_refreshing_one_cache_get_a_fresh_load(fresh_sandbox, tmp_path):
    sb = fresh_sandbox(seed=11, organizations=1, calls=4000, meetings=600)
    name = next(iter(sb.api_keys))
    key = sb.api_keys[name]
    cache, out = tmp_path / "cache", tmp_path / "out"
    out.mkdir()
    kwargs = dict(base_url=sb.base_url, progress=False)
    for load in LOADERS.values():
        load(key, cache=cache, **kwargs)  # the cache every worker then refreshes from the event log
    for round_number in range(2):
        _change_everything(sb, name, key)
        prefixes = _run_workers(sb, key, cache, out, round_number)
        for kind, load in LOADERS.items():
            fresh = load(key, **kwargs)
            assert _outcomes(fresh) == _expected_from_store(sb, name, kind)
            for prefix in prefixes:
                assert_frame_equal(pd.read_pickle(f"{prefix}-{kind}.pkl"), fresh)
    # The folder afterwards: each id the store holds in a cached file's range is in exactly one file's range, and
    # nothing else is (deleted ones are gone). Records dated outside a file's range (upcoming meetings) are ignored:
    # reads filter by range.
    in_range, spans = [], []
    for path in _cache_files(cache):
        start, end = (pd.Timestamp("1900-01-01", tz="UTC") if part == "open" else pd.Timestamp(part)
                      for part in path.stem.split("__"))  # the file name is the range; "open": no start
        spans.append((start, end))
        table = pq.read_table(path, columns=["id", "date_created"]).to_pandas()
        created = pd.to_datetime(table["date_created"], utc=True)
        in_range += list(table["id"][(created >= start) & (created < end)])
    assert spans and len(in_range) == len(set(in_range))
    stored = [r for kind in LOADERS for r in (sb.store.calls if kind == "call" else sb.store.meetings)(name)]
    expected_in_range = {r["id"] for r in stored if r.get("date_created") and any(
        start <= pd.Timestamp(r["date_created"]) < end for start, end in spans)}
    assert set(in_range) == expected_in_range
    for kind, load in LOADERS.items():
        assert_frame_equal(load(key, cache=cache, **kwargs), load(key, **kwargs))
    states = [json.loads(p.read_text()) for p in cache.rglob("sync.json")]
    assert len(states) == 2 and all(s["mode"] == "events" for s in states)


def test_folder_lock_is_reentrant_in_a_thread_and_exclusive_across_threads(tmp_path):
    order = []
    with folder_lock(tmp_path):
        with folder_lock(tmp_path, timeout=2):  # the patch holds the folder around cache calls that take it too
            order.append("nested")
        other = threading.Thread(target=lambda: (folder_lock(tmp_path).__enter__(), order.append("other")))
        other.start()
        other.join(0.3)
        order.append("released")
    other.join(5)
    assert order == ["nested", "released", "other"]
