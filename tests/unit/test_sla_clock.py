"""Clock rules folded from events at fixed times; a replay of the history gives the stored clock."""
from __future__ import annotations

from datetime import datetime
from itertools import count
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.domain.ids import iso
from chalicelib.domain.sla_clock import SlaClock, advance, due_now, replay
from chalicelib.domain.sla_config import CalendarSpec, SlaPolicy, terms_of
from chalicelib.domain.tickets import TicketEvent

BERLIN = ZoneInfo("Europe/Berlin")
CALENDAR = CalendarSpec("default", "Europe/Berlin", {d: (("09:00", "17:00"),) for d in range(5)})
POLICY = SlaPolicy("default", "Default", first_response_minutes=240, next_response_minutes=120,
                   resolution_minutes=960, warn_minutes_before=30)
_ids = count()


def at(day: int, hour: int, minute: int = 0) -> str:
    """A moment in November 2026, Berlin time (24 November is a Tuesday)."""
    return iso(datetime(2026, 11, day, hour, minute, tzinfo=BERLIN))


def event(kind: str, when: str, actor: str = "customer", **data: Any) -> TicketEvent:
    return TicketEvent(id=f"e{next(_ids):04d}", ticket_id="t1", at=when, type=kind, actor=actor, data=data)


def applied(when: str, policy: SlaPolicy = POLICY, actor: str = "system") -> TicketEvent:
    return event("sla_applied", when, actor, terms=terms_of(policy, CALENDAR).to_dict())


def opened(when: str) -> list[TicketEvent]:
    return [event("created", when, queue="support"), applied(when), event("message_received", when)]


def fold(events: list[TicketEvent]) -> SlaClock:
    return replay(events, lambda spec: spec.calendar())


def test_new_ticket_promises_a_first_response_and_a_resolution() -> None:
    clock = fold(opened(at(24, 10)))
    first, resolution = clock.measures["first_response"], clock.measures["resolution"]
    assert first.due_at == at(24, 14) and first.warn_at == at(24, 13, 30)
    assert resolution.due_at == at(26, 10)  # 960 business minutes: two opening days
    assert clock.due_at() == at(24, 14) and clock.next_action_at() == at(24, 13, 30)


def test_friday_evening_ticket_is_due_monday() -> None:
    clock = fold(opened(at(27, 18, 30)))
    assert clock.measures["first_response"].due_at == at(30, 13)


def test_pending_pauses_every_clock_and_the_customer_reply_resumes_it() -> None:
    history = [*opened(at(24, 10)),
               event("status_changed", at(24, 11), "agent-1", **{"from": "new", "to": "pending"})]
    paused = fold(history)
    first = paused.measures["first_response"]
    assert first.elapsed == 3600 and first.since is None and first.due_at is None
    assert paused.due_at() is None and paused.next_action_at() is None  # leaves the due index
    # The customer answers on Wednesday 10:00: three business hours remain.
    history += [event("status_changed", at(25, 10), **{"from": "pending", "to": "open"}),
                event("message_received", at(25, 10))]
    resumed = fold(history)
    assert resumed.measures["first_response"].due_at == at(25, 13)
    assert "next_response" not in resumed.measures  # the first answer also answers this message


def test_reply_finishes_first_response_and_each_customer_message_starts_a_next_response() -> None:
    history = [*opened(at(24, 10)), event("reply_sent", at(24, 11), "agent-1")]
    clock, facts = advance(SlaClock(), history, lambda spec: spec.calendar())
    [fact] = facts
    assert (fact.metric, fact.business_seconds, fact.agent, fact.attained) == ("first_response", 3600, "agent-1", True)
    assert fact.within_business_day and fact.day == "2026-11-24"
    assert clock.due_at() == at(26, 10)  # only the resolution runs
    history += [event("message_received", at(24, 15)), event("message_received", at(24, 16))]
    waiting = fold(history)
    assert waiting.measures["next_response"].cycle == 1
    assert waiting.measures["next_response"].due_at == at(24, 17)  # from the oldest unanswered: 15:00 + 2 h
    history += [event("reply_sent", at(25, 9, 30), "agent-2"), event("message_received", at(25, 10))]
    again = fold(history)
    assert again.measures["next_response"].cycle == 2 and again.measures["next_response"].due_at == at(25, 12)


def test_notes_acknowledgements_and_automated_mail_move_nothing() -> None:
    base = opened(at(24, 10))
    noise = [event("acknowledged", at(24, 10, 1), "system"), event("note_added", at(24, 10, 5), "agent-1"),
             event("message_received", at(24, 10, 30), automated="auto-submitted")]
    assert fold(base + noise).to_dict() == fold(base).to_dict()


