"""Use cases of the agents' inbox: read, change, note and merge tickets (replies: replies.py; tickets an
agent opens: new_tickets.py).

Every change is conditional on the version the agent saw (no lost update) and leaves an event
with actor and time."""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from chalicelib.config import Settings
from chalicelib.domain.errors import InvalidInput, NotFound, Unavailable, VersionConflict
from chalicelib.domain.ids import iso, new_id
from chalicelib.domain.principals import Principal
from chalicelib.domain.tickets import (
    Direction,
    EventType,
    Message,
    Ticket,
    TicketEvent,
    TicketStatus,
    TicketSummary,
    new_event,
)
from chalicelib.domain.workflow import check_priority, check_status_change, check_tags
from chalicelib.ports import (
    BlobStore,
    Clock,
    EventPage,
    MailSender,
    SmsSender,
    ThreadPage,
    ThreadPosition,
    TicketChange,
    TicketFilter,
    TicketPage,
    TicketRepository,
)
from chalicelib.services.retry import retry_on_conflict
from chalicelib.services.sla_rules import SlaRules, SlaSetup

MAX_BODY_CHARS = 50_000


@dataclass
class InboxDeps:
    repository: TicketRepository
    mail: MailSender
    clock: Clock
    settings: Settings
    sms: SmsSender | None = None  # None: texting is not set up
    sla: SlaSetup | None = None  # None: the environment's default SLA policy only


PAGE_LIMIT = 25  # messages or events per page unless the agent asks for another size
MAX_PAGE_LIMIT = 100
DETAIL_CUSTOMER_TICKETS = 10  # the customer's other tickets beside a ticket; the rest page on the customer
MAX_BODY_BLOB_BYTES = 16 * 1024 * 1024  # a stored body beyond this stays a preview (the raw mail is kept)


@dataclass
class TicketDetail:
    """A ticket as an agent opens it: the ticket, its newest messages (`more_messages`: older ones page
    on), and the customer's other tickets (the first few; `customer_cursor` continues them)."""

    ticket: Ticket
    messages: list[Message]
    more_messages: bool
    other_tickets: list[TicketSummary]
    customer_cursor: dict[str, str] | None


@dataclass
class FullMessage:
    """One message whole; `complete` False when its stored body was too large to read back."""

    message: Message
    complete: bool


@dataclass
class TicketUpdate:
    version: int
    status: str | None = None
    priority: str | None = None
    queue: str | None = None
    assignee: str | None = None
    unassign: bool = False
    tags: list[str] | None = None


def require_ticket(ticket: Ticket | None, ticket_id: str) -> Ticket:
    if ticket is None:
        raise NotFound(f"ticket {ticket_id} not found")
    return ticket


def list_tickets(query: TicketFilter, deps: InboxDeps) -> TicketPage:
    return deps.repository.list_tickets(query)


def ticket_detail(ticket_id: str, deps: InboxDeps, limit: int = PAGE_LIMIT) -> TicketDetail:
    """Two Queries whatever the thread's length: the ticket with its newest messages, and the
    customer's latest tickets."""
    page = deps.repository.thread_page(ticket_id, limit)
    ticket = require_ticket(page.ticket, ticket_id)
    customer = deps.repository.customer_ticket_page(ticket.customer_id, DETAIL_CUSTOMER_TICKETS)
    others = [t for t in customer.tickets if t.id != ticket_id]
    return TicketDetail(ticket, page.messages, page.more, others, customer.cursor)


def ticket_by_number(number: int, deps: InboxDeps, limit: int = PAGE_LIMIT) -> TicketDetail:
    """The number's pointer (one GetItem), then the detail: the ticket comes with its thread's Query."""
    ticket_id = deps.repository.ticket_id_for_number(number)
    if ticket_id is None:
        raise NotFound(f"ticket #{number} not found")
    return ticket_detail(ticket_id, deps, limit)


def thread_messages(ticket_id: str, before: ThreadPosition | None, limit: int, deps: InboxDeps) -> ThreadPage:
    """A page of the thread, newest first, older than `before` (the first page when None)."""
    page = deps.repository.thread_page(ticket_id, limit, before)
    if before is None:
        require_ticket(page.ticket, ticket_id)
    return page


