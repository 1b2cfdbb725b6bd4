"""The inbound pipeline's pure rules: which ticket a message joins, and what the customer's message does."""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.customer_messages import after_customer_message
from chalicelib.domain.errors import VersionConflict
from chalicelib.domain.ids import iso
from chalicelib.domain.threading import (
    NeedTicket,
    ReopenRule,
    ThreadCandidate,
    ThreadDecision,
    ThreadedBy,
    decide_thread,
)
from chalicelib.domain.tickets import Channel, EventType, Ticket, TicketEvent, TicketStatus
from chalicelib.services.retry import retry_on_conflict

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
EMAIL = ReopenRule(closed_days=30, resolved_days=None)
SMS = ReopenRule(closed_days=None, resolved_days=7)


def ticket(ticket_id: str = "t1", status: TicketStatus = TicketStatus.OPEN, **fields: object) -> Ticket:
    stamp = iso(NOW - timedelta(days=1))
    base = Ticket(id=ticket_id, number=1001, subject="Where is my order?", status=status, queue="support",
                  channel=Channel.EMAIL, customer_id="c1", created_at=stamp, updated_at=stamp, last_activity_at=stamp)
    return replace(base, **fields)  # type: ignore[arg-type]


def test_the_first_candidate_whose_ticket_exists_wins() -> None:
    candidates = [ThreadCandidate("gone", ThreadedBy.MESSAGE_ID), ThreadCandidate("t1", ThreadedBy.REPLY_ADDRESS)]
    decision = decide_thread(candidates, {"gone": None, "t1": ticket()}, EMAIL, NOW)
    assert decision == ThreadDecision(ticket(), ThreadedBy.REPLY_ADDRESS)


def test_a_ticket_not_read_yet_is_asked_for() -> None:
    assert decide_thread([ThreadCandidate("t1", ThreadedBy.MESSAGE_ID)], {}, EMAIL, NOW) == NeedTicket("t1")


def test_a_merged_ticket_leads_to_the_ticket_it_was_merged_into() -> None:
    source = ticket("t1", TicketStatus.CLOSED, merged_into="t2", closed_at=iso(NOW))
    candidates = [ThreadCandidate("t1", ThreadedBy.MESSAGE_ID)]
    assert decide_thread(candidates, {"t1": source}, EMAIL, NOW) == NeedTicket("t2")
    decision = decide_thread(candidates, {"t1": source, "t2": ticket("t2")}, EMAIL, NOW)
    assert isinstance(decision, ThreadDecision) and decision.ticket == ticket("t2")


def test_a_subject_token_threads_only_for_the_tickets_own_customer() -> None:
    stranger = [ThreadCandidate("t1", ThreadedBy.SUBJECT_TOKEN, customer_id="someone-else")]
    assert decide_thread(stranger, {"t1": ticket()}, EMAIL, NOW) == ThreadDecision(None)
    own = [ThreadCandidate("t1", ThreadedBy.SUBJECT_TOKEN, customer_id="c1")]
    assert decide_thread(own, {"t1": ticket()}, EMAIL, NOW) == ThreadDecision(ticket(), ThreadedBy.SUBJECT_TOKEN)


@pytest.mark.parametrize(("rule", "found", "joins"), [
    (EMAIL, ticket(status=TicketStatus.CLOSED, closed_at=iso(NOW - timedelta(days=3))), True),
    (EMAIL, ticket(status=TicketStatus.CLOSED, closed_at=iso(NOW - timedelta(days=31))), False),
    (SMS, ticket(status=TicketStatus.CLOSED, closed_at=iso(NOW - timedelta(days=1))), False),
    (SMS, ticket(status=TicketStatus.RESOLVED, resolved_at=iso(NOW - timedelta(days=3))), True),
    (SMS, ticket(status=TicketStatus.RESOLVED, resolved_at=iso(NOW - timedelta(days=8))), False),
    (EMAIL, ticket(status=TicketStatus.RESOLVED, resolved_at=iso(NOW - timedelta(days=80))), True),
    (SMS, ticket(status=TicketStatus.SPAM), True),
])
def test_a_finished_ticket_takes_the_message_within_its_window_or_a_linked_ticket_opens(
        rule: ReopenRule, found: Ticket, joins: bool) -> None:
    decision = decide_thread([ThreadCandidate("t1", ThreadedBy.CONVERSATION)], {"t1": found}, rule, NOW)
    assert isinstance(decision, ThreadDecision)
    assert (decision.ticket is not None) is joins
    assert decision.linked_ticket_id == (None if joins else "t1")


def test_a_customer_reply_reopens_a_waiting_ticket_and_counts_as_activity() -> None:
    waiting = ticket(status=TicketStatus.PENDING, version=4)
    updated, events = after_customer_message(waiting, message_id="m1", visible_text="It still has not come.",
                                             at=iso(NOW), automated=None, via="message-id")
    assert updated.status is TicketStatus.OPEN and updated.thread_version == 5 and updated.last_activity_at == iso(NOW)
    assert [e.type for e in events] == [EventType.MESSAGE_RECEIVED, EventType.STATUS_CHANGED]
    assert events[1].data == {"from": "pending", "to": "open", "reason": "customer replied"}


def test_a_confirmation_closes_a_resolved_ticket() -> None:
    resolved = ticket(status=TicketStatus.RESOLVED, resolved_at=iso(NOW))
    updated, events = after_customer_message(resolved, message_id="m1", visible_text="Yes, thank you!",
                                             at=iso(NOW), automated=None, via="reply-address")
    assert updated.status is TicketStatus.CLOSED and updated.closed_at == iso(NOW)
    assert events[1].data["reason"] == "customer confirmed"


def test_a_machine_never_moves_a_ticket_and_is_not_activity() -> None:
    resolved = ticket(status=TicketStatus.RESOLVED)
    updated, events = after_customer_message(resolved, message_id="m1", visible_text="I am out of office",
                                             at=iso(NOW), automated="auto-submitted", via="message-id")
    assert updated.status is TicketStatus.RESOLVED and updated.last_activity_at == resolved.last_activity_at
    assert [e.type for e in events] == [EventType.MESSAGE_RECEIVED]


def test_an_unknown_event_type_is_an_error_not_a_silent_skip() -> None:
    with pytest.raises(ValueError):
        TicketEvent(id="e1", ticket_id="t1", at=iso(NOW), type="status_chagned", actor="agent-1")  # type: ignore[arg-type]


def test_the_retry_helper_re_runs_a_conflicting_step_and_gives_up_after_its_attempts() -> None:
    pauses: list[float] = []
    seen: list[int] = []

    def conflicting_twice(attempt: int) -> str:
        seen.append(attempt)
        if attempt < 2:
            raise VersionConflict("someone wrote first")
        return "stored"

    assert retry_on_conflict(conflicting_twice, exhausted=lambda: VersionConflict("gave up"),
                             pause=pauses.append) == "stored"
    assert seen == [0, 1, 2] and len(pauses) == 2 and all(0 <= p <= 0.05 for p in pauses)

    def always(_attempt: int) -> str:
        raise VersionConflict("again")

    with pytest.raises(VersionConflict, match="gave up"):
        retry_on_conflict(always, attempts=3, exhausted=lambda: VersionConflict("gave up"), pause=pauses.append)
