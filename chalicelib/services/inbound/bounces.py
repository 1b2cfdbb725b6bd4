"""Delivery reports: a bounce joins the ticket of the mail it concerns and marks failed addresses."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from chalicelib.domain.customers import normalize_email
from chalicelib.domain.ids import iso
from chalicelib.domain.threading import MERGE_HOPS
from chalicelib.domain.tickets import EventType, Message, Ticket, new_event
from chalicelib.ports import InboundRecord, LookupResult, MessageIdEntry, TicketChange
from chalicelib.services.inbound import intake
from chalicelib.services.inbound.message import InboundDeps, InboundMessage, InboundOutcome


def recipients(message: InboundMessage) -> list[tuple[str, str]]:
    """The identities a delivery report says could not be reached (read in the pipeline's batch)."""
    if message.bounce is None:
        return []
    return [("email", normalize_email(a)) for a in message.bounce.failed_recipients]


def attach(message: InboundMessage, lookup: LookupResult, claims: list[MessageIdEntry], deps: InboundDeps,
           stored_message: Callable[[str], Message]) -> InboundOutcome:
    source = (message.source, message.source_id)
    entry = lookup.message_ids.get(message.bounced_message_id) if message.bounced_message_id else None
    ticket = _ticket(entry.ticket_id, lookup, deps) if entry and entry.ticket_id else None
    if ticket is None or message.bounce is None:
        return intake.quarantine_delivery(source, "bounce for a message we did not send",
                                          message.raw_location or "", deps, message.sender[1])
    bounce = message.bounce
    undeliverable = []
    if bounce.action.lower() == "failed":
        undeliverable = [(identity.kind, identity.value) for wanted in recipients(message)
                         if (identity := lookup.identities.get(wanted))]
    now = iso(deps.clock.now())
    stored = stored_message(ticket.id)
    events = [new_event(ticket.id, now, EventType.BOUNCE_RECEIVED, "system", message_id=stored.id,
                        status=bounce.status, undeliverable=len(undeliverable))]
    deps.repository.apply(TicketChange(
        ticket=replace(ticket, updated_at=now), messages=[stored], events=events,
        inbound=InboundRecord(*source, state="done", ticket_id=ticket.id),
        claim_message_ids=[replace(c, ticket_id=ticket.id) for c in claims], undeliverable=undeliverable,
    ))
    return InboundOutcome("appended", ticket.id, ticket.number, reason="bounce", threaded_by="bounce")


def _ticket(ticket_id: str, lookup: LookupResult, deps: InboundDeps) -> Ticket | None:
    ticket = lookup.tickets.get(ticket_id) or deps.repository.get_ticket(ticket_id)
    for _ in range(MERGE_HOPS):  # a merged ticket's bounces belong to the ticket it was merged into
        if ticket is None or not ticket.merged_into:
            break
        ticket = deps.repository.get_ticket(ticket.merged_into)
    return ticket
