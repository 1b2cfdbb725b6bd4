"""Use cases of the agents' inbox: read, change, reply to, note, merge and open tickets.

Every change is conditional on the version the agent saw (no lost update) and leaves an event
with actor and time. Replies are sent before they are recorded, and a record that meets a
concurrent change is re-applied on the fresh ticket: the mail is out, so it must be on the thread."""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from chalicelib.config import Settings
from chalicelib.domain.customers import normalize_email
from chalicelib.domain.errors import InvalidInput, NotFound, Unavailable, VersionConflict
from chalicelib.domain.ids import iso, new_id
from chalicelib.domain.principals import Principal
from chalicelib.domain.threading import numbered_subject, reply_address
from chalicelib.domain.tickets import (
    Channel,
    Direction,
    EventType,
    Message,
    Ticket,
    TicketEvent,
    TicketStatus,
    new_event,
)
from chalicelib.domain.workflow import check_priority, check_status_change, check_tags
from chalicelib.ports import (
    Clock,
    InboundRecord,
    Lookup,
    MailSender,
    MessageIdEntry,
    NewTicketWrite,
    OutgoingEmail,
    SmsSender,
    TicketBundle,
    TicketChange,
    TicketFilter,
    TicketPage,
    TicketRepository,
)
from chalicelib.services.identities import plan_identities
from chalicelib.services.retry import retry_on_conflict
from chalicelib.services.sla_rules import SlaRules, SlaSetup

RESOLVE_QUESTION = (
    "\n\nIf this solves your request, just reply \"yes\" and we will close the ticket. "
    "Any other reply reopens it."
)
MAX_BODY_CHARS = 50_000


@dataclass
class InboxDeps:
    repository: TicketRepository
    mail: MailSender
    clock: Clock
    settings: Settings
    sms: SmsSender | None = None  # None: texting is not set up
    sla: SlaSetup | None = None  # None: the environment's default SLA policy only


@dataclass
class TicketDetail:
    bundle: TicketBundle
    other_tickets: list[Ticket]


@dataclass
class TicketUpdate:
    version: int
    status: str | None = None
    priority: str | None = None
    queue: str | None = None
    assignee: str | None = None
    unassign: bool = False
    tags: list[str] | None = None


@dataclass
class ReplyRequest:
    body: str
    version: int
    status_after: str | None = None  # "pending" | "resolved"
    force: bool = False
    add_tags: list[str] = field(default_factory=list)


def _event(ticket_id: str, at: str, kind: EventType, actor: str, **data: Any) -> TicketEvent:
    return new_event(ticket_id, at, kind, actor, **data)


def _require(ticket: Ticket | None, ticket_id: str) -> Ticket:
    if ticket is None:
        raise NotFound(f"ticket {ticket_id} not found")
    return ticket


def list_tickets(query: TicketFilter, deps: InboxDeps) -> TicketPage:
    return deps.repository.list_tickets(query)


def ticket_detail(ticket_id: str, deps: InboxDeps) -> TicketDetail:
    bundle = deps.repository.bundle(ticket_id)
    if bundle is None:
        raise NotFound(f"ticket {ticket_id} not found")
    others = [t for t in deps.repository.customer_tickets(bundle.ticket.customer_id) if t.id != ticket_id]
    return TicketDetail(bundle, others)


def ticket_by_number(number: int, deps: InboxDeps) -> TicketDetail:
    ticket = deps.repository.get_ticket_by_number(number)
    return ticket_detail(_require(ticket, f"#{number}").id, deps)


