"""The acknowledgement, one step for every channel: whether one is due, sending it (by email or by text,
as the message came), and recording it exactly once — or, when the provider refuses it for good, saying
so on the ticket so that no retry tries again.

Exactly once under twin deliveries: the send is claimed first (a conditional write of the ack's claim,
leased until this invocation's deadline; a new ticket's writer holds it from the create transaction);
only the claimant sends, a twin that finds a live claim leaves it alone, and a claim whose sender died
may be taken over after its lease. The record after the send marks the claim `sent` with the provider's
ids in the same transaction, so whoever finds it records the ack instead of resending it."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from chalicelib.domain.calendar import describe_promise
from chalicelib.domain.customers import Customer
from chalicelib.domain.errors import DomainError, TransientFailure, Unavailable
from chalicelib.domain.ids import iso, new_id, parse_iso
from chalicelib.domain.threading import normalize_message_id, numbered_subject, reply_address
from chalicelib.domain.tickets import AckState, Channel, Direction, EventType, Message, Ticket, new_event
from chalicelib.mail.compose import AUTO_REPLY_HEADERS
from chalicelib.ports import (
    SENT,
    AckRecord,
    InboundRecord,
    MessageIdEntry,
    OutgoingEmail,
    OutgoingSms,
    SendClaim,
    TicketChange,
    TicketRepository,
)
from chalicelib.services.inbound import claimed_sends
from chalicelib.services.inbound.message import EmailRoute, InboundDeps, InboundMessage, SmsRoute
from chalicelib.services.retry import (
    SEND_RECORD_ATTEMPTS,
    SEND_RECORD_BACKOFF,
    deadline_or_default,
    retry_on_conflict,
    seconds_until,
)
from chalicelib.services.sla_rules import promise_zone
from chalicelib.sms import compose
from chalicelib.templates import render_file

RECORD_ATTEMPTS = 3


def claim_key(ticket_id: str) -> str:
    return f"ack#{ticket_id}"


def new_claim(ticket_id: str, deps: InboundDeps) -> SendClaim:
    """The claim a new ticket's writer holds from birth (written in the create transaction): a twin
    delivery that reads the ticket finds the send already taken."""
    return claimed_sends.new_claim(claim_key(ticket_id), deps)


def acknowledge(ticket: Ticket, message: InboundMessage, deps: InboundDeps, held: SendClaim | None = None) -> bool:
    """Sends the acknowledgement of a new ticket and records it. True only when this call sent it: False when
    the provider refused it, or a twin delivery holds (or finished) the send. `held`: the claim the caller
    wrote with the ticket; without it, the send is claimed here first (a resume)."""
    now = deps.clock.now()
    claim, mine = claimed_sends.take(claim_key(ticket.id), deps, held)
    if not mine:
        if claim.state == SENT:  # its sender died before recording it (or is recording it now): record it
            _record(ticket, message, claim, claim.provider_id or "", claim.header_message_id, now, deps)
        return False
    if claim.version > 1:  # taken over from a sender that died: it may have finished after all
        fresh = deps.repository.get_ticket(ticket.id)
        if fresh is None or fresh.ack_state is not AckState.PENDING:
            return False
        ticket = fresh
    inbound = InboundRecord(message.source, message.source_id, state="done", ticket_id=ticket.id)
    outgoing = _compose(ticket, message, now, deps)
    try:
        provider_id, header_id = claimed_sends.send_claimed(claim, lambda: _send(outgoing, deps), deps)
    except Unavailable as exc:  # Rejected included: the address or number refuses, for good
        _record_refusal(ticket, str(exc), inbound, deps.repository)
        return False
    _record(ticket, message, claim, provider_id, header_id, now, deps)
    return True


def _send(outgoing: OutgoingEmail | OutgoingSms, deps: InboundDeps) -> tuple[str, str | None]:
    """The provider's id and the Message-ID recipients see (email only)."""
    if isinstance(outgoing, OutgoingSms):
        return deps.sms.send(outgoing).provider_id, None
    sent = deps.mail.send(outgoing)
    return sent.provider_id, sent.header_message_id


def _compose(ticket: Ticket, message: InboundMessage, now: datetime, deps: InboundDeps) -> OutgoingEmail | OutgoingSms:
    """The acknowledgement as it goes out; the same ticket and moment give the same text."""
    settings, route = deps.settings, message.route
    due = parse_iso(ticket.first_response_due_at) if ticket.first_response_due_at else now
    promise = describe_promise(due, now, promise_zone(ticket, settings.time_zone))
    if isinstance(route, SmsRoute):
        text = compose.acknowledgement(settings.store_name, ticket.number, promise, settings.sms_max_segments)
        return OutgoingSms(to=route.to, text=text, origination=route.origination)
    # A route that must not echo (a form anyone fills in for any address) names neither subject nor name.
    customer = Customer(id=ticket.customer_id, name=ticket.customer_name if route.echo_subject else "")
    text = render_file("ack_email.txt.j2", {
        "store": {"name": settings.store_name},
        "customer": {"name": customer.name, "first_name": customer.first_name},
        "ticket": {"number": ticket.number, "subject": ticket.subject if route.echo_subject else ""},
        "promise": promise,
    })
    return OutgoingEmail(
        from_address=route.from_address, from_name=f"{settings.store_name} Support",
        to=[ticket.customer_email or route.to], subject=numbered_subject(ticket.number, route.subject),
        text=text, message_id=_ack_id(ticket, route), reply_to=reply_address(route.from_address, ticket.id,
                                                                           settings.reply_secret),
        in_reply_to=route.in_reply_to,
        references=[normalize_message_id(r) for r in route.references], extra_headers=dict(AUTO_REPLY_HEADERS),
    )


