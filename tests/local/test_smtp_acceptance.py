"""The local SMTP server takes what SES takes: long lines, bare LF line ends, SMTPUTF8, up to its size limit.

Only the SMTP server runs here (on a free port of its own), with recording fakes for S3 and SNS: no stack,
no other ports, so it runs with the unit tests.
"""
from __future__ import annotations

import json
import smtplib
import socket
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest

from chalicelib.local.env import HOST
from chalicelib.local.smtp import ReceiptTarget, SesLikeReceiver, SmtpServer, unstuff_bare_lf_lines
from chalicelib.mail.parse import parse_email

pytest.importorskip("aiosmtpd")

STORE = "support@shop.example"
MAX_BYTES = 2 * 1024 * 1024  # the stack passes SES's 40 MB; a smaller limit keeps the over-limit test quick


class RecordingS3:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put_object(self, *, Bucket: str, Key: str, Body: bytes, ContentType: str) -> dict[str, Any]:
        self.objects[Key] = Body
        return {}


class RecordingSns:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def publish(self, *, TopicArn: str, Message: str, Subject: str) -> dict[str, Any]:
        self.messages.append(json.loads(Message))
        return {"MessageId": str(len(self.messages))}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def s3() -> RecordingS3:
    return RecordingS3()


@pytest.fixture
def server(s3: RecordingS3) -> Iterator[SmtpServer]:
    receiver = SesLikeReceiver([STORE], ReceiptTarget("raw-mail", "inbound/", "arn:aws:sns:eu-central-1:1:mail"),
                               s3, RecordingSns())
    running = SmtpServer(receiver, free_port(), MAX_BYTES)
    running.start()
    try:
        yield running
    finally:
        running.stop()


def send(server: SmtpServer, raw: bytes, *, sender: str = "anna@customer.example",
         mail_options: tuple[str, ...] = ()) -> None:
    with smtplib.SMTP(HOST, server.port, timeout=30) as client:
        client.sendmail(sender, [STORE], raw, mail_options=list(mail_options))


def stored(s3: RecordingS3) -> bytes:
    (body,) = s3.objects.values()
    return body


def original(stored_mail: bytes) -> bytes:
    """The mail as sent: what follows the headers the receiver added (Return-Path ... X-SES-Virus-Verdict)."""
    return stored_mail.split(b"X-SES-Virus-Verdict: PASS\r\n", 1)[1]


def test_bare_lf_mail_with_a_5000_byte_line_is_accepted_as_sent(server: SmtpServer, s3: RecordingS3) -> None:
    # Given a mail with bare LF line ends, as EmailMessage.as_bytes() writes it, with one 5,000-byte line
    # and a line starting with a dot (smtplib stuffs it after the LF)
    long_line = "x" * 5000
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "anna@customer.example", STORE, "Long line"
    message.set_content(f"Hello\n{long_line}\n.hidden dot line\nBye\n", cte="8bit")
    raw = message.as_bytes()
    assert b"\r\n" not in raw and len(raw) > 5000

    # When it is sent with smtplib.sendmail
    send(server, raw)

    # Then the receiver has it byte for byte (plus the CRLF smtplib adds before the final dot), and it parses
    assert original(stored(s3)) == raw + b"\r\n"
    parsed = parse_email(stored(s3))
    assert parsed.subject == "Long line"
    assert long_line in parsed.text and "\n.hidden dot line\n" in parsed.text


def test_crlf_mail_with_20000_byte_lines_is_accepted(server: SmtpServer, s3: RecordingS3) -> None:
    html = "<p>" + "word " * 4000 + "</p>"  # 20,007 bytes on one line, as HTML mailers write them
    raw = (f"From: anna@customer.example\r\nTo: {STORE}\r\nSubject: Wide HTML\r\nMIME-Version: 1.0\r\n"
           f"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
           f"{html}\r\n{html}\r\n").encode()

    send(server, raw)

    assert original(stored(s3)) == raw
    assert parse_email(stored(s3)).subject == "Wide HTML"


def test_smtputf8_sender_address_is_accepted(server: SmtpServer, s3: RecordingS3) -> None:
    raw = (f"From: José <josé@correo.example>\r\nTo: {STORE}\r\nSubject: Pedido\r\n\r\nHola\r\n").encode()

    send(server, raw, sender="josé@correo.example", mail_options=("SMTPUTF8",))

    mail = stored(s3)
    assert mail.startswith("Return-Path: <josé@correo.example>".encode("ascii", "replace"))
    assert parse_email(mail).sender is not None


def test_mail_over_the_size_limit_is_still_refused(server: SmtpServer, s3: RecordingS3) -> None:
    raw = f"From: anna@customer.example\r\nTo: {STORE}\r\nSubject: Big\r\n\r\n".encode() + b"y" * (MAX_BYTES + 1)

    with pytest.raises(smtplib.SMTPException) as error:
        send(server, raw)

    assert "552" in str(error.value) or isinstance(error.value, smtplib.SMTPServerDisconnected)
    assert s3.objects == {}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"a\n..b\n.c\r\n.d\r\n", b"a\n.b\nc\r\n.d\r\n"),  # CRLF lines were already unstuffed by aiosmtpd
        (b"no dots\n", b"no dots\n"),
    ],
)
def test_dot_stuffing_after_bare_lf_is_undone(data: bytes, expected: bytes) -> None:
    assert unstuff_bare_lf_lines(data) == expected
