"""HTTP routes of the agents' inbox and the public contact form (a Chalice blueprint).

Every view goes through `endpoint`, which authenticates (the built-in authorizer verified the JWT
and passed who it proved in its context), checks the route's role, parses the body with the route's
model, and maps every error to the one JSON shape. Heavy imports happen inside views, so
`import app` stays light."""
from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from chalice import AuthResponse, Blueprint, Response

from chalicelib.domain.principals import Principal, Role

api = Blueprint(__name__)
ROUTES: list[tuple[str, str, Any]] = []  # (path, method, handler), for /openapi.json and the route audit
MAX_BODY_BYTES = 256 * 1024


@api.authorizer(name="jwt", ttl_seconds=0)
def jwt_authorizer(auth_request: Any) -> AuthResponse:
    """Built-in authorizer, the same locally and deployed. A bad token still reaches the view as
    anonymous so that it gets a 401 in our JSON shape (API Gateway would answer a bare 403)."""
    from chalicelib import wiring
    from chalicelib.api.auth import InvalidToken, verify_token

    try:
        principal = verify_token(auth_request.token or "", wiring.current_settings().auth)
    except InvalidToken as exc:
        return AuthResponse(routes=["*"], principal_id="anonymous", context={"auth_error": str(exc)[:100]})
    return AuthResponse(routes=["*"], principal_id=principal.user_id,
                        context={"user_id": principal.user_id, "name": principal.name, "role": principal.role.name})


def _principal(request: Any) -> Principal:
    from chalicelib.api.errors import ApiError

    context = (request.context or {}).get("authorizer") or {}
    role = Role.__members__.get(str(context.get("role", "")))
    if role is None or not context.get("user_id"):
        raise ApiError(401, "unauthenticated", "a valid bearer token is required")
    return Principal(user_id=str(context["user_id"]), name=str(context.get("name", "")), role=role)


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


def endpoint(path: str, methods: list[str], role: Role | None, body: str | None = None,
             status: int = 200) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declares a route. `role=None` makes it public; `body` names the request model in api.models."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
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
                if body is not None:
                    from chalicelib.api import models

                    params["body"] = getattr(models, body).model_validate(_json_body(request))
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
        handler.request_model = body  # type: ignore[attr-defined]
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


def _deps() -> Any:
    from chalicelib import wiring

    return wiring.inbox_deps()


def _query(request: Any) -> dict[str, str]:
    return dict(request.query_params or {})


def _multi(request: Any, name: str) -> list[str]:
    params = request.query_params
    if not params or name not in params:
        return []
    values = params.getlist(name) if hasattr(params, "getlist") else [params[name]]
    return [v for value in values for v in value.split(",") if v]


# ---- public ----------------------------------------------------------------------------------
@endpoint("/openapi.json", ["GET"], role=None)
def openapi_document(_principal: None, _request: Any) -> dict[str, Any]:
    from chalicelib.api.openapi import document

    return document()


@endpoint("/contact", ["POST"], role=None, body="ContactBody", status=202)
@responds("ContactOut")
def contact(_principal: None, request: Any, body: Any) -> dict[str, Any]:
    from chalicelib import wiring
    from chalicelib.services.contact import ContactForm, submit_contact

    source_ip = ((request.context or {}).get("identity") or {}).get("sourceIp", "unknown")
    form = ContactForm(name=body.name, email=body.email, phone=body.phone, order_number=body.order_number,
                       subject=body.subject, message=body.message, honeypot=body.website or "",
                       source_ip=str(source_ip))
    number = submit_contact(form, wiring.email_ingest_deps())
    return {"status": "received", "ticket_number": number}


# ---- tickets ---------------------------------------------------------------------------------
@endpoint("/tickets", ["GET"], role=Role.AGENT)
@responds("TicketPageOut")
def list_tickets(principal: Principal, request: Any) -> dict[str, Any]:
    from chalicelib.api.listing import parse_listing
    from chalicelib.api.presenters import ticket_out
    from chalicelib.services.inbox import list_tickets as run

    deps = _deps()
    query, codec = parse_listing(_query(request), _multi(request, "status"), principal, deps)
    page = run(query, deps)
    return {"items": [ticket_out(t) for t in page.tickets], "next": codec.encode(page.cursor)}


@endpoint("/tickets", ["POST"], role=Role.AGENT, body="NewTicketBody", status=201)
@responds("TicketOut")
def open_ticket(principal: Principal, _request: Any, body: Any) -> dict[str, Any]:
    from chalicelib.api.presenters import ticket_out
    from chalicelib.services.inbox import NewTicketRequest
    from chalicelib.services.inbox import open_ticket as run

    ticket = run(NewTicketRequest(**body.model_dump()), principal, _deps())
    return ticket_out(ticket)