def _ack_id(ticket: Ticket, route: EmailRoute) -> str:
    return f"ack.{ticket.id}@{route.from_address.partition('@')[2]}"


def _record(ticket: Ticket, message: InboundMessage, claim: SendClaim, provider_id: str, header_id: str | None,
            now: datetime, deps: InboundDeps) -> None:
    """The sent acknowledgement on the thread, its Message-IDs, the delivery done and the claim `sent`: one
    transaction, retried with backoff while the invocation has time. If it never lands, the provider's ids
    still go on the claim (one small write), so the retry records the ack instead of sending it again."""
    sent_claim = claim if claim.state == SENT else replace(
        claim, state=SENT, provider_id=provider_id, header_message_id=header_id, version=claim.version + 1)
    try:
        _record_sent(ticket, message, sent_claim, provider_id, header_id, now, deps)
    except Exception:
        if claim.state != SENT:
            try:
                deps.repository.mark_sent(claim, provider_id, header_id)
            except DomainError:
                pass  # nothing more to do here: the lease and Lambda's retry decide
        raise


def _record_sent(ticket: Ticket, message: InboundMessage, claim: SendClaim, provider_id: str,
                 header_id: str | None, now: datetime, deps: InboundDeps) -> None:
    outgoing = _compose(ticket, message, now, deps)
    at = iso(now + timedelta(microseconds=1))
    if isinstance(outgoing, OutgoingSms):
        assert isinstance(message.route, SmsRoute)
        recorded = Message(
            id=new_id(), ticket_id=ticket.id, created_at=at, direction=Direction.OUTBOUND, channel=Channel.SMS,
            from_address=message.route.origination or message.route.store_number,
            from_name=f"{deps.settings.store_name} Support", to=[outgoing.to], body_text=outgoing.text,
            visible_text=outgoing.text, automated=True, automated_reason="acknowledgement",
            provider_message_id=provider_id,
        )
        ids: list[MessageIdEntry] = []
    else:
        delivered = header_id or outgoing.message_id
        recorded = Message(
            id=new_id(), ticket_id=ticket.id, created_at=at, direction=Direction.OUTBOUND, channel=Channel.EMAIL,
            from_address=outgoing.from_address, from_name=outgoing.from_name, to=list(outgoing.to),
            subject=outgoing.subject, body_text=outgoing.text, visible_text=outgoing.text, automated=True,
            automated_reason="acknowledgement", header_message_id=outgoing.message_id,
            provider_message_id=provider_id, delivered_message_id=delivered,
        )
        ids = [MessageIdEntry.outbound(outgoing.message_id, ticket.id, outgoing.to),
               MessageIdEntry.outbound(delivered, ticket.id, outgoing.to)]
    channel = "sms" if isinstance(outgoing, OutgoingSms) else None
    event = new_event(ticket.id, iso(now), EventType.ACKNOWLEDGED, "system", message_id=recorded.id, channel=channel,
                      promise=ticket.first_response_due_at)
    inbound = InboundRecord(message.source, message.source_id, state="done", ticket_id=ticket.id)
    record_sent_acknowledgement(deps.repository, AckRecord(ticket=ticket, message=recorded, event=event,
                                                           message_ids=ids, inbound=inbound, claim=claim),
                                seconds_left=seconds_until(deadline_or_default(deps.deadline, deps.clock),
                                                           deps.clock))


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


def record_sent_acknowledgement(repository: TicketRepository, record: AckRecord, *,
                                seconds_left: Callable[[], float] | None = None) -> None:
    """Writes the record of a sent acknowledgement (or notice), retrying here rather than failing the
    handler: the message is out, and if this record were lost, the channel's retry would send it again.
    Backs off with jitter while the invocation has time (`seconds_left`)."""
    def write(attempt: int) -> None:
        current = record
        if attempt:
            fresh = repository.get_ticket(record.ticket.id)
            if fresh is None or fresh.ack_state is AckState.SENT:
                return
            current = replace(record, ticket=fresh)
        repository.record_ack(current)

    # Any storage failure, not only a conflict: we know the message went, so try again before giving up.
    retry_on_conflict(write, attempts=SEND_RECORD_ATTEMPTS, retry_on=(Exception,), backoff=SEND_RECORD_BACKOFF,
                      seconds_left=seconds_left,
                      exhausted=lambda: TransientFailure("could not record a sent acknowledgement"))
