"""Which inbound mail counts as automated (never acknowledged, never reopens a ticket) and why."""
from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.mail.loops import automated_reason
from chalicelib.mail.parse import parse_email

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "mail"


def reason_for(headers: str, sender: str = "Anna <anna@customer.example>") -> str | None:
    raw = f"From: {sender}\nTo: support@shop.example\nSubject: Hi\n{headers}".strip() + "\n\nHello.\n"
    return automated_reason(parse_email(raw.encode()))


def test_a_person_writing_is_not_automated() -> None:
    assert reason_for("") is None
    assert automated_reason(parse_email((FIXTURES / "latin1_qp.eml").read_bytes())) is None


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ("Auto-Submitted: auto-replied", "auto-submitted"),
        ("Auto-Submitted: auto-generated", "auto-submitted"),
        ("Auto-Submitted: auto-replied; owner-email=x@example.com", "auto-submitted"),
        ("Auto-Submitted: No", None),
        ("Auto-Submitted: no (a person wrote this)", None),
        ("Precedence: bulk", "precedence:bulk"),
        ("Precedence: JUNK", "precedence:junk"),
        ("Precedence: list", "precedence:list"),
        ("Precedence: auto_reply", "precedence:auto_reply"),
        ("Precedence: first-class", None),
        ("X-Auto-Response-Suppress: All", "x-auto-response-suppress"),
        ("X-Auto-Response-Suppress: DR, RN, NRN, OOF, AutoReply", "x-auto-response-suppress"),
        ("X-Auto-Response-Suppress: oof autoreply", "x-auto-response-suppress"),
        ("X-Auto-Response-Suppress: DR, RN", None),
        ("List-Id: <deals.lists.example.com>", "list-id"),
        ("List-Unsubscribe: <mailto:u@lists.example.com>", "list-unsubscribe"),
        ("X-Autoreply: yes", "x-autoreply"),
        ("X-Autorespond: Out of office", "x-autorespond"),
        ("Return-Path: <>", "null-return-path"),
        ("Return-Path: <anna@customer.example>", None),
    ],
)
def test_automation_headers(headers: str, reason: str | None) -> None:
    assert reason_for(headers) == reason


@pytest.mark.parametrize(
    ("sender", "reason"),
    [
        ("MAILER-DAEMON@mx.example.net", "sender:mailer-daemon"),
        ("Postmaster <postmaster@example.org>", "sender:postmaster"),
        ("noreply@example.com", "sender:noreply"),
        ("No-Reply <no-reply@example.com>", "sender:no-reply"),
        ("do-not-reply@example.com", "sender:do-not-reply"),
        ("DoNotReply@example.com", "sender:donotreply"),
        ("noreply-billing@example.com", "sender:noreply"),
        ("no-reply.orders@example.com", "sender:no-reply"),
        ("reply@example.com", None),
        ("postmasters-friend@example.com", None),
        ("anna.noreply@example.com", None),
    ],
)
def test_robot_senders(sender: str, reason: str | None) -> None:
    assert reason_for("", sender=sender) == reason


@pytest.mark.parametrize(
    ("fixture", "reason"),
    [("bounce_dsn.eml", "bounce"), ("auto_reply.eml", "auto-submitted"),
     ("mailing_list.eml", "precedence:list")],
)
def test_fixtures(fixture: str, reason: str) -> None:
    assert automated_reason(parse_email((FIXTURES / fixture).read_bytes())) == reason


def test_a_bounce_without_any_other_marker_is_still_automated() -> None:
    raw = ("From: someone@mx.example\n"
           'Content-Type: multipart/report; report-type=delivery-status; boundary="r"\n\n'
           "--r\nContent-Type: text/plain\n\nfailed\n--r\nContent-Type: message/delivery-status\n\n"
           "Reporting-MTA: dns; mx\n\nFinal-Recipient: rfc822; x@example.org\nAction: failed\n"
           "Status: 5.0.0\n\n--r--\n")

    assert automated_reason(parse_email(raw.encode())) == "bounce"