def _detail(detail: Any) -> dict[str, Any]:
    from chalicelib import wiring
    from chalicelib.api.presenters import event_out, message_out, ticket_out

    blobs = wiring.blobs()
    return {
        "ticket": ticket_out(detail.bundle.ticket),
        "messages": [message_out(m, blobs) for m in detail.bundle.messages],
        "events": [event_out(e) for e in detail.bundle.events],
        "customer_tickets": [ticket_out(t) for t in detail.other_tickets],
    }


@endpoint("/tickets/by-number/{number}", ["GET"], role=Role.AGENT)
@responds("TicketDetailOut")
def ticket_by_number(_principal: Principal, _request: Any, number: str) -> dict[str, Any]:
    from chalicelib.domain.errors import NotFound
    from chalicelib.services.inbox import ticket_by_number as run

    if not number.isdigit() or len(number) > 9:
        raise NotFound("no ticket has that number")
    return _detail(run(int(number), _deps()))


@endpoint("/tickets/{ticket_id}", ["GET"], role=Role.AGENT)
@responds("TicketDetailOut")
def get_ticket(_principal: Principal, _request: Any, ticket_id: str) -> dict[str, Any]:
    from chalicelib.services.inbox import ticket_detail

    return _detail(ticket_detail(_checked_id(ticket_id), _deps()))


def _checked_id(value: str) -> str:
    from chalicelib.domain.errors import NotFound

    if not value or len(value) > 64 or not value.isalnum():
        raise NotFound("no such ticket")
    return value


@endpoint("/tickets/{ticket_id}", ["PATCH"], role=Role.AGENT, body="TicketPatch")
@responds("TicketOut")
def patch_ticket(principal: Principal, _request: Any, ticket_id: str, body: Any) -> dict[str, Any]:
    from chalicelib.api.presenters import ticket_out
    from chalicelib.services.inbox import TicketUpdate, update_ticket

    given = body.model_fields_set
    update = TicketUpdate(
        version=body.version, status=body.status, priority=body.priority, queue=body.queue,
        assignee=body.assignee, unassign="assignee" in given and body.assignee is None, tags=body.tags,
    )
    return ticket_out(update_ticket(_checked_id(ticket_id), update, principal, _deps()))


@endpoint("/tickets/{ticket_id}/replies", ["POST"], role=Role.AGENT, body="ReplyBody", status=201)
@responds("MessageOut")
def post_reply(principal: Principal, _request: Any, ticket_id: str, body: Any) -> dict[str, Any]:
    from chalicelib import wiring
    from chalicelib.api.presenters import message_out
    from chalicelib.services.inbox import ReplyRequest, reply
    from chalicelib.services.macros import apply_macro

    deps = _deps()
    request = ReplyRequest(body=body.body, version=body.version, status_after=body.status_after, force=body.force)
    if body.macro_id:
        request = apply_macro(body.macro_id, request, _checked_id(ticket_id), principal, deps)
    _ticket, message = reply(_checked_id(ticket_id), request, principal, deps)
    return message_out(message, wiring.blobs())


@endpoint("/tickets/{ticket_id}/notes", ["POST"], role=Role.AGENT, body="NoteBody", status=201)
@responds("MessageOut")
def post_note(principal: Principal, _request: Any, ticket_id: str, body: Any) -> dict[str, Any]:
    from chalicelib.api.presenters import message_out
    from chalicelib.services.inbox import add_note

    return message_out(add_note(_checked_id(ticket_id), body.body, None, principal, _deps()), None)


@endpoint("/tickets/{ticket_id}/merge", ["POST"], role=Role.AGENT, body="MergeBody")
@responds("TicketOut")
def post_merge(principal: Principal, _request: Any, ticket_id: str, body: Any) -> dict[str, Any]:
    from chalicelib.api.presenters import ticket_out
    from chalicelib.services.inbox import merge

    target = merge(_checked_id(ticket_id), _checked_id(body.target_id), body.version, principal, _deps())
    return ticket_out(target)


# ---- macros ----------------------------------------------------------------------------------
@endpoint("/macros", ["GET"], role=Role.AGENT)
@responds("MacroListOut")
def list_macros(_principal: Principal, _request: Any) -> dict[str, Any]:
    from chalicelib.api.presenters import macro_out

    return {"items": [macro_out(m) for m in _deps().repository.list_macros()]}


