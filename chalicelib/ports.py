"""Ports: the interfaces services depend on. Adapters implement them for AWS; fakes for tests."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any, Protocol

from chalicelib.domain.customers import Customer, normalize_email
from chalicelib.domain.macros import Macro
from chalicelib.domain.privacy import pseudonym
from chalicelib.domain.sla_clock import SlaFact
from chalicelib.domain.sla_config import CalendarSpec, SlaPolicy
from chalicelib.domain.tickets import Message, Ticket, TicketEvent, TicketSummary


# ---- what the ticket store reads in one round trip -------------------------------------------
@dataclass(frozen=True)
class InboundRecord:
    """What became of one delivery from a channel (SES message id, SMS inbound id)."""

    source: str
    source_id: str
    state: str  # "stored" (ticket written, follow-up work due) | "done" | "duplicate" | "dropped" | "quarantined"
    ticket_id: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class MessageIdEntry:
    """A Message-ID we have seen or sent, and the ticket it belongs to."""

    message_id: str
    ticket_id: str
    kind: str  # "inbound" | "outbound"
    sender_hash: str = ""
    # Outbound: pseudonyms of the addresses it was sent to. A delivery report citing it may mark only these
    # undeliverable (empty: recorded before we kept them; then only the ticket's customer address counts).
    recipients: tuple[str, ...] = ()

    @classmethod
    def outbound(cls, message_id: str, ticket_id: str, sent_to: Iterable[str]) -> MessageIdEntry:
        """The entry of a mail we sent, with who it went to (the only addresses its bounces may mark)."""
        return cls(message_id, ticket_id, "outbound", recipients=recipient_hashes(sent_to))


def recipient_hashes(addresses: Iterable[str]) -> tuple[str, ...]:
    """How an outbound Message-ID remembers its recipients: pseudonyms of the normalized addresses."""
    return tuple(dict.fromkeys(pseudonym(normalize_email(a)) for a in addresses if a))


@dataclass(frozen=True)
class Identity:
    """An email address or phone number and the customer who owns it."""

    kind: str  # "email" | "phone"
    value: str
    customer_id: str
    undeliverable: bool = False
    sms_opted_out: bool = False  # the number texted STOP: nothing may be texted to it until START


@dataclass(frozen=True)
class Lookup:
    """Everything an inbound message may need to know, fetched together (one BatchGetItem)."""

    inbound: tuple[str, str] | None = None  # (source, source id)
    message_ids: tuple[str, ...] = ()
    identities: tuple[tuple[str, str], ...] = ()  # (kind, value)
    rate_keys: tuple[str, ...] = ()
    ticket_ids: tuple[str, ...] = ()
    ticket_numbers: tuple[int, ...] = ()
    conversations: tuple[tuple[str, str], ...] = ()  # (channel, number): the ticket a conversation is on
    sla_config: bool = False  # the stored SLA calendars and policies (their snapshot item)


@dataclass
class LookupResult:
    inbound: InboundRecord | None = None
    message_ids: dict[str, MessageIdEntry] = field(default_factory=dict)
    identities: dict[tuple[str, str], Identity] = field(default_factory=dict)
    rates: dict[str, int] = field(default_factory=dict)
    tickets: dict[str, Ticket] = field(default_factory=dict)
    numbers: dict[int, str] = field(default_factory=dict)
    conversations: dict[tuple[str, str], str] = field(default_factory=dict)  # (channel, number) -> ticket id
    sla_config: SlaConfig | None = None  # when asked for: what is stored (empty: the defaults only)


@dataclass(frozen=True)
class ConversationClaim:
    """The ticket a channel's conversation with one number continues on moves from `previous` (None:
    no conversation yet) to `ticket_id`, conditionally: two texts racing to open a ticket make one."""

    channel: str
    number: str
    ticket_id: str
    previous: str | None = None


# ---- what the ticket store writes, each in one transaction --------------------------------------
@dataclass
class NewTicketWrite:
    """A new ticket with its first message. `ticket.number` is assigned by the store, from an atomic counter:
    numbers rise and never repeat, but a create that fails after taking one leaves a gap."""

    ticket: Ticket
    message: Message
    events: list[TicketEvent]
    inbound: InboundRecord
    new_customer: Customer | None = None
    new_identities: list[Identity] = field(default_factory=list)
    claim_message_ids: list[MessageIdEntry] = field(default_factory=list)
    rate_increments: list[str] = field(default_factory=list)
    customer_update: Customer | None = None  # an existing customer who gained identities (version as read)
    conversation: ConversationClaim | None = None
    send_claim: SendClaim | None = None  # the acknowledgement's claim, held from birth by the ticket's writer


@dataclass
class TicketChange:
    """An existing ticket moves to `ticket` (whose `version` is the one read: the write is
    conditional on it), with the messages and events that explain the change, atomically."""

    ticket: Ticket
    messages: list[Message] = field(default_factory=list)
    events: list[TicketEvent] = field(default_factory=list)
    inbound: InboundRecord | None = None
    claim_message_ids: list[MessageIdEntry] = field(default_factory=list)
    undeliverable: list[tuple[str, str]] = field(default_factory=list)  # identities to mark
    sla_facts: list[SlaFact] = field(default_factory=list)  # finished SLA measurements, for reports
    inbound_first: bool = False  # the delivery record must be new: a concurrent twin of the delivery fails
    # Outbound messages written as "sending" before the provider call (`start_outbound`), now recorded:
    # each replaces its "sending" item, conditionally, so a record that already landed is not applied twice.
    outbound: list[Message] = field(default_factory=list)


@dataclass
class CustomerChange:
    """Customers and identities written together, each conditional on what was read: a customer on its
    version (None: it must be new), an identity on its owner and consent/bounce state as read (None: it
    must be unclaimed). Optionally with the delivery that caused it (must be new) and rate counts."""

    customers: list[tuple[Customer, int | None]] = field(default_factory=list)  # (as stored, version read)
    identities: list[tuple[Identity, Identity | None]] = field(default_factory=list)  # (as stored, as read)
    inbound: InboundRecord | None = None
    rate_increments: list[str] = field(default_factory=list)
    audit: list[AuditEntry] = field(default_factory=list)  # who changed what, written with the change


@dataclass(frozen=True)
class AuditEntry:
    """A person's change to something that is not a ticket (a ticket has its events): kept for review."""

    id: str
    at: str
    actor: str
    action: str  # e.g. "undeliverable_cleared"
    subject: str  # what was changed, pseudonymized where it is personal data ("email#<pseudonym>")
    data: dict[str, str] = field(default_factory=dict)


