"""HTTP routes of the agents' inbox (tickets, macros, customers) and the public contact form."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Response

from chalicelib.api.endpoint import checked_id, endpoint, multi, query_of, responds, shop
from chalicelib.domain.principals import Principal, Role

if TYPE_CHECKING:
    from chalicelib.api import models
    from chalicelib.domain.customers import Customer
    from chalicelib.ports import TicketPage
    from chalicelib.services.inbox import InboxDeps, TicketDetail
    from chalicelib.services.macros import MacroDraft


def _deps() -> InboxDeps:
    return shop().inbox()


# ---- public ----------------------------------------------------------------------------------
@endpoint("/openapi.json", ["GET"], role=None)
def openapi_document(_principal: None, _request: Any) -> dict[str, Any]:
    from chalicelib.api.openapi import document

    return document()


@endpoint("/contact", ["POST"], role=None, status=202)
@responds("ContactOut")
def contact(_principal: None, request: Any, body: models.ContactBody) -> dict[str, Any]:
    from chalicelib.services.inbound.web_form import ContactForm, submit_contact

    source_ip = ((request.context or {}).get("identity") or {}).get("sourceIp", "unknown")
    form = ContactForm(name=body.name, email=body.email, phone=body.phone, order_number=body.order_number,
                       subject=body.subject, message=body.message, honeypot=body.website or "",
                       source_ip=str(source_ip))
    number = submit_contact(form, shop().inbound())
    return {"status": "received", "ticket_number": number}


# ---- tickets ---------------------------------------------------------------------------------
@endpoint("/tickets", ["GET"], role=Role.AGENT)
@responds("TicketPageOut")
def list_tickets(principal: Principal, request: Any) -> dict[str, Any]:
    from chalicelib.api.listing import parse_listing
    from chalicelib.api.presenters import ticket_summary_out
    from chalicelib.services.inbox import list_tickets as run

    deps = _deps()
    query, codec = parse_listing(query_of(request), multi(request, "status"), principal, deps)
    page = run(query, deps)
    return {"items": [ticket_summary_out(t) for t in page.tickets], "next": codec.encode(page.cursor)}


@endpoint("/tickets", ["POST"], role=Role.AGENT, status=201)
@responds("TicketOut")
def open_ticket(principal: Principal, _request: Any, body: models.NewTicketBody) -> dict[str, Any]:
    from chalicelib.api.presenters import ticket_out
    from chalicelib.services.new_tickets import NewTicketRequest
    from chalicelib.services.new_tickets import open_ticket as run

    ticket = run(NewTicketRequest(**body.model_dump()), principal, _deps())
    return ticket_out(ticket)


def _secret() -> str:
    return shop().settings.reply_secret


def _thread(ticket_id: str, messages: list[Any], more: bool) -> tuple[list[dict[str, Any]], str | None]:
    """A page of messages as previews within the page's byte budget, and the cursor to the rest."""
    from chalicelib.api.paging import codec, encode_position
    from chalicelib.api.presenters import thread_out
    from chalicelib.ports import ThreadPosition

    shown, cut = thread_out(messages, shop().blobs)
    last = messages[len(shown) - 1] if shown and (cut or more) else None
    position = ThreadPosition(last.created_at, last.id) if last else None
    return shown, encode_position(codec(_secret(), "messages", ticket_id), position)


def _detail(detail: TicketDetail) -> dict[str, Any]:
    from chalicelib.api.paging import codec
    from chalicelib.api.presenters import ticket_out, ticket_summary_out

    ticket = detail.ticket
    messages, cursor = _thread(ticket.id, detail.messages, detail.more_messages)
    return {
        "ticket": ticket_out(ticket),
        "messages": messages,
        "next_cursor": cursor,
        "customer_tickets": [ticket_summary_out(t) for t in detail.other_tickets],
        "customer_tickets_next_cursor": codec(_secret(), "customer", ticket.customer_id).encode(
            detail.customer_cursor),
    }


