"""Charts written directly as SVG (bars, a heat map, small multiples), for views redrawn on every click.

matplotlib takes 80–100 ms to build and save even a small bar chart (and half a second for twelve small
panels); these charts are a few hundred SVG elements
written in about a millisecond. Text stays text (the browser draws it with the reader's fonts, so CJK names show
whenever a CJK font is installed, with no ``□`` stand-ins), numbers are formatted with thousands separators or as
percentages, the legend sits right of the bars, and each bar has a tooltip with its exact value. The plot helpers
of :mod:`closeframe.plots` remain the way to draw figures for notebooks and files.

Why not a declarative library: measured on the Trend view's small multiples (organization_trends of 3 and 36
organizations, 24 months, 7 lines each), Altair 6.3 rendered offline to SVG by vl-convert 1.9 took 570 ms and
1,850 ms per chart, against a few milliseconds here, far past the explorer's 50 ms budget per redraw; and it would
add a ~100 MB binary dependency. Plotly would ship 3.5 MB of JavaScript in every report. These charts stay.
"""

from __future__ import annotations

import functools
import html
import math
import unicodedata
from typing import Sequence

import numpy as np

from closeframe.views.style import OKABE_ITO

__all__ = ["barh_svg", "heatmap_svg", "small_multiples_svg", "text_width"]

_FONT = "system-ui, -apple-system, 'Segoe UI', 'DejaVu Sans', 'Noto Sans CJK JP', sans-serif"
_SIZE = 12  # px, tick and bar labels


@functools.lru_cache(maxsize=4096)  # the same labels come back on every redraw
def text_width(text: str, size: float = _SIZE) -> float:
    """Roughly how wide ``text`` is in px at ``size``: wide (CJK) characters one em, others about 0.6 em."""
    return size * sum(1.0 if unicodedata.east_asian_width(ch) in "WF" else 0.6 for ch in text)


def _shorten(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: max(limit - 1, 1)].rstrip() + "…"


def _fit_text(text: str, px: float, size: float = _SIZE) -> str:
    """``text`` shortened with ``…`` until it is at most ``px`` wide at ``size`` (CJK characters count double)."""
    text = " ".join(str(text).split())
    while len(text) > 1 and text_width(text, size) > px:
        text = text[:-2].rstrip() + "…"
    return text


def _title_lines(title: str, width: float) -> list[str]:
    """``title`` wrapped at spaces into lines that fit ``width`` at 14 px (a narrow chart's long title)."""
    lines: list[str] = []
    for word in str(title).split():
        if lines and text_width(f"{lines[-1]} {word}", 14) <= width - 16:
            lines[-1] += f" {word}"
        else:
            lines.append(word)
    return [_fit_text(line, width - 16, 14) for line in lines] or [""]


def _title_svg(lines: list[str], width: float) -> str:
    return "".join(f'<text x="{width / 2:.0f}" y="{18 + 18 * i}" text-anchor="middle" font-size="14">'
                   f"{html.escape(line)}</text>" for i, line in enumerate(lines))


def _ticks(top: float, percent: bool, count: int = 5) -> list[float]:
    """Round ticks from 0 past ``top``, about ``count`` steps (fewer on a narrow axis, so labels never touch)."""
    if percent:
        return [0.0, 0.2, 0.4, 0.6, 0.8, 1.0] if count >= 5 else [0.0, 0.25, 0.5, 0.75, 1.0]
    if top <= 0:
        return [0.0, 1.0]
    raw = top / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    if step < 1:
        step = 1.0
    return [i * step for i in range(int(math.ceil(top / step)) + 1)]


def _format(value: float, percent: bool) -> str:
    return f"{value:.0%}" if percent else f"{value:,.0f}"