@dataclass
class AckRecord:
    """An acknowledgement that was sent: it joins the thread and its Message-IDs thread replies."""

    ticket: Ticket  # as last read; the write is conditional on its version
    message: Message
    event: TicketEvent
    message_ids: list[MessageIdEntry]
    inbound: InboundRecord | None = None
    claim: SendClaim | None = None  # marked `sent` with the provider's ids in the same transaction
    dequeue: bool = True  # the ticket may wait in the pending-ack queue: its entry goes with the record


@dataclass(frozen=True)
class PendingAck:
    """An acknowledgement that could not go at ingest (the provider throttled it), waiting in the queue
    (the sparse gsi9): what the drain needs to send it as ingest would have, oldest `arrived_at` first."""

    ticket_id: str
    arrived_at: str  # the ticket's creation (the customer's message), never the time of the send
    source: str  # the delivery (INBOUND#<source>#<source_id>) the drain marks done with the ack
    source_id: str
    route: dict[str, Any]  # how to answer (services.inbound.pending_acks: route_to_dict / route_from_dict)


SENDING = "sending"  # SendClaim.state: the claimant is sending (or died doing so: see lease_until)
SENT = "sent"  # the provider accepted it; its ids are on the claim, so a resume records instead of resending


@dataclass(frozen=True)
class SendClaim:
    """The right to send one outbound message (an acknowledgement, a keyword answer): only its claimant
    sends. A claim whose lease ran out (its sender died) may be taken over; once `sent`, the provider's
    ids say the message went, so whoever finds it records it rather than sending it again."""

    key: str  # what is sent: "ack#<ticket>", "answer#<source>#<source id>"
    owner: str  # one id per attempt that claimed it
    lease_until: str  # ISO time: after it, a claim still "sending" may be taken over
    state: str = SENDING
    provider_id: str | None = None
    header_message_id: str | None = None  # the Message-ID recipients see (SES rewrites ours)
    version: int = 1  # every change of the claim is conditional on it

    def held_by(self, owner: str) -> bool:
        return self.owner == owner


