"""Explorer filters on their own, and the widgets driven from Python by setting .value."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path

import ipywidgets
import pandas as pd
import pytest

import closeframe as cf
from closeframe.views import catalogue_explorer as W
from closeframe.errors import ConfigurationError
from closeframe.views.style import natural_key

FIXTURES = Path(__file__).parents[1] / "fixtures"


@pytest.fixture(scope="module")
def page40() -> dict:
    return json.loads((FIXTURES / "outcome_list_40_orgs.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def names(page40) -> dict:
    return {org["id"]: org["name"] for org in page40["organizations"]}


@pytest.fixture(scope="module")
def frame40(page40, names):
    return cf.outcomes_frame(page40["data"], organization_names=names)


def _ids(records) -> set:
    return {r["id"] for r in records}


def _utc_day(text: str) -> dt.date:
    return pd.Timestamp(text).tz_convert("UTC").date()


def test_filter_organizations(page40, names, frame40):
    chosen = [page40["organizations"][0]["name"], page40["organizations"][11]["name"]]
    kept = W.filter_organizations(frame40, chosen)
    assert set(kept["id"]) == _ids(r for r in page40["data"] if names[r["organization_id"]] in chosen)
    assert len(W.filter_organizations(frame40, ())) == len(frame40)


def test_filter_organizations_falls_back_to_ids(documented_page):
    frame = cf.outcomes_frame(documented_page["data"], organization_names={})
    org_id = documented_page["data"][0]["organization_id"]
    kept = W.filter_organizations(frame, [org_id])
    assert set(kept["id"]) == _ids(r for r in documented_page["data"] if r["organization_id"] == org_id)


def test_filter_types(page40, frame40):
    kept = W.filter_types(frame40, ["vm-dropped"])
    assert set(kept["id"]) == _ids(r for r in page40["data"] if r["type"] == "vm-dropped")


@pytest.mark.parametrize("values", [["meetings"], ["calls", "meetings"]])
def test_filter_applies_to_wide_and_long(page40, frame40, values):
    expected = _ids(r for r in page40["data"] if set(r.get("applies_to") or []) & set(values))
    assert set(W.filter_applies_to(frame40, values)["id"]) == expected
    long = cf.outcomes_frame(page40["data"], "long")
    assert set(W.filter_applies_to(long, values)["id"]) == expected


def test_filter_dates_inclusive_utc_days(page40, frame40):
    days = sorted(_utc_day(r["date_created"]) for r in page40["data"])
    start, end = days[len(days) // 4], days[len(days) // 2]
    kept = W.filter_dates(frame40, start, end)
    assert set(kept["id"]) == _ids(r for r in page40["data"] if start <= _utc_day(r["date_created"]) <= end)
    updated = W.filter_dates(frame40, start, None, column="date_updated")
    assert set(updated["id"]) == _ids(r for r in page40["data"] if _utc_day(r["date_updated"]) >= start)


def test_apply_selection_combines_every_filter(page40, names, frame40):
    org = page40["organizations"][5]["name"]
    selection = W.CatalogueSelection(organizations=(org,), types=("custom",), applies_to=("calls",))
    expected = _ids(r for r in page40["data"] if names[r["organization_id"]] == org and r["type"] == "custom"
                    and "calls" in (r.get("applies_to") or []))
    assert set(W.apply_selection(frame40, selection)["id"]) == expected


def test_bad_filter_values_are_named(frame40):
    with pytest.raises(ConfigurationError, match="'sms'.*'calls', 'meetings'"):
        W.filter_applies_to(frame40, ["sms"])
    with pytest.raises(ConfigurationError, match="'date_deleted'"):
        W.filter_dates(frame40, dt.date(2025, 1, 1), column="date_deleted")
    with pytest.raises(ConfigurationError, match="after it ends"):
        W.filter_dates(frame40, dt.date(2026, 1, 2), dt.date(2026, 1, 1))
    with pytest.raises(ConfigurationError, match="'type'"):
        cf.explore(frame40.drop(columns="type"))


def test_summary_table_counts(page40, names, frame40):
    table = W.summary_table(frame40)
    per_org = Counter(names[r["organization_id"]] for r in page40["data"])
    assert table["outcomes"].drop("total").to_dict() == dict(per_org)
    assert table.loc["total", "outcomes"] == len(page40["data"])
    calls = Counter(names[r["organization_id"]] for r in page40["data"] if "calls" in (r.get("applies_to") or []))
    assert table["applies to calls"].drop("total").to_dict() == {k: calls.get(k, 0) for k in per_org}
    vm = sum(r["type"] == "vm-dropped" for r in page40["data"])
    assert table.loc["total", "type: vm-dropped"] == vm


def test_explore_returns_one_container_with_pickers(page40, names, frame40):
    explorer = cf.explore(frame40)
    assert isinstance(explorer, ipywidgets.Box)
    assert list(explorer.organizations.options) == sorted(names.values(), key=natural_key)
    assert explorer.organizations.options.index("Sandbox Org 7") < explorer.organizations.options.index(
        "Sandbox Org 10")
    assert set(explorer.types.options) == {r["type"] for r in page40["data"]}
    assert list(explorer.applies_to.options) == ["calls", "meetings"]
    assert len(explorer.filtered) == len(page40["data"])
    assert bytes(explorer.chart.value).startswith(b"\x89PNG")


def test_setting_pickers_updates_filtered_table_and_chart(page40, names, frame40):
    explorer = cf.explore(frame40)
    table_before, chart_before = explorer.table.value, explorer.chart.value
    org = page40["organizations"][11]["name"]  # a long CJK name
    explorer.organizations.value = (org,)
    expected = _ids(r for r in page40["data"] if names[r["organization_id"]] == org)
    assert set(explorer.filtered["id"]) == expected
    assert explorer.table.value != table_before and explorer.chart.value != chart_before
    assert f"{len(expected)} of {len(page40['data'])} rows" in explorer.status.value

    explorer.types.value = ("custom",)
    expected = _ids(r for r in page40["data"] if names[r["organization_id"]] == org and r["type"] == "custom")
    assert set(explorer.filtered["id"]) == expected
    assert list(explorer.filtered.columns) == list(frame40.columns)

    days = sorted(_utc_day(r["date_created"]) for r in page40["data"])
    explorer.organizations.value = ()
    explorer.types.value = ()
    explorer.start.value = days[-1]
    assert set(explorer.filtered["id"]) == _ids(r for r in page40["data"] if _utc_day(r["date_created"]) >= days[-1])


def test_reversed_date_range_selects_nothing_and_says_why(frame40):
    explorer = cf.explore(frame40)
    explorer.end.value = dt.date(2025, 8, 1)
    assert len(explorer.filtered) > 0
    explorer.start.value = dt.date(2026, 1, 1)
    assert len(explorer.filtered) == 0  # never the stale previous result
    assert "after" in explorer.status.value and "nothing is selected" in explorer.status.value


def test_no_match_draws_a_message_not_an_error(frame40):
    explorer = cf.explore(frame40)
    explorer.start.value = dt.date(2099, 1, 1)
    assert len(explorer.filtered) == 0
    assert bytes(explorer.chart.value).startswith(b"\x89PNG")
    assert "0 of" in explorer.status.value


def test_add_view_is_redrawn_with_the_selection(page40, frame40):
    explorer = cf.explore(frame40)
    seen = []

    def view(filtered, selection):
        seen.append((len(filtered), selection.types))
        return ipywidgets.Label(f"{len(filtered)} outcomes")

    explorer.add_view("usage", view)
    explorer.types.value = ("vm-dropped",)
    vm = sum(r["type"] == "vm-dropped" for r in page40["data"])
    assert seen == [(len(page40["data"]), ()), (vm, ("vm-dropped",))]