def barh_svg(labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], *, title: str, xlabel: str,
             percent: bool = False, legend_title: str | None = None, colours: Sequence[str] | None = None,
             width: int = 760, max_label: int = 40, empty: str = "No data", legend_below: bool = False) -> bytes:
    """Horizontal bars, one row per label, the series stacked left to right; returns the SVG document.

    Parameters
    ----------
    labels : sequence of str
        Row labels, drawn top to bottom.
    series : sequence of (name, values)
        One segment per row each; a single series without ``legend_title`` draws no legend.
    title, xlabel : str
    percent : bool, default False
        Values are fractions: the axis runs from 0 % to 100 %.
    legend_title : str, optional
    colours : sequence of str, optional
        One per series (default Okabe–Ito, cycled).
    width : int, default 760
        Width in px; the height follows the number of rows.
    max_label : int, default 40
        Longer labels end in ``…`` (the tooltip has the whole name).
    empty : str, default "No data"
        Written instead of bars when there is no row or every value is zero.
    legend_below : bool, default False
        The legend under the axis, one entry a line, instead of right of the bars: the narrow layout, which
        leaves the bars the whole width (a phone's screen).
    """
    labels = [str(label) for label in labels]
    values = np.array([np.asarray(v, dtype=float) for _, v in series]).reshape(len(series), len(labels))
    values = np.nan_to_num(values)
    colours = list(colours) if colours else [OKABE_ITO[i % len(OKABE_ITO)] for i in range(len(series))]
    legend = len(series) > 1 or legend_title is not None
    # A label never runs off the left edge: at most 42 % of the width (the tooltip has the whole name).
    shown = [_fit_text(_shorten(label, max_label), width * 0.42 - 14) for label in labels]
    left = min(max((text_width(s) for s in shown), default=40) + 14, width * 0.42)
    names = [_fit_text(_shorten(name, 30), width - 30, 11) for name, _ in series]
    legend_width = (max(text_width(n, 11) for n in names + [legend_title or ""]) + 34) if legend else 0
    legend_width = 0 if legend_below else min(legend_width, width * 0.38)
    right = width - 28 - legend_width  # room for half of the last tick label ("100%") before the legend
    titles = _title_lines(title, width)
    row, gap, top = 18, 6, 34 + 18 * (len(titles) - 1)
    height = int(top + max(len(labels), 1) * (row + gap) + 52)
    legend_top = height - 8  # below the axis label, when legend_below
    if legend and legend_below:
        height += int(16 * (legend_title is not None) + 17 * len(series) + 4)
    elif legend:  # a long legend (many organizations) must not run off the bottom
        height = max(height, int(top + 16 * (legend_title is not None) + 17 * len(series) + 8))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="{html.escape(_FONT)}" font-size="{_SIZE}">',
           f'<rect width="{width}" height="{height}" fill="white"/>', _title_svg(titles, width)]
    totals = values.sum(axis=0) if len(series) else np.zeros(len(labels))
    if not len(labels) or not totals.any():
        out.append(f'<text x="{width / 2:.0f}" y="{height / 2:.0f}" text-anchor="middle" fill="#555">'
                   f"{html.escape(empty)}</text></svg>")
        return "".join(out).encode("utf-8")
    widest = text_width(_format(1.0 if percent else float(totals.max()) * 1.25, percent))
    ticks = _ticks(1.0 if percent else float(totals.max()), percent, min(5, int((right - left) / (widest + 14))))
    scale = (right - left) / ticks[-1]
    bottom = top + len(labels) * (row + gap)
    for tick in ticks:
        x = left + tick * scale
        out.append(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{bottom}" stroke="#e4e4e4"/>'
                   f'<text x="{x:.1f}" y="{bottom + 15}" text-anchor="middle" fill="#333">'
                   f"{_format(tick, percent)}</text>")
    out.append(f'<text x="{(left + right) / 2:.0f}" y="{bottom + 34}" text-anchor="middle" fill="#333">'
               f"{html.escape(xlabel)}</text>")
    for i, (label, short) in enumerate(zip(labels, shown)):
        y = top + i * (row + gap)
        out.append(f'<text x="{left - 8:.1f}" y="{y + row * 0.72:.1f}" text-anchor="end">'
                   f"<title>{html.escape(label)}</title>{html.escape(short)}</text>")
        start = 0.0
        for (name, _), colour, value in zip(series, colours, values[:, i]):
            if value > 0:
                tip = f"{label} · {name}: {value:.1%}" if percent else f"{label} · {name}: {value:,.0f}"
                out.append(f'<rect x="{left + start * scale:.1f}" y="{y}" width="{max(value * scale, 0.5):.1f}" '
                           f'height="{row}" fill="{colour}"><title>{html.escape(tip)}</title></rect>')
            start += value
    out.append(f'<line x1="{left}" y1="{top - 4}" x2="{left}" y2="{bottom}" stroke="#333"/>')
    if legend:
        x, y = (left, legend_top) if legend_below else (right + 28, top)
        if legend_title:
            out.append(f'<text x="{x}" y="{y + 9}" font-size="11" font-weight="bold">'
                       f"{html.escape(legend_title)}</text>")
            y += 16
        for name, colour in zip(names, colours):
            out.append(f'<rect x="{x}" y="{y}" width="12" height="12" fill="{colour}"/>'
                       f'<text x="{x + 18}" y="{y + 10}" font-size="11">{html.escape(name)}</text>')
            y += 17
    out.append("</svg>")
    return "".join(out).encode("utf-8")