@dataclass(frozen=True)
class QuarantineRecord:
    """Something received that will not become a ticket message; kept with its reason for an admin."""

    id: str
    at: str
    source: str
    reason: str
    raw_location: str  # "s3://bucket/key" or a blob key; the content is never lost
    sender_hash: str = ""


@dataclass(frozen=True)
class TicketFilter:
    """What an inbox view asks for; the repository reads it from the one index that narrows it most
    (adapters/ticket_listing.py): one Query per shard of one partition a page."""

    lane: str = "active"
    statuses: tuple[str, ...] = ()  # empty: the whole lane
    queue: str | None = None
    assignee: str | None = None  # a user id, or "none" for unassigned
    priority: str | None = None
    tag: str | None = None
    channel: str | None = None
    customer_id: str | None = None
    due_before: str | None = None  # only tickets whose running clock falls due before this time
    due_from: str | None = None  # ... and at or after this one ("due soon": from now)
    sla_state: str | None = None  # "warned": a running promise was warned and not yet breached
    sort: str = "activity"  # "activity" (customer's last message, newest first) | "due" (soonest first)
    limit: int = 25
    cursor: dict[str, str] | None = None


@dataclass
class TicketPage:
    tickets: list[TicketSummary]
    cursor: dict[str, str] | None


@dataclass(frozen=True)
class DueEntry:
    """One entry of the sweep's work queue: when the ticket's next SLA action falls (keys only)."""

    at: str
    ticket_id: str


@dataclass
class DuePage:
    entries: list[DueEntry]
    cursor: dict[str, str] | None


@dataclass(frozen=True)
class ThreadPosition:
    """Where a newest-first page of a ticket's messages (or events) continues: strictly older than the
    message (event) at this time with this id."""

    at: str
    id: str


@dataclass
class ThreadPage:
    """A page of a ticket's messages, newest first. The first page (no position) is read together with
    the ticket itself (`ticket` None: no such ticket); later pages carry `ticket` None. `more`: another
    page may follow (it can be empty when the thread ended exactly at a page boundary)."""

    ticket: Ticket | None
    messages: list[Message]
    more: bool


@dataclass
class EventPage:
    """A page of a ticket's events, newest first; `more` as in ThreadPage."""

    events: list[TicketEvent]
    more: bool


@dataclass
class TicketBundle:
    """A ticket with its whole thread and history, read together."""

    ticket: Ticket
    messages: list[Message]
    events: list[TicketEvent]


