"""Use case: an agent opens a ticket: logs a phone call, or starts an email or SMS conversation."""
from __future__ import annotations

from dataclasses import dataclass

from chalicelib.config import Settings
from chalicelib.domain.customers import checked_email
from chalicelib.domain.errors import InvalidInput, TransactionConflict, TransientFailure
from chalicelib.domain.ids import iso, new_id
from chalicelib.domain.principals import Principal
from chalicelib.domain.text import single_line
from chalicelib.domain.tickets import (
    Channel,
    Direction,
    EventType,
    Message,
    Ticket,
    TicketStatus,
    new_event,
)
from chalicelib.ports import (
    InboundRecord,
    Lookup,
    NewTicketWrite,
)
from chalicelib.services.identities import plan_identities
from chalicelib.services.inbox import MAX_BODY_CHARS, InboxDeps
from chalicelib.services.replies import ReplyRequest, reply
from chalicelib.services.retry import retry_on_conflict
from chalicelib.services.sla_rules import SlaRules


@dataclass
class NewTicketRequest:
    channel: str  # "phone" | "email"
    subject: str
    body: str
    customer_email: str | None = None
    customer_phone: str | None = None
    customer_name: str = ""
    queue: str | None = None


def _checked_phone(raw: str, settings: Settings) -> str:
    from chalicelib.sms.numbers import normalize_phone

    try:
        return normalize_phone(raw, settings.phone_region)
    except InvalidInput as exc:
        raise InvalidInput(f"customer_phone is not a possible phone number: {exc}", "customer_phone") from exc


def open_ticket(request: NewTicketRequest, principal: Principal, deps: InboxDeps) -> Ticket:
    """An agent logs a phone call, or starts an email or SMS conversation (the body is sent at once)."""
    settings = deps.settings
    if request.channel not in ("phone", "email", "sms"):
        raise InvalidInput("channel must be phone, email or sms", "channel")
    # Everything is checked before anything is written or sent: a subject goes into a mail header.
    subject, body = single_line(request.subject, "subject", 300), request.body.strip()
    name = single_line(request.customer_name, "customer_name", 200, required=False)
    if not body or len(body) > MAX_BODY_CHARS:
        raise InvalidInput(f"body is 1 to {MAX_BODY_CHARS} characters", "body")
    email = checked_email(request.customer_email, "customer_email") if request.customer_email else None
    if request.channel == "email" and not email:
        raise InvalidInput("an email ticket needs customer_email", "customer_email")
    if request.channel == "sms" and not request.customer_phone:
        raise InvalidInput("an SMS ticket needs customer_phone", "customer_phone")
    if not email and not request.customer_phone:
        raise InvalidInput("give the customer's email or phone", "customer_email")
    queue = request.queue or settings.default_queue
    if queue not in set(settings.support_addresses.values()):
        raise InvalidInput("unknown queue", "queue")
    phone = _checked_phone(request.customer_phone, settings) if request.customer_phone else None
    moment = deps.clock.now()
    now = iso(moment)
    given = ([("email", email)] if email else []) + ([("phone", phone)] if phone else [])
    channel = Channel(request.channel)

    def attempt(_: int) -> Ticket:
        # Read afresh on every attempt: which customer the identities belong to decides what is written.
        known = deps.repository.lookup(Lookup(identities=tuple(given)))
        # A call that gives both an address and a number links them to one customer (unclaimed ones only).
        plan = plan_identities(given, known.identities, name=name, now=now,
                               load_customer=deps.repository.get_customer)
        customer_id = plan.customer_id
        ticket_id = new_id()
        ticket = Ticket(
            id=ticket_id, number=0, subject=subject, status=TicketStatus.OPEN, queue=queue, channel=channel,
            customer_id=customer_id, created_at=now, updated_at=now, last_activity_at=now,
            customer_activity_at=now, customer_email=email,
            customer_phone=phone, customer_name=name,
            first_responded_at=now, assignee=principal.user_id,
        )
        if channel is Channel.PHONE:
            # The call's log is what the customer said: an inbound message on the phone channel.
            message = Message(
                id=new_id(), ticket_id=ticket_id, created_at=now, direction=Direction.INBOUND, channel=channel,
                from_address=email or phone or "", from_name=name,
                subject=subject, body_text=body, visible_text=body, author_id=principal.user_id,
            )
        else:
            # The mail or text itself goes out as the first reply below; the thread opens with who started it.
            started = f"Conversation started by {principal.name}."
            message = Message(
                id=new_id(), ticket_id=ticket_id, created_at=now, direction=Direction.OUTBOUND, channel=channel,
                from_address=principal.user_id, from_name=principal.name, body_text=started, visible_text=started,
                internal=True, author_id=principal.user_id,
            )
        events = [new_event(ticket_id, now, EventType.CREATED, principal.user_id, channel=channel.value, queue=queue)]
        stamp = SlaRules(deps.sla, deps.settings).start(ticket, events, moment, actor=principal.user_id)
        return deps.repository.create_ticket(NewTicketWrite(
            ticket=stamp.ticket, message=message, events=stamp.events,
            inbound=InboundRecord("agent", ticket_id, state="done", ticket_id=ticket_id),
            new_customer=plan.new_customer, new_identities=plan.new_identities, customer_update=plan.customer_update,
        ))

    # A concurrent transaction on an item of this ticket (its customer, an identity) cancels ours with
    # nothing written: try again after a short random pause; if it keeps happening, the agent sees a 503.
    created = retry_on_conflict(attempt, retry_on=(TransactionConflict,), exhausted=lambda: TransientFailure(
        "the ticket could not be stored: its customer kept changing; try again"))
    if channel in (Channel.EMAIL, Channel.SMS):
        return reply(created.id, ReplyRequest(body=body, version=created.version, force=True), principal, deps)[0]
    return created
