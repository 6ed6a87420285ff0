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
                 "filter_usage", "load_calls", "load_meetings", "DELETED_OUTCOME_LABEL"]:
        assert name in cf.__all__


def test_the_plots_module_exports_exactly_its_plot_functions():
    from closeframe import plots

    assert plots.__all__ == sorted(plots.__all__)
    assert all(name.startswith("plot_") and callable(getattr(plots, name)) for name in plots.__all__)
    assert {"plot_outcomes_per_organization", "plot_applies_to_coverage", "plot_catalogue_over_time",
            "plot_top_outcomes", "plot_outcome_mix", "plot_usage_over_time", "plot_outcome_changes"} <= set(plots.__all__)


def test_the_sandbox_exports_its_server_and_knobs():
    import closeframe.sandbox as sandbox

    assert sandbox.__all__ == ["ENDPOINT_GROUPS", "FAULT_KINDS", "FaultPlan", "Sandbox", "Stats", "Store",
                               "run_forever", "serve"]
    assert all(getattr(sandbox, name) is not None for name in sandbox.__all__)
