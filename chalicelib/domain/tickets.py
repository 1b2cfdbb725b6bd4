"""Tickets, messages, attachments and events, and the workflow rules that move a ticket's status."""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

# Services import the confirmation rule from here, next to the status change it drives.
from chalicelib.domain.confirmation import is_confirmation as is_confirmation
from chalicelib.domain.ids import new_id


class TicketStatus(StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"  # waiting on the customer; SLA clock paused
    RESOLVED = "resolved"  # customer asked to confirm
    CLOSED = "closed"
    SPAM = "spam"

    @property
    def lane(self) -> str:
        """Inbox views list one lane at a time: work in progress, or the archive."""
        return "archived" if self in (TicketStatus.CLOSED, TicketStatus.SPAM) else "active"


ACTIVE_STATUSES = frozenset(s for s in TicketStatus if s.lane == "active")


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    WEB = "web"
    PHONE = "phone"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class AckState(StrEnum):
    NONE = "none"  # no acknowledgement due (follow-up, automated, spam)
    PENDING = "pending"  # due and not yet confirmed sent
    SENT = "sent"
    SKIPPED = "skipped"  # due but withheld (rate limit, undeliverable); reason on the ticket


@dataclass
class Attachment:
    filename: str
    content_type: str
    size: int
    key: str  # blob-store key
    disposition: str = "attachment"
    content_id: str = ""


@dataclass
class Message:
    id: str
    ticket_id: str
    created_at: str
    direction: Direction
    channel: Channel
    from_address: str
    from_name: str = ""
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    subject: str = ""
    body_text: str = ""
    visible_text: str = ""
    body_html: str | None = None
    attachments: list[Attachment] = field(default_factory=list)
    internal: bool = False
    automated: bool = False
    automated_reason: str | None = None
    auth: dict[str, str] = field(default_factory=dict)  # spf/dkim/dmarc/spam/virus verdicts
    header_message_id: str | None = None
    provider_message_id: str | None = None  # SES message id (inbound receipt or outbound send)
    delivered_message_id: str | None = None  # the Message-ID recipients see (SES rewrites ours)
    author_id: str | None = None  # the agent who wrote an outbound message or note
    raw_key: str | None = None  # where the raw MIME lives, so nothing received is lost
    body_key: str | None = None  # set when the body was too large for the item and lives in the blob store
    from_stranger: bool = False  # inbound: cites the thread but is not from the ticket's customer (see the agent)
    # An agent's reply through the provider: "sending" (written before the call: if it stays, the outcome is
    # unknown), "sent" (recorded with the ticket change), "unconfirmed" (the provider took it, the record failed).
    delivery_state: str | None = None


class EventType(StrEnum):
    """Everything that can happen to a ticket. Stored as its value; an unknown value is an error."""

    CREATED = "created"
    SLA_APPLIED = "sla_applied"
    MESSAGE_RECEIVED = "message_received"
    BOUNCE_RECEIVED = "bounce_received"
    ACKNOWLEDGED = "acknowledged"
    REPLY_SENT = "reply_sent"
    NOTE_ADDED = "note_added"
    STATUS_CHANGED = "status_changed"
    PRIORITY_CHANGED = "priority_changed"
    QUEUE_CHANGED = "queue_changed"
    ASSIGNEE_CHANGED = "assignee_changed"
    TAGS_CHANGED = "tags_changed"
    CUSTOMER_CHANGED = "customer_changed"
    MERGED = "merged"
    MERGED_FROM = "merged_from"
    UNMERGED = "unmerged"  # a manager took a merged ticket back out: it reopens
    UNMERGED_FROM = "unmerged_from"
    SLA_WARNING = "sla_warning"
    SLA_BREACHED = "sla_breached"
    SLA_NOTICE_FAILED = "sla_notice_failed"


@dataclass
class TicketEvent:
    id: str
    ticket_id: str
    at: str
    type: EventType
    actor: str  # "customer", "system", or a user id
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # A typo in a writer or an unknown stored value fails here, loudly, not as a silently skipped clock.
        self.type = EventType(self.type)


def new_event(ticket_id: str, at: str, type: EventType, actor: str, **data: Any) -> TicketEvent:
    """An event with a fresh id; data entries that are None are left out."""
    return TicketEvent(id=new_id(), ticket_id=ticket_id, at=at, type=type, actor=actor,
                       data={k: v for k, v in data.items() if v is not None})


@dataclass
class Ticket:
    id: str
    number: int
    subject: str
    status: TicketStatus
    queue: str
    channel: Channel
    customer_id: str
    created_at: str
    updated_at: str
    last_activity_at: str
    priority: str = "normal"
    assignee: str | None = None
    tags: list[str] = field(default_factory=list)
    customer_email: str | None = None
    customer_name: str = ""
    linked_ticket_id: str | None = None
    ack_state: AckState = AckState.NONE
    ack_reason: str | None = None
    customer_phone: str | None = None
    first_response_due_at: str | None = None
    first_responded_at: str | None = None
    resolved_at: str | None = None
    closed_at: str | None = None
    version: int = 1
    thread_version: int = 1  # the version at which the last public message joined the thread
    merged_into: str | None = None
    sla: dict[str, Any] | None = None  # the SLA clock (domain.sla_clock.SlaClock.to_dict), folded from events
    sla_due: str | None = None  # denormalized from `sla`: the soonest running promise
    sla_action_at: str | None = None  # denormalized: when the SLA sweep next has work on this ticket
    # When the sweep's index entry wakes it: never after `sla_action_at`, possibly before (a change that
    # moves the action later keeps the earlier entry, and the sweep re-keys it when it comes). None: as
    # `sla_action_at` (tickets stored before #12).
    sla_wake_at: str | None = None
    sla_notices: list[dict[str, Any]] = field(default_factory=list)  # claimed, not yet sent (see sla_sweep)
    customer_activity_at: str = ""  # the customer's last message: what lists sort by ("" on old items)
    listed_tags: list[str] = field(default_factory=list)  # "<tag>@<lane>" tag entries stored (the store's)

    @property
    def waiting_since(self) -> str:
        """When the customer last wrote (the ticket's creation for tickets stored before #12)."""
        return self.customer_activity_at or self.created_at

    @property
    def sla_state(self) -> str | None:
        """The running promise as a badge shows it: running, warned or breached; None when none runs."""
        measures = [m for m in ((self.sla or {}).get("measures") or {}).values()
                    if m.get("since") is not None and m.get("done_at") is None]
        if any(m.get("breached") for m in measures):
            return "breached"
        if any(m.get("warned") for m in measures):
            return "warned"
        return "running" if measures or self.sla_due_at else None

    @property
    def sla_due_at(self) -> str | None:
        """When the running promise falls due; None while no clock runs (answered, waiting, done)."""
        if self.sla is not None:
            return self.sla_due
        # Tickets written before SLA clocks existed keep the first-response promise they were given.
        if self.status in (TicketStatus.NEW, TicketStatus.OPEN) and not self.first_responded_at:
            return self.first_response_due_at
        return None


@dataclass(frozen=True)
class TicketSummary:
    """One line of a ticket list: exactly what the list indexes project (the `row` attribute), so a
    listing is one Query per shard and never reads whole tickets."""

    id: str
    number: int
    subject: str
    status: TicketStatus
    priority: str
    queue: str
    channel: Channel
    assignee: str | None
    tags: tuple[str, ...]
    customer_id: str
    customer_name: str
    customer_email: str | None
    customer_phone: str | None
    created_at: str
    last_activity_at: str
    waiting_since: str
    sla_due_at: str | None
    sla_state: str | None
    merged_into: str | None = None


LIST_SUBJECT_CHARS = 200  # a list line shows the start of a subject; the detail shows all of it


def summary_of(ticket: Ticket) -> TicketSummary:
    return TicketSummary(
        id=ticket.id, number=ticket.number, subject=ticket.subject[:LIST_SUBJECT_CHARS], status=ticket.status,
        priority=ticket.priority, queue=ticket.queue, channel=ticket.channel, assignee=ticket.assignee,
        tags=tuple(ticket.tags), customer_id=ticket.customer_id, customer_name=ticket.customer_name[:200],
        customer_email=ticket.customer_email, customer_phone=ticket.customer_phone, created_at=ticket.created_at,
        last_activity_at=ticket.last_activity_at, waiting_since=ticket.waiting_since,
        sla_due_at=ticket.sla_due_at, sla_state=ticket.sla_state, merged_into=ticket.merged_into,
    )


def status_after_customer_message(
    status: TicketStatus, *, automated: bool, confirms: bool
) -> TicketStatus:
    """Where a ticket goes when its customer writes again (machines never move a ticket)."""
    if automated or status in (TicketStatus.SPAM, TicketStatus.NEW, TicketStatus.OPEN):
        return status
    if status is TicketStatus.RESOLVED and confirms:
        return TicketStatus.CLOSED
    return TicketStatus.OPEN
