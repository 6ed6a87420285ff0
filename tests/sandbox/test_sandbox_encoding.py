"""The sandbox's answers are the bytes ``json.dumps`` writes, whichever encoder wrote them (server.encode_json)."""

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from closeframe.sandbox import Sandbox
from closeframe.sandbox.server import encode_json


def _reference(payload, ascii_only=False):
    return json.dumps(payload, ensure_ascii=ascii_only, separators=(",", ":")).encode("utf-8")


_scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2 ** 70, max_value=2 ** 70),
                     st.floats(allow_nan=True, allow_infinity=True), st.text())
_json = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=5), inner, max_size=4)), max_leaves=20)


@settings(max_examples=150, deadline=None)
@given(_json)
def test_any_json_value_is_written_as_json_dumps_writes_it(payload):
    try:
        expected = _reference(payload)
    except UnicodeEncodeError:  # a lone surrogate: the sandbox escapes it (ascii_only) or fails as before
        with pytest.raises(UnicodeEncodeError):
            encode_json(payload)
        assert encode_json(payload, ascii_only=True) == _reference(payload, ascii_only=True)
        return
    assert encode_json(payload) == expected


@pytest.mark.parametrize("payload", [
    {"x": 1e16}, {"x": 1e-05}, [math.nan, math.inf, -math.inf], {"big": 2 ** 64}, {1: "int key"},
    {"s": "\ud83c"}, {"nested": [{"a": (1, 2)}, {"b": -0.0}]}, "ünïcödé \u2028 \x00\x1f\x7f",
])
def test_values_orjson_would_write_otherwise_fall_back_to_json(payload):
    try:
        expected = _reference(payload)
    except UnicodeEncodeError:
        assert encode_json(payload, ascii_only=True) == _reference(payload, ascii_only=True)
        return
    assert encode_json(payload) == expected


def test_every_listing_of_a_seeded_sandbox_is_written_as_before():
    sb = Sandbox(seed=3, organizations=2, outcomes=120, calls=150, meetings=60, users=3, quirks=True)
    for org in sb.api_keys:
        outcomes, more = sb.store.outcome_page(org, 0, 10 ** 6)
        pages = [{"data": outcomes, "has_more": more}]
        for kind in ("call", "meeting"):
            records, more = sb.store.activity_page(org, kind, 0, 10 ** 6)
            pages.append({"data": records, "has_more": more})
        assert sum(len(page["data"]) for page in pages) == len(outcomes) + 150 + 60
        for page in pages:
            assert encode_json(page) == _reference(page)
