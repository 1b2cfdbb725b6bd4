"""Everything ShopDesk sent, as its recipients would receive it: moto's SES and SNS records, parsed once."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from typing import Any

from chalicelib.adapters.ses_mail import ses_message_id_domain
from chalicelib.local.aws import SentRecord


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _unique(values: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


def _text_of(message: EmailMessage) -> str:
    try:
        part = message.get_body(preferencelist=("plain",))
        return str(part.get_content()) if part is not None else ""
    except (LookupError, KeyError, ValueError):
        return ""


def email_item(record: SentRecord, region: str, seen_at: datetime) -> dict[str, Any]:
    """One sent mail with the Message-ID SES gives it (<provider-id@region.amazonses.com>), replacing ours."""
    data = record.raw.encode("utf-8", "surrogateescape")
    message = BytesParser(policy=policy.default).parsebytes(data)
    assert isinstance(message, EmailMessage)
    ses_message_id = f"<{record.provider_id}@{ses_message_id_domain(region)}>"
    original_id = message.get("Message-ID")
    del message["Message-ID"]
    del message["Bcc"]
    message["Message-ID"] = ses_message_id
    try:
        date_header = message.get("Date")
        sent_at = parsedate_to_datetime(str(date_header)) if date_header else seen_at
    except (TypeError, ValueError):
        sent_at = seen_at
    headers = [{"name": name, "value": str(value)} for name, value in message.items()]
    return {
        "channel": "email",
        "id": record.provider_id,
        "message_id": ses_message_id,
        "original_message_id": str(original_id) if original_id else None,
        "from": str(message.get("From", record.source or "")),
        "to": _unique(record.destinations),
        "reply_to": str(message["Reply-To"]) if message.get("Reply-To") else None,
        "in_reply_to": str(message["In-Reply-To"]) if message.get("In-Reply-To") else None,
        "subject": str(message.get("Subject", "")),
        "text": _text_of(message),
        "headers": headers,
        "time": _iso(sent_at),
    }


def sms_item(record: SentRecord, seen_at: datetime) -> dict[str, Any]:
    return {"channel": "sms", "id": record.provider_id, "message_id": record.provider_id, "from": record.source,
            "to": list(record.destinations), "subject": None, "text": record.raw, "headers": [],
            "time": _iso(seen_at)}


class Outbox:
    """Lists what was sent in the order the console first saw it; each record is parsed once."""

    def __init__(self, source: Callable[[], list[SentRecord]], region: str) -> None:
        self._source = source
        self._region = region
        self._items: dict[tuple[str, str], dict[str, Any]] = {}
        self._order: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def items(self, since: int = 0) -> list[dict[str, Any]]:
        """Every item, or those after the first `since` (for polling)."""
        records = self._source()
        with self._lock:
            for record in records:
                key = (record.channel, record.provider_id)
                if key in self._items:
                    continue
                now = datetime.now(UTC)
                self._items[key] = (email_item(record, self._region, now) if record.channel == "email"
                                    else sms_item(record, now))
                self._order.append(key)
            return [self._items[key] for key in self._order[max(0, since):]]

    def wait(self, since: int, timeout: float, interval: float = 0.005) -> list[dict[str, Any]]:
        """Items after the first `since`, waiting up to `timeout` seconds for one to appear (long poll)."""
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            found = self.items(since)
            if found or time.monotonic() >= deadline:
                return found
            time.sleep(interval)
