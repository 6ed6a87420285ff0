"""closeframe: Close CRM outcomes, and the calls and meetings that use them, as typed pandas DataFrames."""

__version__ = "0.1.0"

from closeframe.errors import (
    AuthenticationError,
    CloseAPIError,
    CloseError,
    ConfigurationError,
    NotFoundError,
    PartialLoadError,
    RateLimitError,
    SkipCapError,
    TransportError,
    ValidationError,
)

__all__ = sorted(
    [
        "AuthenticationError",
        "CloseAPIError",
        "CloseError",
        "ConfigurationError",
        "NotFoundError",
        "PartialLoadError",
        "RateLimitError",
        "SkipCapError",
        "TransportError",
        "ValidationError",
        "__version__",
    ]
)
