"""The acknowledgement, one step for every channel: whether one is due, sending it (by email or by text,
as the message came), and recording it exactly once — or, when the provider refuses it for good, saying
so on the ticket so that no retry tries again.

Exactly once under twin deliveries: the send is claimed first (a conditional write of the ack's claim,
leased until this invocation's deadline; a new ticket's writer holds it from the create transaction);
only the claimant sends, a twin that finds a live claim leaves it alone, and a claim whose sender died
may be taken over after its lease. The record after the send marks the claim `sent` with the provider's
ids in the same transaction, so whoever finds it records the ack instead of resending it.

When the provider throttles (SES's send rate), the ticket keeps its pending acknowledgement and enters the
pending-ack queue (pending_acks.py drains it within the quota); ingest itself succeeds. Any other transient
failure also queues it, then fails the invocation as before (Lambda's retry, or the drain, sends it)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from chalicelib.domain.calendar import describe_promise
from chalicelib.domain.customers import Customer
from chalicelib.domain.errors import DomainError, Throttled, TransientFailure, Unavailable
from chalicelib.domain.ids import iso, new_id, parse_iso
from chalicelib.domain.threading import normalize_message_id, numbered_subject, reply_address
from chalicelib.domain.tickets import (
    AckState,
    Channel,
    Direction,
    EventType,
    Message,
    Ticket,
    TicketStatus,
    new_event,
)
from chalicelib.mail.compose import AUTO_REPLY_HEADERS
from chalicelib.ports import (
    SENT,
    AckRecord,
    InboundRecord,
    MessageIdEntry,
    OutgoingEmail,
    OutgoingSms,
    PendingAck,
    SendClaim,
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
ANSWERED_FIRST = "a person answered before the acknowledgement could go"
FINISHED_FIRST = "the ticket was finished before the acknowledgement could go"


class AckResult(StrEnum):
    SENT = "sent"  # this call sent it (and recorded it)
    ELSEWHERE = "elsewhere"  # a twin holds the send or finished it, or the ack is no longer pending
    WITHHELD = "withheld"  # refused for good, or overtaken by a person's answer: recorded as skipped
    DEFERRED = "deferred"  # the provider throttled: the ack waits in the pending-ack queue


@dataclass(frozen=True)
class AckJob:
    """What an acknowledgement answers: the route back to the customer and the delivery it completes.
    Kept in the pending-ack queue as it was at ingest, so the drain sends exactly what ingest would have."""

    route: EmailRoute | SmsRoute
    source: str
    source_id: str

    @classmethod
    def of(cls, message: InboundMessage) -> AckJob:
        return cls(message.route, message.source, message.source_id)

    def entry(self, ticket: Ticket) -> PendingAck:
        """The queue entry: sorted by the ticket's creation (the customer's arrival), never by the retry's."""
        route = self.route
        fields: dict[str, Any]
        if isinstance(route, SmsRoute):
            fields = {"kind": "sms", "to": route.to, "origination": route.origination,
                      "store_number": route.store_number}
        else:
            fields = {"kind": "email", "from_address": route.from_address, "to": route.to, "subject": route.subject,
                      "in_reply_to": route.in_reply_to, "references": list(route.references),
                      "echo_subject": route.echo_subject}
        return PendingAck(ticket_id=ticket.id, arrived_at=ticket.created_at, source=self.source,
                          source_id=self.source_id, route={k: v for k, v in fields.items() if v is not None})

    @classmethod
    def from_entry(cls, entry: PendingAck) -> AckJob:
        data = entry.route
        route: EmailRoute | SmsRoute
        if data.get("kind") == "sms":
            route = SmsRoute(to=str(data["to"]), origination=data.get("origination"),
                             store_number=str(data.get("store_number", "")))
        else:
            route = EmailRoute(from_address=str(data["from_address"]), to=str(data["to"]),
                               subject=str(data.get("subject", "")), in_reply_to=data.get("in_reply_to"),
                               references=tuple(str(r) for r in data.get("references", ())),
                               echo_subject=bool(data.get("echo_subject", True)))
        return cls(route, entry.source, entry.source_id)


def claim_key(ticket_id: str) -> str:
    return f"ack#{ticket_id}"


def new_claim(ticket_id: str, deps: InboundDeps) -> SendClaim:
    """The claim a new ticket's writer holds from birth (written in the create transaction): a twin
    delivery that reads the ticket finds the send already taken."""
    return claimed_sends.new_claim(claim_key(ticket_id), deps)


def overtaken(ticket: Ticket) -> str | None:
    """Why an acknowledgement that could not go at once must not go any more: a person already answered
    (an ack after a human reply only confuses), or the ticket is finished, spam or merged away."""
    if ticket.first_responded_at:
        return ANSWERED_FIRST
    if ticket.merged_into or ticket.status in (TicketStatus.RESOLVED, TicketStatus.CLOSED, TicketStatus.SPAM):
        return FINISHED_FIRST
    return None


