"""closeframe: Close CRM outcomes, and the calls and meetings that use them, as typed pandas DataFrames."""

from closeframe.version import __version__

from closeframe.load.activities import load_calls, load_meetings
from closeframe.http.client import CloseClient
from closeframe.errors import (
    AuthenticationError,
    CloseAPIError,
    CloseError,
    ConfigurationError,
    DataChangedError,
    NotFoundError,
    PartialLoadError,
    RateLimitError,
    SkipCapError,
    TransportError,
    ValidationError,
)
from closeframe.export import export
from closeframe.shape.frames import outcomes_frame
from closeframe.load.history import OutcomeHistoryWarning, outcome_catalogue, outcome_changes
from closeframe.load.outcomes import DuplicateOrganizationWarning, PartialLoadWarning, load_outcomes
from closeframe.store.eventlog import ClockSkewWarning
from closeframe.store.refresh import EventRefreshWarning
from closeframe.usage.tables import (
    DELETED_OUTCOME_LABEL,
    compare_outcomes,
    filter_usage,
    normalize_outcome_name,
    outcome_usage,
    usage_by_user,
    usage_by_week,
    usage_events,
)

__all__ = [
    "AuthenticationError",
    "ClockSkewWarning",
    "CloseAPIError",
    "CloseClient",
    "CloseError",
    "ConfigurationError",
    "DELETED_OUTCOME_LABEL",
    "DataChangedError",
    "DuplicateOrganizationWarning",
    "EventRefreshWarning",
    "NotFoundError",
    "OutcomeHistoryWarning",
    "PartialLoadError",
    "PartialLoadWarning",
    "RateLimitError",
    "SkipCapError",
    "TransportError",
    "ValidationError",
    "__version__",
    "compare_outcomes",
    "explore",
    "export",
    "filter_usage",
    "load_calls",
    "load_meetings",
    "load_outcomes",
    "normalize_outcome_name",
    "outcome_catalogue",
    "outcome_changes",
    "outcome_usage",
    "outcomes_frame",
    "usage_by_user",
    "usage_by_week",
    "usage_events",
]


def __getattr__(name: str):
    # cf.explore loads ipywidgets (and IPython), half a second that the CLI and plain loads should not pay.
    if name == "explore":
        from closeframe.views.catalogue_explorer import explore

        return explore
    raise AttributeError(f"module 'closeframe' has no attribute {name!r}")
