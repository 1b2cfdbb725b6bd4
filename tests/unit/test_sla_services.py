"""SLA through the use cases on in-memory fakes: clocks written with every change; managers' configuration."""
from __future__ import annotations

from datetime import datetime

import pytest

from chalicelib.adapters import keys
from chalicelib.adapters.sla_repository import TableSlaRepository
from chalicelib.domain.errors import InvalidInput, NotFound, Unavailable, VersionConflict
from chalicelib.domain.ids import parse_iso
from chalicelib.domain.principals import Principal, Role
from chalicelib.domain.sla_clock import SlaClock, replay
from chalicelib.domain.sla_config import CalendarSpec, SlaPolicy
from chalicelib.domain.tickets import Ticket
from chalicelib.services.inbox import InboxDeps, TicketUpdate, update_ticket
from chalicelib.services.replies import ReplyRequest, reply
from chalicelib.services.sla_config import (
    SlaConfigDeps,
    delete_calendar,
    delete_policy,
    list_policies,
    save_calendar,
    save_policy,
)
from tests.support import FakeShop, build_mail

AGENT = Principal("agent-1", "Alex Agent", Role.AGENT)
MANAGER = Principal("manager-1", "Mia Manager", Role.MANAGER)


@pytest.fixture
def shop(fixed_now: datetime) -> FakeShop:
    return FakeShop(now=fixed_now)  # Tuesday 24 November 2026, 10:00 in Berlin


def inbox(shop: FakeShop) -> InboxDeps:
    return InboxDeps(repository=shop.repository, mail=shop.mail, clock=shop.clock, settings=shop.settings,
                     sla=shop.sla)


def config(shop: FakeShop) -> SlaConfigDeps:
    return SlaConfigDeps(repository=TableSlaRepository(shop.store), setup=shop.sla, clock=shop.clock,
                         settings=shop.settings)


def ticket_of(shop: FakeShop, ticket_id: str) -> Ticket:
    found = shop.repository.get_ticket(ticket_id)
    assert found is not None
    return found


def new_ticket(shop: FakeShop, **mail: str) -> Ticket:
    raw, _ = build_mail(**mail)
    outcome = shop.receive(raw, **({"destination": [mail["to"]]} if "to" in mail else {}))
    assert outcome.ticket_id
    return ticket_of(shop, outcome.ticket_id)


def assert_reproducible(shop: FakeShop, ticket: Ticket) -> None:
    events = shop.repository.list_events(ticket.id)
    assert ticket.sla == replay(events, lambda spec: spec.calendar()).to_dict()


def test_a_new_mail_gets_the_default_policy_and_its_clock_in_the_same_write(shop: FakeShop) -> None:
    ticket = new_ticket(shop)
    assert ticket.first_response_due_at == "2026-11-24T13:00:00.000000Z"  # 14:00 in Berlin
    assert ticket.sla_due == ticket.first_response_due_at and ticket.sla_action_at == "2026-11-24T12:30:00.000000Z"
    item = shop.store.items[(keys.ticket(ticket.id)["pk"], "TICKET")]
    assert item["gsi3sk"].startswith(ticket.sla_due) and item["gsi6sk"].startswith(ticket.sla_action_at)
    assert "sla_applied" in [e.type for e in shop.repository.list_events(ticket.id)]
    assert_reproducible(shop, ticket)


def test_the_acknowledgement_promises_what_the_matching_policy_and_calendar_say(shop: FakeShop) -> None:
    settings = config(shop)
    save_calendar(CalendarSpec("new-york", "America/New_York", {d: (("09:00", "17:00"),) for d in range(5)}),
                  None, MANAGER, settings)
    save_policy(SlaPolicy("shipping", "Shipping", calendar="new-york", position=10, queues=("shipping",),
                          first_response_minutes=60), None, MANAGER, settings)
    ticket = new_ticket(shop, to="shipping@shop.example")
    # 09:00 UTC is 04:00 in New York: the store opens at 09:00 there, one hour later is 10:00.
    assert "today 10:00 (America/New_York)" in shop.mail.sent[-1].text
    assert ticket.first_response_due_at == "2026-11-24T15:00:00.000000Z"
    other = new_ticket(shop, subject="Another question")
    assert other.first_response_due_at == "2026-11-24T13:00:00.000000Z"  # support stays on the default


