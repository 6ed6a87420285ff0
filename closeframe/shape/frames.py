"""Shape Close API records (lists of dicts) into typed pandas DataFrames with pinned schemas.

Every function here is pure: records in, DataFrame out, no I/O. Each kind of record (outcome, call, meeting) has a
pinned schema: its columns come first, in a fixed order, each with a fixed dtype, whether or not the records carry
the field (a ``_fields`` subset simply leaves a column all-missing). Fields the schema does not know are kept as
extra columns after the pinned ones, in first-seen order, so a new API field never breaks or vanishes.

Dtypes
------
- identifiers and free text: ``string[pyarrow]`` (:class:`pandas.StringDtype`, missing is ``pd.NA``);
- low-cardinality labels (``type``, ``organization_id``, ``status``, ...): unordered ``category`` whose categories
  are the values seen, sorted;
- datetimes: ``datetime64[us, UTC]``, parsed leniently (fraction or not, any offset converted to UTC, naive read as
  UTC, unparseable -> ``NaT``);
- ``duration``: ``Int64``; ``cost``: ``float64`` (sent as a string); ``applies_to_<value>``: numpy ``bool``;
- lists (``attendees``, ``users``, ``attached_call_ids``): Arrow lists (:class:`pandas.ArrowDtype`, e.g.
  ``list<struct<email: string, status: string, ...>>``), typed from the values; a cell is still the list as Close
  sent it (``df["attendees"][0]`` is a list of dicts), except that each dict has every key any attendee of the
  frame has (``None`` where its own had none) and a missing list is ``pd.NA``. Held in Arrow buffers, a meeting's
  attendees cost about a tenth of the Python lists of dicts they replace, and ``memory_usage(deep=True)`` counts
  them. Values that fit no Arrow type (a list mixing texts and numbers) keep the column ``object``, as given.

Why not ``pd.json_normalize``: it builds object columns, then every cast and the ``applies_to`` explode/dummies
pass copy them again. Here one pyarrow struct conversion reads every pinned field of every record in a single
pass (labels dictionary-encoded on the way), and each column goes from there straight into its final array
(pyarrow does the string, datetime and ``applies_to`` work in C++), which is over five times faster and uses
about a third of the extra memory on 10^6 outcomes; ``bench/shaping.py`` measures it.
"""

from __future__ import annotations

import re
from collections import deque
from itertools import chain, repeat
from operator import itemgetter
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from closeframe.errors import ConfigurationError
from closeframe.shape.memory import COPY_POOL, release_free_memory

__all__ = [
    "APPLIES_TO_MODES",
    "CALL_COLUMNS",
    "CALL_FIELDS",
    "MEETING_COLUMNS",
    "MEETING_FIELDS",
    "OUTCOME_COLUMNS",
    "STRING_DTYPE",
    "UTC_DATETIME_DTYPE",
    "calls_frame",
    "concat_frames",
    "empty_outcomes_frame",
    "meetings_frame",
    "outcomes_frame",
    "with_labels",
]

#: The dtype of identifier and text columns. pyarrow storage keeps each frame's strings in one compact buffer
#: (about a third of the memory of Python ``str`` objects once the records are gone) and builds fastest.
STRING_DTYPE = pd.StringDtype("pyarrow")

#: The dtype of every datetime column: microseconds are what Close sends and what pandas 3 parses by default.
UTC_DATETIME_DTYPE = pd.DatetimeTZDtype(unit="us", tz="UTC")

APPLIES_TO_MODES = ("columns", "long")

# The pinned schemas: column name -> kind. The kind picks the builder in _BUILDERS.
_OUTCOME_SCHEMA: dict[str, str] = {
    "id": "string",
    "name": "string",
    "description": "string",
    "type": "category",
    "organization_id": "category",
    "created_by": "string",
    "updated_by": "string",
    "date_created": "datetime",
    "date_updated": "datetime",
}

_CALL_SCHEMA: dict[str, str] = {
    "id": "string",
    "organization_id": "category",
    "user_id": "category",
    "user_name": "category",
    "lead_id": "string",
    "contact_id": "string",
    "date_created": "datetime",
    "date_updated": "datetime",
    "activity_at": "datetime",
    "outcome_id": "string",
    "duration": "integer",
    "direction": "category",
    "status": "category",
    "disposition": "category",
    "call_method": "category",
    "source": "category",
    # Real calls carry these too (recorded answers; tests/fixtures/real): typed, never dropped.
    "users": "nested",
    "created_by": "string",
    "updated_by": "string",
    "date_answered": "datetime",
    "voicemail_duration": "integer",
    "cost": "number",
    "phone": "string",
    "local_phone": "string",
    "remote_phone": "string",
    "outcome_reason": "category",
    "outcome_autofill_reasoning": "string",
}

_MEETING_SCHEMA: dict[str, str] = {
    "id": "string",
    "organization_id": "category",
    "user_id": "category",
    "user_name": "category",
    "lead_id": "string",
    "title": "string",
    "date_created": "datetime",
    "date_updated": "datetime",
    "activity_at": "datetime",
    "starts_at": "datetime",
    "ends_at": "datetime",
    "outcome_id": "string",
    "duration": "integer",
    "status": "category",
    "attendees": "nested",
    # Real meetings carry these too (Close's docs and recorded answers): typed, never dropped.
    "contact_id": "string",
    "users": "nested",
    "source": "category",
    "actual_duration": "integer",
    "attached_call_ids": "nested",
    "created_by": "string",
    "updated_by": "string",
    "outcome_reason": "category",
    "outcome_autofill_reasoning": "string",
}

OUTCOME_COLUMNS: tuple[str, ...] = tuple(_OUTCOME_SCHEMA)
CALL_COLUMNS: tuple[str, ...] = tuple(_CALL_SCHEMA)
MEETING_COLUMNS: tuple[str, ...] = tuple(_MEETING_SCHEMA)

