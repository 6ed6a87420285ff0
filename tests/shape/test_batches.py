"""Shaping as pages arrive (closeframe.shape.batches) gives the frame that shaping all records at once gives."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pandas.testing as tm
import pytest

import closeframe as cf
from closeframe.shape.batches import FrameBatches, KeyedPiece, build_frame, drop_repeated_ids
from closeframe.shape.frames import calls_frame, concat_frames, meetings_frame, outcomes_frame, with_labels


FIXTURES = Path(__file__).parents[1] / "fixtures"


def _page(name: str) -> list[dict]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))["data"]


def _recorded_calls() -> list[dict]:
    return _page("call_list_page.json") + _page("usage/calls_alpha.json") + _page("usage/calls_beta.json")


def _recorded_meetings() -> list[dict]:
    return _page("meeting_list_page.json") + _page("usage/meetings_alpha.json") + _page("usage/meetings_beta.json")


def _in_batches(build, records, size):
    batches = FrameBatches(build, size)
    batches.extend(copy.deepcopy(records))
    return batches.frame()


@pytest.mark.parametrize("size", [1, 2, 3, 1000])
@pytest.mark.parametrize("build, records", [(calls_frame, _recorded_calls()), (meetings_frame, _recorded_meetings())],
                         ids=["calls", "meetings"])
def test_batches_of_recorded_pages_equal_one_shaping(build, records, size):
    tm.assert_frame_equal(_in_batches(build, records, size), build(copy.deepcopy(records)))


@pytest.mark.parametrize("applies_to", ["columns", "long"])
@pytest.mark.parametrize("name", ["outcome_list_varied.json", "outcome_list_40_orgs.json"])
def test_outcome_batches_equal_one_shaping(name, applies_to):
    records = _page(name)

    def build(part, **labels):
        return outcomes_frame(part, applies_to, **labels)

    for size in (1, 7, 10_000):
        tm.assert_frame_equal(_in_batches(build, records, size), build(copy.deepcopy(records)))


def test_unknown_fields_typed_from_all_values_as_one_shaping_does():
    """An unknown field whose values differ in type from batch to batch is typed as if shaped at once."""
    records = copy.deepcopy(_recorded_calls())[:6]
    for i, record in enumerate(records):
        record["cost"] = None if i < 2 else (3 if i < 4 else 2.5)  # null, then whole numbers, then a fraction
        record["queue"] = None if i < 3 else f"queue {i}"  # null in the first batch, text later
        if i == 5:
            record["late_field"] = True  # only in the last batch
        if i == 1:
            record["mixed"] = 1
        if i == 4:
            record["mixed"] = "one"
    expected = calls_frame(copy.deepcopy(records))
    got = _in_batches(calls_frame, records, 2)
    tm.assert_frame_equal(got, expected)
    assert got["cost"].dtype == "float64" and got["mixed"].dtype == object


def test_repeated_ids_keep_the_first_row_and_only_its_categories():
    records = copy.deepcopy(_recorded_calls())
    moved = copy.deepcopy(records[0])
    moved["status"] = "a status only the repeat has"
    missing_id = copy.deepcopy(records[1])
    del missing_id["id"]
    with_repeat = records + [moved, missing_id, copy.deepcopy(missing_id)]
    expected = calls_frame(records + [missing_id, copy.deepcopy(missing_id)])
    tm.assert_frame_equal(drop_repeated_ids(_in_batches(calls_frame, with_repeat, 3)), expected)


def _first_of_each_id(records: list[dict]) -> list[dict]:
    seen, kept = set(), []
    for record in records:
        if record.get("id") is None or record["id"] not in seen:
            kept.append(record)
            seen.add(record.get("id"))
    return kept


@pytest.mark.parametrize("keyed_at", [0, 1, 3])
def test_rows_read_from_the_store_keep_the_first_row_of_each_id_as_every_row_ranked_does(keyed_at):
    """A KeyedPiece's ids are distinct (rows read from the store): only ids shared with the other pieces are
    ranked, and the frame is the one of the first row of each id, wherever the keyed piece stands."""
    records = copy.deepcopy(_recorded_calls())
    without_id = copy.deepcopy(records[4])
    del without_id["id"]
    keyed = records[:9]
    fetched = [[dict(r, status="moved") for r in records[6:12]],  # 3 ids of the keyed rows, 3 new ones
               records[12:] + [dict(records[1], status="again"), without_id],  # one more keyed id, a row without id
               [dict(records[13], status="twice"), copy.deepcopy(without_id)]]  # a fetched id twice, no id again
    parts = fetched[:keyed_at] + [keyed] + fetched[keyed_at:]
    batches = FrameBatches(calls_frame, 2, unique_ids=True)
    for part in parts:
        batches.add(KeyedPiece(calls_frame(part)) if part is keyed else calls_frame(part))
    got = batches.frame()
    expected = calls_frame(_first_of_each_id([r for part in parts for r in part]))
    tm.assert_frame_equal(got, expected)
    assert got["id"].dropna().is_unique and got["id"].isna().sum() == 2


def test_keyed_rows_alone_are_not_ranked_nor_copied():
    frame = calls_frame(copy.deepcopy(_recorded_calls()))
    assert drop_repeated_ids(frame, distinct=np.ones(len(frame), dtype=bool)) is frame


def test_consumed_pieces_give_the_joined_frame_and_are_emptied():
    """A loader's pieces are consumed column by column: the frame is concat_frames', the pieces are left empty."""
    records = _recorded_calls()
    pieces = [calls_frame(copy.deepcopy(records[start:start + 4])) for start in range(0, len(records), 4)]
    expected = concat_frames(pieces)
    got = build_frame(pieces, calls_frame, consume=True)
    tm.assert_frame_equal(got, expected)
    assert len(pieces) > 2 and all(len(piece.columns) == 0 for piece in pieces)


def test_unique_ids_with_missing_ones_keep_the_frame_as_it_is():
    records = copy.deepcopy(_recorded_calls())
    for record in records[:2]:
        del record["id"]
    frame = _in_batches(calls_frame, records, 3)
    assert frame["id"].isna().sum() == 2
    assert drop_repeated_ids(frame) is frame


def test_labels_added_later_equal_labels_shaped_with_the_records():
    """Names from the codes: two organizations of one name, one without a name, an id no record has."""
    records = _recorded_calls()
    ids = sorted({record["organization_id"] for record in records})
    assert len(ids) >= 3
    names = {ids[0]: "Same name", ids[1]: "Same name", "orga_no_record_has_it": "Unused"}
    frame = calls_frame(copy.deepcopy(records))
    frame["organization_id"] = frame["organization_id"].cat.add_categories(["orga_unused"])
    expected = calls_frame(copy.deepcopy(records), organization_names=names)
    expected["organization_id"] = expected["organization_id"].cat.add_categories(["orga_unused"])
    tm.assert_frame_equal(with_labels(frame, organization_names={**names, "orga_unused": "Unused"}), expected)


def _expected_activities(sb, kind: str) -> pd.DataFrame:
    """What the sandbox holds, shaped at once from its own records (listing order), with the names /me/ gives."""
    org = sb.store.organizations[0]
    records = sb.store.calls(org["name"]) if kind == "call" else sb.store.meetings(org["name"])
    build = calls_frame if kind == "call" else meetings_frame
    return build(records, organization_names={org["id"]: org["name"]})


@pytest.fixture(scope="module")
def busy_sandbox():
    """One organization with enough calls and meetings for several batches of every window."""
    from closeframe.sandbox import serve

    with serve(seed=11, organizations=1, calls=12_000, meetings=6_000, rate_limit=None) as sb:
        yield sb


@pytest.mark.parametrize("kind", ["call", "meeting"])
def test_loaded_in_batches_over_the_sandbox_equals_shaping_its_records(busy_sandbox, kind, tmp_path):
    sb = busy_sandbox
    load = cf.load_calls if kind == "call" else cf.load_meetings
    key = next(iter(sb.api_keys.values()))
    expected = _expected_activities(sb, kind)
    fresh = load(key, base_url=sb.base_url, progress=False)
    tm.assert_frame_equal(fresh, expected)
    cached = load(key, base_url=sb.base_url, progress=False, cache=tmp_path)  # written as it loads
    tm.assert_frame_equal(cached, expected)
    sb.stats.reset()
    from_cache = load(key, base_url=sb.base_url, progress=False, cache=tmp_path, lookback=None)
    asked = sb.stats.snapshot()
    # /me/ and the open newest ends (and the event log's questions), not the 60+ pages
    assert asked["requests"] - asked["by_path"].get("/event/", 0) <= 10
    tm.assert_frame_equal(from_cache, expected)


def test_labelled_accounts_in_batches_equal_shaping_all_records(fresh_sandbox):
    sb = fresh_sandbox(seed=12, organizations=2, calls=6_000, meetings=0)
    orgs = sb.store.organizations
    got = cf.load_calls({org["name"]: sb.api_keys[org["name"]] for org in orgs}, base_url=sb.base_url,
                        progress=False)
    records = [r for org in orgs for r in sb.store.calls(org["name"])]
    labels = [org["name"] for org in orgs for _ in sb.store.calls(org["name"])]
    expected = calls_frame(records, organization_names={o["id"]: o["name"] for o in orgs}, accounts=labels)
    tm.assert_frame_equal(got, expected)


def test_a_failed_outcome_load_keeps_the_records_that_arrived(fresh_sandbox):
    sb = fresh_sandbox(seed=13, organizations=1, outcomes=450, calls=0, meetings=0)
    org = sb.store.organizations[0]
    key = sb.api_keys[org["name"]]
    sb.faults.revoke_after(key, 3)  # /me/ and two pages answer, then the key stops working
    with pytest.raises(cf.CloseError) as caught:
        cf.load_outcomes(key, base_url=sb.base_url, progress=False, client_options={"max_retries": 0})
    partial = caught.value.partial
    listed = [o["id"] for o in sb.store.outcomes(org["name"])]
    assert len(partial) > 0
    # The first page, then what arrived of the pages asked together (a page of that wave may have failed), in the
    # listing's order, each once.
    assert list(partial["id"][:100]) == listed[:100]
    positions = [listed.index(outcome_id) for outcome_id in partial["id"]]
    assert positions == sorted(set(positions))


@pytest.mark.parametrize("labelled", [False, True])
@pytest.mark.parametrize("applies_to", ["columns", "long"])
def test_records_of_several_accounts_shaped_once_equal_their_frames_joined(labelled, applies_to):
    from closeframe.shape.batches import drop_ids_loaded_before, labelled_frame, labelled_records_frame

    page = json.loads((FIXTURES / "outcome_list_40_orgs.json").read_text(encoding="utf-8"))
    names = {org["id"]: org["name"] for org in page["organizations"]}
    by_org: dict = {}
    for record in page["data"]:
        by_org.setdefault(record["organization_id"], []).append(record)
    accounts = [(records, f"key {i}", f"label {i % 3}" if labelled else None, False)
                for i, records in enumerate(by_org.values())]
    # A second key of the first organization (its outcomes are kept once), with a field Close added since.
    accounts.append(([{**r, "new_field": f"v{i}"} for i, r in enumerate(accounts[0][0])] + [
        {**accounts[1][0][0], "id": "outcome_only_in_the_last_account", "new_field": "text"}], "key again",
        "again" if labelled else None, False))

    def build(records, **labels):
        return outcomes_frame(records, applies_to, **labels)

    once, overlaps = labelled_records_frame(copy.deepcopy(accounts), build, organization_names=names,
                                            labelled=labelled)
    frames, expected_overlaps = drop_ids_loaded_before([build(copy.deepcopy(a[0])) for a in accounts],
                                                       [a[1] for a in accounts])
    joined = labelled_frame([(frame, a[2]) for frame, a in zip(frames, accounts)], build,
                            organization_names=names, labelled=labelled)
    tm.assert_frame_equal(once, joined)
    # Records, not rows: in "long" mode the joined frames count an outcome once per applies_to value.
    assert overlaps == {("key 0", "key again"): len(accounts[0][0])}
    assert applies_to == "long" or expected_overlaps == overlaps
