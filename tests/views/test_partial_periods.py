"""plot_usage_over_time marks the period under way and leaves out the future, as the explorer's trend view does.

On recorded-style pages (tests/fixtures/usage_real); expected counts come from the JSON records themselves.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import matplotlib
import matplotlib.dates as mdates
import pandas as pd
import pytest

import closeframe as cf
from closeframe.shape.frames import calls_frame, meetings_frame, outcomes_frame
from closeframe.views.usage_plots import plot_usage_over_time

matplotlib.use("Agg")

FOLDER = Path(__file__).parents[1] / "fixtures" / "usage_real"


def _records(kind: str) -> list[dict]:
    return json.loads((FOLDER / f"{kind}_gamma.json").read_text(encoding="utf-8"))["data"]


@pytest.fixture(scope="module")
def events():
    return cf.usage_events(outcomes_frame(_records("outcomes")), calls_frame(_records("calls")),
                           meetings_frame(_records("meetings")))


def _points(line) -> dict:
    """``{day: y}`` of a drawn line (its x are the periods' first instants)."""
    days = [mdates.num2date(x).date() for x in mdates.date2num(line.get_xdata())]
    return dict(zip(days, line.get_ydata()))


def _per_day(now: pd.Timestamp) -> Counter:
    stamps = [pd.Timestamp(r["date_created"]) for r in _records("calls") + _records("meetings")]
    return Counter(s.date() for s in stamps if s <= now)


def test_the_day_under_way_is_dotted_and_later_days_left_out(events):
    import matplotlib.pyplot as plt

    now = pd.Timestamp("2025-11-06T13:00:00Z")
    ax = plot_usage_over_time(events, freq="D", n=10, now=now, ax=plt.figure().subplots())
    expected = _per_day(now)
    today = now.date()
    solid = [line for line in ax.get_lines() if line.get_linestyle() != ":"]
    dotted = [line for line in ax.get_lines() if line.get_linestyle() == ":"]
    assert solid and dotted and all(line.get_marker() == "o" for line in dotted)
    whole = Counter()
    for line in solid:
        whole.update(_points(line))
    assert dict(whole) == {day: n for day, n in expected.items() if day != today}  # Nov 3-5, whole days only
    assert sum(_points(line)[today] for line in dotted) == expected[today]  # the 12:00 call; not the 15:00 meeting
    assert max(day for line in ax.get_lines() for day in _points(line)) == today  # nothing after now (2099 too)
    assert "dotted: day in progress" in ax.get_title()


def test_no_partial_mark_when_the_current_period_has_no_activity(events):
    import matplotlib.pyplot as plt

    now = pd.Timestamp("2025-11-20T00:00:00Z")  # a week after the last past activity
    ax = plot_usage_over_time(events, freq="W", now=now, ax=plt.figure().subplots())
    assert not [line for line in ax.get_lines() if line.get_linestyle() == ":"]
    assert "dotted" not in ax.get_title()
    totals = Counter()
    for line in ax.get_lines():
        totals.update(_points(line))
    past = _per_day(now)
    assert sum(totals.values()) == sum(past.values())  # the 2099 meeting is left out
    with pytest.raises(cf.ConfigurationError, match="now='soon' is not a date"):
        plot_usage_over_time(events, now="soon")