#: Every call field Close documents or was recorded sending, for ``fields=``; the pinned columns first. The
#: transcripts come only when ``_fields`` names them; fields not pinned become extra columns when sent.
CALL_FIELDS: tuple[str, ...] = CALL_COLUMNS + (
    "_type", "recording_transcript", "voicemail_transcript", "recording_url", "recording_duration",
    "recording_expires_at", "has_recording", "voicemail_url", "note", "note_html", "local_phone_formatted",
    "remote_phone_formatted", "local_country_iso", "remote_country_iso", "created_by_name", "updated_by_name",
    "dialer_id", "dialer_saved_search_id", "sequence_id", "sequence_name", "sequence_subscription_id",
    "transferred_from", "transferred_from_user_id", "transferred_to", "transferred_to_user_id", "forwarded_to",
    "is_forwarded", "is_joinable", "is_to_group_number", "coach_legs", "outcome_autofill_confidence",
)
#: Every meeting field Close documents or was recorded sending, for ``fields=``; ``transcripts`` only on request.
MEETING_FIELDS: tuple[str, ...] = MEETING_COLUMNS + (
    "_type", "transcripts", "integrations", "conference_links", "connected_account_id", "calendar_event_link",
    "calendar_event_uids", "is_recurring", "location", "note", "user_note", "user_note_html", "user_note_mentions",
    "user_note_date_updated", "notetaker_id", "provider_calendar_event_id", "provider_calendar_ids",
    "provider_calendar_type", "summary", "conversation_type_id", "conversation_type_reason", "parent_meeting_id",
    "created_by_name", "updated_by_name", "outcome_autofill_confidence",
)

#: ``applies_to`` values that always get a column in "columns" mode, in this order.
_ALWAYS_APPLIES_TO = ("calls", "meetings")
_APPLIES_TO_PREFIX = "applies_to_"
_APPLIES_TO_TYPE = pa.list_(pa.dictionary(pa.int32(), pa.large_string()))  # values dictionary-encoded as read
_NOT_IDENTIFIER_CHARS = re.compile(r"[^0-9a-z]+")


# --------------------------------------------------------------------------------------------------------------
# Reading one field of every record
# --------------------------------------------------------------------------------------------------------------

#: Records converted to pyarrow at a time: small enough for the builders and the records to stay in CPU cache,
#: large enough that the per-call cost vanishes (measured best between 8k and 16k on 10^6 outcomes).
_CONVERT_CHUNK = 8192

#: What pyarrow raises when a value does not fit the type asked for (TypeError: a record that is not a dict).
_ARROW_REFUSALS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError)


def _materialize(records: Iterable[Mapping[str, Any]]) -> _Records:
    """Wrap ``records`` for reading, consuming a generator exactly once and not copying a list."""
    return _Records(records if isinstance(records, list) else list(records))


class _Records:
    """The records being shaped, read into pyarrow, remembering whether any record lacked a field read.

    :meth:`convert` reads every pinned field of every record in one pass up front; :meth:`arrow` then hands out
    those columns instead of walking the records again. Knowing that every record had every pinned field lets
    :func:`_extra_fields` prove there are no extra fields from the records' lengths alone, instead of taking the
    union of all their keys.
    """

    __slots__ = ("converted", "key_count", "rows", "some_lack_a_field")

    def __init__(self, rows: list) -> None:
        self.rows = rows
        self.some_lack_a_field = False
        self.converted: dict[str, pa.ChunkedArray] = {}
        self.key_count: int | None = None  # how many keys all records have together, once counted

    def __len__(self) -> int:
        return len(self.rows)

    def convert(self, arrow_types: Mapping[str, pa.DataType]) -> None:
        """Read the fields of ``arrow_types`` from every record in ONE pass, into pyarrow arrays of those types.

        One struct conversion looks each record up once for all its fields, which costs about half as much as a
        pass per field. It goes :data:`_CONVERT_CHUNK` records at a time: pyarrow's builders then grow within the
        CPU cache instead of copying ever larger buffers, and the checks below find those records still in cache.
        The string columns stay chunked (pandas' Arrow arrays are chunked anyway). If any value does not fit (or
        a record is not a dict), nothing is kept and each field is read on its own by :meth:`arrow`, whose
        callers have a lenient path for the field that refuses.
        """
        rows = self.rows
        if not rows or type(rows[0]) is not dict:
            return
        struct_type = pa.struct(list(arrow_types.items()))
        chunks = []
        key_count = 0
        for start in range(0, len(rows), _CONVERT_CHUNK):
            part = rows[start:start + _CONVERT_CHUNK]
            try:
                chunk = pa.array(part, type=struct_type, memory_pool=COPY_POOL)
            except _ARROW_REFUSALS:
                return
            if chunk.null_count:
                return  # a record that is None: the field-by-field path reports it as it always did
            chunks.append(chunk)
            key_count += sum(map(len, part))
            # The conversion reads a missing key as null, just like a null value. Whether some record lacks a
            # field (which _extra_fields needs to know) can only be so for a field with nulls: one itemgetter
            # pass over those fields tells, by raising KeyError.
            with_nulls = [field for field in arrow_types if chunk.field(field).null_count]
            if with_nulls and not self.some_lack_a_field:
                try:
                    deque(map(itemgetter(*with_nulls), part), maxlen=0)
                except KeyError:
                    self.some_lack_a_field = True
        self.key_count = key_count
        self.converted = {field: pa.chunked_array([chunk.field(field) for chunk in chunks], type=arrow_type)
                          for field, arrow_type in arrow_types.items()}

    def _reader(self, field: str, lacking: bool) -> Iterable:
        # itemgetter is the fastest C-level read; it raises KeyError on a record without the field, after which
        # dict.get (None for a missing field) takes over.
        if not lacking:
            return map(itemgetter(field), self.rows)
        try:
            return map(dict.get, self.rows, repeat(field)) if type(self.rows[0]) is dict else \
                (row.get(field) for row in self.rows)
        except IndexError:
            return iter(())

    def values(self, field: str) -> list:
        """Return one field of every record as a list, ``None`` where a record lacks it."""
        try:
            return list(self._reader(field, False))
        except KeyError:
            self.some_lack_a_field = True
            return list(self._reader(field, True))

    def arrow(self, field: str, arrow_type: pa.DataType) -> pa.Array:
        """Return one field of every record as a pyarrow array of ``arrow_type``.

        From :meth:`convert` if it read the field; otherwise streamed straight from the records (no intermediate
        Python list: pyarrow pulls the values from the iterator in C++). Raises one of ``_ARROW_REFUSALS`` if a
        value does not fit; callers then take the slower, lenient path.
        """
        converted = self.converted.pop(field, None)  # each is read once: let it go when its column does
        if converted is not None and converted.type == arrow_type:
            return converted
        try:
            return pa.array(self._reader(field, False), type=arrow_type, size=len(self.rows))
        except KeyError:
            self.some_lack_a_field = True
            return pa.array(self._reader(field, True), type=arrow_type, size=len(self.rows))


