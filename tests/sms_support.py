"""Test helpers for the SMS channel: real two-way SMS payloads and a ShopDesk wired to in-memory fakes."""
from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from chalicelib.adapters.clock import FixedClock
from chalicelib.adapters.item_store import InMemoryItemStore
from chalicelib.adapters.s3_blobs import InMemoryBlobStore
from chalicelib.adapters.sns_sms import RecordingSmsSender
from chalicelib.adapters.table_repository import TableRepository
from chalicelib.config import load_settings
from chalicelib.services.ingest_sms import SmsIngestDeps, SmsOutcome, ingest_sms

EVENTS = Path(__file__).resolve().parent / "events"
CUSTOMER_PHONE = "+14255550182"  # AWS's documented example payload
STORE_NUMBER = "+12125550101"
SMS_ENV = {"SHOPDESK_STAGE": "test", "SHOPDESK_SMS_NUMBERS": json.dumps({STORE_NUMBER: "support"})}


def sms_payload(body: str | None = None, *, inbound_id: str | None = None, origination: str = CUSTOMER_PHONE,
                destination: str = STORE_NUMBER, **extra: Any) -> dict[str, Any]:
    """A two-way SMS payload shaped like tests/events/two_way_sms.json."""
    document: dict[str, Any] = copy.deepcopy(json.loads((EVENTS / "two_way_sms.json").read_text()))
    document.update(originationNumber=origination, destinationNumber=destination,
                    inboundMessageId=inbound_id or str(uuid.uuid4()))
    if body is not None:
        document["messageBody"] = body
    document.update(extra)
    return document


@dataclass
class FakeSmsShop:
    """ShopDesk's SMS ingest wired to in-memory adapters (the same repository code as DynamoDB's)."""

    now: datetime
    store: InMemoryItemStore = field(default_factory=InMemoryItemStore)
    blobs: InMemoryBlobStore = field(default_factory=lambda: InMemoryBlobStore("shopdesk-test-raw-mail"))
    sms: RecordingSmsSender = field(default_factory=RecordingSmsSender)
    env: dict[str, str] = field(default_factory=lambda: dict(SMS_ENV))

    def __post_init__(self) -> None:
        self.clock = FixedClock(self.now)
        self.repository = TableRepository(self.store, clock=self.clock)
        self.settings = load_settings(self.env)

    @property
    def deps(self) -> SmsIngestDeps:
        return SmsIngestDeps(self.repository, self.blobs, self.sms, self.clock, self.settings)

    def text(self, body: str | None = None, *, delivered_at: datetime | None = None, **options: Any) -> SmsOutcome:
        return ingest_sms(json.dumps(sms_payload(body, **options)), self.deps, delivered_at)

    def deliver(self, payload: dict[str, Any] | str) -> SmsOutcome:
        return ingest_sms(payload if isinstance(payload, str) else json.dumps(payload), self.deps)

    def items(self, entity: str) -> list[dict[str, Any]]:
        return [i for i in self.store.all_items() if i.get("entity") == entity]

    def thread(self, ticket_id: str) -> list[dict[str, Any]]:
        return [i for i in sorted(self.store.all_items(), key=lambda i: (i["pk"], i["sk"]))
                if i["pk"] == f"TICKET#{ticket_id}" and i["sk"].startswith("MSG#")]
