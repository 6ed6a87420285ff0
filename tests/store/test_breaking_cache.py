"""Issue 10, the activity cache (now the store): odd dates, two organizations of one user, a server clock behind
ours, a damaged store file, and several processes on one folder. Expectations come from the sandbox's store.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

import closeframe as cf
from closeframe.store.cache import CacheWarning
from closeframe.store.database import connect, store_path
from tests.guards import wall_clock_limit
from tests.interrupts import script_env

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


def test_a_scope_only_ever_holds_rows_of_its_own_organization(fresh_sandbox, tmp_path):
    sb = small(fresh_sandbox, organizations=[{"name": "A", "calls": 500, "meetings": 10},
                                             {"name": "B", "calls": 300, "meetings": 10}])
    sb.share_user("A", "B")
    kwargs = dict(base_url=sb.base_url, progress=False, cache=tmp_path)
    cf.load_calls(sb.api_keys["A"], **kwargs)
    cf.load_calls(sb.api_keys["B"], **kwargs)
    with connect(tmp_path) as connection:
        counts = dict(connection.execute("SELECT s.organization_id, count(*) FROM calls c JOIN scopes s "
                                         "ON s.scope = c.scope GROUP BY ALL").fetchall())
        foreign = connection.execute("SELECT count(*) FROM calls c JOIN scopes s ON s.scope = c.scope "
                                     "WHERE c.organization_id <> s.organization_id").fetchall()[0][0]
    assert foreign == 0
    assert counts == {sb.store.org_id(n): len(sb.store.calls(n)) for n in ("A", "B")}


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


# -- item 10: a damaged store file is dropped and refetched ---------------------------------------------------------
def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "zero-byte":
        path.write_bytes(b"")
    elif how == "garbage":
        path.write_bytes(os.urandom(len(data)))


@pytest.mark.parametrize("refresh", [False, True])
@pytest.mark.parametrize("how", ["truncated", "zero-byte", "garbage"])
def test_a_damaged_store_is_dropped_and_refetched(fresh_sandbox, tmp_path, how, refresh):
    sb = small(fresh_sandbox)
    kwargs = dict(base_url=sb.base_url, progress=False, cache=tmp_path)
    cf.load_calls(sb.api_keys["Org"], **kwargs)
    _damage(store_path(tmp_path), how)
    with wall_clock_limit(30), pytest.warns(CacheWarning, match="damaged"):
        again = cf.load_calls(sb.api_keys["Org"], refresh=refresh, **kwargs)
    assert sorted(again["id"]) == ids(sb.store.calls("Org"))
    # The store was built again: a third load reads it without any warning and without the network's pages.
    sb.stats.reset()
    third = cf.load_calls(sb.api_keys["Org"], **kwargs)
    assert sorted(third["id"]) == ids(sb.store.calls("Org"))
    assert sb.stats.by_path.get("/activity/call/", 0) <= 3


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
    env = script_env()
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
