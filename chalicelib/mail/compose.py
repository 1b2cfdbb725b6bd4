"""Building outbound MIME: headers that thread in the customer's client and keep machines quiet."""
from __future__ import annotations

from datetime import UTC, datetime
from email.headerregistry import Address as HeaderAddress
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from chalicelib.ports import OutgoingEmail

AUTO_REPLY_HEADERS = {"Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All"}
# Folding at 78 characters turns a long Message-ID in References or In-Reply-To into an RFC 2047
# encoded word, which no mail client matches: threading breaks. RFC 5322's hard limit is 998.
_POLICY = SMTP.clone(max_line_length=998)
MAX_REFERENCES = 10


def _bracket(message_id: str) -> str:
    return f"<{message_id.strip('<> ')}>"


def build_mime(mail: OutgoingEmail, *, date: str | None = None) -> bytes:
    message = EmailMessage(policy=_POLICY)
    local, _, domain = mail.from_address.partition("@")
    message["From"] = HeaderAddress(display_name=mail.from_name, username=local, domain=domain)
    message["To"] = ", ".join(mail.to)
    message["Subject"] = mail.subject
    message["Message-ID"] = _bracket(mail.message_id)
    message["Date"] = date or format_datetime(datetime.now(UTC))
    if mail.reply_to:
        message["Reply-To"] = mail.reply_to
    if mail.in_reply_to:
        message["In-Reply-To"] = _bracket(mail.in_reply_to)
    if mail.references:
        message["References"] = " ".join(_bracket(r) for r in mail.references[-MAX_REFERENCES:])
    for name, value in mail.extra_headers.items():
        message[name] = value
    message.set_content(mail.text)
    return message.as_bytes()