def _sorted_labels(labels: Iterable) -> list:
    """Return ``labels`` sorted; mixed types (a number among strings) sort by their text instead of failing."""
    labels = list(labels)
    try:
        return sorted(labels)
    except TypeError:
        return sorted(labels, key=str)


def _sorted_categorical(codes: np.ndarray, uniques: Sequence) -> pd.Categorical:
    """Build a Categorical from factorized ``codes`` (-1 = missing), renumbered so its categories are sorted.

    Sorted categories make frames from different accounts agree wherever their values agree.
    """
    categories = _sorted_labels(uniques)
    new_code_of_old = np.empty(len(uniques) + 1, dtype=np.int64)
    position = {label: code for code, label in enumerate(categories)}  # a dict: an Index costs a millisecond
    new_code_of_old[:-1] = [position[label] for label in uniques]
    new_code_of_old[-1] = -1  # code -1 (missing) indexes this last slot and stays -1
    return pd.Categorical.from_codes(new_code_of_old[codes], dtype=pd.CategoricalDtype(categories, ordered=False))


def _contiguous(array: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Return ``array`` as one pyarrow array (chunks of a dictionary array share their dictionary)."""
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def _codes_and_uniques(encoded: pa.DictionaryArray | pa.ChunkedArray) -> tuple[np.ndarray, list]:
    """Return a pyarrow dictionary array as (codes with -1 for null, distinct values)."""
    encoded = _contiguous(encoded)
    return encoded.indices.fill_null(-1).to_numpy(), encoded.dictionary.to_pylist()


# --------------------------------------------------------------------------------------------------------------
# Value lists -> final arrays (the lenient paths, and the extra fields)
# --------------------------------------------------------------------------------------------------------------


def _string_array(values: list) -> pd.api.extensions.ExtensionArray:
    """Return ``values`` as a :data:`STRING_DTYPE` array; ``None`` becomes ``pd.NA``, non-strings become ``str``."""
    try:
        return pd.arrays.ArrowStringArray(pa.array(values, type=pa.large_string()))
    except _ARROW_REFUSALS:
        # Rare: a number or list where a string was expected. Keep it, as its text, rather than fail.
        return pd.Series(values, dtype=object).astype(STRING_DTYPE).array


def _category_array(values: list) -> pd.Categorical:
    """Return ``values`` as an unordered Categorical whose categories are the values seen, sorted."""
    codes, uniques = pd.factorize(np.asarray(values, dtype=object))
    return _sorted_categorical(codes, uniques)


#: A time of day followed by ``Z`` or an offset: "2025-07-29T10:30:00+02:00" has one, "2025-07-29" does not.
_OFFSET_AT_END = re.compile(r"\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$")


def _parse_datetimes(codes: np.ndarray, uniques: Sequence) -> pd.api.extensions.ExtensionArray:
    """Parse each distinct value once with pandas' lenient ISO 8601 parser, then spread by ``codes``; never raise."""
    # Numbers would be read as epochs (a deprecated pandas path); Close never sends them: treat as unparseable.
    parseable = pd.Series([value if isinstance(value, str) or hasattr(value, "isoformat") else None
                           for value in uniques], dtype=object)
    # Texts with an offset, naive texts and datetime objects are parsed apart: in one call, pandas 2 reads a naive
    # text in the offset of the aware ones beside it instead of as UTC.
    aware = parseable.map(lambda v: isinstance(v, str) and bool(_OFFSET_AT_END.search(v.strip())))
    naive = parseable.map(lambda v: isinstance(v, str)) & ~aware
    parsed = pd.Series(pd.NaT, index=parseable.index, dtype=UTC_DATETIME_DTYPE)
    for group in (aware, naive, parseable.notna() & ~aware & ~naive):
        if group.any():
            parsed[group] = pd.to_datetime(parseable[group], utc=True, format="ISO8601",
                                           errors="coerce").astype(UTC_DATETIME_DTYPE)
    return parsed.array.take(np.asarray(codes, dtype=np.int64), allow_fill=True)


def _integer_array(values: list) -> pd.api.extensions.ExtensionArray:
    """Return ``values`` as nullable ``Int64``; numbers that are not whole are rounded, text becomes missing."""
    try:
        return pd.Int64Dtype().__from_arrow__(pa.array(values, type=pa.int64()))
    except _ARROW_REFUSALS:
        numbers = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce")
        return numbers.round().astype("Int64").array


def _object_array(values: list) -> np.ndarray:
    """Return ``values`` as an object array, each value exactly as given (lists stay lists)."""
    array = np.empty(len(values), dtype=object)
    array[:] = values  # assigning into an object array never tries to stack nested lists into 2-D
    return array


def _inferred_array(values: list) -> Any:
    """Return an extra (unknown) field's values with a dtype that fits them.

    Strings become :data:`STRING_DTYPE`, whole numbers ``Int64``, other numbers ``float64``, booleans ``boolean``;
    anything else (lists, dicts, mixtures, all missing) stays ``object`` as given.
    """
    kind = pd.api.types.infer_dtype(values, skipna=True)
    if kind == "string":
        return _string_array(values)
    if kind == "integer":
        return _integer_array(values)
    if kind in ("floating", "mixed-integer-float"):
        return pd.to_numeric(pd.Series(values, dtype=object)).astype(np.float64).to_numpy()
    if kind == "boolean":
        return pd.array(values, dtype="boolean")
    return _object_array(values)


# --------------------------------------------------------------------------------------------------------------
# Records -> pinned columns: one builder per kind, each a single pass, lenient path on refusal
# --------------------------------------------------------------------------------------------------------------


def _string_column(records: _Records, field: str) -> pd.api.extensions.ExtensionArray:
    """One field as :data:`STRING_DTYPE`: the characters go straight into one pyarrow buffer."""
    try:
        return pd.arrays.ArrowStringArray(records.arrow(field, pa.large_string()))
    except _ARROW_REFUSALS:
        return _string_array(records.values(field))


def _category_column(records: _Records, field: str) -> pd.Categorical:
    """One field as a Categorical with sorted categories, factorized by pyarrow's hash table."""
    try:
        encoded = records.arrow(field, _CATEGORY_TYPE)
    except _ARROW_REFUSALS:
        return _category_array(records.values(field))
    return _sorted_categorical(*_codes_and_uniques(encoded))


def _datetime_column(records: _Records, field: str) -> pd.api.extensions.ExtensionArray:
    """One field of ISO 8601 strings as UTC datetimes; unparseable or missing values become ``NaT``.

    pyarrow's cast parses the usual Close forms (with or without fraction, ``Z`` or any ``+HH:MM`` offset) in C++.
    It refuses the whole column if any value is naive, malformed or too precise; then pandas' lenient parser
    takes over, on the distinct values only (dates repeat a lot).
    """
    try:
        text = records.arrow(field, pa.large_string())
    except _ARROW_REFUSALS:
        return _parse_datetimes(*pd.factorize(np.asarray(records.values(field), dtype=object)))
    try:
        return pc.cast(text, pa.timestamp("us", tz="UTC")).to_pandas().array
    except _ARROW_REFUSALS:
        return _parse_datetimes(*_codes_and_uniques(text.dictionary_encode()))


def _integer_column(records: _Records, field: str) -> pd.api.extensions.ExtensionArray:
    """One field as nullable ``Int64``."""
    try:
        return pd.Int64Dtype().__from_arrow__(records.arrow(field, pa.int64()))
    except _ARROW_REFUSALS:
        return _integer_array(records.values(field))


def _number_column(records: _Records, field: str) -> np.ndarray:
    """One field as ``float64``: Close sends ``cost`` as a string such as ``"2"`` (or null); text that is not a
    number becomes NaN."""
    try:
        text = records.arrow(field, pa.large_string())
    except _ARROW_REFUSALS:  # numbers, not strings: read them as they are
        return pd.to_numeric(pd.Series(records.values(field), dtype=object), errors="coerce").to_numpy(np.float64)
    try:
        return pc.cast(text, pa.float64()).to_numpy(zero_copy_only=False)
    except _ARROW_REFUSALS:
        return pd.to_numeric(pd.Series(text.to_pylist(), dtype=object), errors="coerce").to_numpy(np.float64)


def _object_column(records: _Records, field: str) -> np.ndarray:
    """One field as an object array, values as given."""
    return _object_array(records.values(field))


#: The type of a list field whose every value is missing (nothing to infer one from).
_NESTED_WHEN_EMPTY = {
    "attendees": pa.list_(pa.struct([("email", pa.string()), ("status", pa.string()), ("is_organizer", pa.bool_()),
                                     ("user_id", pa.string()), ("contact_id", pa.string())])),
}
_LIST_OF_TEXT = pa.list_(pa.string())


def _nested_column(records: _Records, field: str) -> Any:
    """One list field (``attendees``, ``users``...) as an Arrow list array (see :func:`_nested_array`)."""
    return _nested_array(records.values(field), _NESTED_WHEN_EMPTY.get(field, _LIST_OF_TEXT))


def _nested_array(values: list, empty_type: pa.DataType = _LIST_OF_TEXT) -> Any:
    """Lists as an Arrow list array, its type inferred from the values (``empty_type`` when nothing tells).

    pyarrow infers ``list<struct<...>>`` with the union of the dicts' keys; values that fit no Arrow type (text
    and numbers in one list, a dict where a list belongs) stay an ``object`` array, as given.
    """
    try:
        array = pa.array(values, memory_pool=COPY_POOL)
    except _ARROW_REFUSALS:
        return _object_array(values)
    if pa.types.is_null(array.type):
        array = pa.nulls(len(array), empty_type)
    elif not pa.types.is_list(array.type):
        return _object_array(values)  # not lists
    elif pa.types.is_null(array.type.value_type):
        array = array.cast(empty_type)  # only empty lists and missing values
    return pd.arrays.ArrowExtensionArray(array)


#: How label fields are read: dictionary-encoded while converting, so their text is never held once per record.
_CATEGORY_TYPE = pa.dictionary(pa.int32(), pa.large_string())

#: The pyarrow type each kind of pinned field is read as (``object`` fields stay Python objects).
_ARROW_TYPES = {"string": pa.large_string(), "category": _CATEGORY_TYPE, "datetime": pa.large_string(),
                "integer": pa.int64(), "number": pa.large_string()}

_BUILDERS = {
    "string": _string_column,
    "category": _category_column,
    "datetime": _datetime_column,
    "integer": _integer_column,
    "number": _number_column,
    "object": _object_column,
    "nested": _nested_column,
}


def _extra_fields(records: _Records, known: Sequence[str]) -> list[str]:
    """Return the fields of ``records`` not in ``known``, in the order they are first seen.

    Call it after every field of ``known`` was read from ``records``.
    """
    rows = records.rows
    # Every record has at least the known fields: they have nothing more if their lengths add up to no more.
    key_count = sum(map(len, rows)) if records.key_count is None else records.key_count
    if not records.some_lack_a_field and key_count <= len(known) * len(rows):
        return []
    # One C-level set union finds whether there is anything extra at all.
    unknown = set().union(*rows).difference(known)
    if not unknown:
        return []
    ordered: dict[str, None] = {}
    for row in rows:
        for field in row:
            if field in unknown and field not in ordered:
                ordered[field] = None
        if len(ordered) == len(unknown):
            break
    return list(ordered)


def _pinned_columns(records: _Records, schema: Mapping[str, str], *,
                    also: Mapping[str, pa.DataType] | None = None) -> dict[str, Any]:
    """Build the pinned columns of ``schema``, in order, each with its pinned dtype.

    Every field that pyarrow can read (all but ``object`` ones), and the fields of ``also`` (read later by the
    caller), are first read from the records in one pass.
    """
    arrow_types = {name: _ARROW_TYPES[kind] for name, kind in schema.items() if kind in _ARROW_TYPES}
    records.convert({**arrow_types, **(also or {})})
    return {name: _BUILDERS[kind](records, name) for name, kind in schema.items()}


def _extra_columns(records: _Records, known: Sequence[str]) -> dict[str, Any]:
    """Build a column, with an inferred dtype, for each field outside ``known`` (already read), first-seen order."""
    return {name: _inferred_array(records.values(name)) for name in _extra_fields(records, known)}


def _insert_after(columns: dict[str, Any], anchor: str, new: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``columns`` with ``new`` placed right after ``anchor`` (order matters for the pinned schema)."""
    result: dict[str, Any] = {}
    for name, column in columns.items():
        result[name] = column
        if name == anchor:
            result.update(new)
    return result


def _relabel(organization_ids: pd.Categorical, names: Mapping[str, Any]) -> pd.Categorical:
    """Map a categorical of organization ids to a categorical of their names (NA where unknown).

    As :func:`_category_array` of every row's name, but from the codes: each distinct id is looked up once and
    the codes are renumbered, never a Python list of a name per row (8 MB at the end of a 200,000-call load).
    """
    codes = organization_ids.codes
    present = np.bincount(codes[codes >= 0], minlength=len(organization_ids.categories)) > 0
    name_code: dict[Any, int] = {}
    # The extra last slot is what code -1 (a missing id) picks, and it stays -1; so does an unknown id.
    name_code_of_id = np.full(len(present) + 1, -1, dtype=np.int64)
    for code, category in enumerate(organization_ids.categories):
        name = names.get(category)
        if present[code] and pd.isna(name) is not True:
            name_code_of_id[code] = name_code.setdefault(name, len(name_code))
    return _sorted_categorical(name_code_of_id[codes], list(name_code))


def _label_columns(columns: dict[str, Any], count: int, organization_names: Mapping[str, Any] | None,
                   accounts: Sequence[Any] | None) -> dict[str, Any]:
    """Add ``organization_name`` and ``account`` after ``organization_id`` when their sources are given."""
    labels: dict[str, Any] = {}
    if organization_names is not None:
        if not isinstance(organization_names, Mapping):
            raise ConfigurationError(
                "organization_names must be a mapping {organization_id: name}, "
                f"not {type(organization_names).__name__}"
            )
        labels["organization_name"] = _relabel(columns["organization_id"], organization_names)
    if accounts is not None:
        if isinstance(accounts, (str, bytes)):
            accounts = [accounts] * count if count == 1 else accounts
        accounts = list(accounts)
        if len(accounts) != count:
            raise ConfigurationError(
                f"accounts has {len(accounts)} labels but there are {count} records; give one label per record"
            )
        labels["account"] = _category_array(accounts)
    return _insert_after(columns, "organization_id", labels) if labels else columns


def _constant_category(label: Any, count: int) -> pd.Categorical:
    """``count`` times ``label`` as a Categorical, as :func:`_category_array` makes it of ``[label] * count``."""
    if count == 0 or label is None or label is pd.NA:
        return _category_array([label] * count)
    return pd.Categorical.from_codes(np.zeros(count, dtype=np.int8), dtype=pd.CategoricalDtype([label]))


def with_labels(frame: pd.DataFrame, *, organization_names: Mapping[str, Any] | None = None,
                account: Any = None, add_account: bool = False) -> pd.DataFrame:
    """Add the label columns to a frame shaped without them, as ``organization_names=``/``accounts=`` would have.

    Parameters
    ----------
    frame : pandas.DataFrame
        From :func:`calls_frame`, :func:`meetings_frame` or :func:`outcomes_frame`, without label columns.
    organization_names : mapping, optional
        ``{organization_id: name}``: adds ``organization_name`` after ``organization_id``.
    account : optional
        The account label of every row, when ``add_account``.
    add_account : bool, default False
        Add the ``account`` column (``account`` may be None: then it is all missing).

    Returns
    -------
    pandas.DataFrame
        The same columns (not copied), the label columns inserted.
    """
    count = len(frame)
    columns = {name: frame[name].array if isinstance(dtype, pd.api.extensions.ExtensionDtype)
               else frame[name].to_numpy() for name, dtype in frame.dtypes.items()}
    columns = _label_columns(columns, count, organization_names, None)
    if add_account:
        anchor = "organization_name" if organization_names is not None else "organization_id"
        columns = _insert_after(columns, anchor, {"account": _constant_category(account, count)})
    return _frame(columns, count)


def _frame(columns: dict[str, Any], count: int) -> pd.DataFrame:
    """Assemble the columns into a DataFrame with a default RangeIndex, without copying them again."""
    return pd.DataFrame(columns, index=pd.RangeIndex(count), copy=False)


# --------------------------------------------------------------------------------------------------------------
# applies_to: a list per outcome -> boolean columns or one row per value
# --------------------------------------------------------------------------------------------------------------


def _check_applies_to_mode(applies_to: Any) -> None:
    """Raise :class:`ConfigurationError` unless ``applies_to`` is one of :data:`APPLIES_TO_MODES`."""
    if not isinstance(applies_to, str) or applies_to not in APPLIES_TO_MODES:
        valid = ", ".join(repr(mode) for mode in APPLIES_TO_MODES)
        raise ConfigurationError(f"applies_to={applies_to!r} is not a valid mode; use one of {valid}")


def _as_value_list(value: Any) -> list:
    """Return an ``applies_to`` value that is not a list as one: missing -> ``[]``, a lone string -> ``[it]``."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    return [value]


def _applies_to_lists(raw: list) -> list[list]:
    """Normalize each record's raw ``applies_to`` to a list (type check first: lists are the common case)."""
    return [value if type(value) is list else _as_value_list(value) for value in raw]


def _flatten_applies_to(records: _Records) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
    """Flatten every record's ``applies_to`` into (lengths, outcome of each value, codes, distinct values).

    ``lengths`` is the number of values of each outcome; ``codes`` has one entry per value, in record order (-1 for
    a null entry), indexing the distinct values.
    """
    try:
        lists = records.arrow("applies_to", _APPLIES_TO_TYPE)
        # pyarrow reads any sequence as a list, so a lone string "sms" would arrive as "s", "m", "s". Single
        # characters give that away (real values are words); then the careful path below reads it again.
        flat = _contiguous(pc.list_flatten(lists).dictionary_encode())
        if len(flat.dictionary) and pc.min(pc.utf8_length(flat.dictionary)).as_py() == 1:
            raise pa.ArrowInvalid("applies_to holds a value that is not a list")
    except _ARROW_REFUSALS:
        lists = pa.array([[None if value is None else str(value) for value in values]
                          for values in _applies_to_lists(records.values("applies_to"))], type=_APPLIES_TO_TYPE)
        flat = pc.list_flatten(lists).dictionary_encode()
    lengths = pc.list_value_length(lists).fill_null(0).to_numpy().astype(np.int64)
    outcome_of_value = pc.list_parent_indices(lists).to_numpy()
    codes, uniques = _codes_and_uniques(flat)
    return lengths, outcome_of_value, codes, uniques


def _slug(value: Any) -> str:
    """Return ``value`` as a valid identifier suffix: lowercase, each run of other characters -> ``_``."""
    return _NOT_IDENTIFIER_CHARS.sub("_", str(value).lower()).strip("_") or "_"


def _applies_to_flags(records: _Records) -> dict[str, np.ndarray]:
    """Return ``{"applies_to_<value>": bool array}``: calls, meetings, then every other value seen, sorted."""
    lengths, outcome_of_value, codes, uniques = _flatten_applies_to(records)
    count = len(lengths)
    slugs = list(_ALWAYS_APPLIES_TO) + sorted({_slug(value) for value in uniques} - set(_ALWAYS_APPLIES_TO))
    row_of_slug = {slug: row for row, slug in enumerate(slugs)}
    # Values that slug alike ("SMS", "sms") share a column: their flags are OR-ed by the assignment below. Code
    # -1 (a null value) indexes the extra last entry, which points at a scratch row that is not returned.
    row_of_code = np.array([row_of_slug[_slug(value)] for value in uniques] + [len(slugs)], dtype=np.int64)
    flags = np.zeros((len(slugs) + 1, count), dtype=bool)  # one contiguous row per output column
    # One flat scatter: row-major position of (column of the value, its outcome).
    flags.reshape(-1)[row_of_code[codes] * count + outcome_of_value] = True
    return {_APPLIES_TO_PREFIX + slug: flags[row] for row, slug in enumerate(slugs)}


def _applies_to_long(records: _Records) -> tuple[np.ndarray, pd.Categorical]:
    """Return (outcome row of each output row, the ``applies_to`` value of each output row).

    One output row per value, in record order; an outcome with no value keeps one row whose value is missing.
    """
    lengths, outcome_of_value, codes, uniques = _flatten_applies_to(records)
    rows_per_outcome = np.maximum(lengths, 1)
    outcome_of_row = np.repeat(np.arange(len(lengths)), rows_per_outcome)
    first_row = np.cumsum(rows_per_outcome) - rows_per_outcome
    first_value = np.cumsum(lengths) - lengths
    rank_in_outcome = np.arange(len(codes)) - first_value[outcome_of_value]
    value_codes = np.full(len(outcome_of_row), -1, dtype=np.int64)
    value_codes[first_row[outcome_of_value] + rank_in_outcome] = codes
    return outcome_of_row, _sorted_categorical(value_codes, uniques)


# --------------------------------------------------------------------------------------------------------------
# The public shapers
# --------------------------------------------------------------------------------------------------------------


def outcomes_frame(records: Iterable[Mapping[str, Any]], applies_to: str = "columns", *,
                   organization_names: Mapping[str, Any] | None = None,
                   accounts: Sequence[Any] | None = None) -> pd.DataFrame:
    """Return Close outcome records as a typed DataFrame with the pinned outcome schema.

    Parameters
    ----------
    records : iterable of dict
        Outcome objects as ``GET /outcome/`` returns them (a list, or a generator: it is consumed once). Any field
        may be missing (e.g. loaded with ``_fields=id,name``); its column is then all-missing with its pinned dtype.
    applies_to : {"columns", "long"}, default "columns"
        ``"columns"``: one ``bool`` column ``applies_to_<value>`` per value: always ``applies_to_calls`` and
        ``applies_to_meetings``, then every other value seen, sorted (values slugged to identifiers); a missing
        ``applies_to`` is all False. ``"long"``: one row per (outcome, value) with a ``category`` column
        ``applies_to``; an outcome without values keeps one row with ``applies_to`` missing.
    organization_names : mapping, optional
        ``{organization_id: name}``; adds a ``category`` column ``organization_name`` after ``organization_id``.
    accounts : sequence, optional
        One account label per record; adds a ``category`` column ``account`` after the organization columns.

    Returns
    -------
    pandas.DataFrame
        :data:`OUTCOME_COLUMNS` (``string``, ``category`` for ``type`` and ``organization_id``, UTC datetimes),
        the label columns if asked, the ``applies_to`` columns, then unknown fields in first-seen order.

    Raises
    ------
    ConfigurationError
        ``applies_to`` is not a mode of :data:`APPLIES_TO_MODES`, or ``accounts`` has the wrong length.
    """
    _check_applies_to_mode(applies_to)
    records = _materialize(records)
    count = len(records)
    pinned = _pinned_columns(records, _OUTCOME_SCHEMA, also={"applies_to": _APPLIES_TO_TYPE})
    columns = _label_columns(pinned, count, organization_names, accounts)
    if applies_to == "columns":
        columns.update(_applies_to_flags(records))
        columns.update(_extra_columns(records, (*_OUTCOME_SCHEMA, "applies_to")))
        return _frame(columns, count)
    outcome_of_row, values = _applies_to_long(records)
    columns["applies_to"] = values
    columns.update(_extra_columns(records, (*_OUTCOME_SCHEMA, "applies_to")))
    # Repeat each outcome's row once per value (the values column already has one entry per output row).
    columns = {name: column if name == "applies_to" else column.take(outcome_of_row)
               for name, column in columns.items()}
    return _frame(columns, len(outcome_of_row))


def empty_outcomes_frame(applies_to: str = "columns") -> pd.DataFrame:
    """Return an outcomes frame with no rows: the pinned columns and dtypes, as ``outcomes_frame([])``.

    Parameters
    ----------
    applies_to : {"columns", "long"}, default "columns"
        As in :func:`outcomes_frame`.

    Returns
    -------
    pandas.DataFrame
    """
    return outcomes_frame([], applies_to)


def calls_frame(records: Iterable[Mapping[str, Any]], *, organization_names: Mapping[str, Any] | None = None,
                accounts: Sequence[Any] | None = None) -> pd.DataFrame:
    """Return Close call activities as a typed DataFrame with the pinned call schema.

    Parameters
    ----------
    records : iterable of dict
        Call objects as ``GET /activity/call/`` returns them; any field may be missing.
    organization_names : mapping, optional
        ``{organization_id: name}``; adds a ``category`` column ``organization_name`` after ``organization_id``.
    accounts : sequence, optional
        One account label per record; adds a ``category`` column ``account`` after the organization columns.

    Returns
    -------
    pandas.DataFrame
        :data:`CALL_COLUMNS`: ids ``string`` (``outcome_id`` nullable), ``organization_id``, ``user_id``,
        ``user_name``, ``direction``, ``status``, ``disposition``, ``call_method``, ``source`` ``category``,
        ``date_created``, ``date_updated``, ``activity_at``, ``date_answered`` UTC datetimes, ``duration`` and
        ``voicemail_duration`` ``Int64`` seconds, ``cost`` ``float64`` (Close sends a string), ``users`` an Arrow list,
        ``outcome_reason`` ``category``, phones and ``outcome_autofill_reasoning`` ``string``; then unknown fields
        (e.g. transcripts asked for with ``fields=``) in first-seen order.
    """
    return _activity_frame(records, _CALL_SCHEMA, organization_names, accounts)


def meetings_frame(records: Iterable[Mapping[str, Any]], *, organization_names: Mapping[str, Any] | None = None,
                   accounts: Sequence[Any] | None = None) -> pd.DataFrame:
    """Return Close meeting activities as a typed DataFrame with the pinned meeting schema.

    Parameters
    ----------
    records : iterable of dict
        Meeting objects as ``GET /activity/meeting/`` returns them; any field may be missing.
    organization_names : mapping, optional
        ``{organization_id: name}``; adds a ``category`` column ``organization_name`` after ``organization_id``.
    accounts : sequence, optional
        One account label per record; adds a ``category`` column ``account`` after the organization columns.

    Returns
    -------
    pandas.DataFrame
        :data:`MEETING_COLUMNS`: ids and ``title`` ``string``, ``organization_id``, ``user_id``, ``user_name``,
        ``status`` ``category``, ``date_created`` .. ``ends_at`` UTC datetimes, ``duration`` ``Int64``,
        ``attendees``, ``users`` and ``attached_call_ids`` Arrow lists (``pandas.ArrowDtype``, e.g.
        ``list<struct<...>>``; ``object`` when the values fit no Arrow type; a missing list is ``pd.NA``), ``contact_id``
        ``string``, ``source`` and ``outcome_reason`` ``category`` (``status`` is null for manual meetings),
        ``actual_duration`` ``Int64``; then unknown fields in first-seen order.
    """
    return _activity_frame(records, _MEETING_SCHEMA, organization_names, accounts)


def _activity_frame(records: Iterable[Mapping[str, Any]], schema: Mapping[str, str],
                    organization_names: Mapping[str, Any] | None, accounts: Sequence[Any] | None) -> pd.DataFrame:
    """Shape call or meeting records by ``schema``, with the optional label columns."""
    records = _materialize(records)
    columns = _label_columns(_pinned_columns(records, schema), len(records), organization_names, accounts)
    columns.update(_extra_columns(records, tuple(schema)))
    return _frame(columns, len(records))


# --------------------------------------------------------------------------------------------------------------
# Concatenation that keeps the pinned dtypes
# --------------------------------------------------------------------------------------------------------------


def _is_flag_column(name: str, dtype: Any) -> bool:
    """Whether a column is one of the ``applies_to_<value>`` booleans of the "columns" mode."""
    return name.startswith(_APPLIES_TO_PREFIX) and dtype == np.dtype(bool)


def _column_order(frames: list[pd.DataFrame]) -> list[str]:
    """Return the union of the frames' columns: first-seen order, with the ``applies_to_`` booleans kept together
    (calls, meetings, then the others sorted) where the first frame had them."""
    other: dict[str, None] = {}
    flags: set[str] = set()
    anchor = None
    for frame in frames:
        previous = None
        for name, dtype in frame.dtypes.items():
            if _is_flag_column(name, dtype):
                flags.add(name)
                if anchor is None:
                    anchor = previous
            else:
                other.setdefault(name, None)
                previous = name
    if not flags:
        return list(other)
    always = [_APPLIES_TO_PREFIX + value for value in _ALWAYS_APPLIES_TO]
    flag_order = [name for name in always if name in flags] + sorted(flags.difference(always))
    if anchor is None:
        return flag_order + list(other)
    order = list(other)
    at = order.index(anchor) + 1
    return order[:at] + flag_order + order[at:]


def _missing_column(template: pd.Series, count: int, name: str) -> pd.Series:
    """Return ``count`` missing values with ``template``'s dtype (False for an ``applies_to_`` flag)."""
    if _is_flag_column(name, template.dtype):
        return pd.Series(np.zeros(count, dtype=bool))
    if template.dtype == object:
        return pd.Series(np.full(count, None, dtype=object))
    return pd.Series(template.array.take(np.full(count, -1), allow_fill=True))


def _concat_categoricals(pieces: list[pd.Series]) -> pd.Categorical:
    """Join categorical pieces into one Categorical whose categories are the union of theirs, sorted.

    Each piece's codes are renumbered through a small lookup table (one numpy take), instead of recoding every
    piece with ``astype`` and concatenating: about ten times faster for hundreds of pieces.
    """
    union = _sorted_labels(set(chain.from_iterable(piece.cat.categories for piece in pieces)))
    positions = pd.Index(union, dtype=object)
    codes = []
    for piece in pieces:
        # The extra last slot is what code -1 (missing) picks, and it stays -1.
        new_code_of_old = np.append(positions.get_indexer(pd.Index(list(piece.cat.categories), dtype=object)), -1)
        codes.append(new_code_of_old[piece.cat.codes.to_numpy()])
    return pd.Categorical.from_codes(np.concatenate(codes), dtype=pd.CategoricalDtype(union, ordered=False))


def _concat_arrow(pieces: list[pd.Series]) -> Any:
    """Join Arrow pieces typed apart (attendees with different keys): their types are united, e.g. struct fields
    added as nulls where a piece had none. ``None`` when they cannot be united."""
    try:
        table = pa.concat_tables([pa.table({"v": pa.array(piece.array)}) for piece in pieces],
                                 promote_options="permissive")
    except _ARROW_REFUSALS:
        return None
    return pd.arrays.ArrowExtensionArray(table.column("v"))


def _missing_as_none(pieces: list[pd.Series]) -> Iterable:
    """The values of ``pieces`` in order as Python objects, every missing marker (NA, NaN, NaT) as ``None``."""
    for piece in pieces:
        values = piece.astype(object)
        yield from values.where(piece.notna(), None)


def _joined_column(pieces: list[pd.Series]) -> Any:
    """One column of :func:`concat_frames` from its pieces (one per frame), keeping the pinned dtype."""
    if len(pieces) > 1 and all(isinstance(piece.dtype, pd.CategoricalDtype) for piece in pieces):
        return _concat_categoricals(pieces)
    if len({piece.dtype for piece in pieces}) > 1 and all(isinstance(p.dtype, pd.ArrowDtype) for p in pieces):
        promoted = _concat_arrow(pieces)
        if promoted is not None:
            return promoted
    if len({piece.dtype for piece in pieces}) > 1:
        # An unknown field whose values were typed differently in different frames (whole numbers in one,
        # text or fractions in another): type it from all its values, as one frame of all records would.
        inferred = _inferred_array(list(_missing_as_none(pieces)))
        # Its own dtype: a Series of an object array of text would be re-inferred as pandas' "str" dtype.
        pieces = [pd.Series(inferred, dtype=inferred.dtype, copy=False)]
    arrays = [piece.array for piece in pieces]
    # The arrays' own concatenation (what pd.concat ends in, without its per-Series work: it counted for
    # hundreds of pieces); pyarrow string arrays are joined by reference, not copied.
    return type(arrays[0])._concat_same_type(arrays) if len(arrays) > 1 else arrays[0]


def concat_frames(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate frames of one kind (e.g. from several accounts or date windows), keeping the pinned dtypes.

    ``pd.concat`` turns categoricals with different categories into ``object``; here their categories are united
    instead. Columns are the union of the frames' columns; an ``applies_to_<value>`` column missing from a frame is
    False there, any other missing column is missing with its dtype.

    Parameters
    ----------
    frames : iterable of pandas.DataFrame
        Frames made by the same shaper (:func:`outcomes_frame` in the same mode, :func:`calls_frame` or
        :func:`meetings_frame`).

    Returns
    -------
    pandas.DataFrame
        The rows of every frame, in order, with a fresh RangeIndex.

    Raises
    ------
    ConfigurationError
        No frames were given.
    """
    return _concat(list(frames), consume=False)


def _concat(frames: list[pd.DataFrame], *, consume: bool) -> pd.DataFrame:
    """:func:`concat_frames`; with ``consume``, each column is deleted from the frames as soon as it is joined.

    A loader owns its pieces: consuming them (and trimming the C heap after each column), the numbers and codes
    copied into the frame are held twice one column at a time instead of all at once.
    """
    if not frames:
        raise ConfigurationError("concat_frames needs at least one frame; got none")
    order = _column_order(frames)
    total = sum(len(frame) for frame in frames)
    columns: dict[str, Any] = {}
    for name in order:
        template = next(frame[name] for frame in frames if name in frame.columns)
        pieces = [frame[name] if name in frame.columns else _missing_column(template, len(frame), name)
                  for frame in frames]
        columns[name] = _joined_column(pieces)
        if consume:
            del pieces, template
            for frame in frames:
                if name in frame.columns:
                    del frame[name]
            # The pieces' blocks of this column are small holes now, too small for the next column's array.
            release_free_memory()
    return _frame(columns, total)
