"""Every loader, the usage tables, the plots and the report on real recorded Close answers, replayed over HTTP.

The recordings (tests/fixtures/real, origins in SOURCES.md) are real: calls that predate outcomes (no
``outcome_id`` at all), an inbound voicemail with no user, a null disposition, ``cost`` as a string, a manual
meeting with ``status`` null whose ``date_updated`` precedes its ``date_created``. The page in ``real/built`` is
built from Close's documented schemas (the outcome fields on meetings, an external call): replayed together with
the recordings, it puts outcomes in use. Expectations are computed from the files themselves.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import matplotlib
import pandas as pd
import pytest
import requests

import closeframe as cf
from closeframe.plots import plot_applies_to_coverage, plot_catalogue_over_time, plot_outcomes_per_organization
from closeframe.views.report import render_report
from closeframe.sandbox.replay import load_recordings, serve_recordings
from closeframe.views.usage_plots import plot_outcome_mix, plot_top_outcomes, plot_usage_over_time

matplotlib.use("Agg")

REAL = Path(__file__).parents[1] / "fixtures" / "real"
BUILT = REAL / "built"


def _raw(*folders: Path) -> dict:
    """Records by ``_type`` (Call, Meeting, outcome) straight from the files, without the replay's reader."""
    found: dict = {"Call": [], "Meeting": [], "outcome": []}
    for folder in folders:
        for path in folder.iterdir():
            if path.suffix == ".jsonl":
                records = [json.loads(line)["data"] for line in path.read_text(encoding="utf-8").splitlines()
                           if line.strip() and json.loads(line)["stream"] in ("call_activities", "meeting_activities")]
            elif path.suffix == ".json":
                records = json.loads(path.read_text(encoding="utf-8")).get("data", [])
            else:
                continue
            for record in records:
                found["outcome" if record["id"].startswith("outcome_") else record["_type"]].append(record)
    return found


def _load_all(recordings) -> tuple:
    with serve_recordings(recordings) as replay:
        source = dict(api_key=replay.api_key, base_url=replay.base_url, progress=False)
        frames = cf.load_outcomes(**source), cf.load_calls(**source), cf.load_meetings(**source)
        assert replay.requests.get(400, 0) == 0 and replay.requests.get(404, 0) == 0
    return frames


@pytest.fixture(scope="module")
def recordings():
    return load_recordings(REAL)


@pytest.fixture(scope="module")
def loaded(recordings):
    return _load_all(recordings)


@pytest.fixture(scope="module")
def with_built():
    """The recordings and the page built from Close's documented schemas, replayed together."""
    return load_recordings(REAL, BUILT)


@pytest.fixture(scope="module")
def loaded_with_built(with_built):
    return _load_all(with_built)


def test_sources_name_every_recording():
    sources = (REAL / "SOURCES.md").read_text(encoding="utf-8")
    for path in REAL.rglob("*"):
        if path.suffix in (".json", ".jsonl"):
            assert f"`{path.relative_to(REAL).as_posix()}`" in sources, path.name


def test_recordings_hold_what_they_should(recordings, with_built):
    raw = _raw(REAL)
    assert (len(recordings.calls), len(recordings.meetings), len(recordings.outcomes)) == (
        len(raw["Call"]), len(raw["Meeting"]), len(raw["outcome"]))
    assert not any("outcome_id" in call for call in recordings.calls)  # recorded before outcomes existed
    built = _raw(BUILT)
    assert [r["id"] for r in with_built.calls] == [r["id"] for r in recordings.calls + built["Call"]]
    assert [r["id"] for r in with_built.meetings] == [r["id"] for r in recordings.meetings + built["Meeting"]]


@pytest.mark.parametrize("which", ["recorded", "with-built"])
def test_every_record_loaded_once_with_every_field(request, which):
    records = request.getfixturevalue("recordings" if which == "recorded" else "with_built")
    _every_record_loaded_once(records, request.getfixturevalue("loaded" if which == "recorded" else "loaded_with_built"))


