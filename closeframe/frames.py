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
- ``duration``: ``Int64``; ``attendees``: ``object`` (the list as given); ``applies_to_<value>``: numpy ``bool``.

Why not ``pd.json_normalize``: it builds object columns, then every cast and the ``applies_to`` explode/dummies
pass copy them again. Here each field is pulled out of the records once and goes straight into its final array
(pyarrow does the string and datetime work in C++), which is several times faster and lighter on 10^6 records;
``bench/shaping.py`` measures it.
"""

from __future__ import annotations

import re
from itertools import chain, repeat
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from closeframe.errors import ConfigurationError

__all__ = [
    "APPLIES_TO_MODES",
    "CALL_COLUMNS",
    "MEETING_COLUMNS",
    "OUTCOME_COLUMNS",
    "STRING_DTYPE",
    "UTC_DATETIME_DTYPE",
    "calls_frame",
    "concat_frames",
    "empty_outcomes_frame",
    "meetings_frame",
    "outcomes_frame",
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
    "attendees": "object",
}

OUTCOME_COLUMNS: tuple[str, ...] = tuple(_OUTCOME_SCHEMA)
CALL_COLUMNS: tuple[str, ...] = tuple(_CALL_SCHEMA)
MEETING_COLUMNS: tuple[str, ...] = tuple(_MEETING_SCHEMA)

#: ``applies_to`` values that always get a column in "columns" mode, in this order.
_ALWAYS_APPLIES_TO = ("calls", "meetings")
_APPLIES_TO_PREFIX = "applies_to_"
_NOT_IDENTIFIER_CHARS = re.compile(r"[^0-9a-z]+")


# --------------------------------------------------------------------------------------------------------------
# One builder per kind of column: a list of raw field values (None where missing) -> the final array.
# --------------------------------------------------------------------------------------------------------------


def _string_array(values: list) -> pd.api.extensions.ExtensionArray:
    """Return ``values`` as a :data:`STRING_DTYPE` array; ``None`` becomes ``pd.NA``, non-strings become ``str``."""
    try:
        # pyarrow copies the characters into one buffer in C++; it refuses non-strings, handled below.
        arrow = pa.array(values, type=pa.large_string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # Rare: a number or list where a string was expected. Keep it, as its text, rather than fail.
        return pd.Series(values, dtype=object).astype(STRING_DTYPE).array
    return pd.arrays.ArrowStringArray(arrow)


def _sorted_labels(labels: Iterable) -> list:
    """Return ``labels`` sorted; mixed types (a number among strings) sort by their text instead of failing."""
    labels = list(labels)
    try:
        return sorted(labels)
    except TypeError:
        return sorted(labels, key=str)


def _category_array(values: list) -> pd.Categorical:
    """Return ``values`` as an unordered Categorical whose categories are the values seen, sorted."""
    codes, uniques = pd.factorize(np.asarray(values, dtype=object))
    return _sorted_categorical(codes, uniques)


def _sorted_categorical(codes: np.ndarray, uniques: Sequence) -> pd.Categorical:
    """Build a Categorical from factorized ``codes`` (-1 = missing), renumbered so its categories are sorted.

    Sorted categories make frames from different accounts agree wherever their values agree.
    """
    categories = _sorted_labels(uniques)
    new_code_of_old = np.empty(len(uniques) + 1, dtype=np.int64)
    new_code_of_old[:-1] = pd.Index(categories, dtype=object).get_indexer(pd.Index(list(uniques), dtype=object))
    new_code_of_old[-1] = -1  # code -1 (missing) indexes this last slot and stays -1
    return pd.Categorical.from_codes(new_code_of_old[codes], dtype=pd.CategoricalDtype(categories, ordered=False))


def _datetime_array(values: list) -> pd.api.extensions.ExtensionArray:
    """Return ``values`` (ISO 8601 strings) as UTC datetimes; unparseable or missing values become ``NaT``.

    pyarrow's cast parses the usual Close forms (with or without fraction, ``Z`` or any ``+HH:MM`` offset) in C++.
    It refuses the whole column if any value is naive, malformed or not a string; then the lenient pandas parser
    takes over, on the distinct values only.
    """
    try:
        arrow = pc.cast(pa.array(values, type=pa.string()), pa.timestamp("us", tz="UTC"))
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return _lenient_datetime_array(values)
    return arrow.to_pandas().array


def _lenient_datetime_array(values: list) -> pd.api.extensions.ExtensionArray:
    """Parse ``values`` one distinct value at a time with pandas' ISO 8601 parser; never raise."""
    codes, uniques = pd.factorize(np.asarray(values, dtype=object))
    # Numbers would be read as epochs (a deprecated pandas path); Close never sends them, so treat them as unparseable.
    parseable = [value if isinstance(value, (str, pd.Timestamp)) or hasattr(value, "isoformat") else None
                 for value in uniques]
    parsed = pd.to_datetime(pd.Series(parseable, dtype=object), utc=True, format="ISO8601", errors="coerce")
    parsed = parsed.astype(UTC_DATETIME_DTYPE).array
    if len(parsed) == 0:
        return pd.array(np.full(len(values), np.datetime64("NaT", "us")), dtype="datetime64[us]").tz_localize("UTC")
    return parsed.take(codes, allow_fill=True)


