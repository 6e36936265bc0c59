"""The error hierarchy of the service. Every face maps these to its own form in one place
(the API in ``api/errors.py``, the CLI in ``cli.py``).

AnalyticsError                    base; HTTP 500 unless a subclass says otherwise
 ├── ValidationError              bad input: names the field            422
 ├── NotFound                     no such plugin / job / record         404
 ├── Conflict                     the request clashes with state        409
 │    ├── InsufficientData        too little history for the operation  409
 │    └── NotTrained              predict before any model was trained  409
 ├── PayloadTooLarge              batch over the limit                  413
 ├── QueueFull                    job queue at its bound (Retry-After)  429
 ├── Overloaded                   a write could not be done in time     503
 ├── NotImplementedYet            the feature is not built yet          501
 ├── ModelIntegrityError          stored model failed verification      500
 ├── SourceError                  a metric source could not be read     502
 └── Unauthorized / Forbidden     missing token / role too low          401 / 403
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AnalyticsError",
    "Conflict",
    "Forbidden",
    "InsufficientData",
    "ModelIntegrityError",
    "NotFound",
    "NotImplementedYet",
    "NotTrained",
    "Overloaded",
    "PayloadTooLarge",
    "QueueFull",
    "SourceError",
    "Unauthorized",
    "ValidationError",
]


class AnalyticsError(Exception):
    """Base of every error the service raises on purpose."""

    status_code = 500
    code = "internal_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message, **self.details}


class ValidationError(AnalyticsError):
    """Raised when input is malformed or out of range; ``field`` names what is wrong."""

    status_code = 422
    code = "validation_error"

    def __init__(self, message: str, *, field: str | None = None, **details: Any) -> None:
        super().__init__(message, field=field, **details)
        self.field = field


class NotFound(AnalyticsError):
    """Raised when a plugin, job or record does not exist."""

    status_code = 404
    code = "not_found"


class Conflict(AnalyticsError):
    """Raised when a request cannot be carried out in the current state."""

    status_code = 409
    code = "conflict"


class InsufficientData(Conflict):
    """Raised when there is too little history; says how much more is needed."""

    code = "insufficient_data"


class NotTrained(Conflict):
    """Raised by ``predict`` for a plugin without models: a read never trains; says what to do and
    how much history there is and is needed."""

    code = "not_trained"


class PayloadTooLarge(AnalyticsError):
    """Raised when a batch exceeds the per-request limit."""

    status_code = 413
    code = "payload_too_large"


class QueueFull(AnalyticsError):
    """Raised when the job queue holds as many jobs as it may; ``retry_after`` (seconds) says when
    to try again (the API sends it as the Retry-After header)."""

    status_code = 429
    code = "queue_full"

    def __init__(self, message: str, *, retry_after: int, **details: Any) -> None:
        super().__init__(message, retry_after=retry_after, **details)
        self.retry_after = retry_after


class Overloaded(AnalyticsError):
    """Raised when a write waited its whole timeout (the SQLite writer's queue or commit);
    ``retry_after`` (seconds) is sent as the Retry-After header."""

    status_code = 503
    code = "overloaded"

    def __init__(self, message: str, *, retry_after: int, **details: Any) -> None:
        super().__init__(message, retry_after=retry_after, **details)
        self.retry_after = retry_after


class NotImplementedYet(AnalyticsError):
    """Raised by a feature whose engine is not built yet: an honest 501, never invented numbers."""

    status_code = 501
    code = "not_implemented"


class ModelIntegrityError(AnalyticsError):
    """Raised when a stored model's checksum or format does not verify; the model is refused."""

    code = "model_integrity_error"


class SourceError(AnalyticsError):
    """Raised when a plugin's metric source (process, scrape endpoint, Prometheus) cannot be read."""

    status_code = 502
    code = "source_error"


class Unauthorized(AnalyticsError):
    """Raised when a request carries no valid API token."""

    status_code = 401
    code = "unauthorized"


class Forbidden(AnalyticsError):
    """Raised when the token's role is below what the operation needs."""

    status_code = 403
    code = "forbidden"