class TicketRepository(Protocol):
    """Tickets, messages, customers and their indexes. Every write that must go together is atomic;
    conflicting writes raise `VersionConflict` (re-read and decide again) or `AlreadyExists`."""

    def lookup(self, request: Lookup) -> LookupResult: ...

    def get_ticket(self, ticket_id: str) -> Ticket | None: ...

    def create_ticket(self, write: NewTicketWrite) -> Ticket: ...

    def apply(self, change: TicketChange) -> Ticket:
        """Writes the change; returns the ticket as stored (version + 1) or raises VersionConflict."""
        ...

    def record_ack(self, record: AckRecord) -> Ticket:
        """The sent acknowledgement, conditional on the ticket's version; its queue entry (if any) goes."""
        ...

    def defer_ack(self, entry: PendingAck) -> None:
        """Puts the ticket's acknowledgement in the pending-ack queue (idempotent: one entry per ticket)."""
        ...

    def pending_acks(self, before: str, limit: int) -> list[PendingAck]:
        """Queued acknowledgements of tickets that arrived before `before`, oldest first, at most `limit`:
        one Query per queue shard on the sparse index, merged."""
        ...

    def skip_ack(self, ticket: Ticket, reason: str, inbound: InboundRecord | None = None) -> Ticket:
        """The acknowledgement will not go (refused, or overtaken by a person's answer): the ticket says why
        (conditional on its version), its delivery is done and its queue entry goes, in one transaction."""
        ...

    def drop_pending_ack(self, ticket_id: str) -> None:
        """Removes a queue entry whose ticket no longer waits for an acknowledgement."""
        ...

    def record_inbound(self, record: InboundRecord, at: str) -> None: ...

    def quarantine(self, record: QuarantineRecord) -> None: ...

    def list_messages(self, ticket_id: str) -> list[Message]: ...

    def list_events(self, ticket_id: str) -> list[TicketEvent]: ...

    def get_customer(self, customer_id: str) -> Customer | None: ...

    def get_ticket_by_number(self, number: int) -> Ticket | None: ...

    def ticket_id_for_number(self, number: int) -> str | None:
        """The id a ticket number points to (one GetItem), without reading the ticket."""
        ...

    def thread_page(self, ticket_id: str, limit: int, before: ThreadPosition | None = None) -> ThreadPage:
        """At most `limit` messages, newest first, older than `before`; the first page (no `before`)
        comes with the ticket, in one Query. Never reads more than one Query's worth."""
        ...

    def event_page(self, ticket_id: str, limit: int, before: ThreadPosition | None = None) -> EventPage:
        """At most `limit` events, newest first, older than `before` (one Query)."""
        ...

    def get_message(self, ticket_id: str, at: str, message_id: str) -> Message | None:
        """One message of a ticket, whole (one GetItem)."""
        ...

    def customer_ticket_page(self, customer_id: str, limit: int,
                             cursor: dict[str, str] | None = None) -> TicketPage:
        """A customer's tickets on every channel and in either lane, newest first (one Query)."""
        ...

    def bundle(self, ticket_id: str) -> TicketBundle | None: ...

    def list_tickets(self, query: TicketFilter) -> TicketPage: ...

    def get_identity(self, kind: str, value: str) -> Identity | None: ...

    def save_customer(self, customer: Customer, expected_version: int) -> Customer: ...

    def list_macros(self) -> list[Macro]: ...

    def get_macro(self, macro_id: str) -> Macro | None: ...

    def save_macro(self, macro: Macro, expected_version: int | None) -> Macro: ...

    def delete_macro(self, macro_id: str) -> None: ...

    def hit_rate(self, rate_key: str, ttl_seconds: int = 7200) -> int:
        """Counts one more request under `rate_key` and returns the count in its window."""
        ...

    def move_messages(self, messages: list[Message], target_ticket_id: str) -> int:
        """Moves messages to another ticket in bounded transactions; safe to repeat."""
        ...

    def apply_together(self, changes: list[TicketChange]) -> list[Ticket]:
        """Changes of several tickets in one transaction (at most 100 operations), each conditional on
        its version as read, all or nothing; VersionConflict when any ticket changed. Returns the
        tickets as stored (version + 1), in order."""
        ...

    def change_customers(self, change: CustomerChange) -> None:
        """Writes the change in one transaction; VersionConflict when a customer changed since it was
        read, AlreadyExists when an identity or the delivery record is not as read."""
        ...

    def apply_all(self, changes: list[TicketChange]) -> None:
        """Independent ticket changes in as few transactions as fit (each at most 100 operations, each
        all or nothing); VersionConflict when a ticket changed since it was read."""
        ...

    def all_customer_tickets(self, customer_id: str) -> list[TicketSummary]:
        """Every ticket of the customer as list rows, newest first (Query pages on the customer index)."""
        ...

    def claim_send(self, key: str, owner: str, lease_until: datetime) -> SendClaim:
        """Claims the send `key` for `owner` until `lease_until` (conditionally: no claim yet, or one still
        "sending" whose lease ran out). Returns the claim as stored: `owner`'s when it won, else the live or
        sent claim of whoever holds it."""
        ...

    def mark_sent(self, claim: SendClaim, provider_id: str, header_message_id: str | None = None) -> SendClaim:
        """The claimant's message went: the provider's ids go on the claim (conditional on its version)."""
        ...

    def release_send(self, claim: SendClaim) -> None:
        """The claimant could not send: its lease ends now, so a retry may claim and send."""
        ...

    def start_outbound(self, message: Message, idempotency_key: str | None = None) -> Message:
        """Writes an outbound message as "sending" before the provider is called, with its idempotency
        key (unique per ticket, kept a day) in the same transaction. Returns the message the key already
        named when it was used before (nothing was written then), else `message`."""
        ...

    def find_reply(self, ticket_id: str, idempotency_key: str) -> Message | None:
        """The reply an Idempotency-Key already named on this ticket (GetItem on the key, then the message)."""
        ...

    def abandon_outbound(self, message: Message, idempotency_key: str | None = None) -> None:
        """The provider refused or could not be reached: the "sending" message and its key go."""
        ...

    def mark_outbound(self, message: Message) -> None:
        """The provider accepted a message whose record failed: the "sending" item is replaced by `message`
        (delivery state and provider ids), conditionally, so the thread shows it went."""
        ...


