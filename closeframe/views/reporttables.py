"""The report's HTML tables: every value formatted as people read it, nothing cut, readable on a phone and on paper.

A table is a :class:`pandas.DataFrame` whose column names are the headings. Each column is shown by its kind: text
(escaped, wrapped, never shortened: no "…" with the rest in a tooltip that print and phones do not show), whole
numbers (thousands separators), percentages, changes (``+12``, ``-5``, ``+3.1 pp``) and days, each formatted by
:mod:`closeframe.usage.questions` as the dashboard formats it. A value that does not exist, such as a share of an
empty period (0 of 0), is :data:`~closeframe.usage.questions.EMPTY` ("–"), never "0.0 %".

Three layouts:

- plain, in a box that scrolls sideways only if it must;
- ``stack=True``: on a phone each row becomes a small card, every value beside its heading, so no column hides
  behind a sideways scroll (the headline table);
- ``wide=True``: a matrix (users x outcomes) keeps its grid; its first column stays put while the rest scroll, and
  a line above it says so on narrow screens.

``heat=`` colours the cells of those columns by value (one scale for all of them), with the number written in each
cell, so the colours only help the eye.
"""

from __future__ import annotations

import html
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from closeframe.usage.questions import EMPTY, format_change, format_count, format_points, format_share

__all__ = ["TABLE_CSS", "day_text", "table_html"]

#: The styles the tables rely on (part of the report's style sheet).
TABLE_CSS = """
table { border-collapse: collapse; margin: .4rem 0 1rem; font-size: .92rem; }
th, td { padding: .3rem .6rem; border-bottom: 1px solid #ddd; text-align: left; vertical-align: top;
         overflow-wrap: break-word; }
thead th { border-bottom: 2px solid #999; background: #f6f6f6; }
td:first-child { min-width: 8rem; }
td.day { white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.empty { color: #777; }
tr.total td { font-weight: 600; border-top: 2px solid #999; }
.scroll { overflow-x: auto; max-width: 100%; }
.hint { display: none; color: #555; font-size: .85rem; margin: .2rem 0; }
table.wide th:first-child, table.wide td:first-child { position: sticky; left: 0; background: #fff;
                                                       box-shadow: 1px 0 0 #ddd; min-width: 7rem; }
table.wide thead th:first-child { background: #f6f6f6; }
td.heat { print-color-adjust: exact; -webkit-print-color-adjust: exact; }
@media (max-width: 60rem) { .hint { display: block; } }
@media (max-width: 30rem) {
  table { font-size: .85rem; } th, td { padding: .25rem .35rem; }
  table.stack, table.stack tbody, table.stack tr, table.stack td { display: block; width: 100%;
                                                                   box-sizing: border-box; min-width: 0; }
  table.stack thead { display: none; }
  table.stack tr { border: 1px solid #ddd; border-radius: 6px; margin: 0 0 .6rem; padding: .2rem .5rem; }
  table.stack td { display: flex; justify-content: space-between; gap: 1rem; border: none; padding: .15rem 0;
                   text-align: right; }
  table.stack td::before { content: attr(data-label); text-align: left; color: #444; font-weight: normal; }
  table.stack td:first-child { font-weight: 600; font-size: 1rem; text-align: left; }
  table.stack td:first-child::before { content: none; }
  table.stack tr.total td { border-top: none; }
}
"""


def _missing(value: Any) -> bool:
    """No value: None, NA, NaN or NaT (a list or other container is a value)."""
    if np.ndim(value) != 0:
        return False
    return bool(pd.isna(value))


def day_text(value: Any) -> str:
    """``3 Nov 2025``: a date as people write it, without minutes; empty for no date."""
    if _missing(value):
        return ""
    stamp = pd.Timestamp(value)
    return f"{stamp.day} {stamp:%b %Y}"


def _text(value: Any) -> str:
    if _missing(value):
        return ""
    return html.escape(" ".join(str(value).split()))


def _heat(value: float, top: float) -> str:
    """A cell's background: white to Okabe–Ito blue by ``value / top``; dark cells get white text."""
    if _missing(value) or top <= 0 or value <= 0:
        return ""
    alpha = 0.08 + 0.72 * min(value / top, 1.0)
    ink = "#fff" if alpha > 0.5 else "#111"
    return f' style="background: rgba(0, 114, 178, {alpha:.2f}); color: {ink}"'