def test_resolution_finishes_on_resolved_and_a_reopen_keeps_counting() -> None:
    history = [*opened(at(24, 10)), event("reply_sent", at(24, 11), "agent-1"),
               event("status_changed", at(24, 12), "agent-1", **{"from": "open", "to": "resolved"})]
    clock, facts = advance(SlaClock(), history, lambda spec: spec.calendar())
    resolution = next(f for f in facts if f.metric == "resolution")
    assert resolution.business_seconds == 7200 and resolution.agent == "agent-1"
    assert clock.auto_close_at() == iso(datetime(2026, 11, 29, 12, tzinfo=BERLIN))
    _, later = advance(clock, [
        event("status_changed", at(25, 9), **{"from": "resolved", "to": "open"}),
        event("message_received", at(25, 9)),
        event("status_changed", at(25, 10), "agent-1", **{"from": "open", "to": "resolved"}),
    ], lambda spec: spec.calendar())
    final = next(f for f in later if f.metric == "resolution")
    assert final.business_seconds == 3 * 3600  # two hours on Tuesday, one on Wednesday
    assert final.replaces == "2026-11-24#support" and final.filed == "2026-11-25#support"


def test_new_terms_keep_the_time_already_spent() -> None:
    stricter = SlaPolicy("vip", "VIP", first_response_minutes=60, warn_percent=50)
    history = [*opened(at(24, 10)), event("priority_changed", at(24, 10, 20), "agent-1", **{"from": "normal"},
                                          to="urgent"), applied(at(24, 10, 20), stricter, "agent-1")]
    clock = fold(history)
    first = clock.measures["first_response"]
    assert first.elapsed == 20 * 60 and first.due_at == at(24, 11) and first.warn_at == at(24, 10, 30)
    assert clock.priority == "urgent" and "resolution" in clock.measures and clock.measures["resolution"].due_at is None


def test_warning_then_breach_then_nothing() -> None:
    clock = fold(opened(at(24, 10)))
    assert due_now(clock, datetime(2026, 11, 24, 13, 0, tzinfo=BERLIN)) == ([], False)
    [warning], _ = due_now(clock, datetime(2026, 11, 24, 13, 31, tzinfo=BERLIN))
    assert (warning.kind, warning.metric) == ("warning", "first_response")
    warned, _ = advance(clock, [event("sla_warning", at(24, 13, 31), "system", metric="first_response", cycle=1)],
                        lambda spec: spec.calendar())
    assert due_now(warned, datetime(2026, 11, 24, 13, 45, tzinfo=BERLIN)) == ([], False)
    assert warned.next_action_at() == at(24, 14)
    [breach], _ = due_now(warned, datetime(2026, 11, 24, 14, 1, tzinfo=BERLIN))
    assert breach.kind == "breach"
    breached, _ = advance(warned, [event("sla_breached", at(24, 14, 1), "system", metric="first_response",
                                         cycle=1)], lambda spec: spec.calendar())
    assert due_now(breached, datetime(2026, 11, 24, 16, tzinfo=BERLIN)) == ([], False)
    assert breached.due_at() == at(24, 14)  # still in the inbox's due view, as breached
    assert breached.next_action_at() == at(26, 9, 30)  # the resolution's warning is next


def test_a_late_sweep_reports_the_breach_without_a_warning() -> None:
    clock = fold(opened(at(24, 10)))
    found, _ = due_now(clock, datetime(2026, 11, 24, 15, tzinfo=BERLIN))
    assert [d.kind for d in found] == ["breach"]


def test_tickets_an_agent_opens_start_answered_and_spam_never_counts() -> None:
    agent = fold([event("created", at(24, 10), "agent-1", queue="support"), applied(at(24, 10), actor="agent-1")])
    assert set(agent.measures) == {"resolution"}
    spam = fold([event("created", at(24, 10), queue="support", spam=True), applied(at(24, 10))])
    assert spam.void and spam.due_at() is None and spam.next_action_at() is None
    unspammed = fold([event("created", at(24, 10), queue="support", spam=True), applied(at(24, 10)),
                      event("status_changed", at(24, 11), "agent-1", **{"from": "spam", "to": "open"})])
    assert unspammed.measures["first_response"].due_at == at(24, 15)


def test_same_instant_events_fold_the_same_in_any_order() -> None:
    history = [*opened(at(24, 10)),
               event("status_changed", at(24, 11), "agent-1", **{"from": "new", "to": "pending"}),
               event("message_received", at(25, 10)),
               event("status_changed", at(25, 10), **{"from": "pending", "to": "open"})]
    assert fold(history).to_dict() == fold(list(reversed(history))).to_dict()


def test_incremental_advance_equals_replay_and_survives_storage() -> None:
    history = [*opened(at(24, 10)), event("reply_sent", at(24, 11), "agent-1"),
               event("message_received", at(24, 15)),
               event("status_changed", at(24, 16), "agent-1", **{"from": "open", "to": "pending"}),
               event("status_changed", at(25, 9), **{"from": "pending", "to": "open"})]
    clock = SlaClock()
    for step in history:
        clock, _ = advance(SlaClock.from_dict(clock.to_dict()), [step], lambda spec: spec.calendar())
    assert clock.to_dict() == fold(history).to_dict()