def test_reply_files_a_report_fact_and_pending_pauses_until_the_customer_writes(shop: FakeShop) -> None:
    ticket = new_ticket(shop)
    deps = inbox(shop)
    shop.clock.advance(hours=1)
    answered, _ = reply(ticket.id, ReplyRequest(body="We are on it.", version=ticket.version, status_after="pending"),
                        AGENT, deps)
    facts = TableSlaRepository(shop.store).sla_facts("2026-11-24")
    assert [(f.metric, f.business_seconds, f.agent, f.attained) for f in facts] == [
        ("first_response", 3600, "agent-1", True)]
    assert answered.sla_due is None and answered.sla_action_at is None  # waiting on the customer: no clock runs
    shop.clock.advance(days=1)
    raw, _ = build_mail(subject="Re: [#1001] Where is my order?", body="It still has not arrived.")
    shop.receive(raw)
    resumed = ticket_of(shop, ticket.id)
    clock = SlaClock.from_dict(resumed.sla or {})
    assert resumed.status.value == "open"
    # Wednesday 11:00 + 8 business hours: six on Wednesday, two on Thursday (11:00 in Berlin).
    assert clock.measures["next_response"].due_at == "2026-11-26T10:00:00.000000Z"
    assert clock.measures["resolution"].elapsed == 3600
    assert_reproducible(shop, resumed)


def test_priority_change_by_a_person_re_evaluates_the_policy(shop: FakeShop) -> None:
    save_policy(SlaPolicy("urgent", "Urgent", position=1, priorities=("urgent",), first_response_minutes=60,
                          warn_percent=50), None, MANAGER, config(shop))
    ticket = new_ticket(shop)
    shop.clock.advance(minutes=20)
    changed = update_ticket(ticket.id, TicketUpdate(version=ticket.version, priority="urgent"), AGENT, inbox(shop))
    assert changed.first_response_due_at == "2026-11-24T10:00:00.000000Z"  # 60 minutes minus the 20 spent
    assert changed.sla_action_at == "2026-11-24T09:30:00.000000Z"
    tagged = update_ticket(ticket.id, TicketUpdate(version=changed.version, tags=["vip"]), AGENT, inbox(shop))
    events = [e.type for e in shop.repository.list_events(ticket.id)]
    assert events.count("sla_applied") == 2 and tagged.sla_due == changed.sla_due
    assert_reproducible(shop, tagged)


def test_managers_configuration_is_validated_and_versioned(shop: FakeShop) -> None:
    deps = config(shop)
    with pytest.raises(InvalidInput):
        save_policy(SlaPolicy("x", "X", calendar="nowhere", first_response_minutes=5), None, MANAGER, deps)
    with pytest.raises(InvalidInput):
        save_policy(SlaPolicy("x", "X", queues=("billing",), first_response_minutes=5), None, MANAGER, deps)
    with pytest.raises(InvalidInput):
        save_policy(SlaPolicy("x", "X"), None, MANAGER, deps)  # no target at all
    first = save_policy(SlaPolicy("default", "Default", first_response_minutes=60), 0, MANAGER, deps)
    assert first.version == 1 and first.updated_by == "manager-1"
    with pytest.raises(VersionConflict):
        save_policy(SlaPolicy("default", "Default", first_response_minutes=30), 0, MANAGER, deps)
    assert save_policy(SlaPolicy("default", "Default", first_response_minutes=30), 1, MANAGER, deps).version == 2
    with pytest.raises(InvalidInput):
        delete_policy("default", MANAGER, deps)
    save_calendar(CalendarSpec("weekend", "Europe/Berlin", {5: (("10:00", "14:00"),)}), None, MANAGER, deps)
    save_policy(SlaPolicy("sat", "Saturday", calendar="weekend", first_response_minutes=30), None, MANAGER, deps)
    with pytest.raises(Unavailable):
        delete_calendar("weekend", MANAGER, deps)
    assert [p.id for p in list_policies(deps)] == ["sat", "default"]
    delete_policy("sat", MANAGER, deps)
    delete_calendar("weekend", MANAGER, deps)
    with pytest.raises(NotFound):
        delete_calendar("weekend", MANAGER, deps)


def test_policy_change_mid_ticket_applies_from_the_next_re_evaluation(shop: FakeShop) -> None:
    ticket = new_ticket(shop)
    save_policy(SlaPolicy("default", "Default", first_response_minutes=60, warn_minutes_before=10), 0, MANAGER,
                config(shop))
    unchanged = ticket_of(shop, ticket.id)
    assert unchanged.first_response_due_at == ticket.first_response_due_at  # it keeps the terms it was given
    later = new_ticket(shop, subject="A second question")
    assert parse_iso(later.first_response_due_at or "") == parse_iso("2026-11-24T10:00:00.000000Z")
    moved = update_ticket(ticket.id, TicketUpdate(version=unchanged.version, queue="shipping"), AGENT, inbox(shop))
    assert moved.first_response_due_at == "2026-11-24T10:00:00.000000Z"