def update_ticket(ticket_id: str, update: TicketUpdate, principal: Principal, deps: InboxDeps) -> Ticket:
    ticket = _require(deps.repository.get_ticket(ticket_id), ticket_id)
    if ticket.version != update.version:
        raise VersionConflict("the ticket changed since you saw it", current=ticket)
    moment = deps.clock.now()
    now = iso(moment)
    changed = replace(ticket, updated_at=now)
    events: list[TicketEvent] = []

    def note(field_name: str, before: Any, after: Any) -> None:
        if before != after:
            events.append(_event(ticket.id, now, EventType(f"{field_name}_changed"), principal.user_id,
                                 **{"from": before, "to": after}))

    if update.status is not None:
        status = check_status_change(update.status, principal)
        note("status", ticket.status.value, status.value)
        changed.status = status
        changed.resolved_at = now if status is TicketStatus.RESOLVED else None
        changed.closed_at = now if status is TicketStatus.CLOSED else None
    if update.priority is not None:
        note("priority", ticket.priority, check_priority(update.priority))
        changed.priority = update.priority
    if update.queue is not None:
        if update.queue not in set(deps.settings.support_addresses.values()):
            raise InvalidInput("unknown queue", "queue")
        note("queue", ticket.queue, update.queue)
        changed.queue = update.queue
    if update.unassign or update.assignee is not None:
        assignee = None if update.unassign else update.assignee
        note("assignee", ticket.assignee, assignee)
        changed.assignee = assignee
    if update.tags is not None:
        tags = check_tags(update.tags)
        note("tags", ticket.tags, tags)
        changed.tags = tags
    if not events:
        return ticket
    # A person moving queue or priority may put the ticket under another SLA policy.
    rematch = changed.queue != ticket.queue or changed.priority != ticket.priority
    stamp = SlaRules(deps.sla, deps.settings).advance(changed, events, moment, actor=principal.user_id,
                                                      rematch=rematch)
    try:
        return deps.repository.apply(TicketChange(ticket=stamp.ticket, events=stamp.events, sla_facts=stamp.facts))
    except VersionConflict as exc:
        raise VersionConflict("the ticket changed since you saw it",
                              current=deps.repository.get_ticket(ticket_id)) from exc


def _thread_ids(messages: list[Message]) -> tuple[str | None, list[str]]:
    """(id to answer, References chain) as the customer's client knows them."""
    public = [m for m in messages if not m.internal and (m.delivered_message_id or m.header_message_id)]
    chain = [m.delivered_message_id or m.header_message_id or "" for m in public]
    inbound = [m for m in public if m.direction is Direction.INBOUND]
    answer = (inbound[-1].delivered_message_id or inbound[-1].header_message_id) if inbound else None
    return answer, chain[-10:]


def reply(ticket_id: str, request: ReplyRequest, principal: Principal, deps: InboxDeps) -> tuple[Ticket, Message]:
    body = request.body.strip()
    if not body:
        raise InvalidInput("a reply needs a body", "body")
    if len(body) > MAX_BODY_CHARS:
        raise InvalidInput(f"a reply holds at most {MAX_BODY_CHARS} characters", "body")
    after: TicketStatus | None = None
    if request.status_after is not None:
        if request.status_after not in ("pending", "resolved"):
            raise InvalidInput("status_after must be pending or resolved", "status_after")
        after = TicketStatus(request.status_after)
    tags = check_tags(request.add_tags) if request.add_tags else []
    bundle = deps.repository.bundle(ticket_id)
    if bundle is None:
        raise NotFound(f"ticket {ticket_id} not found")
    ticket = bundle.ticket
    if ticket.merged_into:
        raise Unavailable(f"ticket was merged into {ticket.merged_into}; reply there")
    if not request.force and (ticket.thread_version > request.version or ticket.version < request.version):
        raise VersionConflict("a message arrived or another reply was sent since you saw the ticket",
                              current=ticket)
    if ticket.channel is Channel.SMS:
        from chalicelib.services.sms_replies import send_sms_reply

        message, events, claims = send_sms_reply(ticket, body, after is TicketStatus.RESOLVED, principal, deps)
    elif not ticket.customer_email:
        raise Unavailable("the customer has no email address to reply to")
    else:
        identity = deps.repository.get_identity("email", ticket.customer_email)
        if identity is not None and identity.undeliverable:
            raise Unavailable("the customer's email address bounces; use another channel")
        if after is TicketStatus.RESOLVED:
            body += RESOLVE_QUESTION
        message, events, claims = _send_email_reply(ticket, bundle.messages, body, principal, deps)
    moment = deps.clock.now()
    now = iso(moment)
    rules = SlaRules(deps.sla, deps.settings)
    if after is not None:
        events.append(_event(ticket.id, now, EventType.STATUS_CHANGED, principal.user_id,
                             **{"from": ticket.status.value, "to": after.value}))
    if tags:
        events.append(_event(ticket.id, now, EventType.TAGS_CHANGED, principal.user_id,
                             **{"from": ticket.tags, "to": sorted(set(ticket.tags) | set(tags))}))
    def record(attempt: int) -> tuple[Ticket, Message]:
        current = ticket if attempt == 0 else _require(deps.repository.get_ticket(ticket_id), ticket_id)
        changed = replace(
            current, updated_at=now, last_activity_at=now, thread_version=current.version + 1,
            first_responded_at=current.first_responded_at or now,
            status=after or (TicketStatus.OPEN if current.status is TicketStatus.NEW else current.status),
            tags=sorted(set(current.tags) | set(tags)) if tags else current.tags,
        )
        if after is TicketStatus.RESOLVED:
            changed.resolved_at = now
        stamp = rules.advance(changed, events, moment)
        return deps.repository.apply(TicketChange(ticket=stamp.ticket, messages=[message], events=stamp.events,
                                                  claim_message_ids=claims, sla_facts=stamp.facts)), message

    # The mail is out, so it must be on the thread: a concurrent change is re-read and the record re-applied.
    return retry_on_conflict(record, exhausted=lambda: VersionConflict(
        "the reply was sent but the ticket kept changing; it will show after a reload"))


