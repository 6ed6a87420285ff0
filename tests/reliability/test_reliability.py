"""The invariant under every fault, for every loader: exactly the server's records, or a CloseError that says so.

A load either returns the records the server held (compared by id with the sandbox store, no duplicates) or raises
a :class:`~closeframe.errors.CloseError` naming the listing that failed and how much loaded: never a silently
partial frame, never a hang (a wall-clock guard fails the test), never another exception type.

``MATRIX`` below is the single table of cases; ``python -m tests.test_reliability`` prints it as the markdown table
of docs/reliability.md, and a test checks that the doc shows exactly it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

import closeframe as cf
from closeframe.sandbox.faults import FAULT_KINDS
from tests.guards import wall_clock_limit

DOC = Path(__file__).resolve().parents[2] / "docs" / "reliability.md"
ORG = "Org"
SIZES = {"outcomes": 250, "calls": 600, "meetings": 300}  # several pages per listing (and per yearly window)
PATHS = {"outcomes": "/outcome/", "calls": "/activity/call/", "meetings": "/activity/meeting/"}
LOADERS = {"outcomes": cf.load_outcomes, "calls": cf.load_calls, "meetings": cf.load_meetings}
#: Small timeouts and backoff so every failure path ends in seconds.
CLIENT_OPTIONS = {"timeout": (2, 1), "backoff": 0.01, "max_wait": 5}
WALL_CLOCK_LIMIT = 30  # seconds per test: far above the slowest case, far below "hung"


@pytest.fixture(autouse=True)
def wall_clock_guard():
    """Fail (not freeze) any test that runs past WALL_CLOCK_LIMIT."""
    with wall_clock_limit(WALL_CLOCK_LIMIT):
        yield


# -- the data-quality knobs ---------------------------------------------------------------------------------------
def _odd_outcomes(sb):
    org_id = sb.store.org_id(ORG)
    sb.store.add_outcome(ORG, _raw={"id": "outcome_MissingEverythingButId00"})
    sb.store.add_outcome(ORG, _raw={"id": "outcome_AllNulls00000000000000", "name": None, "description": None,
                                    "type": None, "applies_to": None, "organization_id": org_id,
                                    "created_by": None, "updated_by": None, "date_created": None,
                                    "date_updated": None})
    sb.store.add_outcome(ORG, name="With new fields", brand_new_field={"nested": [1, 2]}, another_new_field=3)
    sb.store.add_outcome(ORG, name="New enum values", type="sms-sent", applies_to=["calls", "sms", "emails"])


def _odd_activities(kind):
    def add(sb):
        add_one = sb.store.add_call if kind == "calls" else sb.store.add_meeting
        add_one(ORG, date_created="2025-03-01T10:00:00+00:00", outcome_id=None, brand_new_field=[1, {"a": 2}])
        add_one(ORG, date_created="2025-03-02T10:00:00+00:00", status="teleported", user_id="user_UnknownUser",
                duration=None, outcome_id="outcome_DeletedLongAgo000000")
        add_one(ORG, date_created="2025-03-03T10:00:00", lead_id=None, user_name=None)  # naive date
    return add


# -- the matrix ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    """One row: a fault applied while ``loader`` runs, and what the load must do."""

    fault: str            # a FAULT_KINDS kind, or a named condition (revoke, skip-cap, data-*)
    loader: str
    outcome: str          # "complete", or the name of the CloseError subclass it must raise
    how: str              # "2x" (transient), "always" (persistent), or how the condition is set up
    test: str             # the test function that runs it

    @property
    def id(self) -> str:
        return f"{self.fault}-{self.how}-{self.loader}"


RETRYABLE = ["429", "429-fractional", "429-retry-after", "429-body", "500", "502", "503", "504", "500-html",
             "502-html", "503-html", "504-html", "reset-before", "reset-mid-body", "truncated-json", "stall"]
#: What a fault that never stops ends in (max_retries=1, max_wait=1 to keep it short).
PERSISTENT = {"429": "RateLimitError", "429-fractional": "RateLimitError", "429-retry-after": "RateLimitError",
              "429-body": "RateLimitError", "500": "CloseAPIError", "503": "CloseAPIError",
              "502-html": "CloseAPIError", "504-html": "CloseAPIError", "reset-before": "TransportError",
              "reset-mid-body": "TransportError", "truncated-json": "TransportError", "stall": "TransportError"}


def _matrix() -> list[Case]:
    cases = []
    for loader in LOADERS:
        for kind in FAULT_KINDS:
            cases.append(Case(kind, loader, "complete", "2x", "test_transient_fault_still_loads_everything"))
        for kind, error in PERSISTENT.items():
            cases.append(Case(kind, loader, error, "always", "test_persistent_fault_raises_what_failed"))
        for kind in ("pass", "lying-has-more", "shift"):
            cases.append(Case(kind, loader, "complete", "always", "test_persistent_change_still_loads_everything"))
        cases.append(Case("delete", loader, "DataChangedError" if loader == "outcomes" else "complete", "always",
                          "test_persistent_change_still_loads_everything"))
        cases.append(Case("revoke", loader, "AuthenticationError", "401 after page 2",
                          "test_key_revoked_mid_load_raises_with_what_loaded"))
        cases.append(Case("skip-cap", loader, "SkipCapError" if loader == "outcomes" else "complete",
                          "max_skip=150", "test_skip_cap_never_truncates"))
        cases.append(Case("data-odd-records", loader, "complete", "missing fields, nulls, unknown fields/values",
                          "test_odd_records_load_complete"))
        cases.append(Case("503", loader, "PartialLoadError", "always, 1 of 2 accounts",
                          "test_one_failing_account_of_two_raises_partial"))
    return cases


MATRIX = _matrix()


def _cases(test: str) -> list:
    return [pytest.param(c, id=c.id) for c in MATRIX if c.test == test]


# -- the invariant ------------------------------------------------------------------------------------------------
def store_ids(sb, loader: str, org: str = ORG) -> list[str]:
    records = {"outcomes": sb.store.outcomes, "calls": sb.store.calls, "meetings": sb.store.meetings}[loader](org)
    return [r["id"] for r in records]


def make_sandbox(fresh_sandbox, **options):
    spec = {"name": ORG, **SIZES}
    return fresh_sandbox(organizations=options.pop("organizations", [spec]), quirks=False, **options)


def run_load(sb, case: Case, *, keys=None, **client_options) -> pd.DataFrame | cf.CloseError:
    """Run the case's loader and check the invariant; return the frame or the CloseError it raised."""
    before = set(store_ids(sb, case.loader))
    options = {**CLIENT_OPTIONS, **client_options}
    try:
        frame = LOADERS[case.loader](keys or sb.api_keys[ORG], base_url=sb.base_url, progress=False,
                                     client_options=options)
    except cf.CloseError as error:
        outcome, result = type(error).__name__, error
        assert PATHS[case.loader] in str(error) or isinstance(error, cf.PartialLoadError), \
            f"the error does not say which listing failed: {error}"
        told = str(error) + " ".join(getattr(error, "__notes__", []))
        assert "loaded" in told, f"the error does not say what loaded: {told}"
        assert isinstance(error.partial, pd.DataFrame)
        if not isinstance(error, cf.PartialLoadError):  # else .partial holds the other accounts' records
            assert set(error.partial["id"]) <= before | set(store_ids(sb, case.loader))
    else:
        outcome, result = "complete", frame
        got = list(frame["id"])
        after = set(store_ids(sb, case.loader))
        assert len(got) == len(set(got)), "duplicate records"
        # Present throughout → loaded exactly once; anything loaded existed at some point during the load.
        assert before & after <= set(got) <= before | after, (
            f"missing {len(before & after - set(got))}, unknown {len(set(got) - (before | after))}")
    assert outcome == case.outcome, f"expected {case.outcome}, got {outcome}: {result}"
    assert sb.errors == []
    return result


