"""Signed reply addresses, subject tokens and the status a customer's message leads to."""
from __future__ import annotations

from chalicelib.domain.threading import (
    normalize_message_id,
    numbered_subject,
    reply_address,
    subject_ticket_number,
    ticket_from_reply_address,
)
from chalicelib.domain.tickets import TicketStatus, is_confirmation, status_after_customer_message

SECRET = "s3cret"


def test_reply_address_round_trip_and_tamper() -> None:
    address = reply_address("support@shop.example", "abc123", SECRET)
    assert address.startswith("support+abc123.")
    assert ticket_from_reply_address(address, SECRET) == ("abc123", "support@shop.example")
    assert ticket_from_reply_address(address.upper(), SECRET) == ("abc123", "support@shop.example")
    forged = address.replace("abc123", "abc124")
    assert ticket_from_reply_address(forged, SECRET) is None
    assert ticket_from_reply_address(address, "other-secret") is None
    assert ticket_from_reply_address("support@shop.example", SECRET) is None
    assert ticket_from_reply_address("support+nodot@shop.example", SECRET) is None


def test_subject_tokens() -> None:
    assert subject_ticket_number("Re: [#1042] Where is my order?") == 1042
    assert subject_ticket_number("Order 1042") is None
    assert numbered_subject(1042, "Where is my order?") == "[#1042] Where is my order?"
    assert numbered_subject(1042, "Re: [#1042] Where") == "Re: [#1042] Where"
    assert numbered_subject(7, "  ") == "[#7] (no subject)"


def test_message_ids_compare_without_brackets() -> None:
    assert normalize_message_id(" <abc@x> ") == "abc@x"


def test_customer_reply_moves_status() -> None:
    move = status_after_customer_message
    assert move(TicketStatus.PENDING, automated=False, confirms=False) is TicketStatus.OPEN
    assert move(TicketStatus.RESOLVED, automated=False, confirms=True) is TicketStatus.CLOSED
    assert move(TicketStatus.RESOLVED, automated=False, confirms=False) is TicketStatus.OPEN
    assert move(TicketStatus.CLOSED, automated=False, confirms=False) is TicketStatus.OPEN
    assert move(TicketStatus.RESOLVED, automated=True, confirms=False) is TicketStatus.RESOLVED
    assert move(TicketStatus.NEW, automated=False, confirms=False) is TicketStatus.NEW
    assert move(TicketStatus.SPAM, automated=False, confirms=False) is TicketStatus.SPAM


def test_confirmation_is_short_yes() -> None:
    assert is_confirmation("Yes!")
    assert is_confirmation("yes, thanks")
    assert not is_confirmation("Yes but the parcel is still missing")
    assert not is_confirmation("")
