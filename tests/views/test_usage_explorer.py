"""The usage explorer driven from Python: cf.explore(outcomes, calls, meetings), .select, .usage, the views.

Expectations are counted over the recorded JSON records (tests/fixtures/usage), not taken from the code.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections import Counter

import ipywidgets
import pandas as pd
import pytest

import closeframe as cf
from closeframe.errors import ConfigurationError
from closeframe.views.usage_explorer import USAGE_VIEWS, UsageExplorer
from usage_fixtures import ORGANIZATION_NAMES, frames, records

ALPHA, BETA = ORGANIZATION_NAMES


@pytest.fixture(scope="module")
def source():
    return frames()


@pytest.fixture()
def explorer(source):
    return cf.explore(*source, now="2025-10-22")


def activities():
    return [("call", r) for r in records("calls")] + [("meeting", r) for r in records("meetings")]


def test_with_activities_it_opens_on_usage_and_outcomes_alone_on_the_catalogue(source, explorer):
    assert isinstance(explorer, UsageExplorer) and isinstance(explorer, ipywidgets.Box)
    assert explorer.view.value == "Usage"
    assert explorer.usage["total"].sum() == len(activities())
    assert list(explorer.usage.columns)[:13] == list(cf.outcome_usage(*source).columns)[:13]
    assert b"<svg" in bytes(explorer.chart.value)[:400]
    catalogue = cf.explore(source[0])
    assert not isinstance(catalogue, UsageExplorer) and len(catalogue.filtered) == len(records("outcomes"))
    with pytest.raises(ConfigurationError, match="usage explorer"):
        cf.explore(source[0], now="2025-01-01")


def test_select_from_code_sets_the_pickers_and_the_usage(explorer):
    explorer.select(organizations="Alpha GmbH", kinds="calls", since="2025-10-10")
    assert explorer.organizations.value == ("Alpha GmbH",)
    assert explorer.kinds.value == ("calls",)
    assert explorer.start.value == dt.date(2025, 10, 10)
    usage = explorer.usage
    assert (usage["meetings"] == 0).all()
    expected = Counter(r["outcome_id"] for kind, r in activities() if kind == "call" and r["organization_id"] == ALPHA
                       and pd.Timestamp(r["date_created"]) >= pd.Timestamp("2025-10-10", tz="UTC"))
    got = {(None if pd.isna(i) else i): t for i, t in zip(usage["outcome_id"], usage["total"]) if t}
    assert got == dict(expected)
    assert len(explorer.filtered) == sum(expected.values())
    assert f"{sum(expected.values())} of {len(activities())} activities" in explorer.status.value
    explorer.select(organizations=BETA)  # by id; everything else cleared
    assert explorer.organizations.value == ("ベータ株式会社",) and explorer.kinds.value == ()
    assert explorer.usage["total"].sum() == sum(1 for _, r in activities() if r["organization_id"] == BETA)


def test_outcomes_pick_one_name_across_organizations(explorer):
    explorer.select(outcomes="demo booked")
    names = {(o["organization_id"], o["id"]): o["name"] for o in records("outcomes")}
    expected = sum(1 for _, r in activities()
                   if "demo" in names.get((r["organization_id"], r["outcome_id"]), "").lower())
    assert explorer.usage["total"].sum() == expected
    assert set(explorer.usage["organization_id"].astype(str)) == {ALPHA, BETA}


def test_bad_values_name_the_valid_ones(explorer):
    with pytest.raises(ConfigurationError, match="Alpha GmbH"):
        explorer.select(organizations="Nobody Ltd")
    with pytest.raises(ConfigurationError, match="Usage"):
        explorer.select(view="Pie")


def test_an_inverted_date_range_empties_usage_and_says_so(explorer):
    explorer.select(organizations="Alpha GmbH")
    assert explorer.usage["total"].sum() > 0
    explorer.until.value = dt.date(2025, 10, 1)
    explorer.start.value = dt.date(2025, 10, 20)
    assert explorer.usage["total"].sum() == 0 and len(explorer.filtered) == 0
    assert "nothing is selected" in explorer.status.value


def test_every_view_draws_a_table_and_a_chart_for_any_selection(explorer):
    for view in USAGE_VIEWS:
        explorer.select(view=view)
        assert "<table" in explorer.table.value or "No activity" in explorer.table.value
        if view != "Unused & deleted":
            assert b"<svg" in bytes(explorer.chart.value)[:400], view
        explorer.select(view=view, since="2030-01-01")  # nothing selected: a note, never an error
        if view != "Unused & deleted":
            assert b"<svg" in bytes(explorer.chart.value)[:400], view
    explorer.select(view="Users", organizations="Alpha GmbH")
    assert "Anna Smith" in explorer.table.value and "Jürgen Müller" in explorer.table.value


def test_pickers_say_none_means_all_and_all_clear_buttons_work(explorer):
    box = explorer.children[0].children[0]  # the organizations picker
    heading, select, buttons, summary = box.children
    assert "none picked = all" in heading.value and "all 2 (none picked)" in summary.value
    everything, clear = buttons.children
    everything.click()
    assert select.value == ("Alpha GmbH", "ベータ株式会社") and "2 of 2" in summary.value
    clear.click()
    assert select.value == () and explorer.usage["total"].sum() == len(activities())


def test_thirty_organizations_stay_readable(source):
    outcomes, calls, meetings = source
    many = []
    for i in range(34):
        many.append(calls.assign(organization_id=f"orga_{i:02d}", organization_name=f"Org {i}"))
    calls34 = pd.concat(many, ignore_index=True)
    outcomes34 = pd.concat([outcomes.assign(organization_id=f"orga_{i:02d}", organization_name=f"Org {i}")
                            for i in range(34)], ignore_index=True)
    explorer = cf.explore(outcomes34, calls34)
    labels = [label for label, _ in explorer.organizations.options]
    assert labels[:3] == ["Org 0", "Org 1", "Org 2"] and labels.index("Org 7") < labels.index("Org 10")
    explorer.select(organizations=["Org 7", "Org 30"])
    summary = explorer.children[0].children[0].children[-1].value
    assert "2 of 34: Org 7, Org 30" in summary


def test_recorded_style_pages_with_close_real_fields_and_no_calls(source):
    import json
    from pathlib import Path

    from closeframe.shape.frames import calls_frame, meetings_frame, outcomes_frame
    from usage_fixtures import set_by_close

    folder = Path(__file__).parents[1] / "fixtures" / "usage_real"

    def page(kind):
        return json.loads((folder / f"{kind}_gamma.json").read_text(encoding="utf-8"))["data"]

    outcomes, calls, meetings = outcomes_frame(page("outcomes")), calls_frame(page("calls")), meetings_frame(
        page("meetings"))
    explorer = cf.explore(outcomes, calls, meetings, now="2025-12-01")
    explorer.select(users="Lena Wolf", statuses="completed")
    mine = [r for r in page("calls") + page("meetings") if r["user_name"] == "Lena Wolf" and r["status"] == "completed"]
    assert explorer.usage["total"].sum() == len(mine)
    assert explorer.usage["autofilled"].sum() == sum(1 for r in mine if set_by_close(r))
    for view in USAGE_VIEWS:  # a null user (inbound voicemail) and a null status draw in every view
        explorer.select(view=view)
    empty = cf.explore(outcomes, calls.iloc[:0])
    empty.select(kinds="calls")
    assert empty.usage["total"].sum() == 0 and "0 of 0 activities" in empty.status.value


def test_every_view_on_real_close_recordings():
    from pathlib import Path

    from closeframe.sandbox.replay import load_recordings, serve_recordings

    with serve_recordings(load_recordings(Path(__file__).parents[1] / "fixtures" / "real")) as replay:
        source = dict(api_key=replay.api_key, base_url=replay.base_url, progress=False)
        outcomes, calls, meetings = cf.load_outcomes(**source), cf.load_calls(**source), cf.load_meetings(**source)
    explorer = cf.explore(outcomes, calls, meetings)
    assert explorer.usage["total"].sum() == len(calls) + len(meetings)  # real calls: null users, no outcome
    for view in USAGE_VIEWS:
        explorer.select(view=view)
        assert "<table" in explorer.table.value or "No activity" in explorer.table.value
        explorer.select(view=view, kinds="calls")
    assert explorer.usage["meetings"].sum() == 0


def test_status_line_names_outcomes_as_the_catalogue_spells_them(explorer):
    # "Demo booked ✅" (Alpha, most used spelling or not) and "  demo   BOOKED" (Beta) share one normalized name;
    # the status line shows a spelling from the catalogue, never the lower-case key.
    spellings = {" ".join(o["name"].split()) for o in records("outcomes")
                 if cf.normalize_outcome_name(o["name"]) == cf.normalize_outcome_name("demo booked ✅")}
    explorer.select(outcomes="DEMO booked ✅")
    status = explorer.status.value
    assert any(f"outcome: {name}" in html.unescape(status) for name in spellings), status
    assert f"outcome: {cf.normalize_outcome_name('demo booked ✅')}" not in html.unescape(status)
    assert any(name in repr(explorer) for name in spellings)


def test_one_top_outcome_is_singular_in_the_title(explorer):
    name = next(o["name"] for o in records("outcomes") if o["organization_id"] == ALPHA and any(
        r.get("outcome_id") == o["id"] for _, r in activities()))
    explorer.select(organizations=ALPHA, outcomes=name, view="Usage")
    svg = bytes(explorer.chart.value).decode("utf-8")
    assert "Top outcome by use" in svg and "Top 1 outcomes" not in svg
    explorer.select(view="Usage")
    plural = re.search(r"Top (\d+) outcomes by use", bytes(explorer.chart.value).decode("utf-8"))
    assert plural and int(plural.group(1)) > 1


def test_users_are_written_name_then_organization_in_brackets_everywhere(explorer, source):
    from closeframe.usage.selection import by_user_table
    from closeframe.views.usage_plots import plot_outcome_mix, plot_users

    explorer.select(view="Users")
    svg = html.unescape(bytes(explorer.chart.value).decode("utf-8"))
    owners = {(r["user_name"], r["organization_id"]) for _, r in activities() if r.get("user_name")}
    names = dict(zip(source[1]["organization_id"].astype(str), source[1]["organization_name"].astype(str)))
    for user, organization in owners:
        assert f"{user} ({names.get(organization, organization)})" in svg
        assert f"{user} · " not in svg
    ax = plot_users(by_user_table(explorer.data, explorer.selection))
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert any(t.endswith(")") and "(" in t for t in ticks) and not any(" · " in t for t in ticks)
    ax = plot_outcome_mix(cf.usage_by_user(*source), by="user")
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert ticks and not any(" · " in t for t in ticks), ticks


def test_the_narrow_chart_is_the_same_chart_and_png_explorers_have_none(source):
    svg = cf.explore(*source, now="2025-10-22")
    for view in ("Usage", "Trend", "Unused & deleted"):
        svg.select(view=view)
        wide, narrow = bytes(svg.chart.value).decode("utf-8"), bytes(svg.chart_narrow.value).decode("utf-8")
        if view == "Unused & deleted":  # a table only: neither chart is shown
            assert svg.chart_narrow.layout.display == svg.chart.layout.display == "none"
            continue
        assert 'width="360"' in narrow[:200] and 'width="360"' not in wide[:200]
        titles = [" ".join(re.findall(r'font-size="14">([^<]*)</text>', chart)) for chart in (wide, narrow)]
        assert titles[0] and titles[0] == titles[1]  # the same chart, titled alike (wrapped when narrow)
    png = cf.explore(*source, now="2025-10-22", chart_format="png")
    assert bytes(png.chart.value)[:4] == b"\x89PNG"
    assert bytes(png.chart_narrow.value) == b"" and png.chart_narrow.layout.display == "none"
