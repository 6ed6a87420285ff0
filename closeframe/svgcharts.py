"""Small SVG charts for the HTML report and the dashboard, whose text stays text so the reader's fonts draw it.

matplotlib renders with ``svg.fonttype = "none"``: labels are ``<text>`` elements, not glyph outlines, so a
browser draws ``東京 Trading 株式会社`` with any CJK font the reader has, even when this computer has none.
matplotlib still measures the text with its own fonts for the layout and warns about each glyph they lack; that
about outlines this file never draws, so it is silenced here (and only here). Sizes are in CSS pixels: a chart is
drawn at the width it is shown, so its tick labels keep their size (at least 10 px) instead of being scaled down.
"""

from __future__ import annotations

import io
import re
import warnings
from typing import Sequence

import numpy as np
import pandas as pd

from closeframe.plotstyle import OKABE_ITO

__all__ = ["CHART_FONT_PX", "bar_chart", "line_chart", "svg_markup"]

#: Tick and label size, in CSS pixels (the issue's floor is 10).
CHART_FONT_PX = 12
_PX_PER_INCH = 72  # the SVG backend writes one user unit per point; at 72 dpi a point is a pixel
_MAX_LABEL = 28
_INK = "#333333"


def _short(text: object, limit: int = _MAX_LABEL) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _figure(width_px: int, height_px: int, *, layout: str | None = "constrained"):
    from matplotlib.figure import Figure

    return Figure(figsize=(width_px / _PX_PER_INCH, height_px / _PX_PER_INCH), dpi=_PX_PER_INCH, layout=layout)


def _text_px(text: str, size: float) -> float:
    """Estimated width of ``text`` in px: wide (CJK) characters one em, others 0.62 em (DejaVu Sans averages less).

    The reader's browser draws the text with its own fonts anyway, so a measurement here would be an estimate too;
    this one costs nothing, where matplotlib's constrained layout doubles the time of each chart.
    """
    import unicodedata

    return sum(size if unicodedata.east_asian_width(ch) in "WF" else 0.62 * size for ch in text)


def _style(ax) -> None:
    ax.tick_params(labelsize=CHART_FONT_PX, colors=_INK, length=3)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color("#999999")
    ax.grid(axis="x", color="#e5e5e5", linewidth=0.8)
    ax.set_axisbelow(True)


def svg_markup(figure, *, title: str) -> str:
    """The figure as an inline ``<svg>`` element (no XML prolog, no external reference), titled for screen readers.

    Parameters
    ----------
    figure : matplotlib.figure.Figure
    title : str
        What the chart shows; becomes its ``<title>`` and ``aria-label``.
    """
    import html

    from matplotlib import rc_context

    buffer = io.StringIO()
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": "closeframe", "font.family": "sans-serif"}), \
            warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font")
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    # Fluid width: the browser scales it down on narrow screens but never above its drawn size.
    text = re.sub(r'<svg ([^>]*?)width="([\d.]+)pt" height="([\d.]+)pt"',
                  lambda m: f'<svg {m.group(1)}width="{m.group(2)}" height="{m.group(3)}" '
                            f'style="max-width:100%;height:auto" role="img" aria-label="{html.escape(title)}"',
                  text, count=1)
    return text


def _no_data(width_px: int, title: str, note: str) -> str:
    figure = _figure(width_px, 80)
    ax = figure.subplots()
    ax.set_axis_off()
    ax.text(0.5, 0.5, note, ha="center", va="center", fontsize=CHART_FONT_PX, color="#666666",
            transform=ax.transAxes)
    return svg_markup(figure, title=title)


