"""Conversation mapping: which ticket a customer's next text continues, and where a late text goes."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.conversation import continues, ordered_at
from chalicelib.domain.ids import iso
from chalicelib.domain.tickets import Channel, Ticket, TicketStatus

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def ticket(status: TicketStatus, **values: object) -> Ticket:
    stamp = iso(NOW - timedelta(days=1))
    fields: dict[str, object] = dict(id="t1", number=1001, subject="s", status=status, queue="support",
                                     channel=Channel.SMS, customer_id="c1", created_at=stamp, updated_at=stamp,
                                     last_activity_at=stamp)
    fields.update(values)
    return Ticket(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("status", [TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING, TicketStatus.SPAM])
def test_a_ticket_still_being_worked_on_takes_the_text(status: TicketStatus) -> None:
    assert continues(ticket(status), NOW)


def test_resolved_within_the_window_is_reopened_by_the_text() -> None:
    assert continues(ticket(TicketStatus.RESOLVED, resolved_at=iso(NOW - timedelta(days=6, hours=23))), NOW)
    assert not continues(ticket(TicketStatus.RESOLVED, resolved_at=iso(NOW - timedelta(days=7, minutes=1))), NOW)
    assert continues(ticket(TicketStatus.RESOLVED, resolved_at=iso(NOW - timedelta(days=9))), NOW, window_days=10)


def test_closed_merged_or_no_ticket_starts_a_new_one() -> None:
    assert not continues(ticket(TicketStatus.CLOSED, closed_at=iso(NOW - timedelta(minutes=5))), NOW)
    assert not continues(ticket(TicketStatus.CLOSED, merged_into="t2"), NOW)
    assert not continues(None, NOW)


def test_order_by_carrier_time_then_delivery_time_then_now() -> None:
    carrier, delivered = NOW - timedelta(minutes=3), NOW - timedelta(minutes=1)
    assert ordered_at(carrier, delivered, NOW) == carrier
    assert ordered_at(None, delivered, NOW) == delivered
    assert ordered_at(None, None, NOW) == NOW


def test_untrustworthy_times_fall_back_to_arrival() -> None:
    assert ordered_at(NOW + timedelta(minutes=5), None, NOW) == NOW  # from the future
    assert ordered_at(NOW - timedelta(days=400), None, NOW) == NOW  # a replayed stamp (chalice's test events)
    assert ordered_at(NOW - timedelta(days=400), NOW - timedelta(seconds=2), NOW) == NOW - timedelta(seconds=2)