def _cividis_many(fractions: np.ndarray) -> list[str]:
    """Colours of matplotlib's colour-blind-safe cividis map, each fraction from 0 (dark blue) to 1 (yellow); one
    call of the colour map for every cell (a heat map has hundreds)."""
    from matplotlib import colormaps

    rgba = colormaps["cividis"](np.clip(fractions, 0.0, 1.0))
    # As matplotlib's to_hex: each channel times 255, rounded (half to even, as Python's round), two hex digits.
    return ["#%02x%02x%02x" % tuple(colour) for colour in np.round(rgba[:, :3] * 255).astype(np.int64).tolist()]


def heatmap_svg(rows: Sequence[str], columns: Sequence[str], values: np.ndarray, *, title: str, percent: bool = False,
                width: int = 760, max_label: int = 32, empty: str = "No data") -> bytes:
    """A grid of ``rows`` x ``columns`` cells coloured by value (cividis), each with its value written in it.

    Missing values (NaN) are blank cells: for the comparison, "this organization has no outcome of that name".
    """
    values = np.asarray(values, dtype=float).reshape(len(rows), len(columns))
    shown_rows = [_shorten(r, max_label) for r in rows]
    shown_columns = [_shorten(c, 18) for c in columns]
    left = min(max((text_width(r) for r in shown_rows), default=40) + 14, width * 0.4)
    head = min(max((text_width(c, 11) for c in shown_columns), default=20) * 0.72 + 16, 140)
    titles = _title_lines(title, width)
    top = 26 + head + 18 * (len(titles) - 1)
    # The slanted headers lean right: the last one needs room past the grid (cos 40° of its length).
    overhang = max((text_width(c, 11) for c in shown_columns[-1:]), default=0) * 0.77
    cell_w = max(min((width - left - 10 - overhang) / max(len(columns), 1), 90), 28)
    cell_h = 20
    # As wide as the grid (and the title) need, no wider: the title then sits over the grid.
    width = int(max(left + cell_w * len(columns) + 14, left + cell_w * (len(columns) - 0.5) + overhang + 6,
                    min(max(text_width(t, 14) for t in titles) + 20, width)))
    height = int(top + max(len(rows), 1) * cell_h + 14)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="{html.escape(_FONT)}" font-size="{_SIZE}">',
           f'<rect width="{width}" height="{height}" fill="white"/>', _title_svg(titles, width)]
    finite = values[~np.isnan(values)]
    if not len(rows) or not len(columns) or not finite.size:
        out.append(f'<text x="{width / 2:.0f}" y="{height / 2 + 10:.0f}" text-anchor="middle" fill="#555">'
                   f"{html.escape(empty)}</text></svg>")
        return "".join(out).encode("utf-8")
    top_value = finite.max() or 1.0
    fills = iter(_cividis_many(finite / top_value))  # row by row, as the cells are written below
    for j, (column, short) in enumerate(zip(columns, shown_columns)):
        x = left + (j + 0.5) * cell_w
        out.append(f'<text transform="translate({x:.1f},{top - 6}) rotate(-40)" font-size="11">'
                   f"<title>{html.escape(str(column))}</title>{html.escape(short)}</text>")
    for i, (row, short) in enumerate(zip(rows, shown_rows)):
        y = top + i * cell_h
        out.append(f'<text x="{left - 8:.1f}" y="{y + cell_h * 0.7:.1f}" text-anchor="end">'
                   f"<title>{html.escape(str(row))}</title>{html.escape(short)}</text>")
        for j, value in enumerate(values[i].tolist()):  # Python floats: formatted faster than numpy's
            if value != value:  # NaN
                continue
            fraction = value / top_value
            text = (f"{value:.1%}" if value < 0.1 else f"{value:.0%}") if percent else f"{value:,.0f}"
            ink = "black" if fraction >= 0.5 else "white"
            x = left + j * cell_w
            out.append(f'<rect x="{x:.1f}" y="{y}" width="{cell_w - 1:.1f}" height="{cell_h - 1}" '
                       f'fill="{next(fills)}"><title>{html.escape(f"{row} · {columns[j]}: {text}")}</title>'
                       f'</rect><text x="{x + cell_w / 2:.1f}" y="{y + cell_h * 0.68:.1f}" text-anchor="middle" '
                       f'font-size="10" fill="{ink}">{text}</text>')
    out.append("</svg>")
    return "".join(out).encode("utf-8")