def acknowledge(ticket: Ticket, job: AckJob, deps: InboundDeps, held: SendClaim | None = None, *,
                queued: bool = False) -> AckResult:
    """Sends the acknowledgement of a new ticket and records it. `held`: the claim the caller wrote with the
    ticket; without it, the send is claimed here first (a resume, or the drain: `queued`, the ticket's
    entry is in the pending-ack queue already). Raises only a transient failure other than a throttle."""
    now = deps.clock.now()
    claim, mine = claimed_sends.take(claim_key(ticket.id), deps, held)
    inbound = InboundRecord(job.source, job.source_id, state="done", ticket_id=ticket.id)
    if not mine:
        if claim.state == SENT:  # its sender died before recording it (or is recording it now): record it
            _record(ticket, job, claim, claim.provider_id or "", claim.header_message_id, now, deps)
        return AckResult.ELSEWHERE
    if claim.version > 1:  # taken over (a released or dead sender's claim): it may have finished after all
        fresh = deps.repository.get_ticket(ticket.id)
        if fresh is None or fresh.ack_state is not AckState.PENDING:
            if queued:
                deps.repository.drop_pending_ack(ticket.id)
            return AckResult.ELSEWHERE
        ticket = fresh
        reason = overtaken(ticket)
        if reason is not None:
            _withhold(ticket, reason, inbound, deps.repository)
            return AckResult.WITHHELD
    outgoing = _compose(ticket, job, now, deps)
    try:
        provider_id, header_id = claimed_sends.send_claimed(claim, lambda: _send(outgoing, deps), deps)
    except Unavailable as exc:  # Rejected included: the address or number refuses, for good
        _withhold(ticket, str(exc), inbound, deps.repository)
        return AckResult.WITHHELD
    except TransientFailure as exc:
        if not queued:  # the queue keeps it whatever becomes of this invocation
            deps.repository.defer_ack(job.entry(ticket))
        if isinstance(exc, Throttled):
            return AckResult.DEFERRED
        raise
    # A ticket created by this very attempt (`held`) cannot be queued yet: its record need not dequeue.
    _record(ticket, job, claim, provider_id, header_id, now, deps, dequeue=queued or held is None)
    return AckResult.SENT


def _send(outgoing: OutgoingEmail | OutgoingSms, deps: InboundDeps) -> tuple[str, str | None]:
    """The provider's id and the Message-ID recipients see (email only)."""
    if isinstance(outgoing, OutgoingSms):
        return deps.sms.send(outgoing).provider_id, None
    sent = deps.mail.send(outgoing)
    return sent.provider_id, sent.header_message_id


def late(ticket: Ticket, now: datetime) -> bool:
    """The promise made at ingest (from the original arrival, on the terms the ticket got) has passed."""
    return bool(ticket.first_response_due_at) and parse_iso(ticket.first_response_due_at or "") <= now


def _compose(ticket: Ticket, job: AckJob, now: datetime, deps: InboundDeps) -> OutgoingEmail | OutgoingSms:
    """The acknowledgement as it goes out; the same ticket and moment give the same text. The promise is
    the ticket's own (made at ingest); one that passed while the ack waited is not repeated: an empty
    promise makes the text say a person answers as soon as they can."""
    settings, route = deps.settings, job.route
    due = parse_iso(ticket.first_response_due_at) if ticket.first_response_due_at else now
    promise = "" if late(ticket, now) else describe_promise(due, now, promise_zone(ticket, settings.time_zone))
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


def _record(ticket: Ticket, job: AckJob, claim: SendClaim, provider_id: str, header_id: str | None,
            now: datetime, deps: InboundDeps, *, dequeue: bool = True) -> None:
    """The sent acknowledgement on the thread, its Message-IDs, the delivery done and the claim `sent`: one
    transaction, retried with backoff while the invocation has time. If it never lands, the provider's ids
    still go on the claim (one small write), so the retry records the ack instead of sending it again."""
    sent_claim = claim if claim.state == SENT else replace(
        claim, state=SENT, provider_id=provider_id, header_message_id=header_id, version=claim.version + 1)
    try:
        _record_sent(ticket, job, sent_claim, provider_id, header_id, now, deps, dequeue)
    except Exception:
        if claim.state != SENT:
            try:
                deps.repository.mark_sent(claim, provider_id, header_id)
            except DomainError:
                pass  # nothing more to do here: the lease and Lambda's retry decide
        raise


def _record_sent(ticket: Ticket, job: AckJob, claim: SendClaim, provider_id: str,
                 header_id: str | None, now: datetime, deps: InboundDeps, dequeue: bool) -> None:
    outgoing = _compose(ticket, job, now, deps)
    at = iso(now + timedelta(microseconds=1))
    if isinstance(outgoing, OutgoingSms):
        assert isinstance(job.route, SmsRoute)
        recorded = Message(
            id=new_id(), ticket_id=ticket.id, created_at=at, direction=Direction.OUTBOUND, channel=Channel.SMS,
            from_address=job.route.origination or job.route.store_number,
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
    overdue = late(ticket, now)
    event = new_event(ticket.id, iso(now), EventType.ACKNOWLEDGED, "system", message_id=recorded.id, channel=channel,
                      promise=None if overdue else ticket.first_response_due_at, late=overdue or None)
    inbound = InboundRecord(job.source, job.source_id, state="done", ticket_id=ticket.id)
    record_sent_acknowledgement(deps.repository, AckRecord(ticket=ticket, message=recorded, event=event,
                                                           message_ids=ids, inbound=inbound, claim=claim,
                                                           dequeue=dequeue),
                                seconds_left=seconds_until(deadline_or_default(deps.deadline, deps.clock),
                                                           deps.clock))


def _withhold(ticket: Ticket, reason: str, inbound: InboundRecord, repository: TicketRepository) -> None:
    """The acknowledgement will not go (the provider refused it for good, or a person answered first): the
    ticket says why, its queue entry goes, and no retry or drain sends it again."""
    def record(attempt: int) -> None:
        current = ticket if attempt == 0 else repository.get_ticket(ticket.id)
        if current is None or current.ack_state is not AckState.PENDING:
            return
        repository.skip_ack(current, reason, inbound)

    retry_on_conflict(record, attempts=RECORD_ATTEMPTS,
                      exhausted=lambda: TransientFailure("could not record a withheld acknowledgement"))


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
