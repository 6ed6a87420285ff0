"""Typed frame pieces to Arrow rows for the store, and stored rows back to the very frame a fresh load builds.

A shaped call or meeting frame has two kinds of columns. *Scalar* ones (text, labels, datetimes, whole numbers,
floats, booleans) are stored as typed DuckDB columns, taken from the shaped piece itself, so reading them back is a
cast, not a parse. Everything else a record carries, nested lists (``users``, ``attendees``, ...) and fields the
schema does not know, is kept per row as the JSON of exactly those fields (``rest``), and on reading is shaped by
the loader's own shaper: whatever dtype it gives them (Python lists, an Arrow list type, an inferred dtype for an
unknown field, first-seen column order), the cached frame gets the same. Rows repeat their ``rest`` a lot (a call's
``users`` and ``_type``), so each distinct text is decoded and shaped once and spread by its codes.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from closeframe.shape.memory import COPY_POOL

__all__ = ["READ_BATCH", "READ_SETTINGS", "READ_WORKERS", "REST", "column_kinds", "frame_from_columns",
           "read_column", "rows_table", "sql_type"]

#: The column holding each row's other fields as JSON (NULL when it has none).
REST = "rest"
#: Rows per Arrow batch read from DuckDB. A read takes one or two columns at a time (:func:`read_column`), so a
#: batch is a few MB; smaller ones cost time per batch (8,192 took a quarter more CPU).
READ_BATCH = 65_536
#: DuckDB's settings while a read streams: a small buffer pool (``memory_limit``; a scan keeps every block it read
#: cached up to the limit, by default 80% of the machine's memory, and a read never needs a block again), text
#: exported as ``large_string``, the frame's own type (no cast, so no copy), and one thread per scan: the read runs
#: :data:`READ_WORKERS` scans at once itself (a scan of one column gains nothing from more, and they competed).
READ_SETTINGS = {"memory_limit": "'16MB'", "arrow_large_buffer_size": "true", "threads": "1"}
#: Columns read at once (each in its own thread and DuckDB cursor): two cores read the rows in about 60% of the
#: time one does, and pd.read_parquet uses every core too.
READ_WORKERS = 2

_SQL_TYPES = {"string": "VARCHAR", "category": "VARCHAR", "datetime": "TIMESTAMPTZ", "integer": "BIGINT",
              "number": "DOUBLE", "boolean": "BOOLEAN"}
_ARROW_TYPES = {"string": pa.string(), "category": pa.string(), "datetime": pa.timestamp("us", tz="UTC"),
                "integer": pa.int64(), "number": pa.float64(), "boolean": pa.bool_()}

try:
    from orjson import dumps as _fast_dumps, loads as _fast_loads
except ImportError:  # pragma: no cover - orjson is a dependency
    _fast_dumps = _fast_loads = None


def _dumps(value: Mapping) -> str:
    """JSON text of a record's other fields: orjson, or the standard library for what orjson refuses (a lone
    surrogate, NaN, a non-text key)."""
    if _fast_dumps is not None:
        try:
            return _fast_dumps(value).decode()
        except TypeError:
            pass
    return json.dumps(value)


def _loads(text: str) -> Any:
    if _fast_loads is not None:
        try:
            return _fast_loads(text)
        except ValueError:
            pass
    return json.loads(text)


def _kind(dtype: Any) -> str | None:
    """The scalar kind of a frame column's dtype, ``None`` for one kept as JSON (lists, objects, Arrow nesting)."""
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if isinstance(dtype, pd.StringDtype):
        return "string"
    if isinstance(dtype, pd.DatetimeTZDtype):
        return "datetime"
    if isinstance(dtype, pd.Int64Dtype):
        return "integer"
    if dtype == np.dtype("float64"):
        return "number"
    if dtype == np.dtype(bool):
        return "boolean"
    return None


def column_kinds(empty: pd.DataFrame) -> dict[str, str]:
    """The scalar columns of a shaper's pinned schema (from the frame it makes of no records): name -> kind."""
    return {name: kind for name, kind in ((n, _kind(d)) for n, d in empty.dtypes.items()) if kind is not None}


def sql_type(kind: str) -> str:
    """The DuckDB type a scalar kind is stored as."""
    return _SQL_TYPES[kind]


def rows_table(piece: pd.DataFrame, records: Sequence[Mapping], kinds: Mapping[str, str]) -> pa.Table:
    """The Arrow rows of one shaped piece: its scalar columns typed, and each record's other fields as JSON.

    ``records`` are the records ``piece`` was shaped from, in its row order.
    """
    columns = {}
    for name, kind in kinds.items():
        series = piece[name]
        if kind == "category":
            # Labels are text; the categories (values seen, sorted) are rebuilt from the rows read.
            array = pa.array(series.astype(object).where(series.notna(), None).to_numpy(), type=pa.string(),
                             from_pandas=True)
        elif kind == "number":
            array = pa.array(series.to_numpy(), type=pa.float64())  # NaN stays NaN, as the shaper made it
        else:
            array = pa.array(series, type=_ARROW_TYPES[kind], from_pandas=True)
        columns[name] = array
    scalar = set(kinds)
    rest = [None if not isinstance(r, Mapping) else
            (lambda other: _dumps(other) if other else None)({k: v for k, v in r.items() if k not in scalar})
            for r in records]
    columns[REST] = pa.array(rest, type=pa.string())
    return pa.table(columns)


