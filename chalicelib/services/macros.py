"""Canned responses: managers edit them; agents render them into replies (sandboxed templates)."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from chalicelib.domain.errors import InvalidInput, NotFound
from chalicelib.domain.ids import iso, new_id
from chalicelib.domain.macros import Macro, placeholder_context
from chalicelib.domain.principals import Principal
from chalicelib.domain.workflow import check_tags
from chalicelib.services.inbox import InboxDeps
from chalicelib.services.replies import ReplyRequest


def _render(source: str, context: dict[str, Any]) -> str:
    from jinja2 import TemplateError

    from chalicelib.templates import render_string

    try:
        return render_string(source, context)
    except TemplateError as exc:
        raise InvalidInput(f"the macro does not render: {_described(exc)}", "body") from exc
    except (ArithmeticError, LookupError, TypeError, ValueError, RecursionError) as exc:
        # The template's own arithmetic or calls failed (1/0, a huge float, a bad index, endless
        # recursion): the manager's or agent's to fix, never a 500.
        raise InvalidInput(f"the macro fails while rendering: {_described(exc)}", "body") from exc


def _described(exc: Exception) -> str:
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"{exc.__class__.__name__}: {text}" if text else exc.__class__.__name__


def _check_syntax(source: str) -> None:
    _render(source, placeholder_context(customer_name="Ada Lovelace", ticket_number=1001, ticket_subject="Subject",
                                        agent_name="Agent", store_name="Store"))


@dataclass(frozen=True)
class MacroDraft:
    """A macro as a manager writes it; `version` is the one they saw (None for a new macro)."""

    name: str
    body: str
    status: str | None = None
    add_tags: tuple[str, ...] = ()
    version: int | None = None


def save_macro(macro_id: str | None, body: MacroDraft, principal: Principal, deps: InboxDeps) -> Macro:
    _check_syntax(body.body)
    tags = check_tags(list(body.add_tags)) if body.add_tags else []
    if macro_id is not None and body.version is None:
        raise InvalidInput("changing a macro needs the version you saw", "version")
    if macro_id is not None and deps.repository.get_macro(macro_id) is None:
        raise NotFound(f"macro {macro_id} not found")
    macro = Macro(id=macro_id or new_id(), name=body.name, body=body.body, status=body.status,
                  add_tags=tags, updated_by=principal.user_id, updated_at=iso(deps.clock.now()))
    return deps.repository.save_macro(macro, body.version if macro_id is not None else None)


def render_macro(macro_id: str, ticket_id: str, principal: Principal, deps: InboxDeps) -> str:
    macro = deps.repository.get_macro(macro_id)
    if macro is None:
        raise NotFound(f"macro {macro_id} not found")
    ticket = deps.repository.get_ticket(ticket_id)
    if ticket is None:
        raise NotFound(f"ticket {ticket_id} not found")
    return _render(macro.body, placeholder_context(
        customer_name=ticket.customer_name, ticket_number=ticket.number, ticket_subject=ticket.subject,
        agent_name=principal.name, store_name=deps.settings.store_name))


def apply_macro(macro_id: str, request: ReplyRequest, ticket_id: str, principal: Principal,
                deps: InboxDeps) -> ReplyRequest:
    """A reply that names a macro: its rendered body (after any text the agent wrote) and actions."""
    macro = deps.repository.get_macro(macro_id)
    if macro is None:
        raise NotFound(f"macro {macro_id} not found")
    rendered = render_macro(macro_id, ticket_id, principal, deps)
    body = f"{request.body.strip()}\n\n{rendered}".strip() if request.body.strip() else rendered
    return replace(request, body=body, status_after=request.status_after or macro.status,
                   add_tags=list(dict.fromkeys([*request.add_tags, *macro.add_tags])))
