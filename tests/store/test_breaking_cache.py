"""Issue 10, the activity cache: odd dates, two organizations of one user, a server clock behind ours, damaged
entries, and several processes on one folder. Expectations come from the sandbox's store.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

import closeframe as cf
from closeframe.store.cache import CacheWarning
from tests.guards import wall_clock_limit

ROOT = Path(__file__).resolve().parents[2]
LOADERS = {"calls": cf.load_calls, "meetings": cf.load_meetings}


def ids(records):
    return sorted(r["id"] for r in records)


def store_records(sb, kind, org="Org"):
    return (sb.store.calls if kind == "calls" else sb.store.meetings)(org)


def small(fresh_sandbox, **options):
    orgs = options.pop("organizations", [{"name": "Org", "outcomes": 10, "calls": 600, "meetings": 400}])
    return fresh_sandbox(organizations=orgs, quirks=False, **options)


# -- item 2: a record without a readable date_created survives the cache -------------------------------------------
@pytest.mark.parametrize("lookback", [None, "30D"])
@pytest.mark.parametrize("kind", LOADERS)
def test_records_without_a_readable_date_survive_a_cached_reload(fresh_sandbox, tmp_path, kind, lookback):
    sb = small(fresh_sandbox)
    records = store_records(sb, kind)
    for record, value in zip(records[100::150], [None, "not a date", "", "2025-13-45T99:00:00"]):
        sb.store.update_activity("Org", kind[:-1], record["id"], date_created=value)
    load = LOADERS[kind]
    kwargs = dict(base_url=sb.base_url, progress=False, cache=tmp_path, lookback=lookback)
    first = load(sb.api_keys["Org"], **kwargs)
    second = load(sb.api_keys["Org"], **kwargs)
    third = load(sb.api_keys["Org"], refresh=True, **kwargs)
    expected = ids(store_records(sb, kind))
    assert sorted(first["id"]) == sorted(second["id"]) == sorted(third["id"]) == expected


# -- item 6: one user in two organizations, one key each ------------------------------------------------------------
def test_a_user_in_two_organizations_never_gets_the_other_ones_rows(fresh_sandbox, tmp_path):
    sb = small(fresh_sandbox, organizations=[{"name": "A", "calls": 500, "meetings": 10},
                                             {"name": "B", "calls": 300, "meetings": 10}])
    sb.share_user("A", "B")  # /me/ of either key lists both organizations
    assert len(cf.CloseClient(sb.api_keys["B"], base_url=sb.base_url).get("me/")["organizations"]) == 2
    kwargs = dict(base_url=sb.base_url, progress=False, cache=tmp_path)
    a = cf.load_calls(sb.api_keys["A"], **kwargs)
    b = cf.load_calls(sb.api_keys["B"], **kwargs)
    again_a = cf.load_calls(sb.api_keys["A"], **kwargs)
    assert sorted(a["id"]) == sorted(again_a["id"]) == ids(sb.store.calls("A"))
    assert sorted(b["id"]) == ids(sb.store.calls("B"))


def test_a_cache_entry_of_another_organization_is_never_served(fresh_sandbox, tmp_path):
    sb = small(fresh_sandbox, organizations=[{"name": "A", "calls": 500, "meetings": 10},
                                             {"name": "B", "calls": 300, "meetings": 10}])
    kwargs = dict(base_url=sb.base_url, progress=False, cache=tmp_path)
    cf.load_calls(sb.api_keys["A"], **kwargs)
    a_folder = next(p for p in tmp_path.rglob("calls") if p.parent.name == sb.store.org_id("A"))
    b_folder = a_folder.parent.parent / sb.store.org_id("B") / "calls"
    shutil.copytree(a_folder, b_folder)  # B's folder now holds A's rows, as a shared or copied folder might
    with pytest.warns(CacheWarning, match="organization"):
        b = cf.load_calls(sb.api_keys["B"], **kwargs)
    assert sorted(b["id"]) == ids(sb.store.calls("B"))


# -- item 8: the server's clock behind ours --------------------------------------------------------------------------
@pytest.mark.parametrize("kind", LOADERS)
def test_activities_stamped_by_a_server_clock_behind_ours_are_fetched(fresh_sandbox, tmp_path, kind):
    sb = small(fresh_sandbox)
    # The sandbox's clock stands at 2026-11-01 and moves one second per write: behind this machine's.
    assert pd.Timestamp(sb.store.calls("Org")[0]["date_created"]) < pd.Timestamp.now(tz="UTC")
    kwargs = dict(base_url=sb.base_url, progress=False, cache=tmp_path, lookback=None)
    LOADERS[kind](sb.api_keys["Org"], **kwargs)
    added = sb.store.add_activity("Org", kind[:-1])  # stamped by the server's clock, after our load
    again = LOADERS[kind](sb.api_keys["Org"], **kwargs)
    assert added["id"] in set(again["id"])
    assert sorted(again["id"]) == ids(store_records(sb, kind))


# -- item 10: damaged entries are dropped and refetched --------------------------------------------------------------
def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "zero-byte":
        path.write_bytes(b"")
    elif how == "garbage":
        path.write_bytes(os.urandom(len(data)))
    elif how == "garbage-inside":
        middle = len(data) // 2
        path.write_bytes(data[:middle - 200] + b"\x00" * 400 + data[middle + 200:])
    elif how == "wrong-schema":
        pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}).to_parquet(path)
    elif how == "wrong-types":
        pd.DataFrame({"id": [1], "date_created": ["yesterday"], "record": [3.5]}).to_parquet(path)
    elif how == "bad-json":
        frame = pd.read_parquet(path)
        frame["record"] = "{not json"
        frame.to_parquet(path)


DAMAGE = ["truncated", "zero-byte", "garbage", "garbage-inside", "wrong-schema", "wrong-types", "bad-json"]


@pytest.mark.parametrize("refresh", [False, True])
@pytest.mark.parametrize("how", DAMAGE)
def test_a_damaged_cache_entry_is_dropped_and_refetched(fresh_sandbox, tmp_path, how, refresh):
    sb = small(fresh_sandbox)
    kwargs = dict(base_url=sb.base_url, progress=False, cache=tmp_path)
    cf.load_calls(sb.api_keys["Org"], **kwargs)
    files = sorted(tmp_path.rglob("*.parquet"), key=lambda p: p.stat().st_size)
    _damage(files[-1], how)
    with wall_clock_limit(30), pytest.warns(CacheWarning, match="damaged"):
        again = cf.load_calls(sb.api_keys["Org"], refresh=refresh, **kwargs)
    assert sorted(again["id"]) == ids(sb.store.calls("Org"))
    # The entry was replaced: a third load reads the cache without any warning and without the network's pages.
    sb.stats.reset()
    third = cf.load_calls(sb.api_keys["Org"], **kwargs)
    assert sorted(third["id"]) == ids(sb.store.calls("Org"))
    assert sb.stats.by_path.get("/activity/call/", 0) <= 3


def test_leftover_temporary_files_are_ignored(fresh_sandbox, tmp_path):
    sb = small(fresh_sandbox)
    kwargs = dict(base_url=sb.base_url, progress=False, cache=tmp_path)
    cf.load_calls(sb.api_keys["Org"], **kwargs)
    folder = next(tmp_path.rglob("*.parquet")).parent
    (folder / ".partial-123.parquet").write_bytes(b"half a file")  # a process killed mid-write
    assert sorted(cf.load_calls(sb.api_keys["Org"], **kwargs)["id"]) == ids(sb.store.calls("Org"))


# -- item 11: several processes on one cache folder -----------------------------------------------------------------
WORKER = textwrap.dedent("""
    import json, sys
    import closeframe as cf
    key, base_url, cache, expected_path, rounds = sys.argv[1:6]
    expected = json.load(open(expected_path))
    failures = []
    for i in range(int(rounds)):
        for kind, load in (("calls", cf.load_calls), ("meetings", cf.load_meetings)):
            try:
                frame = load(key, base_url=base_url, cache=cache, progress=False, refresh=(i % 2 == 1),
                             lookback="200D")
                if sorted(frame["id"]) != expected[kind]:
                    failures.append(f"{kind}: {len(frame)} rows, expected {len(expected[kind])}")
            except Exception as exc:
                failures.append(f"{kind}: {type(exc).__name__}: {exc}")
    print(json.dumps(failures))
""")


def test_several_processes_share_one_cache_folder(fresh_sandbox, tmp_path):
    sb = small(fresh_sandbox, organizations=[{"name": "Org", "outcomes": 5, "calls": 800, "meetings": 500}])
    expected = tmp_path / "expected.json"
    expected.write_text(json.dumps({"calls": ids(sb.store.calls("Org")), "meetings": ids(sb.store.meetings("Org"))}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOSE_")}
    env["PYTHONPATH"] = str(ROOT)
    cache = tmp_path / "cache"
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, sb.api_keys["Org"], sb.base_url, str(cache),
                                 str(expected), "4"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True) for _ in range(4)]
    failures = []
    for worker in workers:
        out, err = worker.communicate(timeout=240)
        assert worker.returncode == 0, err[-2000:]
        failures += json.loads(out.strip().splitlines()[-1])
    assert failures == []
