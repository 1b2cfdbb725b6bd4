"""The OpenAPI 3 document, generated from the routes' own models and roles (it cannot drift)."""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from chalicelib.api import models

_ERRORS = {
    "400": "invalid input (the field is named)", "401": "no or invalid token", "403": "role too low",
    "404": "not found", "409": "stale version or conflict (the current ticket is included)",
    "413": "body too large", "422": "not possible on this ticket or channel", "429": "rate limited",
}
_LISTING_PARAMETERS = [
    ("status", "array", "filter by status (several allowed, comma-separated or repeated)"),
    ("queue", "string", "queue name"), ("assignee", "string", "me, none or a user id"),
    ("priority", "string", "low, normal, high or urgent"), ("tag", "string", "a tag"),
    ("channel", "string", "email, sms, web or phone"), ("customer", "string", "a customer id"),
    ("breached", "string", "true: only tickets whose promise is broken (the same as sla=breached)"),
    ("sla", "string", "due_soon (a running promise falls due within the hour), warned or breached; soonest first"),
    ("sort", "string", "activity (the customer's last message, newest first; default) or due (soonest first)"),
    ("limit", "integer", "1 to 100, default 25"),
    ("next", "string", "the cursor of the previous page"),
]
_PAGE_PARAMETERS = [("limit", "integer", "1 to 100, default 25"),
                    ("cursor", "string", "the next_cursor of the page before")]
# Paged reads beside the listing: (path, parameters it takes); the thread's first page takes only a limit.
_PAGED = {
    "/tickets/{ticket_id}": _PAGE_PARAMETERS[:1], "/tickets/by-number/{number}": _PAGE_PARAMETERS[:1],
    "/tickets/{ticket_id}/messages": _PAGE_PARAMETERS, "/tickets/{ticket_id}/events": _PAGE_PARAMETERS,
    "/customers/{customer_id}": _PAGE_PARAMETERS,
}
_PATH_LENGTHS = {"message_ref": 128}  # a message's time and id, encoded
_REPORT_PARAMETERS = [
    ("from", "first day, YYYY-MM-DD (default: six days before `to`)"), ("to", "last day (default: today)"),
    ("queue", "queue name"), ("agent", "a user id (managers only)"),
]


def _schema(name: str, components: dict[str, Any]) -> dict[str, Any]:
    model = getattr(models, name)
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}", by_alias=True)
    for key, definition in schema.pop("$defs", {}).items():
        components[key] = definition
    components[name] = schema
    return {"$ref": f"#/components/schemas/{name}"}


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    from chalicelib.api import (  # noqa: F401 - every route module declares its routes
        identity_routes,
        routes,
        sla_routes,
    )
    from chalicelib.api.endpoint import ROUTES, body_model

    components: dict[str, Any] = {}
    error_ref = _schema("ErrorOut", components)
    paths: dict[str, Any] = {}
    for path, method, handler in ROUTES:
        role = handler.required_role
        operation: dict[str, Any] = {
            "operationId": f"{method.lower()}_{handler.__name__}",
            "summary": (handler.__doc__ or handler.__name__.replace("_", " ")).strip().splitlines()[0],
            "responses": {code: {"description": text, "content": {"application/json": {"schema": error_ref}}}
                          for code, text in _ERRORS.items()},
        }
        if role is not None:
            operation["security"] = [{"bearer": []}]
            operation["x-required-role"] = role.name.lower()
        else:
            operation["security"] = []
        request_model = body_model(handler.view)
        if request_model is not None:
            operation["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": _schema(request_model.__name__, components)}}}
        success: dict[str, Any] = {"description": "success"}
        if handler.response_model:
            success["content"] = {"application/json": {"schema": _schema(handler.response_model, components)}}
        operation["responses"][str(handler.success_status)] = success
        parameters = [{"name": n, "in": "path", "required": True,
                       "schema": {"type": "string", "maxLength": _PATH_LENGTHS.get(n, 64)}}
                      for n in re.findall(r"{(\w+)}", path)]
        if path in _PAGED and method == "GET":
            parameters += [{"name": n, "in": "query", "required": False, "description": d, "schema": {"type": t}}
                           for n, t, d in _PAGED[path]]
        if path == "/tickets/{ticket_id}/messages/{message_ref}" and method == "GET":
            parameters.append({"name": "part", "in": "query", "required": False,
                               "description": "text or html: only that part (default: the whole message)",
                               "schema": {"type": "string", "enum": ["text", "html"]}})
        if path == "/tickets" and method == "GET":
            parameters += [{"name": n, "in": "query", "required": False, "description": d,
                            "schema": {"type": "array", "items": {"type": "string"}} if t == "array" else {"type": t}}
                           for n, t, d in _LISTING_PARAMETERS]
        if path == "/tickets/{ticket_id}/replies" and method == "POST":
            parameters.append({"name": "Idempotency-Key", "in": "header", "required": False,
                               "description": "the same key on the same ticket returns the first reply and sends "
                                              "nothing (a resend after a lost answer is safe)",
                               "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"}})
        if path == "/customers" and method == "GET":
            parameters += [{"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
                           for n in ("email", "phone")]
        if path == "/reports/sla" and method == "GET":
            parameters += [{"name": n, "in": "query", "required": False, "description": d,
                            "schema": {"type": "string"}} for n, d in _REPORT_PARAMETERS]
        if parameters:
            operation["parameters"] = parameters
        paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.0.3",
        "info": {"title": "ShopDesk API", "version": "1.0.0",
                 "description": "The agents' inbox and the public contact form."},
        "paths": paths,
        "components": {"schemas": components,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
    }
