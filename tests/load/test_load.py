"""load_outcomes against the sandbox over HTTP: one and several organizations, labels, modes, partial failure."""

from __future__ import annotations

import pandas as pd
import pytest

import closeframe as cf


def expected_ids(sb, names=None):
    names = list(sb.api_keys) if names is None else names
    return [r["id"] for name in names for r in sb.store.outcomes(name)]


def test_one_key_loads_every_outcome_typed(sandbox):
    name, key = next(iter(sandbox.api_keys.items()))
    df = cf.load_outcomes(key, base_url=sandbox.base_url, progress=False)
    assert list(df["id"]) == expected_ids(sandbox, [name])
    assert list(df.columns[:6]) == ["id", "name", "description", "type", "organization_id", "organization_name"]
    assert str(df["date_created"].dtype) .endswith("UTC]")
    assert set(df["organization_name"]) == {name}
    assert df["applies_to_calls"].dtype == bool and "account" not in df.columns


def test_key_from_environment(monkeypatch, sandbox):
    name, key = next(iter(sandbox.api_keys.items()))
    monkeypatch.setenv("CLOSE_API_KEY", key)
    monkeypatch.setenv("CLOSE_BASE_URL", sandbox.base_url)
    assert list(cf.load_outcomes(progress=False)["id"]) == expected_ids(sandbox, [name])


def test_mapping_of_keys_loads_all_organizations_with_labels(sandbox):
    labelled = {f"team {i}": key for i, key in enumerate(sandbox.api_keys.values())}
    df = cf.load_outcomes(labelled, base_url=sandbox.base_url, progress=False)
    assert sorted(df["id"]) == sorted(expected_ids(sandbox))
    assert df["account"].dtype == "category" and set(df["account"]) == set(labelled)
    for (label, key), org_name in zip(labelled.items(), sandbox.api_keys):
        rows = df[df["account"] == label]
        assert set(rows["organization_name"]) == {org_name}
        assert len(rows) == len(sandbox.store.outcomes(org_name))


def test_list_of_keys_and_tokens(sandbox):
    by_keys = cf.load_outcomes(list(sandbox.api_keys.values()), base_url=sandbox.base_url, progress=False)
    by_tokens = cf.load_outcomes(token=list(sandbox.tokens.values()), base_url=sandbox.base_url, progress=False)
    assert sorted(by_keys["id"]) == sorted(by_tokens["id"]) == sorted(expected_ids(sandbox))
    assert by_keys["organization_id"].nunique() == len(sandbox.api_keys)


def test_long_mode_has_one_row_per_value(sandbox):
    key = next(iter(sandbox.api_keys.values()))
    wide = cf.load_outcomes(key, base_url=sandbox.base_url, progress=False)
    long = cf.load_outcomes(key, base_url=sandbox.base_url, applies_to="long", progress=False)
    assert len(long) == int(wide["applies_to_calls"].sum() + wide["applies_to_meetings"].sum())
    assert set(long["applies_to"].dropna()) == {"calls", "meetings"}


def test_fields_subset_keeps_every_column(sandbox):
    key = next(iter(sandbox.api_keys.values()))
    full = cf.load_outcomes(key, base_url=sandbox.base_url, progress=False)
    some = cf.load_outcomes(key, base_url=sandbox.base_url, fields=["name"], progress=False)
    assert list(some["name"]) == list(full["name"])
    assert some["description"].isna().all()
    assert list(some.columns) == [c for c in full.columns if c in some.columns]
    assert set(cf.shape.frames.OUTCOME_COLUMNS) <= set(some.columns)


def test_unknown_applies_to_value_and_new_field(fresh_sandbox):
    sb = fresh_sandbox(organizations=[{"name": "Org", "outcomes": 3}])
    sb.store.add_outcome("Org", name="Texted back", applies_to=["calls", "sms"], brand_new_field="kept")
    df = cf.load_outcomes(sb.api_keys["Org"], base_url=sb.base_url, progress=False)
    row = df[df["name"] == "Texted back"].iloc[0]
    assert row["applies_to_sms"] and row["applies_to_calls"] and not row["applies_to_meetings"]
    assert row["brand_new_field"] == "kept" and df["applies_to_sms"].sum() == 1


