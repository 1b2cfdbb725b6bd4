"""One JSON error shape for every response, and the one place domain errors become HTTP statuses."""
from __future__ import annotations

import json
from typing import Any

from chalice import Response

from chalicelib.domain.errors import (
    AlreadyExists,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    RateLimited,
    Unavailable,
    VersionConflict,
)

JSON = {"Content-Type": "application/json"}


class ApiError(Exception):
    """An HTTP error raised by the API layer itself (authentication, body parsing, size)."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


def error_response(status: int, code: str, message: str, field: str | None = None,
                   extra: dict[str, Any] | None = None) -> Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if field:
        error["field"] = field
    body: dict[str, Any] = {"error": error, **(extra or {})}
    return Response(body=json.dumps(body, default=str), status_code=status, headers=dict(JSON))


_STATUS: list[tuple[type[DomainError], int, str]] = [
    (NotFound, 404, "not_found"),
    (VersionConflict, 409, "conflict"),
    (AlreadyExists, 409, "already_exists"),
    (Forbidden, 403, "forbidden"),
    (RateLimited, 429, "rate_limited"),
    (Unavailable, 422, "unavailable"),
    (InvalidInput, 400, "invalid"),
]


def domain_error_response(exc: DomainError, present: Any = None) -> Response:
    """Maps a domain error; `present` renders a conflicting entity (409 carries the current state)."""
    for kind, status, code in _STATUS:
        if isinstance(exc, kind):
            extra = None
            if isinstance(exc, VersionConflict) and exc.current is not None and present is not None:
                extra = {"current": present(exc.current)}
            field = exc.field if isinstance(exc, InvalidInput) else None
            return error_response(status, code, str(exc), field, extra)
    return error_response(500, "internal", "something went wrong")


def validation_error_response(exc: Any) -> Response:
    """A pydantic ValidationError: 400 naming the first offending field."""
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid body"}
    field = ".".join(str(p) for p in first.get("loc", ())) or None
    return error_response(400, "invalid", str(first.get("msg", "invalid")), field)
