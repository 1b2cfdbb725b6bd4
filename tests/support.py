"""Test helpers: build real MIME and real SES notifications, and a ShopDesk wired to in-memory fakes."""
from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Any

from chalicelib.adapters.clock import FixedClock
from chalicelib.adapters.item_store import InMemoryItemStore
from chalicelib.adapters.s3_blobs import InMemoryBlobStore
from chalicelib.adapters.ses_mail import RecordingMailSender
from chalicelib.adapters.sla_repository import TableSlaRepository
from chalicelib.adapters.table_repository import TableRepository
from chalicelib.config import load_settings
from chalicelib.services.ingest_email import EmailIngestDeps, IngestOutcome, ingest_email
from chalicelib.services.sla_rules import SlaSetup

EVENTS = Path(__file__).resolve().parent / "events"
CUSTOMER = "anna.schmidt@customer.example"


def build_mail(
    *,
    sender: str = f"Anna Schmidt <{CUSTOMER}>",
    to: str = "support@shop.example",
    subject: str = "Where is my order?",
    body: str = "Hello, my order 5512 has not arrived. Can you check?\n\nAnna",
    message_id: str | None = None,
    in_reply_to: str | None = None,
    references: str | None = None,
    headers: dict[str, str] | None = None,
    attachments: list[tuple[str, str, bytes]] | None = None,
) -> tuple[bytes, str]:
    """A MIME message as a mail client would send it; returns (bytes, Message-ID without brackets)."""
    message = EmailMessage(policy=SMTP.clone(max_line_length=998))  # as mail clients: ids never encoded
    message_id = message_id or f"{uuid.uuid4().hex}@customer.example"
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = "Tue, 24 Nov 2026 09:59:58 +0100"
    message["Message-ID"] = f"<{message_id}>"
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = references
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    for filename, content_type, data in attachments or []:
        maintype, subtype = content_type.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes(), message_id


def notification(
    *,
    ses_id: str | None = None,
    destination: list[str] | None = None,
    source: str = CUSTOMER,
    bucket: str = "shopdesk-test-raw-mail",
    verdicts: dict[str, str] | None = None,
    inline: bytes | None = None,
) -> dict[str, Any]:
    """An SES receipt notification shaped like tests/events/ses_s3_action_notification.json."""
    document: dict[str, Any] = copy.deepcopy(json.loads((EVENTS / "ses_s3_action_notification.json").read_text()))
    ses_id = ses_id or uuid.uuid4().hex
    destination = destination or ["support@shop.example"]
    document["mail"].update(messageId=ses_id, destination=destination, source=source)
    document["receipt"]["recipients"] = destination
    document["receipt"]["action"].update(bucketName=bucket, objectKey=f"inbound/{ses_id}")
    for name, status in (verdicts or {}).items():
        document["receipt"][f"{name}Verdict"] = {"status": status}
    if inline is not None:
        import base64

        document["receipt"]["action"] = {"type": "SNS", "encoding": "BASE64", "topicArn": "arn:x"}
        document["content"] = base64.b64encode(inline).decode()
    return document


@dataclass
class FakeShop:
    """ShopDesk's email ingest wired to in-memory adapters."""

    now: datetime
    store: InMemoryItemStore = field(default_factory=InMemoryItemStore)
    blobs: InMemoryBlobStore = field(default_factory=lambda: InMemoryBlobStore("shopdesk-test-raw-mail"))
    mail: RecordingMailSender = field(default_factory=RecordingMailSender)
    env: dict[str, str] = field(default_factory=lambda: {"SHOPDESK_STAGE": "test"})
    # As wiring builds it: calendars with public holidays, built once per process.
    production_like: bool = False

    def __post_init__(self) -> None:
        self.clock = FixedClock(self.now)
        self.repository = TableRepository(self.store, clock=self.clock)
        self.settings = load_settings(self.env)

    @property
    def deps(self) -> EmailIngestDeps:
        return EmailIngestDeps(self.repository, self.blobs, self.mail, self.clock, self.settings,
                               sla=self.sla)

    @property
    def sla(self) -> SlaSetup:
        """SLA configuration in the same in-memory table, calendars without public holidays."""
        if self.production_like:
            from chalicelib.adapters.holiday_calendar import calendar_from_spec

            return SlaSetup(repository=TableSlaRepository(self.store), build_calendar=calendar_from_spec)
        return SlaSetup(repository=TableSlaRepository(self.store))

    def receive(self, raw: bytes, **options: Any) -> IngestOutcome:
        document = notification(**options)
        action = document["receipt"]["action"]
        if action["type"] == "S3":
            self.blobs.objects[f"s3://{action['bucketName']}/{action['objectKey']}"] = raw
        return ingest_email(json.dumps(document), self.deps)

    def items(self, entity: str) -> list[dict[str, Any]]:
        return [i for i in self.store.all_items() if i.get("entity") == entity]