def _send_email_reply(
    ticket: Ticket, messages: list[Message], body: str, principal: Principal, deps: InboxDeps
) -> tuple[Message, list[TicketEvent], list[MessageIdEntry]]:
    settings = deps.settings
    address = settings.address_for(ticket.queue)
    message_id = new_id()
    header_id = f"reply.{message_id}@{address.partition('@')[2]}"
    answer, chain = _thread_ids(messages)
    subject = "Re: " + numbered_subject(ticket.number, re.sub(r"^(\s*(re|aw|sv|fwd?)\s*:\s*)+", "",
                                                            ticket.subject, flags=re.IGNORECASE))
    outgoing = OutgoingEmail(
        from_address=address, from_name=f"{principal.name} ({settings.store_name})", to=[ticket.customer_email or ""],
        subject=subject, text=body, message_id=header_id,
        reply_to=reply_address(address, ticket.id, settings.reply_secret),
        in_reply_to=answer, references=chain,
    )
    sent = deps.mail.send(outgoing)
    now = iso(deps.clock.now())
    message = Message(
        id=message_id, ticket_id=ticket.id, created_at=now, direction=Direction.OUTBOUND, channel=Channel.EMAIL,
        from_address=address, from_name=outgoing.from_name, to=list(outgoing.to), subject=subject,
        body_text=body, visible_text=body, header_message_id=header_id, provider_message_id=sent.provider_id,
        delivered_message_id=sent.header_message_id, author_id=principal.user_id,
    )
    events = [_event(ticket.id, now, EventType.REPLY_SENT, principal.user_id, message_id=message_id, channel="email")]
    claims = [MessageIdEntry(header_id, ticket.id, "outbound"),
              MessageIdEntry(sent.header_message_id, ticket.id, "outbound")]
    return message, events, claims


def add_note(ticket_id: str, body: str, version: int | None, principal: Principal, deps: InboxDeps) -> Message:
    body = body.strip()
    if not body or len(body) > MAX_BODY_CHARS:
        raise InvalidInput(f"a note holds 1 to {MAX_BODY_CHARS} characters", "body")
    def write(_attempt: int) -> Message:
        # A note never conflicts with anyone's work: on a concurrent change, add it to the fresh ticket.
        ticket = _require(deps.repository.get_ticket(ticket_id), ticket_id)
        now = iso(deps.clock.now())
        note = Message(id=new_id(), ticket_id=ticket.id, created_at=now, direction=Direction.OUTBOUND,
                       channel=ticket.channel, from_address=principal.user_id, from_name=principal.name,
                       body_text=body, visible_text=body, internal=True, author_id=principal.user_id)
        event = _event(ticket.id, now, EventType.NOTE_ADDED, principal.user_id, message_id=note.id)
        deps.repository.apply(TicketChange(ticket=replace(ticket, updated_at=now), messages=[note], events=[event]))
        return note

    return retry_on_conflict(write, exhausted=lambda: VersionConflict("the ticket kept changing; try again"))