def bar_chart(labels: Sequence[object], values: Sequence[float], *, title: str, xlabel: str,
              percent: bool = False, width_px: int = 380, colour: str = OKABE_ITO[4]) -> str:
    """Horizontal bars, largest first at the top, each labelled with its value.

    Parameters
    ----------
    labels, values : sequences of equal length
    title : str
        For screen readers (the page's heading says it to everyone else).
    xlabel : str
        What the bars measure, e.g. ``"activities"``.
    percent : bool, default False
        ``values`` are fractions, shown as percentages.
    width_px : int, default 420
    colour : str
        Bar colour.

    Returns
    -------
    str
        An inline ``<svg>`` element.
    """
    values = np.asarray(values, dtype=float)
    if not len(values):
        return _no_data(width_px, title, "No activities in this selection")
    height = 12 + 22 * len(values) + 46
    figure = _figure(width_px, height, layout=None)
    ax = figure.subplots()
    positions = np.arange(len(values))[::-1]
    ax.barh(positions, values, color=colour, height=0.7)
    texts = [_short(label) for label in labels]
    ax.set_yticks(positions, texts)
    ax.set_ylim(-0.6, len(values) - 0.4)
    left = min(max(_text_px(t, CHART_FONT_PX) for t in texts) + 14, width_px * 0.6)
    figure.subplots_adjust(left=left / width_px, right=1 - 22 / width_px, top=1 - 12 / height, bottom=46 / height)
    top = values.max() if values.max() > 0 else 1
    ax.set_xlim(0, top * 1.22)  # room for the value labels
    for y, value in zip(positions, values):
        ax.text(value + top * 0.015, y, f"{value:.0%}" if percent else f"{value:,.0f}", va="center",
                fontsize=CHART_FONT_PX - 1, color=_INK)
    _style(ax)
    if percent:
        ax.xaxis.set_major_formatter(lambda x, _: f"{x:.0%}")
    else:
        ax.xaxis.set_major_formatter(lambda x, _: f"{x:,.0f}")
    ax.xaxis.set_major_locator(_few_ticks())
    ax.set_xlabel(xlabel, fontsize=CHART_FONT_PX, color=_INK)
    return svg_markup(figure, title=title)


def _few_ticks():
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(nbins=4, integer=True, min_n_ticks=2)


def line_chart(table: pd.DataFrame, *, title: str, ylabel: str, partial: Sequence[bool] | None = None,
               width_px: int = 420, height_px: int = 240) -> str:
    """One line per column of ``table`` over its index (periods), partial periods drawn hollow and dashed.

    Parameters
    ----------
    table : pandas.DataFrame
        Index: period starts (datetimes); one column per series (at most eight, Okabe–Ito colours).
    title, ylabel : str
    partial : sequence of bool, optional
        Per row: the period is only partly inside the report's range (its value is not comparable).
    width_px, height_px : int

    Returns
    -------
    str
        An inline ``<svg>`` element.
    """
    if table.empty:
        return _no_data(width_px, title, "No activities in this selection")
    import matplotlib.dates as mdates

    figure = _figure(width_px, height_px)
    ax = figure.subplots()
    x = pd.DatetimeIndex(table.index).tz_localize(None)
    partial = np.zeros(len(table), dtype=bool) if partial is None else np.asarray(partial, dtype=bool)
    full = np.where(partial, np.nan, 1.0)
    for number, column in enumerate(table.columns):
        colour = OKABE_ITO[number % len(OKABE_ITO)]
        values = table[column].to_numpy(dtype=float)
        ax.plot(x, values * full, color=colour, linewidth=2, marker="o", markersize=4, label=_short(column, 22))
        if partial.any():
            ax.plot(x, values, color=colour, linewidth=1, linestyle=":")
            ax.plot(x[partial], values[partial], linestyle="none", marker="o", markersize=5,
                    markerfacecolor="white", markeredgecolor=colour)
    _style(ax)
    ax.grid(axis="y", color="#e5e5e5", linewidth=0.8)
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_locator(_few_ticks())
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:,.0f}")
    locator = mdates.AutoDateLocator(minticks=2, maxticks=max(3, width_px // 110))
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_ylabel(ylabel, fontsize=CHART_FONT_PX, color=_INK)
    if len(table.columns) > 1:
        # Below the plot, never over the lines or the ticks.
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncols=min(len(table.columns), 2),
                  fontsize=CHART_FONT_PX - 1, frameon=False)
    return svg_markup(figure, title=title)
