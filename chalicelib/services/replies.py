"""Use case: an agent's reply goes out (email, or text on an SMS ticket) and joins the thread.

A reply joins the thread as "sending" before the provider is called, and becomes "sent" with the ticket
change once it went; a record that meets a concurrent change or a storage error is re-applied on the fresh
ticket (the mail is out, so it must be on the thread), and one that cannot be written at all leaves the
message "unconfirmed", never nothing. An Idempotency-Key makes the agent's resend safe. A reply is refused
(409) when a customer message or another reply came after the version the agent saw, unless forced."""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from chalicelib.domain.errors import (
    AlreadyExists,
    DomainError,
    InvalidInput,
    NotFound,
    OutcomeUnknown,
    TransientFailure,
    Unavailable,
    VersionConflict,
)
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
from chalicelib.domain.workflow import check_tags
from chalicelib.ports import (
    SENDING,
    SENT,
    MessageIdEntry,
    OutgoingEmail,
    OutgoingSms,
    TicketChange,
)
from chalicelib.services.inbox import MAX_BODY_CHARS, InboxDeps, require_ticket
from chalicelib.services.retry import (
    SEND_RECORD_ATTEMPTS,
    SEND_RECORD_BACKOFF,
    deadline_or_default,
    retry_on_conflict,
    seconds_until,
)
from chalicelib.services.sla_rules import SlaRules

RESOLVE_QUESTION = (
    "\n\nIf this solves your request, just reply \"yes\" and we will close the ticket. "
    "Any other reply reopens it."
)
IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9._:-]{1,128}")
UNCONFIRMED = "unconfirmed"  # Message.delivery_state: the provider took it, the ticket's record failed

@dataclass
class ReplyRequest:
    body: str
    version: int
    status_after: str | None = None  # "pending" | "resolved"
    force: bool = False
    add_tags: list[str] = field(default_factory=list)
    idempotency_key: str | None = None  # the same key on the same ticket returns the first reply, sends nothing


def _thread_ids(messages: list[Message]) -> tuple[str | None, list[str]]:
    """(id to answer, References chain) as the customer's client knows them."""
    public = [m for m in messages if not m.internal and (m.delivered_message_id or m.header_message_id)]
    chain = [m.delivered_message_id or m.header_message_id or "" for m in public]
    inbound = [m for m in public if m.direction is Direction.INBOUND]
    answer = (inbound[-1].delivered_message_id or inbound[-1].header_message_id) if inbound else None
    return answer, chain[-10:]


def _checked_key(key: str | None) -> str | None:
    if key is None:
        return None
    if not IDEMPOTENCY_KEY.fullmatch(key):
        raise InvalidInput("an Idempotency-Key holds 1-128 letters, digits and . _ : -", "Idempotency-Key")
    return key