class BlobStore(Protocol):
    """Binary objects: raw mail, attachments, large bodies."""

    def read(self, location: str, max_bytes: int) -> bytes:
        """Bytes at `location` ("s3://bucket/key" or a key in our bucket); raises `InvalidInput`
        when larger than `max_bytes`, `NotFound` when absent."""
        ...

    def download(self, location: str, max_bytes: int) -> IO[bytes]:
        """The object at `location` as a readable binary file at its start, copied a chunk at a time (a
        temporary file: the caller closes it); raises as `read` does."""
        ...

    def put(self, key: str, data: bytes, content_type: str) -> str:
        """Stores `data` under `key` in our bucket (idempotent) and returns its location."""
        ...

    def put_file(self, key: str, file: IO[bytes], content_type: str) -> str:
        """`put` for the content of a seekable binary file from its current position, streamed, never read
        whole into memory."""
        ...

    def download_url(self, location: str, filename: str, seconds: int = 300) -> str:
        """A short-lived URL an agent's browser can fetch the object from (no AWS call)."""
        ...


@dataclass
class OutgoingEmail:
    from_address: str
    from_name: str
    to: list[str]
    subject: str
    text: str
    message_id: str  # the id we generate; the provider may rewrite it
    reply_to: str | None = None
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    extra_headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SentEmail:
    provider_id: str
    header_message_id: str  # the Message-ID recipients see (SES rewrites ours)


class MailSender(Protocol):
    """Sends one email; returns the ids under which replies will come back."""

    def send(self, mail: OutgoingEmail) -> SentEmail: ...


@dataclass(frozen=True)
class OutgoingSms:
    to: str  # E.164
    text: str
    origination: str | None = None  # our number for the queue; None lets the provider choose
    transactional: bool = True  # support texts are transactional: delivered even to DND-registered numbers


@dataclass(frozen=True)
class SentSms:
    provider_id: str


class SmsSender(Protocol):
    """Sends one text message. Raises Unavailable when the provider refuses the number for good,
    TransientFailure when a retry may succeed. Callers check consent (opt-out) before sending."""

    def send(self, sms: OutgoingSms) -> SentSms: ...


class Clock(Protocol):
    def now(self) -> datetime: ...


# ---- SLA ----------------------------------------------------------------------------------------
@dataclass
class SlaConfig:
    """The stored calendars and policies (the environment's defaults fill in what is not stored)."""

    calendars: list[CalendarSpec] = field(default_factory=list)
    policies: list[SlaPolicy] = field(default_factory=list)


class SlaRepository(Protocol):
    """SLA configuration (versioned: saves are conditional on the version read), the sweep's due
    index, and the report facts. Conflicting saves raise `VersionConflict`."""

    def load_sla_config(self) -> SlaConfig: ...

    def save_calendar(self, spec: CalendarSpec, expected_version: int) -> CalendarSpec: ...

    def delete_calendar(self, name: str) -> None: ...

    def save_policy(self, policy: SlaPolicy, expected_version: int) -> SlaPolicy: ...

    def delete_policy(self, policy_id: str) -> None: ...

    def due_shards(self) -> Sequence[int]:
        """The shards of the SLA index (fixed, by ticket hash): a sweep reads every one."""
        ...

    def due_entries(self, shard: int, before: str, limit: int,
                    start_after: dict[str, str] | None = None) -> DuePage:
        """Entries of one shard of the sparse SLA index whose next action (warning, breach, auto-close,
        notice retry) is at or before `before`, soonest first: one Query, keys only (the index projects
        no ticket attributes)."""
        ...

    def tickets(self, ticket_ids: Sequence[str]) -> list[Ticket]:
        """The tickets (strongly consistent, in the order asked; missing ones left out): BatchGetItem,
        at most 100 keys a call."""
        ...

    def sla_facts(self, day: str, queue: str | None = None) -> list[SlaFact]:
        """Measurements finished on one day (optionally of one queue): Query, never Scan."""
        ...


class AlertPublisher(Protocol):
    """Publishes an alert to the people on call (the escalations topic); returns the provider's id."""

    def publish(self, subject: str, message: str) -> str: ...