def ticket_events(ticket_id: str, before: ThreadPosition | None, limit: int, deps: InboxDeps) -> EventPage:
    """A page of the ticket's history, newest first. An empty first page is a missing ticket (every
    ticket has its `created` event); the ticket itself is not read."""
    page = deps.repository.event_page(ticket_id, limit, before)
    if before is None and not page.events:
        raise NotFound(f"ticket {ticket_id} not found")
    return page


def full_message(ticket_id: str, at: str, message_id: str, deps: InboxDeps, blobs: BlobStore) -> FullMessage:
    """One message whole: a body that was too large for its item comes back from the blob store."""
    message = deps.repository.get_message(ticket_id, at, message_id)
    if message is None:
        raise NotFound("no such message on this ticket")
    if not message.body_key:
        return FullMessage(message, True)
    try:
        stored = json.loads(blobs.read(message.body_key, MAX_BODY_BLOB_BYTES))
    except InvalidInput:  # larger than we read back into a Lambda: the preview stays, marked incomplete
        return FullMessage(message, False)
    whole = replace(message, body_text=str(stored.get("text") or ""),
                    visible_text=str(stored.get("visible_text") or ""), body_html=stored.get("html"))
    return FullMessage(whole, True)


def update_ticket(ticket_id: str, update: TicketUpdate, principal: Principal, deps: InboxDeps) -> Ticket:
    ticket = require_ticket(deps.repository.get_ticket(ticket_id), ticket_id)
    if ticket.version != update.version:
        raise VersionConflict("the ticket changed since you saw it", current=ticket)
    moment = deps.clock.now()
    now = iso(moment)
    changed = replace(ticket, updated_at=now)
    events: list[TicketEvent] = []

    def note(field_name: str, before: Any, after: Any) -> None:
        if before != after:
            events.append(new_event(ticket.id, now, EventType(f"{field_name}_changed"), principal.user_id,
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


def add_note(ticket_id: str, body: str, version: int | None, principal: Principal, deps: InboxDeps) -> Message:
    body = body.strip()
    if not body or len(body) > MAX_BODY_CHARS:
        raise InvalidInput(f"a note holds 1 to {MAX_BODY_CHARS} characters", "body")
    def write(_attempt: int) -> Message:
        # A note never conflicts with anyone's work: on a concurrent change, add it to the fresh ticket.
        ticket = require_ticket(deps.repository.get_ticket(ticket_id), ticket_id)
        now = iso(deps.clock.now())
        note = Message(id=new_id(), ticket_id=ticket.id, created_at=now, direction=Direction.OUTBOUND,
                       channel=ticket.channel, from_address=principal.user_id, from_name=principal.name,
                       body_text=body, visible_text=body, internal=True, author_id=principal.user_id)
        event = new_event(ticket.id, now, EventType.NOTE_ADDED, principal.user_id, message_id=note.id)
        deps.repository.apply(TicketChange(ticket=replace(ticket, updated_at=now), messages=[note], events=[event]))
        return note

    return retry_on_conflict(write, exhausted=lambda: VersionConflict("the ticket kept changing; try again"))


def merge(source_id: str, target_id: str, version: int, principal: Principal, deps: InboxDeps) -> Ticket:
    """Moves the source's thread to the target; the source closes with a link. Thread keys keep
    working: threading follows `merged_into`.

    One transaction closes the source (`merged_into`) and updates the target, conditional on both
    versions as read, so two merges racing in opposite directions (or into a ticket being merged away)
    cannot both commit: no cycle, no chain. The messages move after it, in bounded transactions; a
    crash between leaves a merged source that still holds messages, and repeating the request (any
    version: the source is merged into this very target) finishes the move."""
    if source_id == target_id:
        raise InvalidInput("a ticket cannot be merged into itself", "target_id")

    def step(_attempt: int) -> Ticket | None:
        source = deps.repository.bundle(source_id)
        target = deps.repository.get_ticket(target_id)
        if source is None:
            raise NotFound(f"ticket {source_id} not found")
        if target is None:
            raise NotFound(f"ticket {target_id} not found")
        if source.ticket.merged_into == target_id:
            return target  # merged already (a repeat, or a crash before the messages moved)
        if source.ticket.version != version:
            return None
        if source.ticket.merged_into:
            raise Unavailable(f"the ticket was already merged into {source.ticket.merged_into}")
        if target.merged_into:
            raise Unavailable("the target ticket was itself merged; merge into the ticket it was merged into")
        moment = deps.clock.now()
        now = iso(moment)
        count = len(source.messages)
        closed = replace(source.ticket, status=TicketStatus.CLOSED, closed_at=now, updated_at=now,
                         merged_into=target_id)
        merged = new_event(source_id, now, EventType.MERGED, principal.user_id, into=target_id, messages=count)
        stamp = SlaRules(deps.sla, deps.settings).advance(closed, [merged], moment)
        activity = max(target.last_activity_at, source.ticket.last_activity_at)
        taking = replace(target, updated_at=now, last_activity_at=activity,
                         customer_activity_at=max(target.waiting_since, source.ticket.waiting_since),
                         tags=sorted(set(target.tags) | set(source.ticket.tags)))
        took = new_event(target_id, now, EventType.MERGED_FROM, principal.user_id, source=source_id, messages=count)
        _closed, stored = deps.repository.apply_together([
            TicketChange(ticket=stamp.ticket, events=stamp.events, sla_facts=stamp.facts),
            TicketChange(ticket=taking, events=[took]),
        ])
        return stored

    # A conflict on the target alone (a customer wrote to it meanwhile) is retried from a fresh read;
    # a source that changed since the agent saw it is theirs to look at again.
    merged = retry_on_conflict(step, exhausted=lambda: VersionConflict("the tickets kept changing; try again"))
    if merged is None:
        raise VersionConflict("the ticket changed since you saw it", current=deps.repository.get_ticket(source_id))
    # Whatever is still on the source now moves (read after the merge: nothing can join it any more).
    deps.repository.move_messages(deps.repository.list_messages(source_id), target_id)
    return merged


def unmerge(source_id: str, version: int, principal: Principal, deps: InboxDeps) -> Ticket:
    """A manager takes a merged ticket back out: it reopens (status open, `merged_into` cleared), with
    an event on it and on the ticket it was merged into, in one transaction conditional on both.

    The messages that moved to the target stay there: the target's agents may have answered with
    them in view, and the merge recorded how many moved, not which, so moving "them" back could take
    the target's own messages or race with its replies. The source's thread keys (Message-IDs, the
    signed reply address) lead to the source again, so the customer's next mail lands on it."""

    def step(_attempt: int) -> Ticket | None:
        source = require_ticket(deps.repository.get_ticket(source_id), source_id)
        if source.version != version:
            return None
        if not source.merged_into:
            raise Unavailable("the ticket is not merged")
        target = deps.repository.get_ticket(source.merged_into)
        moment = deps.clock.now()
        now = iso(moment)
        reopened = replace(source, status=TicketStatus.OPEN, merged_into=None, closed_at=None, resolved_at=None,
                           updated_at=now, last_activity_at=now)
        event = new_event(source_id, now, EventType.UNMERGED, principal.user_id, **{"from": source.merged_into})
        stamp = SlaRules(deps.sla, deps.settings).advance(reopened, [event], moment, actor=principal.user_id)
        changes = [TicketChange(ticket=stamp.ticket, events=stamp.events, sla_facts=stamp.facts)]
        if target is not None:
            changes.append(TicketChange(ticket=replace(target, updated_at=now), events=[
                new_event(target.id, now, EventType.UNMERGED_FROM, principal.user_id, source=source_id)]))
        return deps.repository.apply_together(changes)[0]

    reopened = retry_on_conflict(step, exhausted=lambda: VersionConflict("the tickets kept changing; try again"))
    if reopened is None:
        raise VersionConflict("the ticket changed since you saw it", current=deps.repository.get_ticket(source_id))
    return reopened
