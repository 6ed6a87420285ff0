"""Outcome plots on frames built from recorded pages: titles, labels, bar heights against the data, ax=, kwargs."""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import closeframe as cf  # noqa: E402
from closeframe import plots  # noqa: E402
from closeframe.errors import ConfigurationError  # noqa: E402
from closeframe.views.style import OKABE_ITO, safe_label  # noqa: E402

FIXTURES = Path(__file__).parents[1] / "fixtures"


def _page(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def page40() -> dict:
    return _page("outcome_list_40_orgs.json")


@pytest.fixture(scope="module")
def frame40(page40):
    names = {org["id"]: org["name"] for org in page40["organizations"]}
    return cf.outcomes_frame(page40["data"], organization_names=names)


@pytest.fixture
def frame1(documented_page):
    return cf.outcomes_frame(documented_page["data"][:1], organization_names={})


def _render(ax) -> None:
    """Draw to PNG: missing glyphs warn only at draw time (and warnings are errors here)."""
    ax.figure.savefig(io.BytesIO(), format="png")


def _stacked_totals(ax) -> dict:
    """Total bar length per y tick label, summed over the stacked containers."""
    labels = [t.get_text() for t in ax.get_yticklabels()]
    totals = Counter()
    for container in ax.containers:
        for label, patch in zip(labels, container.patches):
            totals[label] += patch.get_width()
    return dict(totals)


def test_all_lists_the_outcome_plots():
    for name in ("plot_outcomes_per_organization", "plot_applies_to_coverage", "plot_catalogue_over_time"):
        assert name in plots.__all__ and callable(getattr(plots, name))


def test_outcomes_per_organization_heights_match_the_records(page40, frame40):
    ax = plots.plot_outcomes_per_organization(frame40)
    names = {org["id"]: org["name"] for org in page40["organizations"]}
    expected = Counter(names[r["organization_id"]] for r in page40["data"])
    by_label = {safe_label(name, 32): count for name, count in expected.items()}
    assert _stacked_totals(ax) == by_label
    assert len(ax.get_yticklabels()) == 40
    assert {t.get_text() for t in ax.get_legend().get_texts()} == {r["type"] for r in page40["data"]}
    assert ax.get_xlabel() == "outcomes" and ax.get_ylabel() == "organization"
    assert "40 organizations" in ax.get_title() and f"{len(page40['data'])} outcomes" in ax.get_title()
    # Long names are shortened with an ellipsis; nothing is longer than max_label.
    assert max(len(t.get_text()) for t in ax.get_yticklabels()) <= 32
    assert any(t.get_text().endswith("…") for t in ax.get_yticklabels())
    # A new figure grows with 40 rows so the labels do not overlap.
    assert ax.figure.get_size_inches()[1] >= 40 * 0.25
    _render(ax)


def test_outcomes_per_organization_stacks_by_type_per_org(page40, frame40):
    ax = plots.plot_outcomes_per_organization(frame40)
    names = {org["id"]: org["name"] for org in page40["organizations"]}
    expected = Counter((safe_label(names[r["organization_id"]], 32), r["type"]) for r in page40["data"])
    labels = [t.get_text() for t in ax.get_yticklabels()]
    for container in ax.containers:
        kind = container.get_label()
        for label, patch in zip(labels, container.patches):
            assert patch.get_width() == expected.get((label, kind), 0)
    colours = [matplotlib.colors.to_hex(c.patches[0].get_facecolor()) for c in ax.containers]
    assert colours == [c.lower() for c in OKABE_ITO[: len(colours)]]


def test_one_organization_without_names(documented_page, frame1):
    ax = plots.plot_outcomes_per_organization(frame1)
    record = documented_page["data"][0]
    assert [t.get_text() for t in ax.get_yticklabels()] == [record["organization_id"][:31] + "…"]
    assert _stacked_totals(ax) == {record["organization_id"][:31] + "…": 1}
    _render(ax)


def test_given_ax_is_used_and_kwargs_reach_matplotlib(frame40):
    fig, (left, right) = plt.subplots(1, 2)
    ax = plots.plot_outcomes_per_organization(frame40, ax=right, edgecolor="red", height=0.5)
    assert ax is right and not left.has_data()
    patch = ax.containers[0].patches[0]
    assert matplotlib.colors.to_hex(patch.get_edgecolor()) == "#ff0000"
    assert patch.get_height() == pytest.approx(0.5)


def test_current_axes_is_used_when_ax_is_omitted(frame40):
    for plot in (plots.plot_outcomes_per_organization, plots.plot_applies_to_coverage,
                 plots.plot_catalogue_over_time):
        fig, ax = plt.subplots()
        assert plot(frame40) is ax
        plt.close(fig)


def test_applies_to_coverage_counts_match_the_records(page40, frame40):
    ax = plots.plot_applies_to_coverage(frame40, cmap="viridis")
    names = {org["id"]: org["name"] for org in page40["organizations"]}
    rows = [t.get_text() for t in ax.get_yticklabels()]
    columns = [t.get_text() for t in ax.get_xticklabels()]
    assert columns == ["calls", "meetings"]
    grid = np.asarray(ax.images[0].get_array())
    expected = Counter((safe_label(names[r["organization_id"]], 32), value)
                       for r in page40["data"] for value in r.get("applies_to") or [])
    for i, row in enumerate(rows):
        for j, column in enumerate(columns):
            assert grid[i, j] == expected.get((row, column), 0)
    assert ax.images[0].get_cmap().name == "viridis"
    assert ax.get_xlabel() == "applies_to" and "coverage" in ax.get_title()
    _render(ax)


def test_applies_to_coverage_long_layout_gives_the_same_grid(page40, frame40):
    names = {org["id"]: org["name"] for org in page40["organizations"]}
    long = cf.outcomes_frame(page40["data"], "long", organization_names=names)
    wide_grid = np.asarray(plots.plot_applies_to_coverage(frame40, ax=plt.subplots()[1]).images[0].get_array())
    long_grid = np.asarray(plots.plot_applies_to_coverage(long, ax=plt.subplots()[1]).images[0].get_array())
    assert np.array_equal(wide_grid, long_grid)


def test_applies_to_coverage_one_organization(documented_page, frame1):
    ax = plots.plot_applies_to_coverage(frame1)
    grid = np.asarray(ax.images[0].get_array())
    assert grid.shape == (1, 2)
    assert list(grid[0]) == [float("calls" in documented_page["data"][0]["applies_to"]),
                             float("meetings" in documented_page["data"][0]["applies_to"])]
    _render(ax)


@pytest.mark.parametrize("freq", ["W", "M"])
def test_catalogue_over_time_counts_per_period(page40, frame40, freq):
    import pandas as pd

    ax = plots.plot_catalogue_over_time(frame40, freq=freq, linewidth=3)
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {"created", "updated"}
    assert lines["created"].get_linewidth() == 3

    def period(text):
        return pd.Timestamp(text).tz_convert("UTC").tz_localize(None).to_period(freq).start_time

    created = Counter(period(r["date_created"]) for r in page40["data"])
    updated = Counter(period(r["date_updated"]) for r in page40["data"] if r["date_updated"] != r["date_created"])
    for label, expected in (("created", created), ("updated", updated)):
        x = pd.to_datetime(matplotlib.dates.num2date(lines[label].get_xdata(orig=False))).tz_localize(None)
        got = dict(zip(x, lines[label].get_ydata()))
        assert {k: v for k, v in got.items() if v} == dict(expected)
    assert sum(lines["created"].get_ydata()) == len(page40["data"])
    word = {"W": "week", "M": "month"}[freq]
    assert word in ax.get_title() and ax.get_xlabel().startswith(word) and ax.get_ylabel() == "outcomes"
    _render(ax)


def test_catalogue_over_time_one_outcome(frame1):
    ax = plots.plot_catalogue_over_time(frame1)
    created = next(line for line in ax.get_lines() if line.get_label() == "created")
    assert list(created.get_ydata()) == [1]
    _render(ax)


def test_non_latin_names_render_without_glyph_warnings(frame40):
    # The fixture has CJK, Greek and Cyrillic organization names; warnings are errors in this suite.
    fig, axes = plt.subplots(3, 1, figsize=(8, 20))
    plots.plot_outcomes_per_organization(frame40, ax=axes[0])
    plots.plot_applies_to_coverage(frame40, ax=axes[1])
    plots.plot_catalogue_over_time(frame40, ax=axes[2], freq="W")
    _render(axes[0])


def test_safe_label_shortens_and_replaces_what_no_font_draws():
    assert safe_label("x" * 50, 10) == "x" * 9 + "…"
    assert safe_label(None) == "(none)"
    assert safe_label("a\nb") == "a b"
    label = safe_label("東京 Trading 株式会社 🎉", None)
    assert "Trading" in label and len(label) == len("東京 Trading 株式会社 🎉")


def test_bad_input_names_what_is_wrong(frame40):
    with pytest.raises(ConfigurationError, match="'W', 'M'"):
        plots.plot_catalogue_over_time(frame40, freq="D")
    with pytest.raises(ConfigurationError, match="'type'"):
        plots.plot_outcomes_per_organization(frame40.drop(columns="type"))
    with pytest.raises(ConfigurationError, match="DataFrame"):
        plots.plot_applies_to_coverage([{"id": 1}])