def _integer_array(values: list) -> pd.api.extensions.ExtensionArray:
    """Return ``values`` as nullable ``Int64``; numbers that are not whole are rounded, text becomes missing."""
    try:
        arrow = pa.array(values, type=pa.int64())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        numbers = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce")
        return numbers.round().astype("Int64").array
    return pd.Int64Dtype().__from_arrow__(arrow)


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


_BUILDERS = {
    "string": _string_array,
    "category": _category_array,
    "datetime": _datetime_array,
    "integer": _integer_array,
    "object": _object_array,
}


# --------------------------------------------------------------------------------------------------------------
# Records -> columns
# --------------------------------------------------------------------------------------------------------------


def _materialize(records: Iterable[Mapping[str, Any]]) -> list:
    """Return ``records`` as a list, consuming a generator exactly once and not copying a list."""
    return records if isinstance(records, list) else list(records)


def _field_values(records: list, field: str) -> list:
    """Return one field of every record, ``None`` where a record lacks it."""
    try:
        # map(dict.get, ...) runs the whole loop in C: about twice as fast as a comprehension calling .get.
        return list(map(dict.get, records, repeat(field)))
    except TypeError:  # a Mapping that is not a dict
        return [record.get(field) for record in records]


def _extra_fields(records: list, known: Iterable[str]) -> list[str]:
    """Return the fields of ``records`` not in ``known``, in the order they are first seen."""
    if not records:
        return []
    # One C-level set union finds whether there is anything extra at all; usually there is not.
    unknown = set().union(*records).difference(known)
    if not unknown:
        return []
    ordered: dict[str, None] = {}
    for record in records:
        for field in record:
            if field in unknown and field not in ordered:
                ordered[field] = None
        if len(ordered) == len(unknown):
            break
    return list(ordered)


def _schema_columns(records: list, schema: Mapping[str, str], skip: Iterable[str] = ()) -> dict[str, Any]:
    """Build the pinned columns of ``schema``, then the extra fields; fields in ``skip`` are left to the caller."""
    columns = {name: _BUILDERS[kind](_field_values(records, name)) for name, kind in schema.items()}
    for name in _extra_fields(records, set(schema).union(skip)):
        columns[name] = _inferred_array(_field_values(records, name))
    return columns


