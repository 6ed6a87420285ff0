"""Usage plots on frames built from recorded pages: titles, labels and bar sizes match the data."""

from __future__ import annotations

from collections import Counter

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from closeframe.errors import ConfigurationError  # noqa: E402
from closeframe.views.style import OKABE_ITO, safe_label  # noqa: E402
from closeframe.usage.tables import outcome_usage, usage_by_user, usage_events  # noqa: E402
from closeframe.views.usage_plots import plot_outcome_mix, plot_top_outcomes, plot_usage_over_time  # noqa: E402
from usage_fixtures import ORGANIZATION_NAMES, frames, records  # noqa: E402


@pytest.fixture(scope="module")
def data():
    return frames()


def bar_widths(ax) -> list[float]:
    return [patch.get_width() for patch in ax.patches]


def test_top_outcomes_bars_match_totals(data):
    usage = outcome_usage(*data)
    ax = plot_top_outcomes(usage, n=3)
    counts = Counter((r["organization_id"], r["outcome_id"]) for r in records("calls") + records("meetings")
                     if r["outcome_id"])
    assert sorted(bar_widths(ax), reverse=True) == sorted(counts.values(), reverse=True)[:3]
    assert ax.get_title() == "Top 3 outcomes by use"
    assert ax.get_xlabel() == "activities (calls + meetings)"
    assert len(ax.get_yticklabels()) == 3
    assert {h.get_facecolor()[:3] for h in ax.patches} <= {matplotlib.colors.to_rgb(c) for c in OKABE_ITO}
    assert ax.get_legend() is not None  # two organizations: coloured by organization
    plt.close("all")
    one = plot_top_outcomes(usage[usage["organization_name"] == "Alpha GmbH"])
    assert one.get_legend() is None
    assert all(" · " not in t.get_text() for t in one.get_yticklabels())


def test_long_names_are_truncated_and_forty_organizations_draw(data):
    outcomes, calls, meetings = data
    usage = outcome_usage(*data)
    many = pd.concat([usage.assign(organization_id=f"orga_{i}", organization_name=f"Organisation numéro {i} " * 3)
                      for i in range(40)], ignore_index=True)
    ax = plot_top_outcomes(many, n=40, max_label=25)
    ax.figure.canvas.draw()
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == 40 and all(len(t) <= 25 + 5 for t in labels)  # " (12)" may follow a clash
    assert any(t.endswith("…") or "…" in t for t in labels)
    mix = plot_outcome_mix(many)
    assert len(mix.get_yticklabels()) == 40


def test_outcome_mix_by_organization_shares(data):
    usage = outcome_usage(*data)
    ax = plot_outcome_mix(usage, n=2, include_no_outcome=True)
    per_org = Counter(r["organization_id"] for r in records("calls") + records("meetings"))
    without = Counter(r["organization_id"] for r in records("calls") + records("meetings") if not r["outcome_id"])
    assert ax.get_title() == "Outcome mix by organization"
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert sorted(ticks) == sorted(safe_label(name) for name in ORGANIZATION_NAMES.values())
    # Each bar adds up to 100 %; the (no outcome) segment is each organization's share without an outcome.
    handles, names = ax.get_legend_handles_labels()
    assert names[-1] == "(no outcome)" and names[-2] == "(other outcomes)" and len(names) == 4
    no_outcome = handles[-1].patches
    expected = sorted(without[o] / per_org[o] for o in ORGANIZATION_NAMES)
    assert sorted(p.get_width() for p in no_outcome) == pytest.approx(expected)
    ends = Counter()
    for patch in ax.patches:
        ends[round(patch.get_y(), 6)] = max(ends[round(patch.get_y(), 6)], patch.get_x() + patch.get_width())
    assert list(ends.values()) == pytest.approx([1.0] * len(ORGANIZATION_NAMES))


def test_outcome_mix_by_user_needs_the_by_user_frame(data):
    by_user = usage_by_user(*data)
    ax = plot_outcome_mix(by_user, by="user")
    assert len(ax.get_yticklabels()) == len({r["user_id"] for r in records("calls")})
    assert ax.get_ylabel() == "user"
    with pytest.raises(ConfigurationError, match="user_id"):
        plot_outcome_mix(outcome_usage(*data), by="user")
    with pytest.raises(ConfigurationError, match="'lead'"):
        plot_outcome_mix(by_user, by="lead")


def test_usage_over_time_lines_count_the_events(data):
    events = usage_events(*data)
    ax = plot_usage_over_time(events, freq="W", n=10)
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert ax.get_title() == "Usage over time (per week)" and ax.get_ylabel() == "activities per week"
    total_drawn = sum(np.asarray(line.get_ydata()).sum() for line in lines.values())
    assert total_drawn == len(records("calls")) + len(records("meetings"))
    without = sum(1 for r in records("calls") + records("meetings") if not r["outcome_id"])
    assert np.asarray(lines["(no outcome)"].get_ydata()).sum() == without
    weeks = {pd.Timestamp(r["date_created"]).tz_convert("UTC").normalize()
             - pd.Timedelta(days=pd.Timestamp(r["date_created"]).weekday())
             for r in records("calls") + records("meetings")}
    # Every week from the first to the last is a point, zeros included.
    assert len(lines["(no outcome)"].get_xdata()) == (max(weeks) - min(weeks)).days // 7 + 1


@pytest.mark.parametrize("plot", [plot_top_outcomes, plot_outcome_mix, plot_usage_over_time])
def test_non_frames_are_configuration_errors(plot):
    with pytest.raises(ConfigurationError, match="DataFrame"):
        plot([{"outcome_id": "x"}])


def test_plots_draw_on_the_given_axes(data):
    fig, axes = plt.subplots(1, 2)
    usage = outcome_usage(*data)
    assert plot_top_outcomes(usage, ax=axes[1]) is axes[1]
    assert plot_usage_over_time(usage_events(*data), ax=axes[0], freq="M") is axes[0]
    fig.canvas.draw()
