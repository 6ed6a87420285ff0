"""Charts for the HTML report: inline SVG written directly, whose text stays text, so the reader's fonts draw it.

The report's one chart is the small multiples of each organization's own top outcomes over time
(:func:`trend_panel`): one panel per organization, all on one y scale, a few hundred elements each, written in
well under a millisecond (40 panels: about 25 ms), so a report of 40 organizations does not wait on a plotting
library (matplotlib took 80–100 ms per chart) and the file stays self-contained with no script. Text is
``<text>``, so a browser draws ``東京 Trading 株式会社`` with any CJK font the reader has; names are whole in the
HTML legend under each panel, never shortened there. Sizes are CSS pixels and the SVG scales down to its box
(``max-width: 100%``): at 420 px a panel keeps its 12 px labels.
"""

from __future__ import annotations

from typing import Sequence

__all__ = ["CHART_FONT_PX", "trend_panel"]

#: Tick and label size, in CSS pixels (the floor for readable chart text is 10).
CHART_FONT_PX = 12
_INK = "#333333"


def _short(text: object, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


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
