"""Test helpers for the SMS channel: real two-way SMS payloads and a ShopDesk wired to in-memory fakes."""
from __future__ import annotations

import copy
import json
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from chalicelib.services.inbound.message import InboundOutcome
from chalicelib.services.inbound.sms_channel import ingest_sms
from tests.support import FakeShop

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


class FakeSmsShop(FakeShop):
    """ShopDesk's SMS channel on in-memory adapters, built by the composition root like production
    (so SMS tests take the SLA setup production takes)."""

    def __init__(self, now: datetime, env: dict[str, str] | None = None, **parts: Any) -> None:
        super().__init__(now=now, env=dict(env or SMS_ENV), **parts)

    def text(self, body: str | None = None, *, delivered_at: datetime | None = None,
             **options: Any) -> InboundOutcome:
        return ingest_sms(json.dumps(sms_payload(body, **options)), self.deps, delivered_at)

    def deliver(self, payload: dict[str, Any] | str) -> InboundOutcome:
        return ingest_sms(payload if isinstance(payload, str) else json.dumps(payload), self.deps)

    def thread(self, ticket_id: str) -> list[dict[str, Any]]:
        return [i for i in sorted(self.store.all_items(), key=lambda i: (i["pk"], i["sk"]))
                if i["pk"] == f"TICKET#{ticket_id}" and i["sk"].startswith("MSG#")]
