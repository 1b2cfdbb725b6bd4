"""An SMTP server that receives as SES does: mail for the store's addresses only (others refused at
RCPT), the raw MIME stored in the bucket, and the S3 action's "Received" notification published."""
from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
import string
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from functools import lru_cache
from typing import Any

from chalicelib.local.env import HOST

log = logging.getLogger("shopdesk_local")

TEST_VERDICT_HEADER = "X-ShopDesk-Test-Verdict"
VERDICTS = ("spam", "virus", "spf", "dkim", "dmarc")
NOTIFICATION_SUBJECT = "Amazon SES Email Receipt Notification"
_ID_ALPHABET = string.ascii_lowercase + string.digits
_FOLDING = re.compile(r"\r?\n[ \t]+")
# A line that a bare LF starts, dot-stuffed by the sender (smtplib stuffs after every LF).
_STUFFED_AFTER_BARE_LF = re.compile(rb"(?<!\r)\n\.")


@dataclass(frozen=True)
class ReceiptTarget:
    """The S3 action of the store's receipt rule: where raw mail goes and which topic hears of it."""

    bucket: str
    prefix: str
    topic_arn: str


def new_ses_message_id() -> str:
    """An id shaped like SES's receipt ids (40 lowercase letters and digits)."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(40))


def base_address(address: str) -> str:
    """support+anything@shop.example -> support@shop.example (lowercased)."""
    local, at, domain = address.strip().strip("<>").lower().rpartition("@")
    if not at:
        return ""
    return f"{local.split('+', 1)[0]}@{domain}"


def forced_verdicts(raw: bytes) -> dict[str, str]:
    """Verdicts a test asks for with `X-ShopDesk-Test-Verdict: spam` (or virus, spf, dkim, dmarc; comma-separated)."""
    headers = BytesParser(policy=policy.compat32).parsebytes(raw, headersonly=True)
    verdicts = dict.fromkeys(VERDICTS, "PASS")
    for value in headers.get_all(TEST_VERDICT_HEADER) or []:
        for word in re.split(r"[\s,]+", str(value).lower()):
            if word in verdicts:
                verdicts[word] = "FAIL"
    return verdicts


def stored_mail(raw: bytes, *, mail_from: str, recipient: str, ses_id: str, verdicts: dict[str, str],
                received_at: datetime) -> bytes:
    """The raw MIME as SES writes it to S3: the original message below the headers SES adds."""
    stamp = received_at.strftime("%a, %d %b %Y %H:%M:%S +0000")
    added = (
        f"Return-Path: <{mail_from}>\r\n"
        f"Received: from localhost ({HOST}) by inbound-smtp.local.amazonaws.com with SMTP id {ses_id}"
        f" for {recipient}; {stamp}\r\n"
        f"X-SES-Spam-Verdict: {verdicts['spam']}\r\n"
        f"X-SES-Virus-Verdict: {verdicts['virus']}\r\n"
    )
    return added.encode("ascii", "replace") + raw


def _addresses(message: Any, name: str) -> list[str] | None:
    try:
        header = message[name]
        if header is None:
            return None
        return [str(address) for address in header.addresses] or [str(header)]
    except Exception:  # a malformed header still goes to the handler, as SES passes it on
        value = message.get(name)
        return [str(value)] if value is not None else None


def receipt_notification(stored: bytes, *, ses_id: str, mail_from: str, recipients: list[str],
                         target: ReceiptTarget, verdicts: dict[str, str], received_at: datetime,
                         processing_ms: int) -> dict[str, Any]:
    """The SNS message of an SES S3 action (notificationType "Received"), as tests/events/ records it."""
    raw_headers = BytesParser(policy=policy.compat32).parsebytes(stored, headersonly=True)
    parsed = BytesParser(policy=policy.default).parsebytes(stored, headersonly=True)
    timestamp = received_at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{received_at.microsecond // 1000:03d}Z"
    common: dict[str, Any] = {"returnPath": mail_from}
    for key, name in (("from", "From"), ("to", "To"), ("cc", "Cc"), ("replyTo", "Reply-To")):
        values = _addresses(parsed, name)
        if values is not None:
            common[key] = values
    for key, name in (("date", "Date"), ("messageId", "Message-ID"), ("subject", "Subject")):
        try:
            value = parsed.get(name)
        except Exception:
            value = raw_headers.get(name)
        if value is not None:
            common[key] = _FOLDING.sub(" ", str(value))
    return {
        "notificationType": "Received",
        "mail": {
            "timestamp": timestamp,
            "source": mail_from,
            "messageId": ses_id,
            "destination": recipients,
            "headersTruncated": False,
            "headers": [{"name": k, "value": _FOLDING.sub(" ", str(v))} for k, v in raw_headers.items()],
            "commonHeaders": common,
        },
        "receipt": {
            "timestamp": timestamp,
            "processingTimeMillis": processing_ms,
            "recipients": recipients,
            **{f"{name}Verdict": {"status": status} for name, status in verdicts.items()},
            "action": {"type": "S3", "topicArn": target.topic_arn, "bucketName": target.bucket,
                       "objectKey": f"{target.prefix}{ses_id}"},
        },
    }


class SesLikeReceiver:
    """aiosmtpd handler: RCPT only for the store's addresses (and their plus-addresses); on DATA,
    S3 put and SNS publish, then 250 with the receipt id (451 if either fails, so the sender retries)."""

    def __init__(self, addresses: Iterable[str], target: ReceiptTarget, s3: Any, sns: Any) -> None:
        self.addresses = frozenset(a.lower() for a in addresses)
        self.target = target
        self._s3 = s3
        self._sns = sns
        self.received = 0

    def accepts(self, address: str) -> bool:
        return base_address(address) in self.addresses

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if not self.accepts(address):
            return "550 5.1.1 Mailbox does not exist"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        raw = unstuff_bare_lf_lines(raw)
        loop = asyncio.get_running_loop()
        try:
            ses_id = await loop.run_in_executor(None, self.receive, raw, envelope.mail_from or "",
                                                list(envelope.rcpt_tos))
        except Exception as exc:
            log.error("SMTP: could not store or announce a mail (%s)", exc.__class__.__name__)
            return "451 4.3.0 Temporary failure, try again later"
        return f"250 Ok {ses_id}"

    def receive(self, raw: bytes, mail_from: str, recipients: list[str]) -> str:
        """Stores and announces one mail; returns its SES-like message id."""
        started = time.perf_counter()
        received_at = datetime.now(UTC)
        ses_id = new_ses_message_id()
        verdicts = forced_verdicts(raw)
        recipients = [r.lower() for r in recipients]
        stored = stored_mail(raw, mail_from=mail_from, recipient=recipients[0], ses_id=ses_id,
                             verdicts=verdicts, received_at=received_at)
        self._s3.put_object(Bucket=self.target.bucket, Key=f"{self.target.prefix}{ses_id}", Body=stored,
                            ContentType="message/rfc822")
        document = receipt_notification(
            stored, ses_id=ses_id, mail_from=mail_from, recipients=recipients, target=self.target,
            verdicts=verdicts, received_at=received_at,
            processing_ms=int((time.perf_counter() - started) * 1000))
        self._sns.publish(TopicArn=self.target.topic_arn, Message=json.dumps(document),
                          Subject=NOTIFICATION_SUBJECT)
        self.received += 1
        log.info("SMTP: received %s (%d bytes, %d recipients)", ses_id, len(stored), len(recipients))
        return ses_id


def unstuff_bare_lf_lines(raw: bytes) -> bytes:
    """Undoes the dot-stuffing of lines that a bare LF starts.

    aiosmtpd only splits DATA at CRLF, so it unstuffs "..x" at the start of a CRLF line only; a receiving
    MTA (Postfix, and SES as far as a sender can tell) takes a bare LF as a line end too.
    """
    return _STUFFED_AFTER_BARE_LF.sub(b"\n", raw) if b"\n." in raw else raw


@lru_cache(maxsize=1)
def _controller_class() -> type:
    # aiosmtpd is a development dependency of the local stack: imported when a server is built.
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import SMTP

    class MtaLineSmtp(SMTP):
        """aiosmtpd's SMTP with a receiving MTA's idea of a line, not RFC 5321's 1,000-octet minimum.

        Its stream reader refuses (500 "Line too long") any line over `line_length_limit`, and a mail
        sent with bare LF line ends is one line until the closing CRLF: smtplib.sendmail(msg.as_bytes())
        of any mail over 1 KB, or an HTML mail with one long line, was refused where SES accepts it.
        The limit becomes the whole mail's, which data_size_limit bounds anyway.
        """

        def __init__(self, handler: Any, *, max_line: int, **kwargs: Any) -> None:
            self.line_length_limit = max_line  # read by SMTP.__init__ for its StreamReader
            super().__init__(handler, **kwargs)

    class SesLikeController(Controller):
        def __init__(self, handler: Any, *, max_line: int, **kwargs: Any) -> None:
            self.max_line = max_line
            super().__init__(handler, **kwargs)

        def factory(self) -> SMTP:
            return MtaLineSmtp(self.handler, max_line=self.max_line, **self.SMTP_kwargs)

    return SesLikeController


# Room for the terminating CRLF, a transparency dot and SIZE rounding on top of the largest mail.
_LINE_SLACK = 1024


class SmtpServer:
    """The aiosmtpd controller around the receiver; its own event loop runs in a thread.

    It accepts what SES accepts: mail up to `max_bytes` (SES: 40 MB), lines of any length within that,
    bare LF or CRLF line ends, 8BITMIME and SMTPUTF8 (international addresses).
    """

    def __init__(self, receiver: SesLikeReceiver, port: int, max_bytes: int) -> None:
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs peers and envelopes
        self.receiver = receiver
        self._controller = _controller_class()(
            receiver, hostname=HOST, port=port, data_size_limit=max_bytes, max_line=max_bytes + _LINE_SLACK,
            enable_SMTPUTF8=True, decode_data=False, ident="ShopDesk local SES", ready_timeout=10.0)

    @property
    def port(self) -> int:
        return int(self._controller.port)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()