@endpoint("/tickets/by-number/{number}", ["GET"], role=Role.AGENT)
@responds("TicketDetailOut")
def ticket_by_number(_principal: Principal, request: Any, number: str) -> dict[str, Any]:
    """A ticket by its number, as GET /tickets/{ticket_id} shows it"""
    from chalicelib.api.paging import page_query
    from chalicelib.domain.errors import NotFound
    from chalicelib.services.inbox import ticket_by_number as run

    limit, _ = page_query(query_of(request), frozenset({"limit"}))
    if not number.isascii() or not number.isdigit() or len(number) > 9:
        raise NotFound("no ticket has that number")
    return _detail(run(int(number), _deps(), limit))


@endpoint("/tickets/{ticket_id}", ["GET"], role=Role.AGENT)
@responds("TicketDetailOut")
def get_ticket(_principal: Principal, request: Any, ticket_id: str) -> dict[str, Any]:
    """A ticket with its newest messages (previews; older ones page on) and the customer's other tickets"""
    from chalicelib.api.paging import page_query
    from chalicelib.services.inbox import ticket_detail

    limit, _ = page_query(query_of(request), frozenset({"limit"}))
    return _detail(ticket_detail(checked_id(ticket_id), _deps(), limit))


@endpoint("/tickets/{ticket_id}/messages", ["GET"], role=Role.AGENT)
@responds("ThreadPageOut")
def get_thread(_principal: Principal, request: Any, ticket_id: str) -> dict[str, Any]:
    """A page of the ticket's messages, newest first (previews, no HTML); `cursor` from the page before"""
    from chalicelib.api.paging import codec, decode_position, page_query
    from chalicelib.services.inbox import thread_messages

    ticket = checked_id(ticket_id)
    limit, cursor = page_query(query_of(request))
    before = decode_position(codec(_secret(), "messages", ticket), cursor) if cursor else None
    page = thread_messages(ticket, before, limit, _deps())
    messages, next_cursor = _thread(ticket, page.messages, page.more)
    return {"messages": messages, "next_cursor": next_cursor}


@endpoint("/tickets/{ticket_id}/messages/{message_ref}", ["GET"], role=Role.AGENT)
@responds("MessageOut")
def get_message(_principal: Principal, request: Any, ticket_id: str, message_ref: str) -> dict[str, Any]:
    """One message whole (`ref` from the thread); `part=html` or `part=text` for only one of them"""
    from chalicelib.api.paging import only
    from chalicelib.api.presenters import message_out, parse_message_ref
    from chalicelib.domain.errors import InvalidInput, NotFound
    from chalicelib.services.inbox import full_message

    ticket = checked_id(ticket_id)
    query = query_of(request)
    only(query, frozenset({"part"}))
    part = query.get("part")
    if part not in (None, "text", "html"):
        raise InvalidInput("part is text or html", "part")
    ref = parse_message_ref(message_ref)
    if ref is None:
        raise NotFound("no such message on this ticket")
    blobs = shop().blobs
    found = full_message(ticket, ref[0], ref[1], _deps(), blobs)
    return message_out(found.message, blobs, text=part != "html", html=part != "text", complete=found.complete)


@endpoint("/tickets/{ticket_id}/events", ["GET"], role=Role.AGENT)
@responds("EventPageOut")
def get_events(_principal: Principal, request: Any, ticket_id: str) -> dict[str, Any]:
    """A page of the ticket's history, newest first; `cursor` from the page before"""
    from chalicelib.api.paging import codec, decode_position, encode_position, page_query
    from chalicelib.api.presenters import event_out
    from chalicelib.ports import ThreadPosition
    from chalicelib.services.inbox import ticket_events

    ticket = checked_id(ticket_id)
    limit, cursor = page_query(query_of(request))
    cursors = codec(_secret(), "events", ticket)
    page = ticket_events(ticket, decode_position(cursors, cursor) if cursor else None, limit, _deps())
    last = page.events[-1] if page.more and page.events else None
    return {"events": [event_out(e) for e in page.events],
            "next_cursor": encode_position(cursors, ThreadPosition(last.at, last.id) if last else None)}