def table_html(frame: pd.DataFrame, *, uid: str, percents: Sequence[str] = (), dates: Sequence[str] = (),
               changes: Sequence[str] = (), points: Sequence[str] = (),
               heat: Sequence[str] | Mapping[str, Sequence[float]] = (),
               below: Mapping[str, Sequence[str]] | None = None, caption: str | None = None,
               stack: bool = False, wide: bool = False, total_last: bool = False,
               links: Mapping[str, Callable[[Any], str | None]] | None = None) -> str:
    """``frame`` as an HTML table, each column formatted by its kind (see the module docstring).

    Parameters
    ----------
    frame : pandas.DataFrame
        Shown without its index; column names are the headings. Numeric columns not named otherwise are whole
        numbers; other columns are text.
    uid : str
        Unique per table in the document (its ``id``).
    percents, dates, changes, points : sequence of str
        Columns shown as percentages, days, signed count changes, and share changes in points.
    heat : sequence of str, or mapping of column to values
        Columns whose cells are coloured by value, on one scale; a mapping colours them by the values given
        instead (e.g. counts shown, coloured by share).
    below : mapping of column to sequence of str, optional
        A second, smaller line in each cell of those columns (e.g. the share under a count).
    caption : str, optional
    stack : bool, default False
        On phones, each row becomes a card of "heading: value" lines.
    wide : bool, default False
        A matrix: the first column stays put while the others scroll, with a hint on narrow screens.
    total_last : bool, default False
        The last row is a total (drawn apart).
    links : mapping of column to callable, optional
        ``value -> URL or None``: the cell links there (e.g. a lead in Close).

    Returns
    -------
    str
        The table in its scroll box.
    """
    frame = frame.reset_index(drop=True)
    formats: dict[str, Callable[[Any], str]] = {}
    numeric = set()
    for column in frame.columns:
        kinds = ((percents, format_share), (dates, day_text), (changes, format_change), (points, format_points))
        chosen = next((fmt for names, fmt in kinds if column in names), None)
        if chosen is None and pd.api.types.is_numeric_dtype(frame[column]) and \
                not pd.api.types.is_bool_dtype(frame[column]):
            chosen = format_count
        if chosen is not None and chosen is not day_text:
            numeric.add(column)
        formats[column] = chosen or _text
    hot = [c for c in heat if c in frame.columns]
    colour_by = {c: np.asarray(heat[c] if isinstance(heat, Mapping) else frame[c], dtype=float) for c in hot}
    top = float(np.nanmax(np.concatenate(list(colour_by.values())))) if hot and len(frame) else 0.0
    below = below or {}
    links = links or {}
    classes = ["stack"] if stack else []
    classes += ["wide"] if wide else []
    num_class = ' class="num"'
    head = "".join(f'<th scope="col"{num_class if c in numeric else ""}>{html.escape(str(c))}</th>'
                   for c in frame.columns)
    rows = []
    last = len(frame) - 1
    for number, record in enumerate(frame.itertuples(index=False, name=None)):
        cells = []
        for column, value in zip(frame.columns, record):
            shown = formats[column](value)
            cell_classes = ["num"] if column in numeric else ["day"] if column in dates else []
            if shown == EMPTY:
                cell_classes.append("empty")
            style = ""
            if column in hot:
                cell_classes.append("heat")
                style = _heat(colour_by[column][number], top)
            if column in below:
                shown += f"<br><small>{html.escape(str(below[column][number]))}</small>"
            url = links[column](value) if column in links else None
            if url:
                shown = f'<a href="{html.escape(url)}">{shown}</a>'
            attributes = f' class="{" ".join(cell_classes)}"' if cell_classes else ""
            cells.append(f'<td{attributes} data-label="{html.escape(str(column))}"{style}>{shown}</td>')
        row_class = ' class="total"' if total_last and number == last and number > 0 else ""
        rows.append(f"<tr{row_class}>{''.join(cells)}</tr>")
    table_class = f' class="{" ".join(classes)}"' if classes else ""
    caption_html = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    table = (f'<table id="{html.escape(uid)}"{table_class}>{caption_html}<thead><tr>{head}</tr></thead>'
             f"<tbody>{''.join(rows)}</tbody></table>")
    hint = ""
    if wide:
        hint = (f'<p class="hint">{len(frame.columns) - 1} columns beside {html.escape(str(frame.columns[0]))}: '
                "scroll the table sideways to see them all →</p>")
    return f'{hint}<div class="scroll">{table}</div>'