def small_multiples_svg(panels: Sequence[tuple[str, Sequence, Sequence[tuple[str, str, Sequence[float],
                                                                           Sequence[bool]]]]],
                        *, title: str, y_max: float | None = None, ylabel: str = "activities", columns: int = 3,
                        width: int = 900, empty: str = "No data") -> bytes:
    """One small line chart per panel, all on one y scale, each with its own legend under it.

    Parameters
    ----------
    panels : sequence of (title, x labels, [(series label, colour, values, partial flags), ...])
        Every series of a panel has one value per x label; a panel's series may differ from another's (each
        organization's own top outcomes), so each panel lists its own.
    y_max : float, optional
        The top of every panel's y axis (default: the largest value of all panels), so heights compare across
        panels.
    ylabel : str
        What the y axis counts, written once under the title.
    columns : int, default 3
        Panels per row (1 on a phone).

    Partial periods (under way, or cut by the date range) are hollow points joined by a dotted line.
    """
    columns = max(1, min(columns, len(panels)))
    panel_w = width / columns
    plot_h = 110
    entries = max((len(lines) for _, _, lines in panels), default=0)
    panel_h = plot_h + 40 + 15 * entries
    rows = -(-len(panels) // columns) if panels else 1
    titles = _title_lines(title, width)
    head = 44 + 18 * (len(titles) - 1)
    height = int(head + rows * panel_h + 8)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="{html.escape(_FONT)}" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>', _title_svg(titles, width)]
    if not panels:
        out.append(f'<text x="{width / 2:.0f}" y="{height / 2 + 10:.0f}" text-anchor="middle" fill="#555">'
                   f"{html.escape(empty)}</text></svg>")
        return "".join(out).encode("utf-8")
    peak = y_max or max((max(v, default=0) for _, _, lines in panels for _, _, v, _ in lines), default=0) or 1
    ticks = _ticks(peak, False, 4)
    out.append(f'<text x="{width / 2:.0f}" y="{head - 8}" text-anchor="middle" fill="#444">'
               f"{html.escape(f'y: {ylabel}, the same scale in every panel · ○ partial period')}</text>")
    for k, (name, xs, lines) in enumerate(panels):
        left = (k % columns) * panel_w
        x0 = left + 8 + max(text_width(f"{ticks[-1]:,.0f}", 11) + 6, 24)
        y0 = head + (k // columns) * panel_h + 22
        w, h = left + panel_w - 14 - x0, plot_h - 18
        out.append(f'<text x="{x0 + w / 2:.1f}" y="{y0 - 8}" text-anchor="middle" font-size="12" '
                   f'font-weight="bold"><title>{html.escape(name)}</title>'
                   f"{html.escape(_fit_text(name, panel_w - 16, 12))}</text>")
        for tick in ticks:
            y = y0 + h - tick / ticks[-1] * h
            out.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + w:.1f}" y2="{y:.1f}" stroke="#eee"/>'
                       f'<text x="{x0 - 4}" y="{y + 4:.1f}" text-anchor="end" fill="#333">{tick:,.0f}</text>')
        count = len(xs)
        step = w / max(count - 1, 1)
        for i in sorted({0, count - 1} if w < 220 else {0, count // 2, count - 1}):
            if 0 <= i < count:  # first, (middle,) last: dates that never overlap
                anchor = "start" if i == 0 and count > 1 else "end" if i == count - 1 and count > 1 else "middle"
                out.append(f'<text x="{x0 + i * step:.1f}" y="{y0 + h + 14}" text-anchor="{anchor}" fill="#333">'
                           f"{html.escape(str(xs[i]))}</text>")
        out.append(f'<line x1="{x0}" y1="{y0 + h}" x2="{x0 + w:.1f}" y2="{y0 + h}" stroke="#333"/>')
        for label, colour, values, partial in lines:
            if isinstance(values, np.ndarray):  # Python floats: faster to compare and format, the same numbers
                values = values.tolist()
            points = [(x0 + i * step, y0 + h - min(v, ticks[-1]) / ticks[-1] * h) for i, v in enumerate(values)]
            whole = [p for p, part in zip(points, partial) if not part]
            if len(whole) > 1:
                path = " ".join(f"{x:.1f},{y:.1f}" for x, y in whole)
                out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.6">'
                           f"<title>{html.escape(label)}</title></polyline>")
            for i, ((x, y), part, value) in enumerate(zip(points, partial, values)):
                if not part:
                    continue
                if i > 0:  # a dotted line into a partial period: it is not a drop
                    px, py = points[i - 1]
                    out.append(f'<line x1="{px:.1f}" y1="{py:.1f}" x2="{x:.1f}" y2="{y:.1f}" stroke="{colour}" '
                               'stroke-dasharray="2 3" stroke-width="1.4"/>')
                out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="white" stroke="{colour}">'
                           f"<title>{html.escape(f'{label}, {xs[i]}: {value:,.0f} (partial period)')}</title>"
                           "</circle>")
        y = y0 + h + 22
        for label, colour, values, _ in lines:
            out.append(f'<rect x="{x0}" y="{y}" width="12" height="3" fill="{colour}"/>'
                       f'<text x="{x0 + 17}" y="{y + 5}"><title>{html.escape(label)}</title>'
                       f"{html.escape(_fit_text(label, left + panel_w - x0 - 24, 11))}</text>")
            y += 15
    out.append("</svg>")
    return "".join(out).encode("utf-8")