# -- the tests ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", _cases("test_transient_fault_still_loads_everything"))
def test_transient_fault_still_loads_everything(fresh_sandbox, case):
    sb = make_sandbox(fresh_sandbox)
    fault = {"kind": "stall", "seconds": 2} if case.fault == "stall" else case.fault
    sb.faults.script("pass", fault, fault, path=PATHS[case.loader])  # the 2nd and 3rd page requests
    frame = run_load(sb, case)
    assert sb.faults.pending() == 0 and len(frame) > 0


@pytest.mark.parametrize("case", _cases("test_persistent_fault_raises_what_failed"))
def test_persistent_fault_raises_what_failed(fresh_sandbox, case):
    sb = make_sandbox(fresh_sandbox)
    fault = {"kind": "stall", "seconds": 2} if case.fault == "stall" else case.fault
    sb.faults.random(1.0, kinds=[fault], path=PATHS[case.loader])
    error = run_load(sb, case, max_retries=1, max_wait=1)
    if isinstance(error, cf.CloseAPIError):
        assert str(error.status) in str(error)


@pytest.mark.parametrize("case", _cases("test_persistent_change_still_loads_everything"))
def test_persistent_change_still_loads_everything(fresh_sandbox, case):
    sb = make_sandbox(fresh_sandbox)
    sb.faults.random(1.0, kinds=[case.fault], path=PATHS[case.loader])
    run_load(sb, case)


