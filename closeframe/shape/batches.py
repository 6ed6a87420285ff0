"""Records shaped into typed frame pieces as they arrive, and the one frame built from the pieces at the end.

A million calls held as Python dicts until the end cost about 1.2 GB before shaping even starts; shaped
:data:`BATCH_RECORDS` at a time, they are held as typed columns instead (strings in pyarrow buffers, labels as
category codes): about a quarter of a kilobyte per call. The dicts of one batch are let go as soon as it is shaped.

The pieces are shaped by the very functions of :mod:`closeframe.shape.frames` (so every lenient path and every unknown
field behaves as it always did), and joined by :func:`closeframe.shape.frames.concat_frames`, which unites categories and
reuses the pyarrow string buffers of the pieces instead of copying them: the frame is built once, in place.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping, NamedTuple, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from closeframe.shape.frames import _concat
from closeframe.shape.frames import concat_frames, with_labels
from closeframe.shape.memory import COPY_POOL, release_free_memory

__all__ = ["BATCH_RECORDS", "FrameBatches", "KeyedPiece", "build_frame", "drop_ids_loaded_before", "drop_repeated_ids",
           "labelled_frame", "labelled_records_frame"]

#: Records shaped at a time: a call's dict holds about 4 KB, a meeting's 5.5 KB, so the dicts waiting in each of a
#: load's date windows stay around 10 MB (200,000 calls: 166 MB extra peak against 181 MB at 5,000, for a frame of
#: 83 MB; python bench/memory.py); large enough that the fixed cost of one shaping call (about a millisecond) is
#: under 10% of the work.
BATCH_RECORDS = 2_000

Build = Callable[..., pd.DataFrame]


class KeyedPiece(NamedTuple):
    """A frame piece whose ``id`` values are known to be distinct, with the other keyed pieces of the same load too:
    rows read from the local store, keyed by id. :meth:`FrameBatches.frame` then looks for a repeated id only
    between them and the other pieces (usually a page or two), not through every row."""

    frame: pd.DataFrame


class FrameBatches:
    """Collect records (and frame pieces, :class:`KeyedPiece` ones too) and shape them into frame pieces every
    :data:`BATCH_RECORDS` records.

    Parameters
    ----------
    build : callable
        ``build(records) -> DataFrame``, e.g. :func:`closeframe.shape.frames.calls_frame`.
    size : int, default :data:`BATCH_RECORDS`
        Records per piece.
    unique_ids : bool, default False
        The records are activities listed in several windows: :meth:`frame` keeps the first row of an ``id``
        that arrived twice (see :func:`drop_repeated_ids`). Not for outcomes in "long" mode (ids repeat there).

    Attributes
    ----------
    pieces : list of pandas.DataFrame
        The shaped pieces, in arrival order (records still pending are not in them; see :meth:`flush`).
    keyed : set of int
        The positions in :attr:`pieces` of pieces whose ids are distinct (:class:`KeyedPiece`).
    """

    __slots__ = ("build", "keyed", "pending", "pieces", "size", "unique_ids")

    def __init__(self, build: Build, size: int = BATCH_RECORDS, *, unique_ids: bool = False) -> None:
        self.build = build
        self.size = int(size)
        self.unique_ids = unique_ids
        self.pending: list = []
        self.pieces: list[pd.DataFrame] = []
        self.keyed: set[int] = set()

    def __len__(self) -> int:
        """Records collected so far, shaped or pending."""
        return sum(len(piece) for piece in self.pieces) + len(self.pending)

    def add(self, item: Any) -> None:
        """Add one record, or a frame piece shaped elsewhere (pending records are shaped first, to keep order)."""
        if isinstance(item, KeyedPiece):
            self.flush()
            self.keyed.add(len(self.pieces))
            self.pieces.append(item.frame)
            return
        if isinstance(item, pd.DataFrame):
            self.flush()
            self.pieces.append(item)
            return
        self.pending.append(item)
        if len(self.pending) >= self.size:
            self.flush()

    def extend(self, items: Iterable[Any]) -> None:
        """Add every record or piece of ``items``."""
        for item in items:
            self.add(item)

    def flush(self) -> None:
        """Shape the pending records into a piece now."""
        if self.pending:
            records, self.pending = self.pending, []
            self.pieces.append(self.build(records))

    def unshaped(self) -> list | None:
        """The records collected, when none was shaped yet (fewer than ``size``); else ``None``."""
        return None if self.pieces else self.pending

    def frame(self) -> pd.DataFrame:
        """Every record collected so far as one frame (shaping what is pending).

        The frame then replaces the pieces (it shares their string buffers), so they are not held twice.
        """
        self.flush()
        # The pieces are consumed as the frame is built: the numbers and codes copied into the frame are then held
        # twice one column at a time, and what the pieces held is free (and trimmed) before the ids are ranked.
        pieces, self.pieces = self.pieces, []
        distinct = np.concatenate([np.full(len(piece), position in self.keyed)
                                   for position, piece in enumerate(pieces)]) if self.keyed else None
        frame = build_frame(pieces, self.build, consume=True)
        self.pieces = [frame]
        del pieces
        if self.unique_ids:
            frame = drop_repeated_ids(frame, distinct)
            self.pieces = [frame]
        self.keyed = {0} if self.unique_ids else set()  # the frame's ids are distinct now (if they are checked)
        release_free_memory()
        return frame


def build_frame(pieces: Sequence[pd.DataFrame], build: Build, *, consume: bool = False) -> pd.DataFrame:
    """Join frame pieces of one kind into one frame; no pieces gives ``build([])`` (all columns, no rows).

    With ``consume`` (for the pieces' owner), each column is deleted from the pieces as soon as it is joined.
    """
    pieces = [piece for piece in pieces if len(piece) or len(pieces) == 1]
    if not pieces:
        return build([])
    if len(pieces) == 1:
        return pieces[0]
    return _concat(pieces, consume=True) if consume else concat_frames(pieces)


def _repeated(ids: pa.Array | pa.ChunkedArray) -> np.ndarray | None:
    """A mask of the values equal to an earlier one (nulls never count), or None when there is none.

    pyarrow ranks the ids (equal ids share a rank) straight from the frame's chunks, in the C library's
    pool; the first position of each rank is the id's first row. A sort then ``take`` joined the chunks into a
    copy of every id on each call, in pyarrow's default pool, which kept that memory: 20 MB more at the peak of
    a 200,000-call load (bench/memory.py). A hash table (pandas' ``duplicated``, pyarrow's ``count_distinct``)
    cost over 250 bytes per id.
    """
    ranks = pc.rank(ids, tiebreaker="dense", memory_pool=COPY_POOL)  # 1, 2, ... per distinct id; nulls share one
    if pc.max(ranks).as_py() == len(ids) - ids.null_count + (1 if ids.null_count else 0):
        return None  # as many ranks as ids: none repeats (the usual answer, known without more memory)
    ranks = ranks.to_numpy()
    repeated = np.ones(len(ranks), dtype=bool)
    repeated[np.unique(ranks, return_index=True)[1]] = False  # a stable sort: the first of equal ranks
    if ids.null_count:
        repeated &= ids.is_valid().to_numpy(zero_copy_only=False)  # nulls tie with each other, never repeat
    return repeated if repeated.any() else None


def _repeated_beside(ids: pa.ChunkedArray, distinct: np.ndarray) -> np.ndarray | None:
    """:func:`_repeated` when the ids of the rows ``distinct`` are known to differ from each other.

    An id can then repeat only if a row outside ``distinct`` has it, so only those rows and the ``distinct`` rows
    sharing an id with them (every row of a repeated id) are ranked, in their order: a hash lookup of the few
    other ids instead of a rank of every id.
    """
    others = np.flatnonzero(~distinct)
    if not len(others):
        return None
    other_ids = ids.take(others)
    other_ids = other_ids.combine_chunks() if isinstance(other_ids, pa.ChunkedArray) else other_ids
    shared = pc.is_in(ids, value_set=other_ids, skip_nulls=True).to_numpy(zero_copy_only=False)
    candidates = np.flatnonzero(shared | ~distinct)  # positions, in order
    found = _repeated(ids.take(candidates))
    if found is None:
        return None
    repeated = np.zeros(len(distinct), dtype=bool)
    repeated[candidates[found]] = True
    return repeated


def drop_repeated_ids(frame: pd.DataFrame, distinct: np.ndarray | None = None) -> pd.DataFrame:
    """Keep the first row of each ``id`` (rows without one are all kept), as if the repeats never arrived.

    Categories are then those of the rows kept, exactly as if the frame had been shaped from them alone.
    ``distinct``: a mask of rows whose ids are known to differ from each other (rows read from the store).
    """
    if "id" not in frame.columns or len(frame) < 2:
        return frame
    ids = pa.array(frame["id"].array, type=pa.large_string())  # the string column: not copied
    repeated = _repeated(ids) if distinct is None else _repeated_beside(ids, distinct)
    if repeated is None:
        return frame
    return _keep_rows(frame, ~repeated)


def _keep_rows(frame: pd.DataFrame, keep: np.ndarray) -> pd.DataFrame:
    """The rows of ``keep``, with categories only of the values kept (as if shaped from those rows alone)."""
    kept = frame[keep].reset_index(drop=True)
    for name, dtype in kept.dtypes.items():
        if isinstance(dtype, pd.CategoricalDtype):
            kept[name] = kept[name].cat.remove_unused_categories()
    return kept


def drop_ids_loaded_before(frames: Sequence[pd.DataFrame], owners: Sequence[str]
                           ) -> tuple[list[pd.DataFrame], dict[tuple[str, str], int]]:
    """Drop from each frame the rows whose ``id`` an earlier frame has (rows without an id are kept).

    Returns the frames and ``{(earlier owner, later owner): rows dropped}``. pyarrow's ``is_in`` looks the ids up
    in a hash table of one earlier frame's ids at a time, never a Python string per id.
    """
    kept: list[pd.DataFrame] = []
    overlaps: dict[tuple[str, str], int] = {}
    for frame, owner in zip(frames, owners):
        if kept and "id" in frame.columns and len(frame):
            ids = pa.array(frame["id"].array, type=pa.large_string())
            repeated = np.zeros(len(frame), dtype=bool)
            for earlier, earlier_owner in zip(kept, owners):
                if "id" not in earlier.columns or not len(earlier):
                    continue
                known = pa.array(earlier["id"].array, type=pa.large_string())
                known = known.combine_chunks() if isinstance(known, pa.ChunkedArray) else known
                hits = pc.is_in(ids, value_set=known, skip_nulls=True).to_numpy(zero_copy_only=False) & ~repeated
                if hits.any() and earlier_owner != owner:
                    overlaps[(earlier_owner, owner)] = overlaps.get((earlier_owner, owner), 0) + int(hits.sum())
                    repeated |= hits
            if repeated.any():
                frame = _keep_rows(frame, ~repeated)
        kept.append(frame)
    return kept, overlaps


def labelled_frame(frames: Sequence[tuple[pd.DataFrame, Any]], build: Build, *,
                   organization_names: Mapping[str, Any], labelled: bool) -> pd.DataFrame:
    """One frame from each account's ``(frame, label)``, with ``organization_name`` (and ``account``) columns."""
    parts = [with_labels(frame, organization_names=organization_names,
                         account=label if labelled else None, add_account=labelled)
             for frame, label in frames]
    if not parts:
        return build([], organization_names=organization_names, accounts=[] if labelled else None)
    return build_frame(parts, build)


def labelled_records_frame(accounts: Sequence[tuple[list, str, Any, bool]], build: Build, *,
                           organization_names: Mapping[str, Any], labelled: bool
                           ) -> tuple[pd.DataFrame, dict[tuple[str, str], int]]:
    """One frame shaped once from the records of several accounts, as :func:`drop_ids_loaded_before` and
    :func:`labelled_frame` would make it from each account's frame, and the overlaps they would report.

    Shaping has a fixed cost of a few milliseconds per call; twenty small catalogues shaped one by one, labelled
    and joined cost more than their pages take to arrive. Here their records are shaped in one call.

    Parameters
    ----------
    accounts : sequence of (records, owner, label, unique_ids)
        Each account's records in arrival order, its name for the overlap count, its ``account`` label, and
        whether an id repeated within the account is kept once (activities paged in several windows).
    build : callable
        ``build(records, organization_names=..., accounts=...)``.
    organization_names : mapping
    labelled : bool
        Add the ``account`` column.

    Returns
    -------
    (pandas.DataFrame, dict)
        The frame, and ``{(earlier owner, later owner): records dropped}``.
    """
    owner_of: dict[Any, str] = {}
    records: list = []
    labels: list = []
    overlaps: dict[tuple[str, str], int] = {}
    for account_records, owner, label, unique_ids in accounts:
        mine: set = set()
        for record in account_records:
            key = record.get("id") if isinstance(record, dict) else None
            if key is not None:
                earlier = owner_of.get(key)
                if earlier is not None and earlier != owner and key not in mine:
                    overlaps[(earlier, owner)] = overlaps.get((earlier, owner), 0) + 1
                    continue
                if key in mine and unique_ids:
                    continue
                owner_of.setdefault(key, owner)
                mine.add(key)
            records.append(record)
            labels.append(label)
    frame = build(records, organization_names=organization_names, accounts=labels if labelled else None)
    return frame, overlaps
