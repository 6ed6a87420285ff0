"""Shared fixtures: a sandbox over real HTTP, recorded pages, and hygiene (figures closed, env cleaned)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from closeframe.sandbox import serve

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def _clean_close_env(monkeypatch):
    """No test sees the developer's real CLOSE_API_KEY / CLOSE_BASE_URL."""
    monkeypatch.delenv("CLOSE_API_KEY", raising=False)
    monkeypatch.delenv("CLOSE_BASE_URL", raising=False)


@pytest.fixture(autouse=True)
def _close_figures():
    """Every matplotlib figure a test opens is closed after it."""
    yield
    import sys

    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close("all")


@pytest.fixture(scope="session")
def sandbox():
    """The default seeded sandbox, shared read-only by the tests that do not change it."""
    with serve(seed=0, rate_limit=None) as sb:
        yield sb


@pytest.fixture
def fresh_sandbox():
    """A factory of private sandboxes for tests that change data, limits or faults."""
    opened = []

    def make(**options):
        options.setdefault("rate_limit", None)
        context = serve(**options)
        sb = context.__enter__()
        opened.append(context)
        return sb

    yield make
    for context in reversed(opened):
        context.__exit__(None, None, None)


@pytest.fixture
def documented_page():
    """The page Close's documentation shows for GET /outcome/."""
    return json.loads((FIXTURES / "outcome_list_documented.json").read_text(encoding="utf-8"))