def reply(ticket_id: str, request: ReplyRequest, principal: Principal, deps: InboxDeps) -> tuple[Ticket, Message]:
    key = _checked_key(request.idempotency_key)
    if key is not None and (earlier := deps.repository.find_reply(ticket_id, key)) is not None:
        # The same request again (a retry after a timeout or an error): the first reply, nothing sent.
        return require_ticket(deps.repository.get_ticket(ticket_id), ticket_id), earlier
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
    outgoing: OutgoingEmail | OutgoingSms
    if ticket.channel is Channel.SMS:
        from chalicelib.services.sms_replies import prepare_sms_reply

        outgoing, message, events = prepare_sms_reply(ticket, body, after is TicketStatus.RESOLVED, principal, deps)
    elif not ticket.customer_email:
        raise Unavailable("the customer has no email address to reply to")
    else:
        identity = deps.repository.get_identity("email", ticket.customer_email)
        if identity is not None and identity.undeliverable:
            raise Unavailable("the customer's email address bounces; use another channel")
        if after is TicketStatus.RESOLVED:
            body += RESOLVE_QUESTION
        outgoing, message, events = _prepare_email_reply(ticket, bundle.messages, body, principal, deps)
    # On the thread before the provider is called: whatever fails after this, the reply is never lost.
    started = deps.repository.start_outbound(replace(message, delivery_state=SENDING), key)
    if started.id != message.id:  # a concurrent request with the same key got there first
        return ticket, started
    message, claims = _send(outgoing, message, key, deps)
    moment = deps.clock.now()
    now = iso(moment)
    rules = SlaRules(deps.sla, deps.settings)
    if after is not None:
        events.append(new_event(ticket.id, now, EventType.STATUS_CHANGED, principal.user_id,
                             **{"from": ticket.status.value, "to": after.value}))
    if tags:
        events.append(new_event(ticket.id, now, EventType.TAGS_CHANGED, principal.user_id,
                             **{"from": ticket.tags, "to": sorted(set(ticket.tags) | set(tags))}))
    def record(attempt: int) -> tuple[Ticket, Message]:
        current = ticket if attempt == 0 else require_ticket(deps.repository.get_ticket(ticket_id), ticket_id)
        changed = replace(
            current, updated_at=now, last_activity_at=now, thread_version=current.version + 1,
            first_responded_at=current.first_responded_at or now,
            status=after or (TicketStatus.OPEN if current.status is TicketStatus.NEW else current.status),
            tags=sorted(set(current.tags) | set(tags)) if tags else current.tags,
        )
        if after is TicketStatus.RESOLVED:
            changed.resolved_at = now
        stamp = rules.advance(changed, events, moment)
        try:
            return deps.repository.apply(TicketChange(ticket=stamp.ticket, outbound=[message], events=stamp.events,
                                                      claim_message_ids=claims, sla_facts=stamp.facts)), message
        except AlreadyExists:  # the "sending" item is gone: an earlier attempt's record landed after all
            return current, message

    # The mail is out, so it must be on the thread: a concurrent change is re-read and the record re-applied,
    # and any storage failure is retried with backoff while there is time.
    deadline = deadline_or_default(None, deps.clock)
    try:
        return retry_on_conflict(record, attempts=SEND_RECORD_ATTEMPTS, retry_on=(Exception,),
                                 backoff=SEND_RECORD_BACKOFF, seconds_left=seconds_until(deadline, deps.clock),
                                 exhausted=lambda: TransientFailure(
                                     "the reply was sent but could not be recorded; it shows on the thread as "
                                     "sent, not confirmed"))
    except TransientFailure:
        _leave_unconfirmed(message, deps)
        raise


def _leave_unconfirmed(message: Message, deps: InboxDeps) -> None:
    """The reply may have gone but is not recorded: it shows as unconfirmed (or stays "sending")."""
    try:
        deps.repository.mark_outbound(replace(message, delivery_state=UNCONFIRMED))
    except DomainError:
        pass  # it stays "sending": on the thread all the same


def _send(outgoing: OutgoingEmail | OutgoingSms, message: Message, key: str | None,
          deps: InboxDeps) -> tuple[Message, list[MessageIdEntry]]:
    """Sends the prepared reply. A refusal or a request that never reached the provider takes the "sending"
    message (and its key) back off; an answer that never came leaves it on the thread, unconfirmed."""
    try:
        if isinstance(outgoing, OutgoingSms):
            assert deps.sms is not None  # check_can_text refused otherwise
            provider_id, delivered = deps.sms.send(outgoing).provider_id, None
        else:
            sent = deps.mail.send(outgoing)
            provider_id, delivered = sent.provider_id, sent.header_message_id
    except OutcomeUnknown:
        # The provider may have sent it: the reply stays on the thread, unconfirmed, and keeps its key, so a
        # resend with the same key sends nothing. The agent sees it and decides.
        _leave_unconfirmed(message, deps)
        raise
    except Exception:
        try:
            deps.repository.abandon_outbound(message, key)
        except DomainError:
            pass  # it stays "sending", which is what we know
        raise
    sent_message = replace(message, delivery_state=SENT, provider_message_id=provider_id,
                           delivered_message_id=delivered)
    claims = []
    if message.header_message_id and delivered:
        claims = [MessageIdEntry.outbound(message.header_message_id, message.ticket_id, message.to),
                  MessageIdEntry.outbound(delivered, message.ticket_id, message.to)]
    return sent_message, claims


def _prepare_email_reply(
    ticket: Ticket, messages: list[Message], body: str, principal: Principal, deps: InboxDeps
) -> tuple[OutgoingEmail, Message, list[TicketEvent]]:
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
    now = iso(deps.clock.now())
    message = Message(
        id=message_id, ticket_id=ticket.id, created_at=now, direction=Direction.OUTBOUND, channel=Channel.EMAIL,
        from_address=address, from_name=outgoing.from_name, to=list(outgoing.to), subject=subject,
        body_text=body, visible_text=body, header_message_id=header_id, author_id=principal.user_id,
    )
    events = [new_event(ticket.id, now, EventType.REPLY_SENT, principal.user_id, message_id=message_id,
                        channel="email")]
    return outgoing, message, events