@endpoint("/tickets/{ticket_id}", ["PATCH"], role=Role.AGENT)
@responds("TicketOut")
def patch_ticket(principal: Principal, _request: Any, ticket_id: str, body: models.TicketPatch) -> dict[str, Any]:
    from chalicelib.api.presenters import ticket_out
    from chalicelib.services.inbox import TicketUpdate, update_ticket

    given = body.model_fields_set
    update = TicketUpdate(
        version=body.version, status=body.status, priority=body.priority, queue=body.queue,
        assignee=body.assignee, unassign="assignee" in given and body.assignee is None, tags=body.tags,
    )
    return ticket_out(update_ticket(checked_id(ticket_id), update, principal, _deps()))


@endpoint("/tickets/{ticket_id}/replies", ["POST"], role=Role.AGENT, status=201)
@responds("MessageOut")
def post_reply(principal: Principal, _request: Any, ticket_id: str, body: models.ReplyBody) -> dict[str, Any]:
    from chalicelib.api import models
    from chalicelib.api.presenters import message_out
    from chalicelib.services.macros import apply_macro
    from chalicelib.services.replies import ReplyRequest, reply

    deps = _deps()
    request = ReplyRequest(body=body.body, version=body.version, status_after=body.status_after, force=body.force,
                           idempotency_key=models.idempotency_key(_request.headers))
    if body.macro_id:
        request = apply_macro(body.macro_id, request, checked_id(ticket_id), principal, deps)
    _ticket, message = reply(checked_id(ticket_id), request, principal, deps)
    return message_out(message, shop().blobs)


@endpoint("/tickets/{ticket_id}/notes", ["POST"], role=Role.AGENT, status=201)
@responds("MessageOut")
def post_note(principal: Principal, _request: Any, ticket_id: str, body: models.NoteBody) -> dict[str, Any]:
    from chalicelib.api.presenters import message_out
    from chalicelib.services.inbox import add_note

    return message_out(add_note(checked_id(ticket_id), body.body, None, principal, _deps()), None)


@endpoint("/tickets/{ticket_id}/merge", ["POST"], role=Role.AGENT)
@responds("TicketOut")
def post_merge(principal: Principal, _request: Any, ticket_id: str, body: models.MergeBody) -> dict[str, Any]:
    from chalicelib.api.presenters import ticket_out
    from chalicelib.services.inbox import merge

    target = merge(checked_id(ticket_id), checked_id(body.target_id), body.version, principal, _deps())
    return ticket_out(target)


@endpoint("/tickets/{ticket_id}/unmerge", ["POST"], role=Role.MANAGER)
@responds("TicketOut")
def post_unmerge(principal: Principal, _request: Any, ticket_id: str, body: models.UnmergeBody) -> dict[str, Any]:
    """Take a merged ticket back out: it reopens; the messages that moved stay on the other ticket"""
    from chalicelib.api.presenters import ticket_out
    from chalicelib.services.inbox import unmerge

    return ticket_out(unmerge(checked_id(ticket_id), body.version, principal, _deps()))


# ---- macros ----------------------------------------------------------------------------------
@endpoint("/macros", ["GET"], role=Role.AGENT)
@responds("MacroListOut")
def list_macros(_principal: Principal, _request: Any) -> dict[str, Any]:
    from chalicelib.api.presenters import macro_out

    return {"items": [macro_out(m) for m in _deps().repository.list_macros()]}


def _draft(body: models.MacroBody) -> MacroDraft:
    from chalicelib.services.macros import MacroDraft

    return MacroDraft(name=body.name, body=body.body, status=body.actions.status,
                      add_tags=tuple(body.actions.add_tags or ()), version=body.version)


@endpoint("/macros", ["POST"], role=Role.MANAGER, status=201)
@responds("MacroOut")
def create_macro(principal: Principal, _request: Any, body: models.MacroBody) -> dict[str, Any]:
    from chalicelib.api.presenters import macro_out
    from chalicelib.services.macros import save_macro

    return macro_out(save_macro(None, _draft(body), principal, _deps()))


@endpoint("/macros/{macro_id}", ["PUT"], role=Role.MANAGER)
@responds("MacroOut")
def update_macro(principal: Principal, _request: Any, macro_id: str, body: models.MacroBody) -> dict[str, Any]:
    from chalicelib.api.presenters import macro_out
    from chalicelib.services.macros import save_macro

    return macro_out(save_macro(checked_id(macro_id), _draft(body), principal, _deps()))


