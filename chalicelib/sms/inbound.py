"""The two-way SMS JSON AWS End User Messaging publishes for each text to one of our numbers, validated."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chalicelib.domain.errors import InvalidInput

MAX_BODY_CHARS = 5_000  # ten concatenated parts is ~1,600 characters; anything far beyond is not a phone's text


@dataclass(frozen=True)
class InboundSms:
    """One text as received. `sent_at` is the carrier's timestamp when the payload carries one."""

    inbound_id: str
    origination: str  # the customer's number, as given (normalized later, with a reason if impossible)
    destination: str  # our number
    body: str
    message_keyword: str | None
    previous_published_id: str | None
    sent_at: datetime | None


class TwoWaySms(BaseModel):
    """The payload as AWS documents it (two-way SMS message payload for Amazon SNS topics)."""

    # Unknown fields are ignored: AWS may add some, and none of them changes what we do.
    model_config = ConfigDict(extra="ignore")

    originationNumber: str = Field(min_length=1, max_length=40)
    destinationNumber: str = Field(min_length=1, max_length=40)
    messageKeyword: str | None = Field(default=None, max_length=100)
    messageBody: str = Field(max_length=MAX_BODY_CHARS)
    inboundMessageId: str = Field(min_length=1, max_length=200)
    previousPublishedMessageId: str | None = Field(default=None, max_length=200)
    # Not in AWS's documented example; used when a carrier or a relay adds one (ISO-8601 or epoch ms).
    timestamp: str | int | float | None = None


def _timestamp(value: str | int | float | None) -> datetime | None:
    """The carrier's time, or None: an unreadable optional timestamp must not cost the customer their text."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        if isinstance(value, int | float) or value.strip().isdigit():
            return datetime.fromtimestamp(float(value) / 1000, UTC)
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_inbound_sms(message: str) -> InboundSms:
    """The SNS message text as an InboundSms; InvalidInput names what is wrong (never the content)."""
    try:
        payload = TwoWaySms.model_validate_json(message)
    except ValidationError as exc:
        errors = exc.errors()
        where = ".".join(str(p) for p in errors[0]["loc"]) if errors else ""
        message = errors[0]["msg"] if errors else "invalid"
        raise InvalidInput(f"{where or 'payload'}: {message}", where or "payload") from exc
    return InboundSms(
        inbound_id=payload.inboundMessageId, origination=payload.originationNumber,
        destination=payload.destinationNumber, body=payload.messageBody,
        message_keyword=payload.messageKeyword, previous_published_id=payload.previousPublishedMessageId,
        sent_at=_timestamp(payload.timestamp),
    )