def _every_record_loaded_once(recordings, loaded):
    outcomes, calls, meetings = loaded
    for frame, records in ((calls, recordings.calls), (meetings, recordings.meetings)):
        assert sorted(frame["id"]) == sorted(r["id"] for r in records)
        by_id = frame.set_index("id")
        for record in records:
            row = by_id.loc[record["id"]]
            for name, value in record.items():
                if name == "id":
                    continue
                assert name in by_id.columns, name
                got = row[name]
                if value is None:
                    assert got is None or pd.isna(got), (name, got)
                elif name in ("date_created", "date_updated", "activity_at", "date_answered", "starts_at", "ends_at"):
                    assert got == pd.Timestamp(value), name
                elif name == "cost":
                    assert got == float(value)
                elif isinstance(value, (list, dict)):
                    assert got == value, name
                else:
                    assert got == value, (name, got, value)
    assert sorted(outcomes["id"]) == sorted(r["id"] for r in recordings.outcomes)


def test_real_calls_keep_their_nulls(loaded):
    _, calls, meetings = loaded
    assert calls["outcome_id"].isna().all()  # the field is absent, the column is there
    voicemail = calls.loc[(calls["disposition"] == "vm-left") & (calls["direction"] == "inbound")].iloc[0]
    assert pd.isna(voicemail["user_id"]) and pd.isna(voicemail["user_name"]) and voicemail["voicemail_duration"] == 28
    assert calls["disposition"].isna().sum() == 1
    assert str(calls["date_answered"].dtype) == "datetime64[us, UTC]" and calls["cost"].dtype == "float64"
    assert calls["date_created"].is_monotonic_decreasing
    manual = meetings.loc[meetings["source"] == "manual"].iloc[0]
    assert pd.isna(manual["status"]) and manual["date_updated"] < manual["date_created"]


def test_usage_tables_on_real_records(loaded):
    outcomes, calls, meetings = loaded
    usage = cf.outcome_usage(outcomes, calls, meetings)
    # Nothing uses an outcome: every activity is in the "no outcome" rows, one per organization with activities.
    unused = usage[usage["outcome_id"].notna()]
    assert (unused["total"] == 0).all() and len(unused) == len(outcomes)
    no_outcome = usage[usage["outcome_id"].isna()]
    assert no_outcome["total"].sum() == len(calls) + len(meetings)
    by_user = cf.usage_by_user(outcomes, calls, meetings)
    assert by_user["total"].sum() == len(calls) + len(meetings)
    assert by_user["user_id"].isna().any()  # the inbound voicemail nobody took
    by_week = cf.usage_by_week(outcomes, calls, meetings)
    assert by_week["total"].sum() == len(calls) + len(meetings)
    events = cf.usage_events(outcomes, calls, meetings)
    assert len(events) == len(calls) + len(meetings)


def test_usage_tables_with_outcomes_in_use(loaded_with_built):
    """With the built page: each outcome's calls and meetings, counted from the files, in every usage table."""
    raw = _raw(REAL, BUILT)
    expected = {(o["organization_id"], o["id"]): [0, 0] for o in raw["outcome"]}
    none = 0
    for position, kind in enumerate(("Call", "Meeting")):
        for record in raw[kind]:
            if record.get("outcome_id"):
                expected[(record["organization_id"], record["outcome_id"])][position] += 1
            else:
                none += 1
    assert sum(sum(v) for v in expected.values()) > 0
    usage = cf.outcome_usage(*loaded_with_built)
    used = usage[usage["outcome_id"].notna()]
    got = {(str(r.organization_id), r.outcome_id): [r.calls, r.meetings] for r in used.itertuples()}
    assert got == expected
    assert usage.loc[usage["outcome_id"].isna(), "total"].sum() == none
    total = sum(len(raw[k]) for k in ("Call", "Meeting"))
    for table in (cf.usage_by_user(*loaded_with_built), cf.usage_by_week(*loaded_with_built)):
        assert table["total"].sum() == total
    events = cf.usage_events(*loaded_with_built)
    assert events["outcome_id"].notna().sum() == total - none
    external = [r["id"] for r in raw["Call"] if r.get("call_method") == "external"]
    calls = loaded_with_built[1].set_index("id")
    assert external and (calls.loc[external, "source"] == "External").all()


