"""Domain objects as the API shows them (the shapes of api/models.py's response models)."""
from __future__ import annotations

from typing import Any

from chalicelib.domain.customers import Customer
from chalicelib.domain.macros import Macro
from chalicelib.domain.tickets import Message, Ticket, TicketEvent, TicketSummary
from chalicelib.ports import BlobStore


def ticket_out(ticket: Ticket) -> dict[str, Any]:
    return {
        "id": ticket.id, "number": ticket.number, "subject": ticket.subject, "status": ticket.status.value,
        "priority": ticket.priority, "queue": ticket.queue, "channel": ticket.channel.value,
        "assignee": ticket.assignee, "tags": list(ticket.tags),
        "customer": {"id": ticket.customer_id, "name": ticket.customer_name, "email": ticket.customer_email,
                     "phone": ticket.customer_phone},
        "created_at": ticket.created_at, "updated_at": ticket.updated_at,
        "last_activity_at": ticket.last_activity_at, "first_response_due_at": ticket.first_response_due_at,
        "first_responded_at": ticket.first_responded_at, "linked_ticket_id": ticket.linked_ticket_id,
        "merged_into": ticket.merged_into, "version": ticket.version, "sla_due_at": ticket.sla_due_at,
    }


def ticket_summary_out(summary: TicketSummary) -> dict[str, Any]:
    """One line of a list: the ticket's list row (the list indexes project nothing else)."""
    return {
        "id": summary.id, "number": summary.number, "subject": summary.subject, "status": summary.status.value,
        "priority": summary.priority, "queue": summary.queue, "channel": summary.channel.value,
        "assignee": summary.assignee, "tags": list(summary.tags),
        "customer": {"id": summary.customer_id, "name": summary.customer_name, "email": summary.customer_email,
                     "phone": summary.customer_phone},
        "created_at": summary.created_at, "last_activity_at": summary.last_activity_at,
        "waiting_since": summary.waiting_since, "sla_due_at": summary.sla_due_at, "sla_state": summary.sla_state,
        "merged_into": summary.merged_into,
    }


def message_out(message: Message, blobs: BlobStore | None) -> dict[str, Any]:
    return {
        "id": message.id, "direction": message.direction.value, "channel": message.channel.value,
        "from": message.from_address, "from_name": message.from_name, "to": list(message.to),
        "subject": message.subject, "body_text": message.body_text, "visible_text": message.visible_text,
        "body_html": message.body_html,
        "attachments": [
            {"filename": a.filename, "content_type": a.content_type, "size": a.size,
             "url": blobs.download_url(a.key, a.filename) if blobs else None}
            for a in message.attachments
        ],
        "created_at": message.created_at, "internal": message.internal, "automated": message.automated,
        "author_id": message.author_id, "from_stranger": message.from_stranger,
        "delivery_state": message.delivery_state,
    }


def event_out(event: TicketEvent) -> dict[str, Any]:
    return {"id": event.id, "type": event.type, "actor": event.actor, "at": event.at, "data": event.data}


def customer_out(customer: Customer, tickets: list[TicketSummary]) -> dict[str, Any]:
    return {"id": customer.id, "name": customer.name, "emails": customer.emails, "phones": customer.phones,
            "version": customer.version, "tickets": [ticket_summary_out(t) for t in tickets],
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
