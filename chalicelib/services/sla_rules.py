"""The SLA rules every ticket writer applies: the matching policy and calendar, and the clock its events advance."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from chalicelib.config import Settings
from chalicelib.domain.calendar import BusinessCalendar
from chalicelib.domain.ids import iso, new_id
from chalicelib.domain.sla_clock import SlaClock, SlaFact, advance
from chalicelib.domain.sla_config import (
    DEFAULT,
    CalendarSpec,
    Escalation,
    SlaPolicy,
    SlaTerms,
    match_policy,
    plain_calendar,
    terms_of,
)
from chalicelib.domain.tickets import EventType, Ticket, TicketEvent
from chalicelib.ports import SlaConfig, SlaRepository


@dataclass
class SlaSetup:
    """Where SLA configuration lives (None: only the environment's defaults) and how a calendar spec
    becomes a calendar (with public holidays when wired for real)."""

    repository: SlaRepository | None = None
    build_calendar: Callable[[CalendarSpec], BusinessCalendar] = plain_calendar


def default_calendar(settings: Settings) -> CalendarSpec:
    hours = settings.business_hours
    return CalendarSpec(name=DEFAULT, time_zone=settings.time_zone, weekly=dict(hours.weekly),
                        holiday_country=hours.holiday_country, holiday_subdivision=hours.holiday_subdivision,
                        closed_dates=tuple(hours.closed_dates))


def default_policy(settings: Settings) -> SlaPolicy:
    sla = settings.sla
    return SlaPolicy(
        id=DEFAULT, name="Default", calendar=DEFAULT, first_response_minutes=settings.first_response_minutes,
        next_response_minutes=sla.next_response_minutes, resolution_minutes=sla.resolution_minutes,
        warn_minutes_before=sla.warning_minutes,
        escalation=Escalation(raise_priority=True, queue=sla.escalation_queue,
                              assignee="on_duty" if sla.manager_on_duty else None),
        auto_close_days=sla.auto_close_days,
    )


@dataclass
class SlaStamp:
    """A ticket with its clock advanced, the events that explain it, and the measurements it finished."""

    ticket: Ticket
    events: list[TicketEvent]
    facts: list[SlaFact] = field(default_factory=list)


class SlaRules:
    """One use case's view of the SLA configuration (read at most once, one Query) and the clock.

    Every service that writes ticket events calls `start` (new ticket) or `advance` (change) before its
    write, so the clock and the due/sweep index keys go in the same transaction as the change."""

    def __init__(self, setup: SlaSetup | None, settings: Settings, stored: SlaConfig | None = None) -> None:
        """`stored`: the configuration when the caller already read it (a message path's batch read)."""
        self.setup = setup or SlaSetup()
        self.settings = settings
        self._stored = stored
        self._config: SlaConfig | None = None

    # ---- configuration -------------------------------------------------------------------------
    def config(self) -> SlaConfig:
        if self._config is None:
            repository = self.setup.repository
            stored = self._stored
            if stored is None:
                stored = repository.load_sla_config() if repository else SlaConfig()
            calendars = {DEFAULT: default_calendar(self.settings)} | {c.name: c for c in stored.calendars}
            policies = {DEFAULT: default_policy(self.settings)} | {p.id: p for p in stored.policies}
            self._config = SlaConfig(list(calendars.values()), list(policies.values()))
        return self._config

    def calendars(self) -> dict[str, CalendarSpec]:
        return {c.name: c for c in self.config().calendars}

    def policies(self) -> list[SlaPolicy]:
        return list(self.config().policies)

    def terms_for(self, queue: str, priority: str) -> SlaTerms:
        policy = match_policy(self.policies(), queue, priority)
        calendars = self.calendars()
        return terms_of(policy, calendars.get(policy.calendar) or calendars[DEFAULT])

    def calendar(self, spec: CalendarSpec) -> BusinessCalendar:
        return self.setup.build_calendar(spec)

    # ---- clocks ----------------------------------------------------------------------------------
    def start(self, ticket: Ticket, events: list[TicketEvent], at: datetime, actor: str = "system") -> SlaStamp:
        """A new ticket: its terms (an `sla_applied` event) and its clock from its first events."""
        applied = _applied(ticket.id, at, actor, self.terms_for(ticket.queue, ticket.priority), "new ticket")
        every = [*events, applied]
        clock, facts = advance(SlaClock(), every, self.calendar)
        return SlaStamp(_stamped(ticket, clock, at), every, facts)

    def advance(self, ticket: Ticket, events: list[TicketEvent], at: datetime, *, actor: str = "system",
                rematch: bool = False) -> SlaStamp:
        """A change: the clock moves by `events`; with `rematch` (queue or priority changed by a person)
        the matching policy is looked up again and, if its terms differ, applies from now."""
        if ticket.sla is None:
            return SlaStamp(ticket, list(events))  # written before SLA clocks existed: left as it was
        clock = SlaClock.from_dict(ticket.sla)
        every = list(events)
        if rematch:
            terms = self.terms_for(ticket.queue, ticket.priority)
            if clock.terms is None or terms.to_dict() != clock.terms.to_dict():
                every.append(_applied(ticket.id, at, actor, terms, "queue or priority changed"))
        clock, facts = advance(clock, every, self.calendar)
        return SlaStamp(_stamped(ticket, clock, at), every, facts)


def _applied(ticket_id: str, at: datetime, actor: str, terms: SlaTerms, reason: str) -> TicketEvent:
    return TicketEvent(id=new_id(), ticket_id=ticket_id, at=iso(at), type=EventType.SLA_APPLIED, actor=actor,
                       data={"terms": terms.to_dict(), "policy": terms.policy_id, "reason": reason})


def notices_due_at(ticket: Ticket) -> str | None:
    leases = [str(n["lease_until"]) for n in ticket.sla_notices if n.get("lease_until")]
    return min(leases) if leases else None


def _stamped(ticket: Ticket, clock: SlaClock, at: datetime | None = None) -> Ticket:
    """The ticket carrying its clock and the denormalized keys its indexes are built from. With `at`
    (a change at that moment), a sweep entry still ahead and earlier than the new action is kept: moving
    it costs two index writes on the sweep's hottest partition, and an early wake-up is harmless (the
    sweep finds nothing due and re-keys it once); a later one would miss a promise, so never that."""
    first = clock.measures.get("first_response")
    first_due = first.due_at if first is not None and first.running and first.due_at else None
    moments = [m for m in (clock.next_action_at(), notices_due_at(ticket)) if m]
    action = min(moments) if moments else None
    previous = ticket.sla_wake_at or ticket.sla_action_at
    keep = (at is not None and action is not None and previous is not None and iso(at) < previous < action)
    return replace(
        ticket, sla=clock.to_dict(), sla_due=clock.due_at(), sla_action_at=action,
        sla_wake_at=previous if keep else action, first_response_due_at=first_due or ticket.first_response_due_at,
    )


def restamp(ticket: Ticket) -> Ticket:
    """The same clock with its index keys recomputed (after the ticket's notices changed)."""
    return _stamped(ticket, SlaClock.from_dict(ticket.sla)) if ticket.sla is not None else ticket


def promise_zone(ticket: Ticket, default: str) -> str:
    """The time zone a ticket's promises are told in: its calendar's."""
    terms = (ticket.sla or {}).get("terms") or {}
    return str((terms.get("calendar") or {}).get("time_zone") or default)
