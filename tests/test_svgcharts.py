"""SVG bar charts of the usage explorer: well-formed, bars proportional to the values, text kept as text."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from closeframe.svgcharts import barh_svg

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

    from closeframe.svgcharts import heatmap_svg

    svg = heatmap_svg(["Qualified", "Demo"], ["Org 1", "Org 2"], np.array([[0.5, np.nan], [0.05, 0.25]]),
                      title="Compare", percent=True)
    root = ET.fromstring(svg)
    cells = [r for r in root.iter(f"{NS}rect") if r.find(f"{NS}title") is not None]
    assert len(cells) == 3  # the missing one is blank
    texts = "".join("".join(t.itertext()) for t in root.iter(f"{NS}text"))
    assert "50%" in texts and "5.0%" in texts and "25%" in texts


def test_small_multiples_mark_partial_periods():
    from closeframe.svgcharts import small_multiples_svg

    svg = small_multiples_svg([("Org 1", ["Jan", "Feb", "Mar"], {"Demo": ([3, 5, 1], [False, False, True])})],
                              title="Per month", colours={"Demo": "#E69F00"})
    root = ET.fromstring(svg)
    assert len(list(root.iter(f"{NS}polyline"))) == 1 and len(list(root.iter(f"{NS}circle"))) == 1
    assert b"partial" in svg
    assert b"No data" in small_multiples_svg([], title="x", colours={})