@endpoint("/macros", ["POST"], role=Role.MANAGER, body="MacroBody", status=201)
@responds("MacroOut")
def create_macro(principal: Principal, _request: Any, body: Any) -> dict[str, Any]:
    from chalicelib.api.presenters import macro_out
    from chalicelib.services.macros import save_macro

    return macro_out(save_macro(None, body, principal, _deps()))


@endpoint("/macros/{macro_id}", ["PUT"], role=Role.MANAGER, body="MacroBody")
@responds("MacroOut")
def update_macro(principal: Principal, _request: Any, macro_id: str, body: Any) -> dict[str, Any]:
    from chalicelib.api.presenters import macro_out
    from chalicelib.services.macros import save_macro

    return macro_out(save_macro(_checked_id(macro_id), body, principal, _deps()))


@endpoint("/macros/{macro_id}", ["DELETE"], role=Role.MANAGER, status=204)
def delete_macro(_principal: Principal, _request: Any, macro_id: str) -> Response:
    _deps().repository.delete_macro(_checked_id(macro_id))
    return Response(body="", status_code=204)


@endpoint("/macros/{macro_id}/preview", ["POST"], role=Role.AGENT, body="MacroPreviewBody")
@responds("PreviewOut")
def preview_macro(principal: Principal, _request: Any, macro_id: str, body: Any) -> dict[str, Any]:
    from chalicelib.services.macros import render_macro

    return {"body": render_macro(_checked_id(macro_id), _checked_id(body.ticket_id), principal, _deps())}


# ---- customers -------------------------------------------------------------------------------
@endpoint("/customers", ["GET"], role=Role.AGENT)
@responds("CustomerOut")
def find_customer(_principal: Principal, request: Any) -> dict[str, Any]:
    from chalicelib.api.presenters import customer_out
    from chalicelib.services.customers import find_customer as run

    query = _query(request)
    return customer_out(*run(email=query.get("email"), phone=query.get("phone"), deps=_deps()))


@endpoint("/customers/{customer_id}", ["GET"], role=Role.AGENT)
@responds("CustomerOut")
def get_customer(_principal: Principal, _request: Any, customer_id: str) -> dict[str, Any]:
    from chalicelib.api.presenters import customer_out
    from chalicelib.services.customers import customer_view

    return customer_out(*customer_view(_checked_id(customer_id), _deps()))


@endpoint("/customers/{customer_id}", ["PATCH"], role=Role.AGENT, body="CustomerPatch")
@responds("CustomerOut")
def patch_customer(principal: Principal, _request: Any, customer_id: str, body: Any) -> dict[str, Any]:
    from chalicelib.api.presenters import customer_out
    from chalicelib.services.customers import rename_customer

    return customer_out(*rename_customer(_checked_id(customer_id), body.name, body.version, principal, _deps()))


@endpoint("/customers/{customer_id}/identities", ["POST"], role=Role.AGENT, body="IdentityBody")
@responds("CustomerOut")
def link_identity(principal: Principal, _request: Any, customer_id: str, body: Any) -> dict[str, Any]:
    """Link an email address or phone number to the customer"""
    from chalicelib.api.presenters import customer_out
    from chalicelib.services.customers import link_identity as run

    return customer_out(*run(_checked_id(customer_id), body.kind, body.value, body.version, principal, _deps()))


@endpoint("/customers/{customer_id}/identities/{kind}/{value}", ["DELETE"], role=Role.AGENT)
@responds("CustomerOut")
def unlink_identity(principal: Principal, _request: Any, customer_id: str, kind: str, value: str) -> dict[str, Any]:
    """Unlink an email address or phone number: it becomes a contact of its own"""
    from urllib.parse import unquote

    from chalicelib.api.presenters import customer_out
    from chalicelib.services.customers import unlink_identity as run

    return customer_out(*run(_checked_id(customer_id), kind, unquote(value)[:254], principal, _deps()))


@endpoint("/customers/{customer_id}/merge", ["POST"], role=Role.AGENT, body="CustomerMergeBody")
@responds("CustomerOut")
def merge_customers(principal: Principal, _request: Any, customer_id: str, body: Any) -> dict[str, Any]:
    """Merge this customer into another: identities and tickets move, in bounded transactions"""
    from chalicelib.api.presenters import customer_out
    from chalicelib.services.customers import merge_customers as run

    target = _checked_id(body.target_id)
    return customer_out(*run(_checked_id(customer_id), target, body.version, principal, _deps()))


# SLA configuration and reports live in their own module, declared with `endpoint` like the routes above;
# loading it here keeps the blueprint (and ROUTES, hence /openapi.json) whole for whoever imports this one.
from chalicelib.api import sla_routes  # noqa: E402, F401