@endpoint("/macros/{macro_id}", ["DELETE"], role=Role.MANAGER, status=204)
def delete_macro(_principal: Principal, _request: Any, macro_id: str) -> Response:
    _deps().repository.delete_macro(checked_id(macro_id))
    return Response(body="", status_code=204)


@endpoint("/macros/{macro_id}/preview", ["POST"], role=Role.AGENT)
@responds("PreviewOut")
def preview_macro(principal: Principal, _request: Any, macro_id: str, body: models.MacroPreviewBody) -> dict[str, Any]:
    from chalicelib.services.macros import render_macro

    return {"body": render_macro(checked_id(macro_id), checked_id(body.ticket_id), principal, _deps())}


# ---- customers -------------------------------------------------------------------------------
def _customer(customer: Customer, page: TicketPage) -> dict[str, Any]:
    """A customer with a page of their tickets and the cursor to the next (GET /customers/{id}?cursor=)."""
    from chalicelib.api.paging import codec
    from chalicelib.api.presenters import customer_out

    return customer_out(customer, page.tickets, codec(_secret(), "customer", customer.id).encode(page.cursor))


@endpoint("/customers", ["GET"], role=Role.AGENT)
@responds("CustomerOut")
def find_customer(_principal: Principal, request: Any) -> dict[str, Any]:
    from chalicelib.services.customers import find_customer as run

    query = query_of(request)
    return _customer(*run(email=query.get("email"), phone=query.get("phone"), deps=_deps()))


@endpoint("/customers/{customer_id}", ["GET"], role=Role.AGENT)
@responds("CustomerOut")
def get_customer(_principal: Principal, request: Any, customer_id: str) -> dict[str, Any]:
    """A customer with a page of their tickets on every channel, newest first; `cursor` continues them"""
    from chalicelib.api.paging import codec, decode_key, page_query
    from chalicelib.services.customers import customer_view

    customer = checked_id(customer_id)
    limit, cursor = page_query(query_of(request))
    start = decode_key(codec(_secret(), "customer", customer), cursor) if cursor else None
    return _customer(*customer_view(customer, _deps(), limit, start))


@endpoint("/customers/{customer_id}", ["PATCH"], role=Role.AGENT)
@responds("CustomerOut")
def patch_customer(principal: Principal, _request: Any, customer_id: str, body: models.CustomerPatch) -> dict[str, Any]:
    from chalicelib.services.customers import rename_customer

    return _customer(*rename_customer(checked_id(customer_id), body.name, body.version, principal, _deps()))


@endpoint("/customers/{customer_id}/identities", ["POST"], role=Role.AGENT)
@responds("CustomerOut")
def link_identity(principal: Principal, _request: Any, customer_id: str, body: models.IdentityBody) -> dict[str, Any]:
    """Link an email address or phone number to the customer"""
    from chalicelib.services.customers import link_identity as run

    return _customer(*run(checked_id(customer_id), body.kind, body.value, body.version, principal, _deps()))


@endpoint("/customers/{customer_id}/identities/{kind}/{value}", ["DELETE"], role=Role.AGENT)
@responds("CustomerOut")
def unlink_identity(principal: Principal, _request: Any, customer_id: str, kind: str, value: str) -> dict[str, Any]:
    """Unlink an email address or phone number: it becomes a contact of its own"""
    from urllib.parse import unquote

    from chalicelib.services.customers import unlink_identity as run

    return _customer(*run(checked_id(customer_id), kind, unquote(value)[:254], principal, _deps()))


@endpoint("/customers/{customer_id}/merge", ["POST"], role=Role.AGENT)
@responds("CustomerOut")
def merge_customers(principal: Principal, _request: Any, customer_id: str,
                    body: models.CustomerMergeBody) -> dict[str, Any]:
    """Merge this customer into another: identities and tickets move, in bounded transactions"""
    from chalicelib.services.customers import merge_customers as run

    target = checked_id(body.target_id)
    return _customer(*run(checked_id(customer_id), target, body.version, principal, _deps()))