def merge(source_id: str, target_id: str, version: int, principal: Principal, deps: InboxDeps) -> Ticket:
    """Moves the source's thread to the target; the source closes with a link. Thread keys keep
    working: threading follows `merged_into`."""
    if source_id == target_id:
        raise InvalidInput("a ticket cannot be merged into itself", "target_id")
    source = deps.repository.bundle(source_id)
    target = deps.repository.get_ticket(target_id)
    if source is None:
        raise NotFound(f"ticket {source_id} not found")
    if target is None:
        raise NotFound(f"ticket {target_id} not found")
    if source.ticket.version != version:
        raise VersionConflict("the ticket changed since you saw it", current=source.ticket)
    if target.merged_into:
        raise Unavailable("the target ticket was itself merged; merge into the ticket it was merged into")
    moment = deps.clock.now()
    now = iso(moment)
    moved = deps.repository.move_messages(source.messages, target_id)
    closed = replace(source.ticket, status=TicketStatus.CLOSED, closed_at=now, updated_at=now, merged_into=target_id)
    stamp = SlaRules(deps.sla, deps.settings).advance(
        closed, [_event(source_id, now, EventType.MERGED, principal.user_id, into=target_id, messages=moved)], moment)
    deps.repository.apply(TicketChange(ticket=stamp.ticket, events=stamp.events))
    activity = max(target.last_activity_at, source.ticket.last_activity_at)
    return deps.repository.apply(TicketChange(
        ticket=replace(target, updated_at=now, last_activity_at=activity,
                       tags=sorted(set(target.tags) | set(source.ticket.tags))),
        events=[_event(target_id, now, EventType.MERGED_FROM, principal.user_id, source=source_id, messages=moved)],
    ))


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
    subject, body = request.subject.strip(), request.body.strip()
    if not subject or len(subject) > 300:
        raise InvalidInput("subject is 1 to 300 characters", "subject")
    if not body or len(body) > MAX_BODY_CHARS:
        raise InvalidInput(f"body is 1 to {MAX_BODY_CHARS} characters", "body")
    email = normalize_email(request.customer_email) if request.customer_email else None
    if email is not None and ("@" not in email or len(email) > 254):
        raise InvalidInput("customer_email is not an email address", "customer_email")
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
    known = deps.repository.lookup(Lookup(identities=tuple(given), next_ticket_number=True))
    # A call that gives both an address and a number links them to one customer (unclaimed ones only).
    plan = plan_identities(given, known.identities, name=request.customer_name.strip()[:200], now=now,
                           load_customer=deps.repository.get_customer)
    customer_id = plan.customer_id
    ticket_id = new_id()
    channel = Channel(request.channel)
    ticket = Ticket(
        id=ticket_id, number=0, subject=subject, status=TicketStatus.OPEN, queue=queue, channel=channel,
        customer_id=customer_id, created_at=now, updated_at=now, last_activity_at=now, customer_email=email,
        customer_phone=phone, customer_name=request.customer_name.strip()[:200],
        first_responded_at=now, assignee=principal.user_id,
    )
    if channel is Channel.PHONE:
        # The call's log is what the customer said: an inbound message on the phone channel.
        message = Message(
            id=new_id(), ticket_id=ticket_id, created_at=now, direction=Direction.INBOUND, channel=channel,
            from_address=email or phone or "", from_name=request.customer_name.strip()[:200],
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
    events = [_event(ticket_id, now, EventType.CREATED, principal.user_id, channel=channel.value, queue=queue)]
    stamp = SlaRules(deps.sla, deps.settings).start(ticket, events, moment, actor=principal.user_id)
    created = deps.repository.create_ticket(NewTicketWrite(
        ticket=stamp.ticket, message=message, events=stamp.events,
        inbound=InboundRecord("agent", ticket_id, state="done", ticket_id=ticket_id),
        new_customer=plan.new_customer, new_identities=plan.new_identities, customer_update=plan.customer_update,
        expected_number=known.next_ticket_number,
    ))
    if channel in (Channel.EMAIL, Channel.SMS):
        return reply(created.id, ReplyRequest(body=body, version=created.version, force=True), principal, deps)[0]
    return created
