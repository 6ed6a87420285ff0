"""Charts for the HTML report as inline SVG whose text stays text, so the reader's fonts draw it.

The small multiples of each organization's top outcomes over time (:func:`trend_panel`) are written directly as
SVG: one panel per organization, all on one y scale, a few hundred elements each, in well under a millisecond, so
a report of 40 organizations does not wait on a plotting library (matplotlib takes 80–100 ms per chart).

Bars come from :mod:`closeframe.views.svgcharts` (the usage explorer's own, written directly as SVG). The trend's lines are
drawn by matplotlib with ``svg.fonttype = "none"``: labels are ``<text>`` elements, not glyph outlines, so a
browser draws ``東京 Trading 株式会社`` with any CJK font the reader has, even when this computer has none.
matplotlib still measures the text with its own fonts for the layout and warns about each glyph they lack; that
warning is about outlines never drawn here, so it is silenced here (and only here). Sizes are CSS pixels: a chart
is drawn at about the width it is shown, so its labels keep their size (at least 10 px) instead of shrinking.
"""

from __future__ import annotations

import io
import re
import warnings
from typing import Sequence

import numpy as np
import pandas as pd

from closeframe.views.style import OKABE_ITO

__all__ = ["CHART_FONT_PX", "bar_chart", "line_chart", "svg_markup", "trend_panel"]

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
              percent: bool = False, width_px: int = 420) -> str:
    """Horizontal bars, first label at the top, as an inline ``<svg>`` element sized for a 420 px screen.

    Drawn by :func:`closeframe.views.svgcharts.barh_svg`, the explorer's own bars (so the report and the dashboard show
    the same chart), made fluid (``max-width: 100%``) and labelled for screen readers.

    Parameters
    ----------
    labels, values : sequences of equal length
    title : str
        Shown above the bars and given to screen readers.
    xlabel : str
        What the bars measure, e.g. ``"calls and meetings"``.
    percent : bool, default False
        ``values`` are fractions, shown as percentages.
    width_px : int, default 420
        A 420 px screen shows it at about nine tenths: 12 px labels stay above 10 px.
    """
    import html

    from closeframe.views.svgcharts import barh_svg, text_width

    max_label = max(int((width_px * 0.42 - 14) / text_width("n")), 8)  # what fits left of the bars
    svg = barh_svg([str(label) for label in labels], [(xlabel, list(values))], title=title, xlabel=xlabel,
                   percent=percent, width=width_px, max_label=max_label,
                   empty="No activities in this selection").decode("utf-8")
    return svg.replace("<svg ", f'<svg style="max-width:100%;height:auto" role="img" '
                                f'aria-label="{html.escape(title)}" ', 1)


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


def _nice_top(value: float) -> tuple[float, list[float]]:
    """A round axis top at or above ``value`` and its three or four ticks from 0."""
    from closeframe.views.svgcharts import _ticks

    ticks = _ticks(max(value, 1.0), False, count=4)
    return ticks[-1], ticks


def trend_panel(periods: Sequence[str], series: Sequence[tuple[str, Sequence[float], str]], *, title: str,
                y_max: float, width_px: int = 380, height_px: int = 190) -> str:
    """One organization's panel of the small multiples: a line per outcome over the periods, on a given y scale.

    Parameters
    ----------
    periods : sequence of str
        The x axis labels (every panel gets the same ones, so panels line up); three are written.
    series : sequence of (name, values, colour)
        One line each, a value per period.
    title : str
        The organization; the panel's heading and its label for screen readers.
    y_max : float
        The top of the y axis, shared by every panel so heights compare across organizations.
    width_px, height_px : int
        Drawn size; the SVG scales down to its box (``max-width: 100%``).

    Returns
    -------
    str
        An inline ``<svg>`` element.
    """
    import html

    from closeframe.views.svgcharts import _FONT

    top, ticks = _nice_top(y_max)
    left, right, head, foot = 44, 12, 26, 24
    w, h = width_px - left - right, height_px - head - foot
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width_px}" height="{height_px}" '
           f'viewBox="0 0 {width_px} {height_px}" font-family="{html.escape(_FONT)}" font-size="{CHART_FONT_PX}" '
           f'style="max-width:100%;height:auto" role="img" aria-label="{html.escape(title)}">',
           f'<text x="{left}" y="16" font-size="14" font-weight="600">{html.escape(_short(title, 40))}</text>']
    for tick in ticks:
        y = head + h - tick / top * h
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + w}" y2="{y:.1f}" stroke="#e5e5e5"/>'
                   f'<text x="{left - 5}" y="{y + 4:.1f}" text-anchor="end" fill="{_INK}">{tick:,.0f}</text>')
    count = len(periods)
    step = w / max(count - 1, 1)
    for i in sorted({0, count // 2, count - 1}) if count else ():
        anchor = "start" if i == 0 and count > 1 else "end" if i == count - 1 and count > 1 else "middle"
        out.append(f'<text x="{left + i * step:.1f}" y="{head + h + 16}" text-anchor="{anchor}" fill="{_INK}">'
                   f"{html.escape(str(periods[i]))}</text>")
    out.append(f'<line x1="{left}" y1="{head + h}" x2="{left + w}" y2="{head + h}" stroke="#999"/>')
    for name, values, colour in series:
        points = [(left + i * step, head + h - float(v) / top * h) for i, v in enumerate(values)]
        label = html.escape(str(name))
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2">'
                       f"<title>{label}</title></polyline>")
        else:
            out.extend(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>' for x, y in points)
    out.append("</svg>")
    return "".join(out)
