"""Ports: the interfaces services depend on. Adapters implement them for AWS; fakes for tests."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from chalicelib.domain.customers import Customer
from chalicelib.domain.tickets import Message, Ticket, TicketEvent


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


@dataclass(frozen=True)
class Identity:
    """An email address or phone number and the customer who owns it."""

    kind: str  # "email" | "phone"
    value: str
    customer_id: str
    undeliverable: bool = False


@dataclass(frozen=True)
class Lookup:
    """Everything an inbound message may need to know, fetched together (one BatchGetItem)."""

    inbound: tuple[str, str] | None = None  # (source, source id)
    message_ids: tuple[str, ...] = ()
    identities: tuple[tuple[str, str], ...] = ()  # (kind, value)
    rate_keys: tuple[str, ...] = ()
    ticket_ids: tuple[str, ...] = ()
    ticket_numbers: tuple[int, ...] = ()
    next_ticket_number: bool = False


@dataclass
class LookupResult:
    inbound: InboundRecord | None = None
    message_ids: dict[str, MessageIdEntry] = field(default_factory=dict)
    identities: dict[tuple[str, str], Identity] = field(default_factory=dict)
    rates: dict[str, int] = field(default_factory=dict)
    tickets: dict[str, Ticket] = field(default_factory=dict)
    numbers: dict[int, str] = field(default_factory=dict)
    next_ticket_number: int = 0


# ---- what the ticket store writes, each in one transaction --------------------------------------
@dataclass
class NewTicketWrite:
    """A new ticket with its first message. `ticket.number` is assigned by the store."""

    ticket: Ticket
    message: Message
    events: list[TicketEvent]
    inbound: InboundRecord
    new_customer: Customer | None = None
    new_identities: list[Identity] = field(default_factory=list)
    claim_message_ids: list[MessageIdEntry] = field(default_factory=list)
    rate_increments: list[str] = field(default_factory=list)
    expected_number: int = 0  # from Lookup.next_ticket_number; the store retries on a race


@dataclass
class AppendMessageWrite:
    """A message added to an existing ticket, which moves to `ticket` (its version is the one read)."""

    ticket: Ticket
    message: Message
    events: list[TicketEvent]
    inbound: InboundRecord | None = None
    claim_message_ids: list[MessageIdEntry] = field(default_factory=list)
    undeliverable: list[tuple[str, str]] = field(default_factory=list)  # identities to mark


@dataclass
class AckRecord:
    """An acknowledgement that was sent: it joins the thread and its Message-IDs thread replies."""

    ticket: Ticket  # as last read; the write is conditional on its version
    message: Message
    event: TicketEvent
    message_ids: list[MessageIdEntry]
    inbound: InboundRecord | None = None


@dataclass(frozen=True)
class QuarantineRecord:
    """Something received that will not become a ticket message; kept with its reason for an admin."""

    id: str
    at: str
    source: str
    reason: str
    raw_location: str  # "s3://bucket/key" or a blob key; the content is never lost
    sender_hash: str = ""


class TicketRepository(Protocol):
    """Tickets, messages, customers and their indexes. Every write that must go together is atomic;
    conflicting writes raise `VersionConflict` (re-read and decide again) or `AlreadyExists`."""

    def lookup(self, request: Lookup) -> LookupResult: ...

    def get_ticket(self, ticket_id: str) -> Ticket | None: ...

    def create_ticket(self, write: NewTicketWrite) -> Ticket: ...

    def append_message(self, write: AppendMessageWrite) -> Ticket: ...

    def record_ack(self, record: AckRecord) -> Ticket: ...

    def record_inbound(self, record: InboundRecord, at: str) -> None: ...

    def quarantine(self, record: QuarantineRecord) -> None: ...

    def list_messages(self, ticket_id: str) -> list[Message]: ...

    def list_events(self, ticket_id: str) -> list[TicketEvent]: ...

    def get_customer(self, customer_id: str) -> Customer | None: ...


class BlobStore(Protocol):
    """Binary objects: raw mail, attachments, large bodies."""

    def read(self, location: str, max_bytes: int) -> bytes:
        """Bytes at `location` ("s3://bucket/key" or a key in our bucket); raises `InvalidInput`
        when larger than `max_bytes`, `NotFound` when absent."""
        ...

    def put(self, key: str, data: bytes, content_type: str) -> str:
        """Stores `data` under `key` in our bucket (idempotent) and returns its location."""
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


class Clock(Protocol):
    def now(self) -> datetime: ...
