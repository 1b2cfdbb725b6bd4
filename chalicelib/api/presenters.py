"""Domain objects as the API shows them (the shapes of api/models.py's response models)."""
from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from chalicelib.domain.customers import Customer
from chalicelib.domain.macros import Macro
from chalicelib.domain.tickets import Message, Ticket, TicketEvent, TicketSummary
from chalicelib.ports import BlobStore


def _ticket_line(ticket: Ticket | TicketSummary) -> dict[str, Any]:
    """What a ticket and a list line of it both show (models.TicketLine)."""
    return {
        "id": ticket.id, "number": ticket.number, "subject": ticket.subject, "status": ticket.status.value,
        "priority": ticket.priority, "queue": ticket.queue, "channel": ticket.channel.value,
        "assignee": ticket.assignee, "tags": list(ticket.tags),
        "customer": {"id": ticket.customer_id, "name": ticket.customer_name, "email": ticket.customer_email,
                     "phone": ticket.customer_phone},
        "created_at": ticket.created_at, "last_activity_at": ticket.last_activity_at,
        "merged_into": ticket.merged_into, "sla_due_at": ticket.sla_due_at,
    }


def ticket_out(ticket: Ticket) -> dict[str, Any]:
    return {**_ticket_line(ticket), "updated_at": ticket.updated_at,
            "first_response_due_at": ticket.first_response_due_at, "first_responded_at": ticket.first_responded_at,
            "linked_ticket_id": ticket.linked_ticket_id, "version": ticket.version}


def ticket_summary_out(summary: TicketSummary) -> dict[str, Any]:
    """One line of a list: the ticket's list row (the list indexes project nothing else)."""
    return {**_ticket_line(summary), "waiting_since": summary.waiting_since, "sla_state": summary.sla_state}


# What a page of the thread carries of each message's text, as JSON bytes (the response is JSON with
# ASCII escapes: a character costs 1 to 12 bytes). The whole message, HTML included, is one request away.
PREVIEW_BYTES = 8_000
PAGE_BYTES = 800_000  # a page's messages stop here (with the ticket and customer tickets: under 1 MB)
FULL_PART_BYTES = 1_500_000  # each part of a whole message (three parts: under Lambda's 6 MB response)


def clipped(text: str, max_bytes: int) -> tuple[str, bool]:
    """`text` cut so its JSON string (ASCII escapes) takes at most `max_bytes`; True when cut."""
    if len(text) * 12 <= max_bytes or len(json.dumps(text)) - 2 <= max_bytes:
        return text, False  # (the first test: even all-escaped it fits, no measuring)
    fits, too_long = 0, min(len(text), max_bytes + 1)  # a character takes at least one byte
    while too_long - fits > 1:
        middle = (fits + too_long) // 2
        if len(json.dumps(text[:middle])) - 2 <= max_bytes:
            fits = middle
        else:
            too_long = middle
    return text[:fits], True


def message_ref(message: Message) -> str:
    """The path segment that names one message of a ticket (its sort key: time and id)."""
    return base64.urlsafe_b64encode(f"{message.created_at}|{message.id}".encode()).decode().rstrip("=")


def parse_message_ref(ref: str) -> tuple[str, str] | None:
    """(time, id) of a message_ref; None for anything this API did not give out as one."""
    if not ref or len(ref) > 128:
        return None
    try:
        at, _, message_id = base64.urlsafe_b64decode(ref + "=" * (-len(ref) % 4)).decode().partition("|")
    except (binascii.Error, ValueError):
        return None
    if not (0 < len(at) <= 40 and at.isprintable() and message_id.isalnum() and len(message_id) <= 64):
        return None
    return at, message_id


def message_out(message: Message, blobs: BlobStore | None, *, preview: bool = False, text: bool = True,
                html: bool = True, complete: bool = True) -> dict[str, Any]:
    """A message as the API shows it. In a page of the thread (`preview`): texts of at most
    PREVIEW_BYTES, no HTML, `truncated` when the whole message holds more. Whole (the message's own
    route, replies, notes): each part up to FULL_PART_BYTES; `text`/`html` False leave a part out."""
    limit = PREVIEW_BYTES if preview else FULL_PART_BYTES
    body_text, cut_body = clipped(message.body_text, limit) if text else ("", False)
    visible_text, cut_visible = clipped(message.visible_text, limit) if text else ("", False)
    body_html, cut_html = (None, False)
    if html and not preview and message.body_html is not None:
        body_html, cut_html = clipped(message.body_html, FULL_PART_BYTES)
    in_blob = bool(message.body_key)  # the item holds a preview; the whole body is in the blob store
    return {
        "id": message.id, "ref": message_ref(message), "direction": message.direction.value,
        "channel": message.channel.value, "from": message.from_address, "from_name": message.from_name,
        "to": list(message.to), "subject": message.subject, "body_text": body_text, "visible_text": visible_text,
        "body_html": body_html,
        "has_html": message.body_html is not None or in_blob,  # a large body's HTML, if any, is in the blob
        "truncated": cut_body or cut_visible or cut_html or not complete or (preview and in_blob),
        "attachments": [
            {"filename": a.filename, "content_type": a.content_type, "size": a.size,
             "url": blobs.download_url(a.key, a.filename) if blobs else None}
            for a in message.attachments
        ],
        "created_at": message.created_at, "internal": message.internal, "automated": message.automated,
        "author_id": message.author_id, "from_stranger": message.from_stranger,
        "delivery_state": message.delivery_state,
    }


def thread_out(messages: list[Message], blobs: BlobStore | None) -> tuple[list[dict[str, Any]], bool]:
    """A page of messages as previews, within PAGE_BYTES of JSON (at least one message, so paging always
    moves on). True when messages were left for the next page."""
    shown: list[dict[str, Any]] = []
    total = 0
    for message in messages:
        out = message_out(message, blobs, preview=True)
        total += len(json.dumps(out, default=str)) + 1
        if shown and total > PAGE_BYTES:
            return shown, True
        shown.append(out)
    return shown, False


def event_out(event: TicketEvent) -> dict[str, Any]:
    return {"id": event.id, "type": event.type, "actor": event.actor, "at": event.at, "data": event.data}


def customer_out(customer: Customer, tickets: list[TicketSummary], next_cursor: str | None = None) -> dict[str, Any]:
    return {"id": customer.id, "name": customer.name, "emails": customer.emails, "phones": customer.phones,
            "version": customer.version, "tickets": [ticket_summary_out(t) for t in tickets],
            "next_cursor": next_cursor,
            "merged_into": customer.merged_into}


def macro_out(macro: Macro) -> dict[str, Any]:
    return {"id": macro.id, "name": macro.name, "body": macro.body,
            "actions": {"status": macro.status, "add_tags": macro.add_tags}, "version": macro.version}


def current_state(entity: object) -> dict[str, Any] | None:
    """What a 409 shows of the entity that changed under the caller."""
    if isinstance(entity, Ticket):
        return ticket_out(entity)
    if isinstance(entity, Customer):
        return customer_out(entity, [])
    if isinstance(entity, Macro):
        return macro_out(entity)
    return None
