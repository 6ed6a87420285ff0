"""Bad input → a clear error before any request, naming the bad value and listing the valid ones."""

from __future__ import annotations

import pytest

import closeframe as cf
from closeframe import plots
from closeframe.cli import main
from closeframe.shape.frames import CALL_COLUMNS, MEETING_COLUMNS, OUTCOME_COLUMNS

UNREACHABLE = "http://127.0.0.1:9/api/v1/"  # nothing listens: a request would fail differently
LOADERS = {"outcomes": (cf.load_outcomes, OUTCOME_COLUMNS), "calls": (cf.load_calls, CALL_COLUMNS),
           "meetings": (cf.load_meetings, MEETING_COLUMNS)}


@pytest.mark.parametrize("loader", LOADERS)
def test_unknown_field_is_named_with_the_known_ones(loader):
    load, known = LOADERS[loader]
    with pytest.raises(cf.ConfigurationError) as info:
        load("api_unused_key_000000000", base_url=UNREACHABLE, fields=["id", "outcome_idd"], progress=False)
    message = str(info.value)
    assert "'outcome_idd'" in message and all(name in message for name in known) and "fields=None" in message


def test_known_fields_still_load(sandbox):
    key = next(iter(sandbox.api_keys.values()))
    calls = cf.load_calls(key, base_url=sandbox.base_url, fields=["outcome_id", "duration"], progress=False,
                          since="2026-01-01")
    assert len(calls) > 0 and calls["duration"].notna().any()


@pytest.mark.parametrize("loader", LOADERS)
@pytest.mark.parametrize("kwargs, named, listed", [
    ({"base_url": "ftp://api.close.com/"}, "ftp://api.close.com/", "https://"),
    ({"base_url": "http://api.close.com/api/v1/"}, "api.close.com", "https://"),
    ({"base_url": "api.close.com/api/v1"}, "api.close.com/api/v1", "https://"),
    ({"on_error": "ignore"}, "'ignore'", "'raise', 'warn'"),
    ({"fields": ["bad name"]}, "'bad name'", "'id'"),
])
def test_bad_common_arguments(loader, kwargs, named, listed):
    load = LOADERS[loader][0]
    kwargs = {"base_url": UNREACHABLE, **kwargs}
    with pytest.raises(cf.ConfigurationError) as info:
        load("api_unused_key_000000000", progress=False, **kwargs)
    assert named in str(info.value) and listed in str(info.value)


def test_unknown_applies_to_mode_lists_the_modes():
    with pytest.raises(cf.ConfigurationError, match="'wide'.*'columns', 'long'"):
        cf.load_outcomes("api_unused_key_000000000", base_url=UNREACHABLE, applies_to="wide", progress=False)


@pytest.mark.parametrize("loader", ["calls", "meetings"])
@pytest.mark.parametrize("since, until, named", [
    ("2025-06-01", "2025-01-01", "since='2025-06-01' is not before until='2025-01-01'"),
    ("2025-01-01", "2025-01-01", "is not before"),
    ("yesterday-ish", None, "since='yesterday-ish' is not a date"),
    (None, 20250101, "until=20250101 is not a date"),
])
def test_bad_date_bounds(loader, since, until, named):
    with pytest.raises(cf.ConfigurationError, match=named):
        LOADERS[loader][0]("api_unused_key_000000000", base_url=UNREACHABLE, since=since, until=until,
                           progress=False)


@pytest.mark.parametrize("argv, named, listed", [
    (["export", "leads", "--out", "x.csv"], "'leads'", "outcomes"),
    (["export", "--out", "x.csv", "--format", "xml"], "'xml'", "csv"),
    (["export", "--out", "x.csv", "--applies-to", "wide"], "'wide'", "columns"),
    (["frobnicate"], "'frobnicate'", "export"),
    (["export"], "--out", "--out"),
])
def test_bad_cli_arguments_exit_2_naming_value_and_choices(argv, named, listed, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    err = capsys.readouterr().err
    assert info.value.code == 2 and named in err and listed in err


@pytest.mark.parametrize("argv, named, listed, status", [
    (["export", "--out", "x.csv", "--base-url", "ftp://nowhere/"], "ftp://nowhere/", "https://", 1),
    (["export", "--out", "x.csv", "--fields", "id,outcome_idd"], "'outcome_idd'", "description", 1),
    (["export", "--out", "x.txt"], "x.txt", ".parquet", 2),  # an argument checked before loading
])
def test_bad_cli_values_exit_with_one_line(argv, named, listed, status, capsys, monkeypatch, sandbox):
    monkeypatch.setenv("CLOSE_API_KEY", next(iter(sandbox.api_keys.values())))
    monkeypatch.setenv("CLOSE_BASE_URL", sandbox.base_url)
    assert main(argv) == status
    err = capsys.readouterr().err
    assert err.startswith("closeframe: error:") and named in err and listed in err and "Traceback" not in err


@pytest.mark.parametrize("name", [name for name in plots.__all__ if name.startswith("plot_")])
def test_every_plot_refuses_a_non_frame_and_says_what_it_takes(name):
    with pytest.raises(cf.ConfigurationError, match=r"Expected an? \w+ frame from cf\.[\w.]+\(\).*got a list"):
        getattr(plots, name)([{"id": "outcome_1"}])
