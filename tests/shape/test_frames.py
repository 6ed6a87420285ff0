"""Tests for closeframe.shape.frames: recorded Close pages in, pinned schemas and values out."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from closeframe.shape import frames
from closeframe.errors import ConfigurationError
from closeframe.shape.frames import (
    APPLIES_TO_MODES,
    CALL_COLUMNS,
    MEETING_COLUMNS,
    OUTCOME_COLUMNS,
    calls_frame,
    concat_frames,
    empty_outcomes_frame,
    meetings_frame,
    outcomes_frame,
)

FIXTURES = Path(__file__).parents[1] / "fixtures"

STRING_OUTCOME_COLUMNS = ("id", "name", "description", "created_by", "updated_by")
CATEGORY_OUTCOME_COLUMNS = ("type", "organization_id")
DATETIME_COLUMNS = ("date_created", "date_updated")


def load_page(name: str) -> list[dict]:
    """Return the ``data`` list of a recorded JSON page."""
    with open(FIXTURES / name, encoding="utf-8") as page:
        return json.load(page)["data"]


@pytest.fixture
def documented() -> list[dict]:
    return load_page("outcome_list_documented.json")


@pytest.fixture
def varied() -> list[dict]:
    return load_page("outcome_list_varied.json")


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text).tz_convert("UTC") if pd.Timestamp(text).tzinfo else pd.Timestamp(text, tz="UTC")


def assert_outcome_dtypes(df: pd.DataFrame) -> None:
    for column in STRING_OUTCOME_COLUMNS:
        assert isinstance(df[column].dtype, pd.StringDtype), column
        assert df[column].dtype.na_value is pd.NA, column
    for column in CATEGORY_OUTCOME_COLUMNS:
        assert isinstance(df[column].dtype, pd.CategoricalDtype), column
        assert not df[column].dtype.ordered
    for column in DATETIME_COLUMNS:
        assert df[column].dtype == pd.DatetimeTZDtype("us", "UTC"), column


# ------------------------------------------------------------------------------------------------ the public names


def test_module_exports_the_required_names():
    for name in ("OUTCOME_COLUMNS", "CALL_COLUMNS", "MEETING_COLUMNS", "APPLIES_TO_MODES", "outcomes_frame",
                 "calls_frame", "meetings_frame", "empty_outcomes_frame", "concat_frames"):
        assert name in frames.__all__
        assert hasattr(frames, name)
    assert frames.__all__ == sorted(frames.__all__)
    assert OUTCOME_COLUMNS == ("id", "name", "description", "type", "organization_id", "created_by", "updated_by",
                               "date_created", "date_updated")
    assert APPLIES_TO_MODES == ("columns", "long")


# ------------------------------------------------------------------------------------------------ documented page


def test_documented_page_columns_dtypes_and_values(documented):
    df = outcomes_frame(documented)

    assert list(df.columns) == [*OUTCOME_COLUMNS, "applies_to_calls", "applies_to_meetings"]
    assert_outcome_dtypes(df)
    assert df["applies_to_calls"].dtype == np.dtype(bool)
    assert df["applies_to_meetings"].dtype == np.dtype(bool)
    assert isinstance(df.index, pd.RangeIndex) and len(df) == len(documented)

    for row, record in zip(df.itertuples(index=False), documented):
        for column in ("id", "name", "description", "type", "organization_id", "created_by", "updated_by"):
            assert getattr(row, column) == record[column]
        for column in DATETIME_COLUMNS:
            assert getattr(row, column) == utc(record[column])
        # The flags come from the record's own list, not from a copy of the expected output.
        assert row.applies_to_calls == ("calls" in record["applies_to"])
        assert row.applies_to_meetings == ("meetings" in record["applies_to"])

    # Categories are the values seen, sorted.
    assert list(df["type"].cat.categories) == sorted({record["type"] for record in documented})


def test_documented_page_long_mode(documented):
    df = outcomes_frame(documented, applies_to="long")

    assert list(df.columns) == [*OUTCOME_COLUMNS, "applies_to"]
    assert_outcome_dtypes(df)
    assert isinstance(df["applies_to"].dtype, pd.CategoricalDtype)
    expected_pairs = [(record["id"], value) for record in documented for value in record["applies_to"]]
    assert list(zip(df["id"], df["applies_to"])) == expected_pairs
    assert list(df.index) == list(range(len(expected_pairs)))


def test_generator_input_is_consumed_once(documented):
    df = outcomes_frame(record for record in documented)
    assert list(df["id"]) == [record["id"] for record in documented]


# ------------------------------------------------------------------------------------------------ field subsets, extras


def test_fields_subset_keeps_every_pinned_column_all_missing(documented):
    subset = [{"id": record["id"], "name": record["name"]} for record in documented]
    df = outcomes_frame(subset)

    assert list(df.columns) == [*OUTCOME_COLUMNS, "applies_to_calls", "applies_to_meetings"]
    assert_outcome_dtypes(df)
    assert list(df["id"]) == [record["id"] for record in documented]
    for column in OUTCOME_COLUMNS[2:]:
        assert df[column].isna().all(), column
    assert not df["applies_to_calls"].any() and not df["applies_to_meetings"].any()


def test_unknown_fields_kept_after_pinned_columns_with_inferred_dtypes(documented):
    records = [dict(record, color="green", rank=index, weight=0.5 + index, tags=["a"], flags={"x": 1})
               for index, record in enumerate(documented)]
    df = outcomes_frame(records)

    assert list(df.columns)[-5:] == ["color", "rank", "weight", "tags", "flags"]
    assert list(df.columns)[: len(OUTCOME_COLUMNS) + 2] == [*OUTCOME_COLUMNS, "applies_to_calls",
                                                             "applies_to_meetings"]
    assert isinstance(df["color"].dtype, pd.StringDtype)
    assert df["rank"].dtype == "Int64" and list(df["rank"]) == list(range(len(records)))
    assert df["weight"].dtype == np.float64
    assert df["tags"].dtype == object and df["tags"].iloc[0] == ["a"]
    assert df["flags"].iloc[1] == {"x": 1}


def test_varied_page_unknown_and_missing_applies_to(varied):
    df = outcomes_frame(varied)

    seen = sorted({value for record in varied for value in (record.get("applies_to") or [])} - {"calls", "meetings"})
    assert seen == ["sms"]
    assert list(df.columns) == [*OUTCOME_COLUMNS, "applies_to_calls", "applies_to_meetings", "applies_to_sms",
                                "sort_order"]
    for column in ("calls", "meetings", "sms"):
        expected = [column in (record.get("applies_to") or []) for record in varied]
        assert df[f"applies_to_{column}"].tolist() == expected
    # null, missing and empty applies_to are all False
    assert not df.loc[1:, ["applies_to_calls", "applies_to_meetings", "applies_to_sms"]].to_numpy().any()
    assert df["sort_order"].dtype == "Int64"
    assert df["sort_order"].isna().tolist() == ["sort_order" not in record for record in varied]
    assert list(df["type"].cat.categories) == sorted({record["type"] for record in varied})


def test_varied_page_long_mode_keeps_outcomes_without_values(varied):
    df = outcomes_frame(varied, "long")

    expected = []
    for record in varied:
        values = record.get("applies_to") or [None]
        expected += [(record["id"], value) for value in values]
    got = [(id_, None if pd.isna(value) else value) for id_, value in zip(df["id"], df["applies_to"])]
    assert got == expected
    assert list(df["applies_to"].cat.categories) == ["calls", "meetings", "sms"]
    assert list(df.columns) == [*OUTCOME_COLUMNS, "applies_to", "sort_order"]


def test_applies_to_values_are_slugged_to_identifiers():
    df = outcomes_frame([{"id": "outcome_x", "applies_to": ["Calls", "Text Message", "e-mail"]}])
    flags = [c for c in df.columns if c.startswith("applies_to_")]
    assert flags == ["applies_to_calls", "applies_to_meetings", "applies_to_e_mail", "applies_to_text_message"]
    assert df.loc[0, flags].tolist() == [True, False, True, True]
    assert all(flag.isidentifier() for flag in flags)


# ------------------------------------------------------------------------------------------------ datetimes


def test_mixed_datetime_formats_are_parsed_to_utc(varied):
    df = outcomes_frame(varied)
    created, updated = df["date_created"], df["date_updated"]

    assert created[0] == pd.Timestamp("2025-07-29T10:30:00", tz="UTC")  # no fraction
    assert updated[0] == pd.Timestamp("2025-07-29T10:30:00.250000", tz="UTC")  # +02:00 -> UTC
    assert created[1] == pd.Timestamp("2025-07-30T08:00:00", tz="UTC")  # Z
    assert updated[1] == pd.Timestamp("2025-07-30T08:00:00", tz="UTC")  # naive read as UTC
    assert pd.isna(created[2])  # "not a date"
    assert updated[2] == pd.Timestamp("2025-08-01T04:59:59.999999", tz="UTC")  # -05:00 -> UTC
    assert pd.isna(created[3])  # null
    assert df["date_created"].dtype == pd.DatetimeTZDtype("us", "UTC")


def test_usual_close_datetimes_take_the_fast_path_and_agree_with_pandas():
    texts = ["2025-07-29T10:30:00.000000+00:00", "2025-07-29T10:30:00+02:00", "2025-01-01T00:00:00Z", None,
             "2024-02-29T23:59:59.5-03:30"]
    df = outcomes_frame([{"id": str(i), "date_created": text} for i, text in enumerate(texts)])
    expected = pd.to_datetime(pd.Series(texts, dtype=object), utc=True, format="ISO8601")
    assert df["date_created"].tolist()[:3] == expected.tolist()[:3]
    assert pd.isna(df["date_created"][3])
    assert df["date_created"][4] == expected[4]


# ------------------------------------------------------------------------------------------------ errors, empties


@pytest.mark.parametrize("mode", ["wide", "", None, "Columns"])
def test_bad_applies_to_mode_names_the_value_and_lists_the_valid_ones(documented, mode):
    with pytest.raises(ConfigurationError) as raised:
        outcomes_frame(documented, applies_to=mode)
    message = str(raised.value)
    assert repr(mode) in message
    assert "'columns'" in message and "'long'" in message
    assert isinstance(raised.value, ValueError)


def test_empty_outcomes_in_both_modes_keep_columns_and_dtypes(documented):
    for mode, tail in (("columns", ["applies_to_calls", "applies_to_meetings"]), ("long", ["applies_to"])):
        empty = outcomes_frame([], mode)
        full = outcomes_frame(documented, mode)
        assert len(empty) == 0
        assert list(empty.columns) == [*OUTCOME_COLUMNS, *tail]
        assert_outcome_dtypes(empty)
        for column in empty.columns:
            assert type(empty[column].dtype) is type(full[column].dtype), column
        assert empty_outcomes_frame(mode).dtypes.equals(empty.dtypes)
    assert empty_outcomes_frame()["applies_to_calls"].dtype == np.dtype(bool)


@pytest.mark.parametrize("shaper, columns, page", [
    (calls_frame, CALL_COLUMNS, "call_list_page.json"),
    (meetings_frame, MEETING_COLUMNS, "meeting_list_page.json"),
])
def test_empty_activities_keep_columns_and_dtypes(shaper, columns, page):
    empty = shaper([])
    # Extras are not pinned, so compare the pinned part only.
    full = shaper(load_page(page))[list(columns)]
    assert len(empty) == 0
    assert list(empty.columns) == list(columns)
    assert [str(dtype) if not isinstance(dtype, pd.CategoricalDtype) else "category" for dtype in empty.dtypes] == \
        [str(dtype) if not isinstance(dtype, pd.CategoricalDtype) else "category" for dtype in full.dtypes]


# ------------------------------------------------------------------------------------------------ labels


def test_organization_names_and_accounts_columns(documented):
    organization_ids = [record["organization_id"] for record in documented]
    names = {organization_ids[0]: "Acme Sales"}  # the second organization is unknown
    df = outcomes_frame(documented, organization_names=names, accounts=["acme", "beta"])

    position = list(df.columns).index("organization_id")
    assert list(df.columns)[position + 1: position + 3] == ["organization_name", "account"]
    assert isinstance(df["organization_name"].dtype, pd.CategoricalDtype)
    assert isinstance(df["account"].dtype, pd.CategoricalDtype)
    assert df["organization_name"][0] == "Acme Sales" and pd.isna(df["organization_name"][1])
    assert df["account"].tolist() == ["acme", "beta"]

    only_names = outcomes_frame(documented, organization_names=names)
    assert "account" not in only_names.columns
    only_accounts = outcomes_frame(documented, "long", accounts=["acme", "beta"])
    assert list(only_accounts.columns)[position + 1] == "account"
    # long mode repeats each outcome's label on each of its rows
    assert only_accounts["account"].tolist() == [
        label for record, label in zip(documented, ["acme", "beta"]) for _ in record["applies_to"]]
    assert "organization_name" not in outcomes_frame(documented).columns


def test_accounts_of_the_wrong_length_is_a_configuration_error(documented):
    with pytest.raises(ConfigurationError, match="accounts has 1 labels but there are 2 records"):
        outcomes_frame(documented, accounts=["only-one"])


# ------------------------------------------------------------------------------------------------ concat_frames


def test_concat_frames_unites_categories_and_applies_to_columns(documented, varied):
    first = outcomes_frame(documented, accounts=["a"] * len(documented))
    second = outcomes_frame(varied, accounts=["b"] * len(varied))
    assert list(first["type"].cat.categories) != list(second["type"].cat.categories)

    both = concat_frames([first, second])

    assert len(both) == len(first) + len(second)
    assert isinstance(both.index, pd.RangeIndex)
    assert_outcome_dtypes(both)
    for column in ("type", "organization_id", "account"):
        assert isinstance(both[column].dtype, pd.CategoricalDtype), column
        assert list(both[column].cat.categories) == sorted(set(first[column]) | set(second[column]))
    assert both["type"].tolist() == first["type"].tolist() + second["type"].tolist()
    # applies_to_sms only exists in the second frame: False for the first frame's rows
    assert both["applies_to_sms"].dtype == np.dtype(bool)
    assert both["applies_to_sms"].tolist() == [False] * len(first) + second["applies_to_sms"].tolist()
    flags = [column for column in both.columns if column.startswith("applies_to_")]
    assert flags == ["applies_to_calls", "applies_to_meetings", "applies_to_sms"]
    # the extra field of the second frame is missing (with its dtype) for the first frame's rows
    assert both["sort_order"].dtype == "Int64"
    assert both["sort_order"].isna().tolist()[: len(first)] == [True] * len(first)
    assert list(both.columns)[-1] == "sort_order"
    assert both["date_updated"].dtype == pd.DatetimeTZDtype("us", "UTC")

    # the naive way loses the categorical dtype: that is why concat_frames exists
    assert not isinstance(pd.concat([first, second])["type"].dtype, pd.CategoricalDtype)


def test_concat_frames_of_long_frames_and_with_an_empty_frame(documented, varied):
    both = concat_frames([outcomes_frame(documented, "long"), outcome_long := outcomes_frame(varied, "long"),
                          outcomes_frame([], "long")])
    assert len(both) == len(outcomes_frame(documented, "long")) + len(outcome_long)
    assert isinstance(both["applies_to"].dtype, pd.CategoricalDtype)
    assert_outcome_dtypes(both)


def test_concat_frames_needs_frames():
    with pytest.raises(ConfigurationError, match="at least one frame"):
        concat_frames([])


# ------------------------------------------------------------------------------------------------ calls, meetings


def test_calls_page():
    records = load_page("call_list_page.json")
    df = calls_frame(records, organization_names={records[0]["organization_id"]: "Acme Sales"})

    assert list(df.columns[: len(CALL_COLUMNS) + 1]) == [
        "id", "organization_id", "organization_name", *CALL_COLUMNS[2:]]
    assert list(df.columns[len(CALL_COLUMNS) + 1:]) == ["_type", "note"]  # phone is pinned now
    for column in ("id", "lead_id", "contact_id", "outcome_id"):
        assert isinstance(df[column].dtype, pd.StringDtype), column
    for column in ("organization_id", "user_id", "user_name", "direction", "status", "disposition", "call_method",
                   "source"):
        assert isinstance(df[column].dtype, pd.CategoricalDtype), column
    for column in ("date_created", "date_updated", "activity_at"):
        assert df[column].dtype == pd.DatetimeTZDtype("us", "UTC"), column
    assert df["duration"].dtype == "Int64"
    assert df["duration"].tolist() == [record["duration"] for record in records]
    assert df["outcome_id"].isna().tolist() == [record["outcome_id"] is None for record in records]
    assert df["contact_id"].isna().tolist() == [record["contact_id"] is None for record in records]
    assert df["activity_at"][1] == pd.Timestamp("2025-08-01T14:30:00", tz="UTC")  # +02:00 converted
    assert list(df["disposition"].cat.categories) == sorted({record["disposition"] for record in records})
    assert (df["organization_name"] == "Acme Sales").all()
    assert isinstance(df["phone"].dtype, pd.StringDtype)


def test_meetings_page():
    records = load_page("meeting_list_page.json")
    df = meetings_frame(records, accounts=["acme"] * len(records))

    assert list(df.columns[: len(MEETING_COLUMNS) + 1]) == ["id", "organization_id", "account",
                                                             *MEETING_COLUMNS[2:]]
    assert list(df.columns[len(MEETING_COLUMNS) + 1:]) == ["_type", "location"]
    assert isinstance(df["title"].dtype, pd.StringDtype)
    assert isinstance(df["status"].dtype, pd.CategoricalDtype)
    for column in ("date_created", "date_updated", "activity_at", "starts_at", "ends_at"):
        assert df[column].dtype == pd.DatetimeTZDtype("us", "UTC"), column
    assert df["starts_at"][1] == pd.Timestamp("2025-08-20T14:00:00", tz="UTC")  # -04:00 converted
    assert df["duration"].dtype == "Int64"
    assert df["duration"][0] == records[0]["duration"] and pd.isna(df["duration"][1])
    # Attendees are Arrow lists of structs: each attendee keeps its values, with every key any attendee has.
    assert isinstance(df["attendees"].dtype, pd.ArrowDtype)
    keys = set().union(*(attendee for record in records for attendee in record["attendees"]))
    assert df["attendees"][0] == [{key: attendee.get(key) for key in keys} for attendee in records[0]["attendees"]]
    assert list(df["attendees"][1]) == records[1]["attendees"] == []


def test_list_fields_that_fit_no_arrow_type_stay_as_given():
    records = [{"id": "acti_1", "attendees": [{"email": "a@example.com"}, "not a dict"], "users": ["user_1", 2]},
               {"id": "acti_2", "attendees": None, "users": None}]
    df = meetings_frame(records)
    assert df["attendees"].dtype == object and df["users"].dtype == object
    assert df["attendees"][0] == records[0]["attendees"] and df["users"][0] == records[0]["users"]


def test_attendees_typed_apart_in_two_pieces_are_united_when_joined():
    first = meetings_frame([{"id": "acti_1", "attendees": [{"email": "a@example.com", "status": "yes"}]}])
    second = meetings_frame([{"id": "acti_2", "attendees": [{"email": "b@example.com", "name": "B"}]},
                             {"id": "acti_3", "attendees": []}])
    both = concat_frames([first, second])
    assert isinstance(both["attendees"].dtype, pd.ArrowDtype)
    assert both["attendees"].tolist() == [[{"email": "a@example.com", "status": "yes", "name": None}],
                                          [{"email": "b@example.com", "status": None, "name": "B"}], []]


def test_meetings_with_a_fields_subset_and_concat():
    records = load_page("meeting_list_page.json")
    subset = meetings_frame([{"id": record["id"], "status": record["status"]} for record in records])
    assert list(subset.columns) == list(MEETING_COLUMNS)
    assert subset["attendees"].isna().all()
    both = concat_frames([meetings_frame(records), subset])
    assert isinstance(both["status"].dtype, pd.CategoricalDtype)
    assert isinstance(both["location"].dtype, pd.StringDtype)
    assert both["location"].isna().tolist() == [record["location"] is None for record in records] + [True] * len(records)


# ------------------------------------------------------------------------------------------------ against the naive recipe


def naive_outcomes_frame(records: list[dict]) -> pd.DataFrame:
    """The recipe the benchmark compares against (json_normalize, explode, get_dummies)."""
    df = pd.json_normalize(records)
    long = df.explode("applies_to")
    dummies = pd.get_dummies(long["applies_to"], prefix="applies_to").groupby(level=0).max()
    df = df.drop(columns="applies_to").join(dummies)
    for column in DATETIME_COLUMNS:
        df[column] = pd.to_datetime(df[column], utc=True, format="ISO8601")
    return df


def generated_outcomes(count: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    offsets = ["+00:00", "Z", "+02:00", "-05:30", "+09:00"]
    records = []
    for index in range(count):
        fraction = rng.choice(["", ".000000", f".{rng.randrange(10**6):06d}", f".{rng.randrange(1000):03d}"])
        stamp = (f"2025-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}T{rng.randrange(24):02d}:"
                 f"{rng.randrange(60):02d}:{rng.randrange(60):02d}{fraction}{rng.choice(offsets)}")
        records.append({
            "id": f"outcome_{index:022d}",
            "name": f"Outcome {rng.randrange(40)}",
            "description": rng.choice([None, "Left a message", "Booked a demo"]),
            "type": rng.choice(["custom", "custom", "vm-dropped"]),
            "applies_to": rng.choice([["calls", "meetings"], ["calls"], ["meetings"], ["calls", "sms"]]),
            "organization_id": f"orga_{rng.randrange(50):03d}",
            "created_by": f"user_{rng.randrange(20):03d}",
            "updated_by": rng.choice([None, f"user_{rng.randrange(20):03d}"]),
            "date_created": stamp,
            "date_updated": stamp,
        })
    return records


def test_values_equal_the_naive_recipe_on_a_generated_sample():
    records = generated_outcomes(3000)
    ours = outcomes_frame(records)
    naive = naive_outcomes_frame(records)

    assert sorted(ours.columns) == sorted(naive.columns)
    for column in naive.columns:
        expected = [None if pd.isna(value) else value for value in naive[column].tolist()]
        got = [None if pd.isna(value) else value for value in ours[column].tolist()]
        assert got == expected, column
    assert ours["applies_to_sms"].sum() > 0


def test_calls_values_on_a_generated_sample_match_a_plain_construction():
    rng = random.Random(3)
    records = [{"id": f"acti_{i}", "duration": rng.choice([None, rng.randrange(600)]),
                "disposition": rng.choice(["answered", "vm-left", None]),
                "activity_at": f"2025-08-{rng.randrange(1, 29):02d}T10:00:00+00:00"} for i in range(500)]
    df = calls_frame(records)
    assert df["duration"].tolist() == [pd.NA if r["duration"] is None else r["duration"] for r in records]
    assert [None if pd.isna(v) else v for v in df["disposition"]] == [r["disposition"] for r in records]
    assert df["activity_at"].tolist() == pd.to_datetime([r["activity_at"] for r in records], utc=True).tolist()


def test_extra_fields_found_wherever_they_appear(documented):
    complete = [dict(record) for record in documented * 3]
    complete[4]["late_field"] = "x"  # only in one later record; every record has every pinned field
    assert outcomes_frame(complete)["late_field"].isna().tolist() == [True] * 4 + [False] + [True]
    swapped = [dict(record) for record in documented]
    del swapped[1]["name"]
    swapped[1]["nickname"] = "same number of keys as the others"
    df = outcomes_frame(swapped)
    assert list(df.columns)[-1] == "nickname" and pd.isna(df["name"][1])


@pytest.mark.parametrize("mode", APPLIES_TO_MODES)
def test_applies_to_given_as_a_lone_string_or_tuple_is_one_value_each(mode):
    records = [{"id": "a", "applies_to": "sms"}, {"id": "b", "applies_to": ("calls", "meetings")},
               {"id": "c", "applies_to": ["calls"]}]
    df = outcomes_frame(records, mode)
    if mode == "columns":
        assert df[["applies_to_calls", "applies_to_meetings", "applies_to_sms"]].to_numpy().tolist() == [
            [False, False, True], [True, True, False], [True, False, False]]
    else:
        assert list(zip(df["id"], df["applies_to"])) == [("a", "sms"), ("b", "calls"), ("b", "meetings"),
                                                         ("c", "calls")]


def test_more_records_than_one_conversion_chunk_match_the_naive_recipe():
    count = 2 * frames._CONVERT_CHUNK + 5  # records are converted to pyarrow a chunk at a time
    records = generated_outcomes(count, seed=11)
    # In the last chunk only: a record lacking a pinned field but carrying an unknown one (same number of keys).
    del records[-2]["name"]
    records[-2]["nickname"] = "late"
    ours = outcomes_frame(records)
    naive = naive_outcomes_frame(records)

    assert list(ours.columns)[-1] == "nickname"
    assert sorted(ours.columns) == sorted(naive.columns)
    for column in naive.columns:
        expected = [None if pd.isna(value) else value for value in naive[column].tolist()]
        got = [None if pd.isna(value) else value for value in ours[column].tolist()]
        assert got == expected, column

    long = outcomes_frame(records, "long")
    assert list(zip(long["id"], long["applies_to"])) == [
        (record["id"], value) for record in records for value in record["applies_to"]]

    # A value pyarrow refuses, in a later chunk, sends every field down the lenient path: same frame otherwise.
    refused = [dict(record) for record in records]
    refused[-3]["description"] = 42
    lenient = outcomes_frame(refused)
    assert lenient["description"][count - 3] == "42"
    pd.testing.assert_frame_equal(lenient.drop(columns="description"), ours.drop(columns="description"))