def read_column(connection: Any, rows: str, names: Sequence[str], scanned: pa.ChunkedArray | None = None
                ) -> pa.Table:
    """Columns ``names`` of the stored rows ``rows`` (``FROM ... WHERE ...``), with ``rowid``, as
    DuckDB exports them, in batches of :data:`READ_BATCH` rows (text as ``large_string`` under
    :data:`READ_SETTINGS`).

    The batches stay in DuckDB's export buffers (about twice their rows' size): the caller puts the column in order
    and converts it at once, so one column's buffers are held at a time. ``scanned``: the ``rowid`` of an earlier
    read of the same rows in the same connection; the result's rows are put in that order if DuckDB's scan gave
    them in another (it gives them in table order: this only makes sure).
    """
    quoted = ", ".join(f'"{name}"' for name in names)
    reader = connection.sql(f"SELECT rowid, {quoted} {rows}").to_arrow_reader(READ_BATCH)
    table = pa.Table.from_batches(list(reader), schema=reader.schema)
    if scanned is not None and not table.column("rowid").equals(scanned):
        table = table.take(pc.index_in(scanned, value_set=table.column("rowid")))
    return table


def _values_and_codes(column: pa.ChunkedArray) -> tuple[list, np.ndarray]:
    """A dictionary-encoded column as the values its rows use and each row's code into them (-1: missing).

    The dictionary was built over every row scanned, so values only rows outside the read had are dropped: the
    labels' categories and the shaped ``rest`` columns are those of the rows read, as a fresh load's are.
    """
    if column.num_chunks == 0:
        return [], np.zeros(0, dtype=np.int64)
    encoded = column.unify_dictionaries(memory_pool=COPY_POOL).combine_chunks(memory_pool=COPY_POOL)
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    used = np.bincount(codes[codes >= 0], minlength=len(encoded.dictionary)) > 0
    if used.all():
        return encoded.dictionary.to_pylist(), codes
    new_code_of_old = np.append(np.cumsum(used) - 1, -1)  # the last entry: a missing value stays -1
    return encoded.dictionary.filter(pa.array(used)).to_pylist(), new_code_of_old[codes]


def _sorted_categorical(column: pa.ChunkedArray) -> pd.Categorical:
    """Text as the shaper's labels: an unordered Categorical whose categories are the values seen, sorted."""
    uniques, codes = _values_and_codes(column)
    categories = sorted(uniques)
    position = {label: code for code, label in enumerate(categories)}
    new_code_of_old = np.array([position[label] for label in uniques] + [-1], dtype=np.int64)
    return pd.Categorical.from_codes(new_code_of_old[codes], dtype=pd.CategoricalDtype(categories, ordered=False))


def _scalar_array(column: pa.ChunkedArray, kind: str) -> Any:
    if kind == "string":
        return pd.arrays.ArrowStringArray(column.cast(pa.large_string()))
    if kind == "category":
        return _sorted_categorical(column)
    if kind == "datetime":
        return pd.Series(column.cast(pa.timestamp("us", tz="UTC")).to_pandas()).array
    if kind == "integer":
        return pd.Int64Dtype().__from_arrow__(column.cast(pa.int64()))
    if kind == "number":
        return column.cast(pa.float64()).to_numpy().astype(np.float64)
    return column.to_numpy().astype(bool)


def _ordered(column: pa.ChunkedArray, order: pa.Array, *, encode: bool) -> pa.ChunkedArray:
    """``column`` put in ``order`` (dictionary-encoded first with ``encode``), copied into
    :data:`~closeframe.shape.memory.COPY_POOL`."""
    if encode:
        column = pc.dictionary_encode(column, memory_pool=COPY_POOL)
    return pc.take(column, order, memory_pool=COPY_POOL)


def frame_from_columns(fetch: Callable[[str], pa.ChunkedArray], kinds: Mapping[str, str],
                       build: Callable[[list], pd.DataFrame], *, order: pa.Array, workers: int = 1) -> pd.DataFrame:
    """Stored rows as the frame ``build`` makes of the records, rows in ``order`` (indices into the rows as
    ``fetch(name)`` gives each stored column: scalar ones and ``rest``).

    Each column is fetched, put in order and converted at once, so only the ``workers`` columns in hand (and
    ``rest``) are ever held twice; ``fetch`` is called from that many threads at once (DuckDB's scans and Arrow's
    copies run without Python's lock). Labels and the ``rest`` texts are dictionary-encoded before they are put in
    order (they repeat a lot: only their codes move); each distinct ``rest`` is decoded and shaped once, and the
    shaped columns are spread to the rows by their codes.
    """
    def scalar(name: str) -> Any:
        return _scalar_array(_ordered(fetch(name), order, encode=kinds[name] == "category"), kinds[name])

    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="closeframe-store-read")
    try:
        scalars = {name: pool.submit(scalar, name) for name in kinds}
        texts, codes = _values_and_codes(_ordered(fetch(REST), order, encode=True))
        codes[codes < 0] = len(texts)  # a row without other fields: the empty record shaped last
        distinct = build([_loads(text) for text in texts] + [{}])
        frame = {}
        for name in distinct.columns:
            if name in kinds:
                frame[name] = scalars.pop(name).result()
            else:  # only the columns shaped from `rest` are spread by the codes
                column = distinct[name]
                array = column.array if isinstance(column.dtype, pd.api.extensions.ExtensionDtype) else \
                    column.to_numpy()
                frame[name] = array.take(codes)
    finally:
        # On a failure (or Ctrl-C) the columns not started are dropped; the ones in hand end first.
        pool.shutdown(wait=True, cancel_futures=True)
    return pd.DataFrame(frame, index=pd.RangeIndex(len(order)), copy=False)