def _insert_after(columns: dict[str, Any], anchor: str, new: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``columns`` with ``new`` placed right after ``anchor`` (order matters for the pinned schema)."""
    result: dict[str, Any] = {}
    for name, column in columns.items():
        result[name] = column
        if name == anchor:
            result.update(new)
    return result


def _relabel(organization_ids: pd.Categorical, names: Mapping[str, Any]) -> pd.Categorical:
    """Map a categorical of organization ids to a categorical of their names (NA where unknown)."""
    # Look up each distinct id once, then spread the names by the codes; the extra last slot is what code -1
    # (a missing id) picks.
    name_of_code = np.asarray([names.get(category) for category in organization_ids.categories] + [None],
                              dtype=object)
    return _category_array(list(name_of_code[organization_ids.codes]))


def _label_columns(columns: dict[str, Any], count: int, organization_names: Mapping[str, Any] | None,
                   accounts: Sequence[Any] | None) -> dict[str, Any]:
    """Add ``organization_name`` and ``account`` after ``organization_id`` when their sources are given."""
    labels: dict[str, Any] = {}
    if organization_names is not None:
        if not isinstance(organization_names, Mapping):
            raise ConfigurationError(
                f"organization_names must be a mapping {{organization_id: name}}, not {type(organization_names).__name__}"
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


def _flatten_applies_to(lists: list[list]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flatten the per-outcome lists into (values per outcome, factorized codes, distinct values).

    ``codes`` has one entry per value in record order (-1 for a null entry); the lengths say which outcome each
    value belongs to.
    """
    lengths = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    flat = np.empty(int(lengths.sum()), dtype=object)
    flat[:] = list(chain.from_iterable(lists))
    codes, uniques = pd.factorize(flat)
    return lengths, codes, uniques


def _slug(value: Any) -> str:
    """Return ``value`` as a valid identifier suffix: lowercase, each run of other characters -> ``_``."""
    return _NOT_IDENTIFIER_CHARS.sub("_", str(value).lower()).strip("_") or "_"


def _applies_to_flags(lists: list[list]) -> dict[str, np.ndarray]:
    """Return ``{"applies_to_<value>": bool array}``: calls, meetings, then every other value seen, sorted."""
    lengths, codes, uniques = _flatten_applies_to(lists)
    slugs = list(_ALWAYS_APPLIES_TO) + sorted({_slug(value) for value in uniques} - set(_ALWAYS_APPLIES_TO))
    row_of_slug = {slug: row for row, slug in enumerate(slugs)}
    # Values that slug alike ("SMS", "sms") share a column: their flags are OR-ed by the assignment below.
    row_of_code = np.array([row_of_slug[_slug(value)] for value in uniques], dtype=np.int64)
    outcome_of_value = np.repeat(np.arange(len(lists)), lengths)
    present = codes >= 0
    flags = np.zeros((len(slugs), len(lists)), dtype=bool)  # one contiguous row per output column
    flags[row_of_code[codes[present]], outcome_of_value[present]] = True
    return {_APPLIES_TO_PREFIX + slug: flags[row] for row, slug in enumerate(slugs)}


def _applies_to_long(lists: list[list]) -> tuple[np.ndarray, pd.Categorical]:
    """Return (outcome row of each output row, the ``applies_to`` value of each output row).

    One output row per value, in record order; an outcome with no value keeps one row whose value is missing.
    """
    lengths, codes, uniques = _flatten_applies_to(lists)
    rows_per_outcome = np.maximum(lengths, 1)
    outcome_of_row = np.repeat(np.arange(len(lists)), rows_per_outcome)
    first_row = np.cumsum(rows_per_outcome) - rows_per_outcome
    first_value = np.cumsum(lengths) - lengths
    outcome_of_value = np.repeat(np.arange(len(lists)), lengths)
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
    columns = _schema_columns(records, _OUTCOME_SCHEMA, skip=("applies_to",))
    columns = _label_columns(columns, count, organization_names, accounts)
    lists = _applies_to_lists(_field_values(records, "applies_to"))
    if applies_to == "columns":
        return _frame(_insert_after(columns, "date_updated", _applies_to_flags(lists)), count)
    outcome_of_row, values = _applies_to_long(lists)
    columns = {name: column.take(outcome_of_row) for name, column in columns.items()}
    return _frame(_insert_after(columns, "date_updated", {"applies_to": values}), len(outcome_of_row))


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
        ``date_created``, ``date_updated``, ``activity_at`` UTC datetimes, ``duration`` ``Int64`` seconds; then
        unknown fields in first-seen order.
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
        ``attendees`` ``object`` (the list as given, or None); then unknown fields in first-seen order.
    """
    return _activity_frame(records, _MEETING_SCHEMA, organization_names, accounts)


def _activity_frame(records: Iterable[Mapping[str, Any]], schema: Mapping[str, str],
                    organization_names: Mapping[str, Any] | None, accounts: Sequence[Any] | None) -> pd.DataFrame:
    """Shape call or meeting records by ``schema``, with the optional label columns."""
    records = _materialize(records)
    columns = _label_columns(_schema_columns(records, schema), len(records), organization_names, accounts)
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


def _unify_categories(pieces: list[pd.Series]) -> list[pd.Series]:
    """Give categorical pieces one dtype whose categories are the union of theirs, sorted."""
    if not all(isinstance(piece.dtype, pd.CategoricalDtype) for piece in pieces):
        return pieces
    union = _sorted_labels(set(chain.from_iterable(piece.cat.categories for piece in pieces)))
    dtype = pd.CategoricalDtype(union, ordered=False)
    return [piece.astype(dtype) for piece in pieces]


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
    frames = list(frames)
    if not frames:
        raise ConfigurationError("concat_frames needs at least one frame; got none")
    order = _column_order(frames)
    total = sum(len(frame) for frame in frames)
    columns: dict[str, Any] = {}
    for name in order:
        template = next(frame[name] for frame in frames if name in frame.columns)
        pieces = [frame[name].reset_index(drop=True) if name in frame.columns
                  else _missing_column(template, len(frame), name) for frame in frames]
        pieces = _unify_categories(pieces)
        columns[name] = pd.concat(pieces, ignore_index=True).array if len(pieces) > 1 else pieces[0].array
    return _frame(columns, total)
