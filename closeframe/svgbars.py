"""Horizontal bar charts written directly as SVG, for views redrawn on every click (the usage explorer).

matplotlib takes 80–100 ms to build and save even a small bar chart; these charts are a few hundred SVG elements
written in about a millisecond. Text stays text (the browser draws it with the reader's fonts, so CJK names show
whenever a CJK font is installed, with no ``□`` stand-ins), numbers are formatted with thousands separators or as
percentages, the legend sits right of the bars, and each bar has a tooltip with its exact value. The plot helpers
of :mod:`closeframe.plots` remain the way to draw figures for notebooks and files.
"""

from __future__ import annotations

import html
import math
import unicodedata
from typing import Sequence

import numpy as np

from closeframe.plotstyle import OKABE_ITO

__all__ = ["barh_svg", "text_width"]

_FONT = "system-ui, -apple-system, 'Segoe UI', 'DejaVu Sans', 'Noto Sans CJK JP', sans-serif"
_SIZE = 12  # px, tick and bar labels


def text_width(text: str, size: float = _SIZE) -> float:
    """Roughly how wide ``text`` is in px at ``size``: wide (CJK) characters one em, others about 0.6 em."""
    return size * sum(1.0 if unicodedata.east_asian_width(ch) in "WF" else 0.6 for ch in text)


def _shorten(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: max(limit - 1, 1)].rstrip() + "…"


def _ticks(top: float, percent: bool) -> list[float]:
    if percent:
        return [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    if top <= 0:
        return [0.0, 1.0]
    raw = top / 5
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    if step < 1:
        step = 1.0
    return [i * step for i in range(int(math.ceil(top / step)) + 1)]


def _format(value: float, percent: bool) -> str:
    return f"{value:.0%}" if percent else f"{value:,.0f}"


def barh_svg(labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], *, title: str, xlabel: str,
             percent: bool = False, legend_title: str | None = None, colours: Sequence[str] | None = None,
             width: int = 760, max_label: int = 40, empty: str = "No data") -> bytes:
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
    """
    labels = [str(label) for label in labels]
    values = np.array([np.asarray(v, dtype=float) for _, v in series]).reshape(len(series), len(labels))
    values = np.nan_to_num(values)
    colours = list(colours) if colours else [OKABE_ITO[i % len(OKABE_ITO)] for i in range(len(series))]
    legend = len(series) > 1 or legend_title is not None
    shown = [_shorten(label, max_label) for label in labels]
    left = min(max((text_width(s) for s in shown), default=40) + 14, width * 0.42)
    names = [_shorten(name, 30) for name, _ in series]
    legend_width = (max(text_width(n, 11) for n in names + [legend_title or ""]) + 34) if legend else 0
    legend_width = min(legend_width, width * 0.38)
    right = width - 28 - legend_width  # room for half of the last tick label ("100%") before the legend
    row, gap, top = 18, 6, 34
    height = int(top + max(len(labels), 1) * (row + gap) + 52)
    if legend:  # a long legend (many organizations) must not run off the bottom
        height = max(height, int(top + 16 * (legend_title is not None) + 17 * len(series) + 8))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="{html.escape(_FONT)}" font-size="{_SIZE}">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{width / 2:.0f}" y="18" text-anchor="middle" font-size="14">{html.escape(title)}</text>']
    totals = values.sum(axis=0) if len(series) else np.zeros(len(labels))
    if not len(labels) or not totals.any():
        out.append(f'<text x="{width / 2:.0f}" y="{height / 2:.0f}" text-anchor="middle" fill="#555">'
                   f"{html.escape(empty)}</text></svg>")
        return "".join(out).encode("utf-8")
    ticks = _ticks(1.0 if percent else float(totals.max()), percent)
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
        x = right + 28
        y = top
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
