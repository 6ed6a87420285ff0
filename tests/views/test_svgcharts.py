"""SVG bar charts of the usage explorer: well-formed, bars proportional to the values, text kept as text."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from closeframe.views.svgcharts import barh_svg

NS = "{http://www.w3.org/2000/svg}"


def test_bars_are_proportional_and_labels_stay_text():
    svg = barh_svg(["東京 Trading 株式会社", "A & B <GmbH>"], [("calls", [30, 10]), ("meetings", [10, 0])],
                   title="Per org", xlabel="activities", legend_title="kind")
    root = ET.fromstring(svg)
    bars = [r for r in root.iter(f"{NS}rect") if r.find(f"{NS}title") is not None]
    widths = [float(r.get("width")) for r in bars]
    assert len(bars) == 3 and widths == pytest.approx([3 * widths[1], widths[1], widths[1]], rel=1e-3)
    texts = "".join("".join(t.itertext()) for t in root.iter(f"{NS}text"))
    assert "東京 Trading 株式会社" in texts and "A & B <GmbH>" in texts and "meetings" in texts


def test_percent_axis_and_an_empty_chart():
    svg = barh_svg(["x"], [("a", [0.25]), ("b", [0.75])], title="Mix", xlabel="share", percent=True)
    assert b"100%" in svg and b"25.0%" in svg
    empty = barh_svg([], [("a", [])], title="Nothing", xlabel="x", empty="No activity to draw")
    assert b"No activity to draw" in empty and b"<rect x=" not in empty
    ET.fromstring(empty)


def test_heatmap_cells_and_blanks():
    import numpy as np

    from closeframe.views.svgcharts import heatmap_svg

    svg = heatmap_svg(["Qualified", "Demo"], ["Org 1", "Org 2"], np.array([[0.5, np.nan], [0.05, 0.25]]),
                      title="Compare", percent=True)
    root = ET.fromstring(svg)
    cells = [r for r in root.iter(f"{NS}rect") if r.find(f"{NS}title") is not None]
    assert len(cells) == 3  # the missing one is blank
    texts = "".join("".join(t.itertext()) for t in root.iter(f"{NS}text"))
    assert "50%" in texts and "5.0%" in texts and "25%" in texts


def test_small_multiples_mark_partial_periods_on_one_scale_with_a_legend_per_panel():
    from closeframe.views.svgcharts import small_multiples_svg

    panels = [("Org 1", ["Jan", "Feb", "Mar"], [("1. Demo", "#E69F00", [3, 5, 1], [False, False, True])]),
              ("Org 2", ["Jan", "Feb", "Mar"], [("1. Churn risk", "#0072B2", [30, 50, 10], [False, False, True]),
                                                ("(other outcomes)", "#444444", [1, 2, 3], [False, False, True])])]
    svg = small_multiples_svg(panels, title="Per month")
    root = ET.fromstring(svg)
    assert len(list(root.iter(f"{NS}polyline"))) == 3 and len(list(root.iter(f"{NS}circle"))) == 3
    assert b"partial" in svg and b"the same scale in every panel" in svg
    texts = [t.text for t in root.iter(f"{NS}text")]
    # One y scale: both panels' axes end at the same tick (past the larger panel's 50).
    assert texts.count("60") == 2 and b"</title>1. Demo</text>" in svg and b"</title>1. Churn risk</text>" in svg
    assert b"No data" in small_multiples_svg([], title="x")


def _text_extents(root):
    """(left, right, text) of every horizontal text element, from its anchor and its estimated width."""
    from closeframe.views.svgcharts import text_width

    extents = []
    for text in root.iter(f"{NS}text"):
        if text.get("transform"):
            continue
        shown = "".join(t for t in [text.text or ""] + [c.tail or "" for c in text])  # without <title> tooltips
        size = float(text.get("font-size") or root.get("font-size"))
        width = text_width(shown, size)
        x = float(text.get("x"))
        left = {"end": x - width, "middle": x - width / 2}.get(text.get("text-anchor"), x)
        extents.append((left, left + width, shown))
    return extents


def test_the_narrow_layout_fits_its_width_with_the_legend_below():
    organizations = ["Nordlicht Vertrieb GmbH", "東京 Trading 株式会社", "Acme Robotics"]
    labels = ["Decision maker reached", "Security review requested", "Wrong number"]
    series = [(org, [1250 * (i + 1), 40, 7]) for i, org in enumerate(organizations)]
    svg = barh_svg(labels, series, title="Outcome mix by organization, all three of them", xlabel="activities",
                   legend_title="organization", width=360, legend_below=True)
    root = ET.fromstring(svg)
    assert root.get("width") == "360" and root.get("viewBox").split()[2] == "360"
    extents = _text_extents(root)
    assert all(0 <= left and right <= 360 for left, right, _ in extents), [e for e in extents if e[0] < 0 or
                                                                          e[1] > 360]
    # The legend sits under the axis, not beside the bars.
    bars = [r for r in root.iter(f"{NS}rect") if r.find(f"{NS}title") is not None]
    swatches = [r for r in root.iter(f"{NS}rect") if r.get("width") == "12"]
    assert len(swatches) == 3 and min(float(s.get("y")) for s in swatches) > max(float(b.get("y")) for b in bars)
    assert max(float(b.get("x")) + float(b.get("width")) for b in bars) > 300  # the bars have the width
    # Tick labels never touch: each ends before the next begins.
    ticks = sorted((left, right) for left, right, text in extents if text.replace(",", "").isdigit())
    assert len(ticks) >= 3 and all(a[1] + 4 <= b[0] for a, b in zip(ticks, ticks[1:])), ticks


def test_the_heatmaps_last_slanted_header_stays_inside():
    import numpy as np

    from closeframe.views.svgcharts import heatmap_svg, text_width

    columns = ["Org 1", "Org 2", "東京 Trading 株式会社"]
    svg = heatmap_svg(["Qualified"], columns, np.array([[0.1, 0.2, 0.3]]), width=360, percent=True,
                      title="The same outcome across organizations (share; blank: no such outcome)")
    root = ET.fromstring(svg)
    width = float(root.get("width"))
    assert width <= 390
    last = [t for t in root.iter(f"{NS}text") if t.get("transform")][-1]
    x = float(last.get("transform").split("(")[1].split(",")[0])
    shown = (last.text or "") + "".join(child.tail or "" for child in last)  # without its <title> tooltip
    assert shown == columns[-1] and x + text_width(shown, 11) * 0.77 <= width
    assert all(right <= width for _, right, _ in _text_extents(root))  # the long title wraps