def test_plots_and_report_on_real_records(loaded, tmp_path):
    outcomes, calls, meetings = loaded
    usage = cf.outcome_usage(outcomes, calls, meetings)
    events = cf.usage_events(outcomes, calls, meetings)
    for draw, data in ((plot_top_outcomes, usage), (plot_outcome_mix, usage), (plot_usage_over_time, events),
                       (plot_outcomes_per_organization, outcomes), (plot_applies_to_coverage, outcomes),
                       (plot_catalogue_over_time, outcomes)):
        ax = draw(data)
        ax.figure.savefig(tmp_path / f"{draw.__name__}.png")
        assert (tmp_path / f"{draw.__name__}.png").stat().st_size > 1000
    html = render_report(outcomes, calls, meetings, source="recorded Close answers (tests/fixtures/real)")
    # The report leads with usage (calls that predate outcomes draw no outcome line, so no chart is required).
    assert "Demo Booked" in html and html.index('<section id="summary">') < html.index('<section id="catalogue">')


def test_recorded_pages_shape_without_the_network():
    """The recorded pages as they are, straight into the frames (the pure layer)."""
    page = json.loads((REAL / "amp_labs_closecrm_activities.json").read_text(encoding="utf-8"))
    frame = cf.shape.frames.meetings_frame(page["data"])
    assert set(page["data"][0]) <= set(frame.columns)
    assert frame["users"].iloc[0] == page["data"][0]["users"]


def test_cache_and_fields_on_real_records(recordings, loaded, tmp_path):
    without_log = dataclasses.replace(recordings, events=[])
    _, calls, meetings = loaded
    with serve_recordings(without_log) as replay:
        source = dict(api_key=replay.api_key, base_url=replay.base_url, progress=False)
        first = cf.load_meetings(**source, cache=tmp_path)
        # No event log in the replay (404): the cached re-run falls back to the lookback and says so.
        with pytest.warns(cf.EventRefreshWarning, match="could not be read"):
            again = cf.load_meetings(**source, cache=tmp_path)
        picked = cf.load_calls(**source, fields=["disposition", "cost", "date_answered", "recording_url"])
    pd.testing.assert_frame_equal(first, again)
    assert sorted(first["id"]) == sorted(meetings["id"])
    costs = picked.set_index("id")["cost"].sort_index()
    pd.testing.assert_series_equal(costs, calls.set_index("id")["cost"].sort_index())
    assert "recording_url" in picked and picked["user_name"].isna().all()  # not asked for: empty, still there


# ----------------------------------------------------------------------------------------------------------------
# The event log: Close's documented webhook example (one event-log entry), replayed by GET /event/
# ----------------------------------------------------------------------------------------------------------------

def _events(replay, **params) -> dict:
    answer = requests.get(replay.base_url + "event/", params=params, auth=(replay.api_key, ""), timeout=10)
    answer.raise_for_status()
    return answer.json()


def test_event_log_replays_the_documented_entry_verbatim(recordings):
    documented = json.loads((REAL / "close_docs_webhook_event.json").read_text(encoding="utf-8"))["event"]
    assert recordings.events == [documented]
    with serve_recordings(recordings) as replay:
        assert _events(replay)["data"] == [documented]  # naive event dates, partial previous_data, as recorded
        kind, action, updated = documented["object_type"], documented["action"], documented["date_updated"]
        assert _events(replay, object_type=kind, action=action)["data"] == [documented]
        assert _events(replay, object_type="activity.call", action=action)["data"] == []
        assert _events(replay, date_updated__gte=updated)["data"] == [documented]  # a naive date is UTC
        assert _events(replay, date_updated__gt=updated)["data"] == []
        assert _events(replay, _limit=1)["cursor_next"] is None
        assert requests.get(replay.base_url + "event/", params={"_limit": 51}, auth=(replay.api_key, ""),
                            timeout=10).status_code == 400


def test_cached_rerun_reads_the_replayed_event_log(recordings, loaded, tmp_path):
    """With a log to read (no call or meeting event in it), the cached re-run refreshes from it: no warning."""
    _, _, meetings = loaded
    with serve_recordings(recordings) as replay:
        source = dict(api_key=replay.api_key, base_url=replay.base_url, progress=False)
        first = cf.load_meetings(**source, cache=tmp_path)
        again = cf.load_meetings(**source, cache=tmp_path)  # warnings are errors: none is raised
        assert replay.paths["event"] >= 2 and replay.requests.get(404, 0) == 0
    pd.testing.assert_frame_equal(first, again)
    assert sorted(again["id"]) == sorted(meetings["id"])
