"""closeframe: Close CRM outcomes, and the calls and meetings that use them, as typed pandas DataFrames."""

__version__ = "0.1.0"

from closeframe.activities import load_calls, load_meetings
from closeframe.client import CloseClient
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
from closeframe.frames import outcomes_frame
from closeframe.load import PartialLoadWarning, load_outcomes

__all__ = [
    "AuthenticationError",
    "CloseAPIError",
    "CloseClient",
    "CloseError",
    "ConfigurationError",
    "DataChangedError",
    "NotFoundError",
    "PartialLoadError",
    "PartialLoadWarning",
    "RateLimitError",
    "SkipCapError",
    "TransportError",
    "ValidationError",
    "__version__",
    "export",
    "load_calls",
    "load_meetings",
    "load_outcomes",
    "outcomes_frame",
]
