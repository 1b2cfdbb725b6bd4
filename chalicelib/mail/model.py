"""What ShopDesk keeps of one parsed inbound email: the value the parser returns and services consume."""
from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO


@dataclass(frozen=True)
class Address:
    """One mailbox: the address as written (lower-cased, IDNA-safe) and its display name."""

    email: str
    name: str = ""


@dataclass
class AttachmentPart:
    """One attachment, inline image or forwarded message found in a mail.

    `open_payload` returns the decoded bytes when called, so a large attachment is decoded
    once, just before it is streamed to storage, and can be released right after. `payload_file()`
    gives the same content as a file to stream from: a large attachment's is the temporary file the
    parser decoded it into, so it is never in memory whole.
    """

    filename: str
    content_type: str
    size: int
    disposition: str  # "attachment" | "inline"
    content_id: str
    open_payload: Callable[[], bytes] = field(repr=False)
    open_file: Callable[[], IO[bytes] | None] | None = field(default=None, repr=False)

    def payload_file(self) -> IO[bytes]:
        """The decoded content as a readable file at its start (one reader at a time)."""
        file = self.open_file() if self.open_file is not None else None
        return file if file is not None else io.BytesIO(self.open_payload())


@dataclass
class BounceReport:
    """A delivery-status report (RFC 3464): who could not be reached and which mail it concerns."""

    failed_recipients: list[str]
    original_message_id: str | None
    action: str  # "failed" | "delayed" | ...
    status: str  # e.g. "5.1.1"
    reporting_mta: str = ""  # the per-message Reporting-MTA field RFC 3464 requires; "" when absent


@dataclass
class ParsedEmail:
    """An inbound email, decoded. Every text field is str, never raises on access."""

    message_id: str | None  # without angle brackets
    in_reply_to: list[str]  # without angle brackets
    references: list[str]  # without angle brackets, in header order (oldest first)
    sender: Address | None  # From (first mailbox)
    reply_to: list[Address]
    to: list[Address]
    cc: list[Address]
    subject: str
    date: datetime | None  # aware, UTC when the header had no zone
    text: str  # full plain text (from text/plain, or converted from HTML)
    visible_text: str  # text with quoted history and signature trimmed
    html: str | None  # sanitized HTML, safe to show in an agent's browser
    attachments: list[AttachmentPart]
    headers: dict[str, list[str]]  # lower-cased header name -> decoded values (for loop detection)
    return_path: str | None  # "" for the null sender <>
    bounce: BounceReport | None
    defects: list[str]  # parser defects worth recording (never fatal)
    # The From (else Sender) header as written when it names a mailbox that is not a valid address
    # (control or line-break characters, quoting, a comma in quotes): such a mail is never answered.
    rejected_sender: str | None = None


class MailLimitExceeded(Exception):
    """A mail breaks a size, count or depth limit; it is quarantined with this reason, not failed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class MailLimits:
    """Bounds that keep a hostile or broken mail from exhausting the function."""

    max_bytes: int = 40 * 1024 * 1024  # SES accepts up to 40 MB
    max_parts: int = 200
    max_depth: int = 12
    max_attachments: int = 50
    max_header_bytes: int = 256 * 1024
    # Parameters of one Content-Type or Content-Disposition: the stdlib's parser is superlinear in them
    # (10 parts of 20,000 took 84 s); real mail has a handful, a long RFC 2231 filename a dozen.
    max_parameters: int = 100
    # Elements open at once in the HTML body: the sanitizer's work is elements x depth (150,000 unclosed
    # <div> took 76 s); real mail, even a long Outlook thread, stays under a few hundred.
    max_html_depth: int = 1000
    # The stdlib reads a mail line by line in Python: 40 MB of one-byte lines is 20 million of them. Real
    # mail, base64 at 78 bytes a line, has about half a million in 40 MB.
    max_lines: int = 2_000_000
    # Header fields in all parts together: each is a Python object or three; real mail has a few hundred.
    max_headers: int = 10_000
    # Mailboxes read from one address header (To, Cc, ...): the stdlib's address parser is quadratic in
    # them (15,000 took 13 s). The envelope names our addresses anyway; the header stays as written.
    max_addresses: int = 200
