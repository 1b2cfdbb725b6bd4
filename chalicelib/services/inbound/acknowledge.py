"""The acknowledgement, one step for every channel: whether one is due, sending it (by email or by text,
as the message came), and recording it exactly once — or, when the provider refuses it for good, saying
so on the ticket so that no retry tries again."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from chalicelib.domain.calendar import describe_promise
from chalicelib.domain.customers import Customer
from chalicelib.domain.errors import TransientFailure, Unavailable
from chalicelib.domain.ids import iso, new_id, parse_iso
from chalicelib.domain.threading import normalize_message_id, numbered_subject, reply_address
from chalicelib.domain.tickets import AckState, Channel, Direction, EventType, Message, Ticket, new_event
from chalicelib.mail.compose import AUTO_REPLY_HEADERS
from chalicelib.ports import (
    AckRecord,
    InboundRecord,
    MessageIdEntry,
    OutgoingEmail,
    OutgoingSms,
    TicketChange,
    TicketRepository,
)
from chalicelib.services.inbound.message import EmailRoute, InboundDeps, InboundMessage, SmsRoute
from chalicelib.services.retry import retry_on_conflict
from chalicelib.services.sla_rules import promise_zone
from chalicelib.sms import compose
from chalicelib.templates import render_file

RECORD_ATTEMPTS = 3


def acknowledge(ticket: Ticket, message: InboundMessage, deps: InboundDeps) -> bool:
    """Sends the acknowledgement of a new ticket and records it; False when the provider refused it."""
    now = deps.clock.now()
    due = parse_iso(ticket.first_response_due_at) if ticket.first_response_due_at else now
    promise = describe_promise(due, now, promise_zone(ticket, deps.settings.time_zone))
    inbound = InboundRecord(message.source, message.source_id, state="done", ticket_id=ticket.id)
    try:
        if isinstance(message.route, SmsRoute):
            sent, ids = _text_acknowledgement(ticket, message.route, promise, now, deps)
        else:
            sent, ids = _mail_acknowledgement(ticket, message.route, message, promise, now, deps)
    except Unavailable as exc:  # Rejected included: the address or number refuses, for good
        _record_refusal(ticket, str(exc), inbound, deps.repository)
        return False
    channel = "sms" if isinstance(message.route, SmsRoute) else None
    event = new_event(ticket.id, iso(now), EventType.ACKNOWLEDGED, "system", message_id=sent.id, channel=channel,
                      promise=ticket.first_response_due_at)
    record_sent_acknowledgement(deps.repository, AckRecord(ticket=ticket, message=sent, event=event,
                                                           message_ids=ids, inbound=inbound))
    return True


def _mail_acknowledgement(ticket: Ticket, route: EmailRoute, message: InboundMessage, promise: str, now: datetime,
                          deps: InboundDeps) -> tuple[Message, list[MessageIdEntry]]:
    settings = deps.settings
    ack_id = f"ack.{ticket.id}@{route.from_address.partition('@')[2]}"
    # A route that must not echo (a form anyone fills in for any address) names neither subject nor name.
    customer = Customer(id=ticket.customer_id, name=ticket.customer_name if route.echo_subject else "")
    text = render_file("ack_email.txt.j2", {
        "store": {"name": settings.store_name},
        "customer": {"name": customer.name, "first_name": customer.first_name},
        "ticket": {"number": ticket.number, "subject": ticket.subject if route.echo_subject else ""},
        "promise": promise,
    })
    outgoing = OutgoingEmail(
        from_address=route.from_address, from_name=f"{settings.store_name} Support",
        to=[ticket.customer_email or route.to], subject=numbered_subject(ticket.number, route.subject),
        text=text, message_id=ack_id, reply_to=reply_address(route.from_address, ticket.id, settings.reply_secret),
        in_reply_to=route.in_reply_to,
        references=[normalize_message_id(r) for r in route.references], extra_headers=dict(AUTO_REPLY_HEADERS),
    )
    sent = deps.mail.send(outgoing)
    recorded = Message(
        id=new_id(), ticket_id=ticket.id, created_at=iso(now + timedelta(microseconds=1)),
        direction=Direction.OUTBOUND, channel=Channel.EMAIL, from_address=route.from_address,
        from_name=outgoing.from_name, to=list(outgoing.to), subject=outgoing.subject, body_text=text,
        visible_text=text, automated=True, automated_reason="acknowledgement", header_message_id=ack_id,
        provider_message_id=sent.provider_id, delivered_message_id=sent.header_message_id,
    )
    return recorded, [MessageIdEntry.outbound(ack_id, ticket.id, outgoing.to),
                      MessageIdEntry.outbound(sent.header_message_id, ticket.id, outgoing.to)]


def _text_acknowledgement(ticket: Ticket, route: SmsRoute, promise: str, now: datetime,
                          deps: InboundDeps) -> tuple[Message, list[MessageIdEntry]]:
    settings = deps.settings
    text = compose.acknowledgement(settings.store_name, ticket.number, promise, settings.sms_max_segments)
    sent = deps.sms.send(OutgoingSms(to=route.to, text=text, origination=route.origination))
    recorded = Message(
        id=new_id(), ticket_id=ticket.id, created_at=iso(now + timedelta(microseconds=1)),
        direction=Direction.OUTBOUND, channel=Channel.SMS, from_address=route.origination or route.store_number,
        from_name=f"{settings.store_name} Support", to=[route.to], body_text=text, visible_text=text,
        automated=True, automated_reason="acknowledgement", provider_message_id=sent.provider_id,
    )
    return recorded, []


def _record_refusal(ticket: Ticket, reason: str, inbound: InboundRecord, repository: TicketRepository) -> None:
    """The provider refused the acknowledgement for good: the ticket says why, and no retry sends again."""
    def record(attempt: int) -> None:
        current = ticket if attempt == 0 else repository.get_ticket(ticket.id)
        if current is None or current.ack_state is not AckState.PENDING:
            return
        repository.apply(TicketChange(ticket=replace(current, ack_state=AckState.SKIPPED, ack_reason=reason),
                                      inbound=replace(inbound, reason=reason)))

    retry_on_conflict(record, attempts=RECORD_ATTEMPTS,
                      exhausted=lambda: TransientFailure("could not record a refused acknowledgement"))


def record_sent_acknowledgement(repository: TicketRepository, record: AckRecord) -> None:
    """Writes the record of a sent acknowledgement (or notice), retrying here rather than failing the
    handler: the message is out, and if this record were lost, the channel's retry would send it again."""
    def write(attempt: int) -> None:
        current = record
        if attempt:
            fresh = repository.get_ticket(record.ticket.id)
            if fresh is None or fresh.ack_state is AckState.SENT:
                return
            current = replace(record, ticket=fresh)
        repository.record_ack(current)

    # Any storage failure, not only a conflict: we know the message went, so try again before giving up.
    retry_on_conflict(write, attempts=RECORD_ATTEMPTS, retry_on=(Exception,),
                      exhausted=lambda: TransientFailure("could not record a sent acknowledgement"))
