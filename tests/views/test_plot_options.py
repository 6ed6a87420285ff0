"""Plot helpers: color= and other matplotlib keywords pass through, empty frames, order, gaps in names, wording."""

from __future__ import annotations

import inspect

import matplotlib

matplotlib.use("Agg")

import matplotlib.colors as mcolors  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import closeframe as cf  # noqa: E402
from closeframe import plots  # noqa: E402
from closeframe.load.history import changes_from_history  # noqa: E402
from closeframe.usage.selection import Selection, by_user_table, prepare, trend_table  # noqa: E402
from usage_fixtures import ORGANIZATION_NAMES, frames, records  # noqa: E402

ALPHA, BETA = ORGANIZATION_NAMES


@pytest.fixture(scope="module")
def source():
    return frames()


def _calls(source):
    outcomes, calls, meetings = source
    data = prepare(outcomes, calls, meetings)
    usage = cf.outcome_usage(outcomes, calls, meetings)
    return {
        "plot_outcomes_per_organization": lambda **kw: plots.plot_outcomes_per_organization(outcomes, **kw),
        "plot_applies_to_coverage": lambda **kw: plots.plot_applies_to_coverage(outcomes, **kw),
        "plot_catalogue_over_time": lambda **kw: plots.plot_catalogue_over_time(outcomes, **kw),
        "plot_top_outcomes": lambda **kw: plots.plot_top_outcomes(usage, **kw),
        "plot_outcome_mix": lambda **kw: plots.plot_outcome_mix(usage, **kw),
        "plot_usage_over_time": lambda **kw: plots.plot_usage_over_time(cf.usage_events(*source), **kw),
        "plot_outcome_comparison": lambda **kw: plots.plot_outcome_comparison(cf.compare_outcomes(usage), **kw),
        "plot_usage_trend": lambda **kw: plots.plot_usage_trend(trend_table(data, now="2030-01-01"), **kw),
        "plot_users": lambda **kw: plots.plot_users(by_user_table(data), **kw),
        "plot_outcome_changes": lambda **kw: plots.plot_outcome_changes(_changes(outcomes), **kw),
    }


def _changes(outcomes):
    """Catalogue changes of the outcomes frame: one snapshot of its records, so each outcome's creation."""
    records = [{"id": r.id, "name": r.name, "type": r.type, "date_created": r.date_created.isoformat(),
                "created_by": r.created_by} for r in outcomes.itertuples()]
    return changes_from_history({"orga": {"snapshots": [{"taken_at": "2030-01-01T00:00:00+00:00",
                                                          "outcomes": records}]}})


def test_all_lists_plot_functions_only():
    assert plots.__all__ == sorted(plots.__all__)
    assert all(name.startswith("plot_") and inspect.isfunction(getattr(plots, name)) for name in plots.__all__)


@pytest.mark.parametrize("name", [n for n in plots.__all__ if n not in ("plot_applies_to_coverage",
                                                                        "plot_outcome_comparison")])
def test_color_passes_through(source, name):
    result = _calls(source)[name](color="#123456")
    axes = result if isinstance(result, list) else [result]
    drawn = [a.get_facecolor() for ax in axes for a in ax.patches] + [line.get_color() for ax in axes
                                                                      for line in ax.lines]
    assert drawn and any(mcolors.to_hex(c) == "#123456" for c in drawn)
    plt.close("all")


@pytest.mark.parametrize("name", ["plot_applies_to_coverage", "plot_outcome_comparison"])
def test_image_keywords_pass_through(source, name):
    ax = _calls(source)[name](cmap="magma")
    assert ax.images[0].get_cmap().name == "magma"
    plt.close("all")


def test_empty_frames_draw_a_no_data_note(source):
    outcomes, calls, meetings = source
    none = (outcomes.iloc[:0], calls.iloc[:0], meetings.iloc[:0])
    usage = cf.outcome_usage(*none)
    data = prepare(*none)
    drawn = [plots.plot_outcomes_per_organization(none[0]), plots.plot_applies_to_coverage(none[0]),
             plots.plot_catalogue_over_time(none[0]), plots.plot_top_outcomes(usage), plots.plot_outcome_mix(usage),
             plots.plot_usage_over_time(cf.usage_events(*none)),
             plots.plot_outcome_comparison(cf.compare_outcomes(usage)),
             plots.plot_usage_trend(trend_table(data))[0], plots.plot_users(by_user_table(data))]
    for ax in drawn:
        texts = [t.get_text() for t in ax.texts]
        assert any(text.startswith("No ") for text in texts), ax.get_title()
        ax.figure.canvas.draw()
        assert not any("1970" in t.get_text() for t in ax.get_xticklabels())
        plt.close("all")


def test_organizations_in_natural_order_or_by_value(source):
    outcomes = source[0]
    names = {ALPHA: "Org 10", BETA: "Org 7"}
    renamed = outcomes.assign(organization_name=outcomes["organization_id"].astype(str).map(names))
    ax = plots.plot_outcomes_per_organization(renamed)
    assert [t.get_text() for t in ax.get_yticklabels()][::-1] == ["Org 7", "Org 10"]  # top to bottom
    plt.close("all")
    counts = {names[o]: sum(1 for r in records("outcomes") if r["organization_id"] == o) for o in names}
    ax = plots.plot_outcomes_per_organization(renamed, order="value")
    assert [t.get_text() for t in ax.get_yticklabels()][::-1] == sorted(counts, key=counts.get, reverse=True)
    plt.close("all")


def test_missing_names_in_a_categorical_fall_back_to_the_id(source):
    gapped = []
    for frame in source:
        frame = frame.copy()
        frame["organization_name"] = frame["organization_name"].astype(object).where(
            frame["organization_id"].astype(str) != BETA).astype("category")
        gapped.append(frame)
    outcomes, calls, meetings = gapped
    for ax in (plots.plot_outcomes_per_organization(outcomes), plots.plot_applies_to_coverage(outcomes)):
        assert BETA in [t.get_text() for t in ax.get_yticklabels()] or any(
            BETA[:20] in t.get_text() for t in ax.get_yticklabels())
        plt.close("all")
    assert len(cf.explore(outcomes).filtered) == len(outcomes)
    explorer = cf.explore(outcomes, calls, meetings)
    assert BETA in [label for label, _ in explorer.organizations.options]


def test_shares_are_of_activities_with_an_outcome_by_default(source):
    usage = cf.outcome_usage(*source)
    ax = plots.plot_outcome_mix(usage)
    assert ax.get_xlabel() == "share of activities with an outcome"
    assert "(no outcome)" not in ax.get_legend_handles_labels()[1]
    plt.close("all")
    ax = plots.plot_outcome_mix(usage, include_no_outcome=True)
    assert ax.get_xlabel() == "share of all activities" and "(no outcome)" in ax.get_legend_handles_labels()[1]
    plt.close("all")


def test_periods_are_words(source):
    ax = plots.plot_usage_over_time(cf.usage_events(*source), freq="M")
    assert "per month" in ax.get_title() and "M)" not in ax.get_title()
    plt.close("all")
    trend = trend_table(prepare(*source), Selection(), freq="W", now="2030-01-01")
    axes = plots.plot_usage_trend(trend)
    assert "per week" in axes[0].figure.get_suptitle()
    plt.close("all")


def test_legends_stay_outside_the_axes(source):
    usage = cf.outcome_usage(*source)
    for ax in (plots.plot_top_outcomes(usage), plots.plot_outcome_mix(usage)):
        ax.figure.canvas.draw()
        legend = ax.get_legend().get_window_extent()
        assert legend.x0 >= ax.get_window_extent().x1
        plt.close("all")
