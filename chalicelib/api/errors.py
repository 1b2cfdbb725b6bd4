"""One JSON error shape for every response, and the one place domain errors become HTTP statuses."""
from __future__ import annotations

import json
from typing import Any

from chalice.app import Response

from chalicelib.domain.errors import (
    AlreadyExists,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    RateLimited,
    Rejected,
    ServiceUnavailable,
    TransientFailure,
    Unavailable,
    VersionConflict,
)

JSON = {"Content-Type": "application/json"}
RETRY_AFTER_SECONDS = 5  # a throttled or briefly failing AWS call; clients wait this long before trying again


class ApiError(Exception):
    """An HTTP error raised by the API layer itself (authentication, body parsing, size)."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


def error_response(status: int, code: str, message: str, field: str | None = None,
                   extra: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if field:
        error["field"] = field
    body: dict[str, Any] = {"error": error, **(extra or {})}
    return Response(body=json.dumps(body, default=str), status_code=status, headers={**JSON, **(headers or {})})


# First match wins: a subclass comes before its base (Rejected is an Unavailable).
_STATUS: list[tuple[type[DomainError], int, str]] = [
    (NotFound, 404, "not_found"),
    (VersionConflict, 409, "conflict"),
    (AlreadyExists, 409, "already_exists"),
    (Forbidden, 403, "forbidden"),
    (RateLimited, 429, "rate_limited"),
    (Rejected, 422, "rejected"),
    (Unavailable, 422, "unavailable"),
    (InvalidInput, 400, "invalid"),
    (TransientFailure, 503, "temporarily_unavailable"),
    (ServiceUnavailable, 503, "service_unavailable"),
    (DomainError, 422, "unprocessable"),  # one raised on purpose but not mapped yet: still never a 500
]


def domain_error_response(exc: DomainError, present: Any = None) -> Response:
    """Maps a domain error; `present` renders a conflicting entity (409 carries the current state)."""
    for kind, status, code in _STATUS:
        if isinstance(exc, kind):
            extra = None
            if isinstance(exc, VersionConflict) and exc.current is not None and present is not None:
                extra = {"current": present(exc.current)}
            field = exc.field if isinstance(exc, InvalidInput) else None
            headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if isinstance(exc, TransientFailure) else None
            return error_response(status, code, _message(exc), field, extra, headers)
    return error_response(500, "internal", "something went wrong")


def _message(exc: DomainError) -> str:
    """What the agent reads. A refusal names its recipient here, in the answer only: the error's own
    text stays free of addresses because it may be logged."""
    if isinstance(exc, Rejected) and exc.recipient:
        return f"{exc} (recipient: {exc.recipient})"
    return str(exc)


def validation_error_response(exc: Any) -> Response:
    """A pydantic ValidationError: 400 naming the first offending field."""
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid body"}
    field = ".".join(str(p) for p in first.get("loc", ())) or None
    return error_response(400, "invalid", str(first.get("msg", "invalid")), field)
