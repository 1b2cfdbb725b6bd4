"""The API's blueprint and `endpoint`, the one wrapper every route goes through.

`endpoint` authenticates (the built-in authorizer verified the JWT and passed who it proved in its
context), checks the route's role, parses the body with the model the view's `body` parameter is
annotated with, and maps every error to the one JSON shape. Route modules import their body models for
type checking only and `endpoint` resolves them on the first request, so `import app` stays light."""
from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chalice.app import AuthResponse, Blueprint, Response

from chalicelib.domain.principals import Principal, Role

if TYPE_CHECKING:
    from pydantic import BaseModel

    from chalicelib.bootstrap import Shop

api = Blueprint(__name__)
ROUTES: list[tuple[str, str, Any]] = []  # (path, method, handler), for /openapi.json and the route audit
MAX_BODY_BYTES = 256 * 1024


# API Gateway caches the authorizer's answer by token (the Authorization header) for this long, so a
# request runs one Lambda invocation, not two. The answer is a policy for every route ("*"), so one
# cached answer serves them all. The cache may outlive the token: the answer carries the token's `exp`
# and every view refuses it once that has passed (below), so an expired token is never honoured.
AUTHORIZER_TTL_SECONDS = 300


@api.authorizer(name="jwt", ttl_seconds=AUTHORIZER_TTL_SECONDS)
def jwt_authorizer(auth_request: Any) -> AuthResponse:
    """Built-in authorizer, the same locally and deployed. A bad token still reaches the view as
    anonymous so that it gets a 401 in our JSON shape (API Gateway would answer a bare 403); cached
    too, which is right: a bad token stays bad."""
    from chalicelib import bootstrap
    from chalicelib.api.auth import InvalidToken, verify_token

    raw = auth_request.token or ""
    try:
        principal = verify_token(raw, bootstrap.shop().settings.auth)
    except InvalidToken as exc:
        return AuthResponse(routes=["*"], principal_id="anonymous", context={"auth_error": str(exc)[:100]})
    return AuthResponse(routes=["*"], principal_id=principal.user_id,
                        context={"user_id": principal.user_id, "name": principal.name, "role": principal.role.name,
                                 "exp": str(_expiry(raw))})


def _expiry(header_value: str) -> int:
    """The `exp` of a token verify_token has just accepted (signature and expiry checked there)."""
    import jwt

    token = header_value.strip()
    token = token[7:].strip() if token.lower().startswith("bearer ") else token
    return int(jwt.decode(token, options={"verify_signature": False})["exp"])


def _principal(request: Any) -> Principal:
    from chalicelib.api.errors import ApiError

    context = (request.context or {}).get("authorizer") or {}
    role = Role.__members__.get(str(context.get("role", "")))
    if role is None or not context.get("user_id"):
        raise ApiError(401, "unauthenticated", "a valid bearer token is required")
    if "exp" in context and _expired(context["exp"]):
        # API Gateway served a cached answer for a token that has expired since.
        raise ApiError(401, "unauthenticated", "the token has expired")
    return Principal(user_id=str(context["user_id"]), name=str(context.get("name", "")), role=role)


def _expired(exp: Any) -> bool:
    from chalicelib import bootstrap

    try:
        return int(exp) <= bootstrap.shop().clock.now().timestamp()
    except (TypeError, ValueError):
        return True


def _json_body(request: Any) -> Any:
    from chalicelib.api.errors import ApiError

    raw = request.raw_body or b""
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(413, "too_large", f"the body may hold at most {MAX_BODY_BYTES} bytes")
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ApiError(400, "invalid_json", "the body is not valid JSON") from exc


def _takes_body(view: Callable[..., Any]) -> bool:
    code = view.__code__  # not inspect.signature: importing inspect costs cold start ~5 ms
    return "body" in code.co_varnames[:code.co_argcount + code.co_kwonlyargcount]


def body_model(view: Callable[..., Any]) -> type[BaseModel] | None:
    """The pydantic model a view's `body` parameter is annotated with (None: the route takes no body)."""
    if not _takes_body(view):
        return None
    return _resolved_body_model(view)


@functools.cache
def _resolved_body_model(view: Callable[..., Any]) -> type[BaseModel]:
    import typing

    from chalicelib.api import models

    hints = typing.get_type_hints(view, globalns={**view.__globals__, "models": models})
    model: type[BaseModel] = hints["body"]
    return model


def endpoint(path: str, methods: list[str], role: Role | None,
             status: int = 200) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declares a route. `role=None` makes it public; a `body` parameter, annotated with its model from
    api.models, makes the route parse and validate a JSON body."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        takes_body = _takes_body(view)

        @functools.wraps(view)
        def handler(**params: Any) -> Response:
            from pydantic import ValidationError

            from chalicelib.api.errors import (
                ApiError,
                domain_error_response,
                error_response,
                validation_error_response,
            )
            from chalicelib.api.presenters import current_state
            from chalicelib.domain.errors import DomainError

            request = api.current_request
            try:
                principal = _principal(request) if role is not None else None
                if principal is not None and not principal.can(role):  # type: ignore[arg-type]
                    raise ApiError(403, "forbidden", f"this needs the {role.name.lower()} role")  # type: ignore[union-attr]
                if takes_body:
                    params["body"] = _resolved_body_model(view).model_validate(_json_body(request))
                result = view(principal, request, **params)
            except ApiError as exc:
                return error_response(exc.status, exc.code, exc.message, exc.field)
            except ValidationError as exc:
                return validation_error_response(exc)
            except DomainError as exc:
                return domain_error_response(exc, present=current_state)
            except Exception:
                from chalicelib.observability import logger

                log = logger()
                request_id = ((request.context or {}).get("requestId")) if request is not None else None
                if request_id:
                    log.set_correlation_id(request_id)
                # The route, never the body or query: both may carry personal data.
                log.exception("unhandled API error", extra={"route": path, "method": request.method})
                return error_response(500, "internal", "something went wrong; it has been logged")
            if isinstance(result, Response):
                return result
            return Response(body=json.dumps(result, default=str), status_code=status,
                            headers={"Content-Type": "application/json"})

        handler.required_role = role  # type: ignore[attr-defined]
        handler.view = view  # type: ignore[attr-defined]
        handler.success_status = status  # type: ignore[attr-defined]
        handler.response_model = getattr(view, "response_model", None)  # type: ignore[attr-defined]
        api.route(path, methods=methods, authorizer=None if role is None else jwt_authorizer)(handler)
        ROUTES.extend((path, method, handler) for method in methods)
        return handler

    return decorate


def responds(model: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Names the response model of a view (for /openapi.json)."""

    def mark(view: Callable[..., Any]) -> Callable[..., Any]:
        view.response_model = model  # type: ignore[attr-defined]
        return view

    return mark


def shop() -> Shop:
    """The process's Shop (the composition root), for views."""
    from chalicelib import bootstrap

    return bootstrap.shop()


def query_of(request: Any) -> dict[str, str]:
    return dict(request.query_params or {})


def multi(request: Any, name: str) -> list[str]:
    params = request.query_params
    if not params or name not in params:
        return []
    values = params.getlist(name) if hasattr(params, "getlist") else [params[name]]
    return [v for value in values for v in value.split(",") if v]


def checked_id(value: str, what: str = "ticket") -> str:
    """An id from the path (tickets, customers, macros are alphanumeric): anything else is a 404, never a read."""
    from chalicelib.domain.errors import NotFound

    if not value or len(value) > 64 or not value.isalnum():
        raise NotFound(f"no such {what}")
    return value