def test_empty_organization_still_has_every_column(fresh_sandbox):
    sb = fresh_sandbox(organizations=[{"name": "Empty", "outcomes": 0, "calls": 0, "meetings": 0},
                                      {"name": "Full", "outcomes": 7}], quirks=False)
    empty = cf.load_outcomes(sb.api_keys["Empty"], base_url=sb.base_url, progress=False)
    full = cf.load_outcomes(sb.api_keys["Full"], base_url=sb.base_url, progress=False)
    assert len(empty) == 0 and len(full) == 7
    assert list(empty.columns) == list(full.columns)
    assert empty.dtypes.astype(str).to_dict() == full.dtypes.astype(str).to_dict()


def test_one_failed_account_raises_with_the_others_in_partial(sandbox):
    bad = "api_RevokedKeyThatTheSandboxDoesNotKnow"
    keys = {"good": next(iter(sandbox.api_keys.values())), "broken": bad}
    with pytest.raises(cf.PartialLoadError) as info:
        cf.load_outcomes(keys, base_url=sandbox.base_url, progress=False)
    err = info.value
    assert "broken" in str(err) and bad not in str(err) and bad not in repr(err.failed)
    assert err.loaded == ["good"] and list(err.failed) == ["broken"]
    assert isinstance(err.failed["broken"], cf.AuthenticationError)
    assert sorted(err.partial["id"]) == sorted(expected_ids(sandbox, [next(iter(sandbox.api_keys))]))


def test_on_error_warn_returns_what_loaded(sandbox):
    keys = {"good": next(iter(sandbox.api_keys.values())), "broken": "api_NotAKnownKeyAtAll12345"}
    with pytest.warns(cf.PartialLoadWarning, match="broken"):
        df = cf.load_outcomes(keys, base_url=sandbox.base_url, progress=False, on_error="warn")
    assert set(df["account"]) == {"good"} and len(df) > 0


def test_key_revoked_mid_load_keeps_what_arrived(fresh_sandbox):
    sb = fresh_sandbox(organizations=[{"name": "Org", "outcomes": 250}])
    key = sb.api_keys["Org"]
    sb.faults.revoke_after(key, 3)  # /me/ and the first two pages, which travel together, succeed
    with pytest.raises(cf.AuthenticationError) as info:
        cf.load_outcomes(key, base_url=sb.base_url, progress=False)
    partial, listing = list(info.value.partial["id"]), expected_ids(sb, ["Org"])
    # The first page, then what arrived of the pages asked together with the one that failed: in listing order.
    assert 0 < len(partial) and partial[:100] == listing[:100]
    positions = [listing.index(outcome_id) for outcome_id in partial]
    assert positions == sorted(set(positions))
    assert f"{len(partial)} outcomes loaded before" in " ".join(info.value.__notes__)


@pytest.mark.parametrize("kwargs, message", [
    ({"applies_to": "wide"}, "applies_to='wide' is not one of 'columns', 'long'"),
    ({"on_error": "ignore"}, "on_error='ignore'"),
    ({"fields": ["name", "bad name"]}, "Bad field name 'bad name'"),
    ({"api_key": 42}, "not a value of type int"),
    ({"api_key": {}}, "empty"),
    ({"api_key": "k", "token": "t"}, "not both"),
    ({"api_key": None}, "CLOSE_API_KEY"),
])
def test_bad_arguments_fail_before_any_request(kwargs, message):
    kwargs.setdefault("api_key", "api_unused_key_000000000")
    with pytest.raises(cf.ConfigurationError, match=message):
        cf.load_outcomes(base_url="http://127.0.0.1:9/api/v1/", progress=False, **kwargs)


def test_progress_bar_counts_pages(fresh_sandbox, capsys):
    sb = fresh_sandbox(organizations=[{"name": "Org", "outcomes": 230}])
    df = cf.load_outcomes(sb.api_keys["Org"], base_url=sb.base_url, progress=True)
    err = capsys.readouterr().err
    assert len(df) == 230 and "230" in err and "pages=3" in err and sb.api_keys["Org"] not in err
