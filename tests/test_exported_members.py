"""The package's public names: the contract in DESIGN.md, sorted, each resolvable."""

import closeframe as cf


def test_all_is_sorted_and_resolves():
    assert cf.__all__ == sorted(cf.__all__)
    for name in cf.__all__:
        assert getattr(cf, name) is not None


def test_contract_names_exist():
    for name in ["load_outcomes", "CloseClient", "outcomes_frame", "CloseError", "CloseAPIError",
                 "AuthenticationError", "NotFoundError", "ValidationError", "RateLimitError", "TransportError",
                 "ConfigurationError", "PartialLoadError", "export"]:
        assert name in cf.__all__


def test_usage_names_exist():
    for name in ["outcome_usage", "usage_events", "usage_by_user", "usage_by_week", "compare_outcomes",
                 "filter_usage", "load_calls", "load_meetings"]:
        assert name in cf.__all__
