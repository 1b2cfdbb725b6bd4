"""SES "Received" notifications (S3 and SNS receipt actions): validated into a small typed value."""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

from chalicelib.domain.errors import InvalidInput

_MAX_NOTIFICATION_CHARS = 200 * 1024 * 1024  # an SNS action carries at most 150 KB of mail; be generous


@dataclass(frozen=True)
class Verdicts:
    spam: str = "PROCESSING_FAILED"
    virus: str = "PROCESSING_FAILED"
    spf: str = "PROCESSING_FAILED"
    dkim: str = "PROCESSING_FAILED"
    dmarc: str = "PROCESSING_FAILED"

    @property
    def authentication_failed(self) -> bool:
        return "FAIL" in (self.spf, self.dkim, self.dmarc)

    def as_dict(self) -> dict[str, str]:
        return {"spam": self.spam, "virus": self.virus, "spf": self.spf, "dkim": self.dkim, "dmarc": self.dmarc}


@dataclass(frozen=True)
class SesReceipt:
    """One received mail as SES reports it. `location` is where the raw MIME is (S3 action);
    `inline_content` the raw MIME itself (SNS action)."""

    ses_message_id: str
    timestamp: str
    source: str
    destination: tuple[str, ...]
    recipients: tuple[str, ...]
    verdicts: Verdicts
    action_type: str
    location: str | None = None
    inline_content: bytes | None = field(default=None, repr=False)


def _text(value: Any, name: str, *, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise InvalidInput(f"{name} is missing or not a string", field=name)
    return value


def _addresses(value: Any, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"{name} must be a list of strings", field=name)
    return tuple(v.strip().lower() for v in value if v.strip())


def _verdict(receipt: dict[str, Any], name: str) -> str:
    value = receipt.get(name)
    status = value.get("status") if isinstance(value, dict) else None
    if isinstance(status, str):
        return status.upper()
    return "PROCESSING_FAILED"  # absent verdicts are "unknown", never PASS


def parse_ses_notification(message: str) -> SesReceipt:
    """Validates an SNS message body from an SES receipt rule; raises InvalidInput with a reason."""
    if len(message) > _MAX_NOTIFICATION_CHARS:
        raise InvalidInput("notification too large")
    try:
        document = json.loads(message)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise InvalidInput(f"notification is not JSON: {exc.__class__.__name__}") from exc
    if not isinstance(document, dict):
        raise InvalidInput("notification is not a JSON object")
    if document.get("notificationType") != "Received":
        raise InvalidInput(f"unsupported notificationType {str(document.get('notificationType'))[:40]!r}",
                           field="notificationType")
    mail, receipt = document.get("mail"), document.get("receipt")
    if not isinstance(mail, dict) or not isinstance(receipt, dict):
        raise InvalidInput("notification lacks mail or receipt", field="mail")
    action = receipt.get("action")
    if not isinstance(action, dict):
        raise InvalidInput("receipt.action missing", field="receipt.action")
    action_type = _text(action.get("type"), "receipt.action.type").upper()
    location: str | None = None
    inline: bytes | None = None
    if action_type == "S3":
        bucket = _text(action.get("bucketName"), "receipt.action.bucketName")
        key = _text(action.get("objectKey"), "receipt.action.objectKey")
        location = f"s3://{bucket}/{key}"
    elif action_type == "SNS":
        content = document.get("content")
        if not isinstance(content, str):
            raise InvalidInput("SNS action notification without content", field="content")
        encoding = str(action.get("encoding", "UTF8")).upper()
        if encoding == "BASE64":
            try:
                inline = base64.b64decode(content, validate=False)
            except (binascii.Error, ValueError) as exc:
                raise InvalidInput("content is not valid base64", field="content") from exc
        else:
            inline = content.encode("utf-8", "surrogateescape")
    else:
        raise InvalidInput(f"unsupported receipt action {action_type[:20]!r}", field="receipt.action.type")
    return SesReceipt(
        ses_message_id=_text(mail.get("messageId"), "mail.messageId")[:200],
        timestamp=_text(mail.get("timestamp") or receipt.get("timestamp"), "mail.timestamp"),
        source=_text(mail.get("source"), "mail.source", required=False).strip().lower(),
        destination=_addresses(mail.get("destination"), "mail.destination"),
        recipients=_addresses(receipt.get("recipients"), "receipt.recipients"),
        verdicts=Verdicts(
            spam=_verdict(receipt, "spamVerdict"), virus=_verdict(receipt, "virusVerdict"),
            spf=_verdict(receipt, "spfVerdict"), dkim=_verdict(receipt, "dkimVerdict"),
            dmarc=_verdict(receipt, "dmarcVerdict"),
        ),
        action_type=action_type,
        location=location,
        inline_content=inline,
    )
