"""Outcome history: changes and the catalogue from snapshots and events (recorded JSON), over the sandbox, in usage,
the plot and the report."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import requests

import closeframe as cf
from closeframe import plots
from closeframe.load.history import CHANGE_COLUMNS, catalogue_from_history, changes_from_history
from closeframe.store.database import connect
from closeframe.usage.tables import DELETED_OUTCOME_LABEL
from closeframe.views.report import render_report

HISTORY = json.loads((Path(__file__).parents[1] / "fixtures" / "outcome_history.json").read_text(encoding="utf-8"))
T = pd.Timestamp


def test_changes_from_recorded_snapshots_and_events():
    changes = changes_from_history(HISTORY, organization_names={"orga_A": "Acme"})
    assert tuple(changes.columns) == CHANGE_COLUMNS
    rows = [tuple(None if pd.isna(v) else v for v in (r.outcome_id, r.date, r.change, r.user_id, r.name, r.source,
                                                      r.exact)) for r in changes.itertuples()]
    assert rows == [
        ("outcome_keep", T("2026-01-05T10:00Z"), "created", "user_1", "Interested", "snapshot", True),
        ("outcome_old_gone", T("2026-02-01T09:00Z"), "created", "user_2", "Wrong number", "snapshot", True),
        ("outcome_renamed_quietly", T("2026-03-01T09:00Z"), "created", "user_1", "VM", "snapshot", True),
        ("outcome_renamed_quietly", T("2026-08-20T12:00Z"), "renamed, type changed, applies_to changed", "user_2",
         "Voicemail", "snapshot", True),
        ("outcome_old_gone", T("2026-10-01T00:00Z"), "deleted", None, "Wrong number", "snapshot", False),
        ("outcome_new", T("2026-10-10T08:00Z"), "created", "user_1", "Demo booked", "event", True),
        ("outcome_new", T("2026-10-11T08:00:30Z"), "renamed", "user_2", "Demo scheduled", "event", True),
        ("outcome_keep", T("2026-10-12T08:00Z"), "type changed", "user_2", None, "event", True),
        ("outcome_logged_gone", T("2026-10-15T16:30Z"), "deleted", "user_1", "Bad timing", "event", True),
    ]
    renamed = changes[changes["change"] == "renamed"].iloc[0]
    assert renamed["previous_name"] == "Demo booked" and renamed["user_name"] == "Mo Member"
    quiet = changes.iloc[3]
    assert (quiet["previous_type"], quiet["type"]) == ("custom", "vm-dropped")
    assert (quiet["previous_applies_to"], quiet["applies_to"]) == ("calls, meetings", "calls")
    assert set(changes["organization_name"]) == {"Acme"}
    assert str(changes["date"].dtype) .startswith("datetime64") and changes["date"].dt.tz is not None


def test_catalogue_keeps_the_last_state_of_deleted_outcomes():
    live = [s for s in HISTORY["orga_A"]["snapshots"][-1]["outcomes"]] + [
        {"id": "outcome_new", "name": "Demo scheduled", "type": "custom", "applies_to": ["calls", "meetings"],
         "organization_id": "orga_A"}]
    records = {r["id"]: r for r in catalogue_from_history(live, HISTORY)}
    assert records["outcome_new"]["deleted_at"] is None
    gone = records["outcome_old_gone"]
    assert (gone["name"], gone["applies_to"], gone["deleted_by"]) == ("Wrong number", ["calls"], None)
    assert T(gone["deleted_at"]) == T("2026-10-01T00:00Z")
    logged = records["outcome_logged_gone"]
    assert (logged["name"], logged["type"], logged["deleted_by"]) == ("Bad timing", "custom", "user_1")
    assert T(logged["deleted_at"]) == T("2026-10-15T16:30Z")


def test_no_history_gives_an_empty_typed_frame():
    changes = changes_from_history({})
    assert len(changes) == 0 and tuple(changes.columns) == tuple(c for c in CHANGE_COLUMNS
                                                                 if c != "organization_name")


def test_outcome_changes_over_the_sandbox(fresh_sandbox, tmp_path):
    sb = fresh_sandbox(seed=12, organizations=2, calls=200, meetings=20)
    sb.store.events.outcome_events = True  # not Close's default (none is known): the history prefers them
    name, key = next(iter(sb.api_keys.items()))
    kwargs = dict(base_url=sb.base_url, progress=False, cache=tmp_path)
    cf.outcome_changes(sb.api_keys, **kwargs)
    renamed, quietly_deleted, deleted = sb.store.outcomes(name)[1:4]
    auth = (key, "")
    requests.put(f"{sb.base_url}outcome/{renamed['id']}/", json={"name": "Renamed here"}, auth=auth, timeout=10)
    requests.delete(f"{sb.base_url}outcome/{deleted['id']}/", auth=auth, timeout=10)
    sb.store.events.outcome_events = False  # a change the log does not hold: only the snapshots show it
    sb.store.delete_outcome(name, quietly_deleted["id"])
    changes = cf.outcome_changes(sb.api_keys, **kwargs)
    mine = changes[changes["organization_id"] == sb.store.org_id(name)].set_index(["outcome_id", "change"])
    admin = sb.store.users(name)[0]
    row = mine.loc[(renamed["id"], "renamed")]
    assert (row["previous_name"], row["name"], row["user_id"]) == (renamed["name"], "Renamed here", admin["id"])
    assert row["user_name"] == f"{admin['first_name']} {admin['last_name']}" and row["source"] == "event"
    assert mine.loc[(deleted["id"], "deleted"), "exact"]
    assert not mine.loc[(quietly_deleted["id"], "deleted"), "exact"]
    # Every live outcome has its creation, from the log or from the first snapshot.
    for org in sb.api_keys:
        ids = set(changes.loc[(changes["organization_id"] == sb.store.org_id(org))
                              & (changes["change"] == "created"), "outcome_id"])
        assert {o["id"] for o in sb.store.outcomes(org)} <= ids
    with connect(tmp_path) as connection:
        snapshots = connection.execute("SELECT organization_id, count(*) FROM outcome_snapshots GROUP BY ALL").fetchall()
    # One each, and a new one where the catalogue changed.
    assert dict(snapshots) == {sb.store.org_id(n): 2 if n == name else 1 for n in sb.api_keys}


@pytest.mark.parametrize("deleted_state", ["previous_data", "data"])
def test_deleted_outcomes_keep_their_names_in_outcome_usage(fresh_sandbox, tmp_path, deleted_state):
    sb = fresh_sandbox(seed=13, organizations=1, calls=1500, meetings=100)
    sb.store.events.outcome_events = True
    sb.store.events.deleted_state = deleted_state
    name, key = next(iter(sb.api_keys.items()))
    kwargs = dict(base_url=sb.base_url, progress=False)
    target = sb.store.outcomes(name)[0]
    requests.delete(f"{sb.base_url}outcome/{target['id']}/", auth=(key, ""), timeout=10)
    catalogue = cf.outcome_catalogue(key, cache=tmp_path, **kwargs)
    calls, meetings = cf.load_calls(key, **kwargs), cf.load_meetings(key, **kwargs)
    usage = cf.outcome_usage(catalogue, calls, meetings).set_index("outcome_id")
    row = usage.loc[target["id"]]
    expected = sum(1 for r in sb.store.calls(name) + sb.store.meetings(name) if r["outcome_id"] == target["id"])
    assert (row["outcome_name"], row["outcome_type"], row["total"]) == (target["name"], target["type"], expected)
    logged = sb.store.events.events(sb.store.org_id(name))[0]["date_updated"]
    assert row["deleted"] and row["deleted_at"] == T(logged, tz="UTC")  # the log's dates are UTC without an offset
    # The seeded outcome deleted before the log's retention: the log cannot tell its name.
    unnamed = [i for i in sb.store.deleted_outcome_ids(name) if usage.loc[i, "deleted"] and
               usage.loc[i, "outcome_name"] == DELETED_OUTCOME_LABEL] if set(sb.store.deleted_outcome_ids(name)) <= set(usage.index) \
        else []
    assert len(unnamed) == 1
    plain = cf.outcome_usage(cf.load_outcomes(key, **kwargs), calls, meetings)
    assert "deleted_at" not in plain.columns and plain.set_index("outcome_id").loc[target["id"], "deleted"]


def test_history_without_access_to_the_log_warns_and_uses_snapshots(fresh_sandbox, tmp_path):
    sb = fresh_sandbox(seed=14, organizations=1, calls=10, meetings=2)
    sb.store.events.access = "none"
    key = next(iter(sb.api_keys.values()))
    with pytest.warns(cf.OutcomeHistoryWarning, match="snapshots alone"):
        changes = cf.outcome_changes(key, base_url=sb.base_url, progress=False, cache=tmp_path)
    assert set(changes["source"]) == {"snapshot"} and set(changes["change"]) == {"created"}


def test_plot_outcome_changes_stacks_kinds_and_hatches_undated_deletions():
    changes = changes_from_history(HISTORY)
    ax = plots.plot_outcome_changes(changes, freq="M")
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["created", "renamed", "type changed", "applies_to changed", "deleted",
                      "deleted (noticed; date unknown)"]
    heights = {}
    for container, label in zip(ax.containers, labels):
        heights[label] = sum(bar.get_height() for bar in container)
    assert heights == {"created": 4, "renamed": 2, "type changed": 2, "applies_to changed": 1, "deleted": 1,
                       "deleted (noticed; date unknown)": 1}
    assert len(ax.containers[0]) == 10  # every month from January to October
    with pytest.raises(cf.ConfigurationError, match="freq='Y'"):
        plots.plot_outcome_changes(changes, freq="Y")
    with pytest.raises(cf.ConfigurationError, match="changes frame"):
        plots.plot_outcome_changes([1, 2])


def test_report_section_lists_changes_offline():
    changes = changes_from_history(HISTORY, organization_names={"orga_A": "Acme"})
    outcomes = cf.outcomes_frame([{"id": "outcome_keep", "name": "Interested", "organization_id": "orga_A"}])
    page = render_report(outcomes, source="a test", changes=changes)
    assert "<h2>Catalogue changes</h2>" in page and "“Demo booked” → “Demo scheduled”" in page
    assert "Mo Member" in page and re.search("≈\\s2026\u201110\u201101", page)
    assert "http://" not in page and "https://" not in page


def test_history_arguments_and_no_cache(fresh_sandbox, tmp_path):
    sb = fresh_sandbox(seed=17, organizations=1, calls=10, meetings=2)
    key = next(iter(sb.api_keys.values()))
    with pytest.raises(cf.ConfigurationError, match="on_error='loud'"):
        cf.outcome_changes(key, base_url=sb.base_url, on_error="loud")
    with pytest.raises(cf.ConfigurationError, match="cache=42"):
        cf.outcome_catalogue(key, base_url=sb.base_url, cache=42)
    changes = cf.outcome_changes(key, base_url=sb.base_url, progress=False, cache=None)
    assert set(changes["outcome_id"]) >= {o["id"] for o in sb.store.outcomes(next(iter(sb.api_keys)))}
    (tmp_path / "x").mkdir()
    damaged = tmp_path / "x"
    cf.outcome_changes(key, base_url=sb.base_url, progress=False, cache=damaged)
    for path in damaged.rglob("*.json"):
        path.write_text("{broken", encoding="utf-8")  # a damaged cache costs the history, never the call
    again = cf.outcome_changes(key, base_url=sb.base_url, progress=False, cache=damaged)
    assert len(again) and not again["outcome_id"].isna().any()


def test_history_from_snapshots_until_outcome_events_appear(fresh_sandbox, tmp_path):
    # Close's default as far as anyone knows: no outcome events. The snapshots carry the history and say so.
    sb = fresh_sandbox(seed=17, organizations=1, calls=10, meetings=2)
    name, key = next(iter(sb.api_keys.items()))
    org = sb.store.org_id(name)
    kwargs = dict(base_url=sb.base_url, progress=False, cache=tmp_path)
    first = cf.outcome_changes(key, **kwargs)
    assert first.attrs["history_source"] == {org: "snapshots"} and set(first["source"]) == {"snapshot"}
    quiet, logged = sb.store.outcomes(name)[:2]
    requests.delete(f"{sb.base_url}outcome/{quiet['id']}/", auth=(key, ""), timeout=10)
    second = cf.outcome_changes(key, **kwargs).set_index(["outcome_id", "change"])
    row = second.loc[(quiet["id"], "deleted")]
    assert (row["source"], row["exact"], row["name"]) == ("snapshot", False, quiet["name"])
    sb.store.events.outcome_events = True  # events appear: they are used from then on
    requests.delete(f"{sb.base_url}outcome/{logged['id']}/", auth=(key, ""), timeout=10)
    third = cf.outcome_changes(key, **kwargs)
    assert third.attrs["history_source"] == {org: "events"}
    row = third.set_index(["outcome_id", "change"]).loc[(logged["id"], "deleted")]
    assert (row["source"], row["exact"], row["user_id"]) == ("event", True, sb.store.users(name)[0]["id"])
    assert len(third) == len(second) + 1
