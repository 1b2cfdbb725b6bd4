"""The one shape every channel's input takes on its way in, what became of it, and what the pipeline needs."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from chalicelib.config import Settings
from chalicelib.domain.threading import ReopenRule
from chalicelib.domain.tickets import Channel
from chalicelib.mail.model import AttachmentPart, BounceReport
from chalicelib.ports import BlobStore, Clock, MailSender, SmsSender, TicketRepository
from chalicelib.services.sla_rules import SlaSetup


@dataclass(frozen=True)
class EmailRoute:
    """How to answer by email: from the queue's address, threaded under the customer's mail."""

    from_address: str  # the store address written to (it picks the queue)
    to: str
    subject: str
    in_reply_to: str | None = None  # None: the customer's mail had no Message-ID of its own
    references: tuple[str, ...] = ()
    # False: the acknowledgement repeats nothing the sender typed (subject, name): a form anyone can fill
    # in for any address must not make our mail carry a stranger's text to it.
    echo_subject: bool = True


@dataclass(frozen=True)
class SmsRoute:
    """How to answer by text: to the customer's number, from the number they texted when it is ours."""

    to: str
    origination: str | None
    store_number: str


@dataclass(frozen=True)
class InboundMessage:
    """One message from a customer (or a machine writing as one), channel-neutral. Built by a thin channel
    module (email, sms, web form); everything after that is the same pipeline."""

    source: str  # delivery records are INBOUND#<source>#<source_id>
    source_id: str
    channel: Channel
    received_at: datetime  # when it reached us
    sender: tuple[str, str]  # (kind, value): ("email", "a@b.example") | ("phone", "+4930…")
    queue: str
    route: EmailRoute | SmsRoute
    reopen: ReopenRule  # when a finished ticket still takes the customer's next message
    sender_name: str = ""
    sent_at: datetime | None = None  # where it goes in the thread (the carrier's time); None: received_at
    subject: str = ""
    text: str = ""
    visible_text: str = ""
    html: str | None = None
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    attachments: tuple[AttachmentPart, ...] = ()
    attachments_folder: str = ""  # blob folder; derived from the delivery, so a retry overwrites
    auth: dict[str, str] = field(default_factory=dict)
    automated: str | None = None  # why it is a machine's mail (never acknowledged, never moves status)
    spam: bool = False
    header_message_id: str | None = None  # the Message-ID it claims (email); claimed once per sender
    raw_location: str | None = None
    provider_message_id: str | None = None
    bounce: BounceReport | None = None
    bounced_message_id: str = ""
    envelope_sender: str | None = None  # email: SMTP MAIL FROM as SES saw it ("" for the null sender <>)
    auth_failed: bool = False  # email: SPF, DKIM or DMARC said FAIL: the sender may be forged, never answered
    # Threading: which tickets it may continue, in order, and when a finished ticket is reopened.
    thread_message_ids: tuple[str, ...] = ()
    reply_ticket_id: str | None = None
    subject_number: int | None = None
    conversation: tuple[str, str] | None = None  # (channel, number) whose current ticket it continues
    threads: bool = True  # False: always a new ticket (spam, a web form)
    other_identities: tuple[tuple[str, str], ...] = ()  # also given, unproven: joins only a new customer

    @property
    def placed_at(self) -> datetime:
        return self.sent_at or self.received_at


@dataclass(frozen=True)
class InboundOutcome:
    """What happened to one delivery; logged and counted by the handler (no personal data)."""

    status: str  # created | appended | keyword | duplicate | dropped | quarantined | resumed
    ticket_id: str | None = None
    ticket_number: int | None = None
    reason: str | None = None
    acknowledged: bool = False
    threaded_by: str | None = None
    keyword: str | None = None
    replied: bool = False  # an SMS keyword's answer (confirmation, help) went out
    # True: the provider throttled the acknowledgement, which waits in the pending-ack queue (None: left out)
    ack_deferred: bool | None = None


@dataclass(frozen=True)
class InboundDeps:
    """The ports every inbound channel uses (built by the bootstrap; tests pass fakes)."""

    repository: TicketRepository
    blobs: BlobStore
    mail: MailSender
    sms: SmsSender
    clock: Clock
    settings: Settings
    sla: SlaSetup
    # When this invocation must be done retrying (Lambda's remaining time, set by the handler); None: a few
    # seconds from now. Records of sent messages back off until then, and a send claim's lease ends after it.
    deadline: datetime | None = None
