"""Issue 10 item 11 for the event-log refresh: several processes refreshing one cache folder at once each get what
a fresh load gets, and leave the folder consistent. Expectations come from the sandbox's store and fresh loads.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pandas as pd
from pandas.testing import assert_frame_equal

import closeframe as cf
from closeframe.store.database import connect
from closeframe.store.locking import folder_lock
from tests.interrupts import script_env
from tests.store.test_refresh import _change_everything, _expected_from_store

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
    env = script_env()
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
    # The store afterwards: each id once per kind, exactly the sandbox's ids inside the stored ranges (deleted ones
    # gone), and both syncs recorded by the event log.
    with connect(cache) as connection:
        for kind in LOADERS:
            table = f"{kind}s"
            rows = connection.execute(f"SELECT id, date_created FROM {table}").fetchall()
            spans = connection.execute('SELECT r."start", r."end" FROM ranges r JOIN scopes s ON s.scope = r.scope '
                                       "WHERE s.kind = ?", [kind]).fetchall()
            assert spans and len(rows) == len({row[0] for row in rows})
            stored = (sb.store.calls if kind == "call" else sb.store.meetings)(name)
            inside = lambda when: any(start <= when < end for start, end in spans)  # noqa: E731
            assert {i for i, when in rows if inside(when)} == {
                r["id"] for r in stored if r.get("date_created") and inside(pd.Timestamp(r["date_created"]))}
        modes = [row[0] for row in connection.execute("SELECT mode FROM sync").fetchall()]
    assert modes == ["events", "events"]
    for kind, load in LOADERS.items():
        assert_frame_equal(load(key, cache=cache, **kwargs), load(key, **kwargs))


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