@pytest.mark.parametrize("loader", ["outcomes", "calls"])
def test_plain_offset_paging_would_skip_a_record_here(fresh_sandbox, loader):
    """The ``delete`` fault bites: plain ``_skip`` paging loses a record that the loaders keep."""
    sb = make_sandbox(fresh_sandbox)
    before = store_ids(sb, loader)
    sb.faults.script("pass", "delete", path=PATHS[loader])
    with cf.CloseClient(sb.api_keys[ORG], base_url=sb.base_url) as client:
        got = {r["id"] for r in client.paginate(PATHS[loader])}
    survivors = set(before) & set(store_ids(sb, loader))
    assert survivors - got, "plain paging lost nothing: the fault no longer exercises the skip"
    case = Case("delete", loader, "complete", "2x", "")
    sb.faults.script("pass", "delete", path=PATHS[loader])
    run_load(sb, case)


@pytest.mark.parametrize("case", _cases("test_key_revoked_mid_load_raises_with_what_loaded"))
def test_key_revoked_mid_load_raises_with_what_loaded(fresh_sandbox, case):
    sb = make_sandbox(fresh_sandbox)
    sb.faults.revoke_after(sb.api_keys[ORG], 3)  # /me/ and two pages
    error = run_load(sb, case)
    assert error.status == 401 and sb.api_keys[ORG] not in str(error)


@pytest.mark.parametrize("case", _cases("test_skip_cap_never_truncates"))
def test_skip_cap_never_truncates(fresh_sandbox, case):
    sb = make_sandbox(fresh_sandbox, max_skip=150)
    run_load(sb, case)


@pytest.mark.parametrize("case", _cases("test_odd_records_load_complete"))
def test_odd_records_load_complete(fresh_sandbox, case):
    sb = make_sandbox(fresh_sandbox)
    (_odd_outcomes if case.loader == "outcomes" else _odd_activities(case.loader))(sb)
    frame = run_load(sb, case)
    assert "brand_new_field" in frame.columns


@pytest.mark.parametrize("case", _cases("test_one_failing_account_of_two_raises_partial"))
def test_one_failing_account_of_two_raises_partial(fresh_sandbox, case):
    sb = make_sandbox(fresh_sandbox, organizations=[{"name": ORG, **SIZES}, {"name": "Healthy", **SIZES}])
    sb.faults.random(1.0, kinds=["503"], path=PATHS[case.loader], key=sb.api_keys[ORG])
    error = run_load(sb, case, keys={"broken": sb.api_keys[ORG], "healthy": sb.api_keys["Healthy"]},
                     max_retries=1)
    assert error.loaded == ["healthy"] and list(error.failed) == ["broken"]
    assert sorted(error.partial["id"]) == sorted(store_ids(sb, case.loader, "Healthy"))


# -- the matrix in the doc ----------------------------------------------------------------------------------------
def matrix_markdown() -> str:
    """The matrix as the markdown table docs/reliability.md shows."""
    lines = ["| fault | how | outcomes | calls | meetings | test |", "|---|---|---|---|---|---|"]
    rows: dict = {}
    for case in MATRIX:
        rows.setdefault((case.fault, case.how, case.test), {})[case.loader] = case.outcome
    for (fault, how, test), outcome in rows.items():
        lines.append(f"| `{fault}` | {how} | " + " | ".join(outcome.get(name, "–") for name in LOADERS)
                     + f" | `{test}` |")
    return "\n".join(lines)


def matrix_counts() -> dict[str, int]:
    """Cases in all, and per outcome."""
    counts = {"cases": len(MATRIX), "complete": sum(c.outcome == "complete" for c in MATRIX)}
    counts["raises"] = counts["cases"] - counts["complete"]
    return counts


def test_every_fault_kind_is_in_the_matrix():
    for loader in LOADERS:
        assert {c.fault for c in MATRIX if c.loader == loader and c.how == "2x"} == set(FAULT_KINDS)
    tests = {name for name in globals() if name.startswith("test_")}
    assert {c.test for c in MATRIX} <= tests


def test_doc_shows_exactly_this_matrix_and_its_counts():
    doc = DOC.read_text(encoding="utf-8")
    table = doc.split("<!-- matrix -->")[1].strip()
    assert table == matrix_markdown(), "regenerate the table with: python -m tests.test_reliability"
    counts = matrix_counts()
    assert re.search(rf"\b{counts['cases']} cases\b", doc) and re.search(rf"\b{counts['complete']} complete\b", doc)
    assert re.search(rf"\b{counts['raises']} raise\b", doc)


if __name__ == "__main__":
    print(matrix_markdown())
    print(matrix_counts())
