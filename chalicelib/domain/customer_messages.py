"""The customer-message rule: what a ticket becomes when its customer writes again, on any channel."""
from __future__ import annotations

from dataclasses import replace

from chalicelib.domain.tickets import (
    EventType,
    Ticket,
    TicketEvent,
    TicketStatus,
    is_confirmation,
    new_event,
    status_after_customer_message,
)


def after_customer_message(ticket: Ticket, *, message_id: str, visible_text: str, at: str,
                           automated: str | None, via: str,
                           from_stranger: bool = False) -> tuple[Ticket, list[TicketEvent]]:
    """The ticket once the customer's message joined it, and the events that say so. A person's message
    reopens a waiting or finished ticket, or closes a resolved one when it confirms ("yes, thanks");
    a machine's message (auto-reply, bounce) never moves the status and is not activity. A stranger's
    message (not the ticket's customer, though it cites the thread) reopens, never confirms: only the
    customer can close their ticket, and the event flags it for the agent."""
    status = status_after_customer_message(ticket.status, automated=automated is not None,
                                           confirms=is_confirmation(visible_text) and not from_stranger)
    events = [new_event(ticket.id, at, EventType.MESSAGE_RECEIVED, "customer", message_id=message_id, via=via,
                        automated=automated, from_stranger=True if from_stranger else None)]
    updated = replace(ticket, status=status, updated_at=at)
    if automated is None:
        # A late text takes its place in the thread by carrier time, but counts as activity now.
        updated.last_activity_at = max(ticket.last_activity_at, at)
        updated.customer_activity_at = max(ticket.waiting_since, at)
        updated.thread_version = ticket.version + 1
    if status is not ticket.status:
        reason = "customer confirmed" if status is TicketStatus.CLOSED else "customer replied"
        events.append(new_event(ticket.id, at, EventType.STATUS_CHANGED, "customer",
                                **{"from": ticket.status.value}, to=status.value, reason=reason))
        updated.closed_at = at if status is TicketStatus.CLOSED else None
        if status is TicketStatus.OPEN:
            updated.resolved_at = None
    return updated, events
