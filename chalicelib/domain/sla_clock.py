"""SLA clocks folded from a ticket's events (pauses, re-targeting, warnings, breaches) and what falls due when."""
from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.domain.calendar import BusinessCalendar
from chalicelib.domain.ids import iso, parse_iso
from chalicelib.domain.sla_config import CalendarFactory, SlaTerms
from chalicelib.domain.tickets import EventType, TicketEvent

PEOPLE_OUTSIDE = ("customer", "system")  # actors who are not agents
# Events of one instant apply in this order, so a fold never depends on random event ids.
_RANK = {EventType.CREATED: 0, EventType.SLA_APPLIED: 1, EventType.PRIORITY_CHANGED: 2,
         EventType.QUEUE_CHANGED: 2, EventType.STATUS_CHANGED: 3, EventType.MESSAGE_RECEIVED: 4,
         EventType.REPLY_SENT: 5, EventType.MERGED: 6, EventType.UNMERGED: 7, EventType.SLA_WARNING: 8,
         EventType.SLA_BREACHED: 9}


@dataclass
class Measure:
    """One target being measured: business seconds banked while it ran, and its derived due times."""

    metric: str
    cycle: int
    started_at: str
    elapsed: int = 0  # business seconds counted before `since`
    since: str | None = None  # counting since this moment; None while paused or done
    target: int | None = None  # business minutes, from the terms
    due_at: str | None = None
    warn_at: str | None = None
    done_at: str | None = None
    warned: bool = False
    breached: bool = False
    filed: str | None = None  # "<day>#<queue>" of its report fact, replaced if a resolution reopens

    @property
    def running(self) -> bool:
        return self.since is not None and self.done_at is None


@dataclass(frozen=True)
class SlaFact:
    """A finished measurement, as reports read it (one per ticket, metric and cycle)."""

    ticket_id: str
    metric: str
    cycle: int
    day: str  # local date of completion in the terms' calendar
    queue: str
    priority: str
    agent: str  # who completed it: an agent's user id, "customer" or "system"
    started_at: str
    completed_at: str
    business_seconds: int
    target_minutes: int | None
    attained: bool | None  # None when the policy sets no target for this metric
    within_business_day: bool
    policy_id: str
    replaces: str | None = None  # "<day>#<queue>" of the fact this one supersedes

    @property
    def filed(self) -> str:
        return f"{self.day}#{self.queue}"


@dataclass
class SlaClock:
    """Everything the fold knows: the terms, the ticket's status, queue and priority as the events
    tell them, and the current measure of each metric."""

    terms: SlaTerms | None = None
    status: str = "new"
    queue: str = ""
    priority: str = "normal"
    void: bool = False  # spam or merged: measures stop and are never reported
    resolved_at: str | None = None
    measures: dict[str, Measure] = field(default_factory=dict)

    # ---- reading ----------------------------------------------------------------------------
    def due_at(self) -> str | None:
        """When the soonest running promise falls due (breached ones included): the inbox's due view."""
        dues = [m.due_at for m in self.measures.values() if m.running and m.due_at]
        return min(dues) if dues else None

    def auto_close_at(self) -> str | None:
        if self.status != "resolved" or not self.resolved_at or self.terms is None:
            return None
        return iso(parse_iso(self.resolved_at) + timedelta(days=self.terms.auto_close_days))

    def next_action_at(self) -> str | None:
        """When the sweep next has something to do: a warning, a breach, or an auto-close."""
        moments = [m.warn_at if _warning_pending(m) else m.due_at
                   for m in self.measures.values() if m.running and not m.breached]
        moments.append(self.auto_close_at())
        present = [m for m in moments if m]
        return min(present) if present else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "terms": self.terms.to_dict() if self.terms else None, "status": self.status, "queue": self.queue,
            "priority": self.priority, "void": self.void, "resolved_at": self.resolved_at,
            "measures": {k: asdict(m) for k, m in self.measures.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SlaClock:
        measures = {}
        for name, raw in (data.get("measures") or {}).items():
            values = dict(raw)
            values["cycle"], values["elapsed"] = int(values["cycle"]), int(values["elapsed"])
            values["target"] = None if values.get("target") is None else int(values["target"])
            measures[name] = Measure(**values)
        return cls(
            terms=SlaTerms.from_dict(data["terms"]) if data.get("terms") else None,
            status=str(data.get("status", "new")), queue=str(data.get("queue", "")),
            priority=str(data.get("priority", "normal")), void=bool(data.get("void", False)),
            resolved_at=data.get("resolved_at"), measures=measures,
        )


def _warning_pending(measure: Measure) -> bool:
    return (not measure.warned and measure.warn_at is not None and measure.due_at is not None
            and measure.warn_at < measure.due_at)


def _sort_key(event: TicketEvent) -> tuple[str, int, str]:
    return event.at, _RANK.get(event.type, 10), event.id


def replay(events: Iterable[TicketEvent], calendars: CalendarFactory) -> SlaClock:
    """The clock of a ticket from its whole history (what the stored clock must always equal)."""
    clock, _ = advance(SlaClock(), events, calendars)
    return clock


def advance(clock: SlaClock, events: Iterable[TicketEvent], calendars: CalendarFactory
            ) -> tuple[SlaClock, list[SlaFact]]:
    """Applies new events to a clock (a copy is returned) and reports the measures they finished."""
    fold = _Fold(copy.deepcopy(clock), calendars)
    for event in sorted(events, key=_sort_key):
        fold.apply(event)
    return fold.clock, fold.facts


class _Fold:
    def __init__(self, clock: SlaClock, calendars: CalendarFactory) -> None:
        self.clock = clock
        self.calendars = calendars
        self.facts: list[SlaFact] = []
        self._calendar: tuple[str, BusinessCalendar] | None = None

    def calendar(self) -> BusinessCalendar | None:
        terms = self.clock.terms
        if terms is None:
            return None
        key = terms.calendar.cache_key()
        if self._calendar is None or self._calendar[0] != key:
            self._calendar = (key, self.calendars(terms.calendar))
        return self._calendar[1]

    # ---- the rules ---------------------------------------------------------------------------
    def apply(self, event: TicketEvent) -> None:
        handler = _CLOCK_RULES[event.type]  # every type is listed: a new one without a rule fails at import
        if handler is not None:
            handler(self, event)
            self._schedule()

    def _on_created(self, event: TicketEvent) -> None:
        clock = self.clock
        clock.queue = str(event.data.get("queue") or clock.queue)
        clock.status = "spam" if event.data.get("spam") else "new"
        clock.void = bool(event.data.get("spam"))
        if clock.void:
            return
        # A ticket an agent opens (a logged call, an outgoing mail) starts answered.
        metrics = ["resolution"] if event.actor not in PEOPLE_OUTSIDE else ["first_response", "resolution"]
        for metric in metrics:
            clock.measures[metric] = Measure(metric=metric, cycle=1, started_at=event.at, since=event.at)

    def _on_sla_applied(self, event: TicketEvent) -> None:
        self._bank_all(event.at)  # time so far counts on the calendar it was spent under
        self.clock.terms = SlaTerms.from_dict(event.data["terms"])
        self._resume_all(event.at)

    def _on_priority_changed(self, event: TicketEvent) -> None:
        self.clock.priority = str(event.data.get("to") or self.clock.priority)

    def _on_queue_changed(self, event: TicketEvent) -> None:
        self.clock.queue = str(event.data.get("to") or self.clock.queue)

    def _on_status_changed(self, event: TicketEvent) -> None:
        clock, to, at = self.clock, str(event.data.get("to")), event.at
        previous, clock.status = clock.status, to
        if to in ("new", "open") and previous == "spam" and clock.void:
            clock.void = False  # not spam after all: the promise starts now
            for metric in ("first_response", "resolution"):
                clock.measures.setdefault(metric, Measure(metric=metric, cycle=1, started_at=at))
        if to in ("new", "open"):
            resolution = clock.measures.get("resolution")
            if resolution is not None and resolution.done_at and not clock.void:
                resolution.done_at = None  # reopened: resolution time keeps counting from where it stood
            clock.resolved_at = None
            self._resume_all(at)
        elif to == "pending":
            self._bank_all(at)
        elif to in ("resolved", "closed"):
            self._bank_all(at)
            if to == "resolved":
                clock.resolved_at = at
            else:
                clock.resolved_at = None
            self._finish("resolution", event)
        elif to == "spam":
            self._bank_all(at)
            clock.void, clock.resolved_at = True, None

    def _on_message_received(self, event: TicketEvent) -> None:
        clock = self.clock
        if event.data.get("automated") or clock.void or clock.status in ("closed", "spam"):
            return
        first = clock.measures.get("first_response")
        if first is not None and not first.done_at:
            return  # the first answer also answers this
        current = clock.measures.get("next_response")
        if current is not None and not current.done_at:
            return  # already waiting: the clock runs from the oldest unanswered message
        waiting = clock.status in ("new", "open")
        clock.measures["next_response"] = Measure(
            metric="next_response", cycle=current.cycle + 1 if current else 1, started_at=event.at,
            since=event.at if waiting else None)

    def _on_reply_sent(self, event: TicketEvent) -> None:
        for metric in ("first_response", "next_response"):
            measure = self.clock.measures.get(metric)
            if measure is not None and not measure.done_at:
                self._bank(measure, event.at)
                self._finish(metric, event)

    def _on_merged(self, event: TicketEvent) -> None:
        self._bank_all(event.at)
        self.clock.status, self.clock.void, self.clock.resolved_at = "closed", True, None

    def _on_unmerged(self, event: TicketEvent) -> None:
        # Taken back out of a merge: the promises the merge banked run again from where they stood.
        self.clock.status, self.clock.void, self.clock.resolved_at = "open", False, None
        self._resume_all(event.at)

    def _on_sla_warning(self, event: TicketEvent) -> None:
        measure = self._measure_of(event)
        if measure is not None:
            measure.warned = True

    def _on_sla_breached(self, event: TicketEvent) -> None:
        measure = self._measure_of(event)
        if measure is not None:
            measure.warned = measure.breached = True

    # ---- arithmetic --------------------------------------------------------------------------
    def _measure_of(self, event: TicketEvent) -> Measure | None:
        measure = self.clock.measures.get(str(event.data.get("metric")))
        if measure is None or measure.cycle != int(event.data.get("cycle", 0)):
            return None
        return measure

    def _bank(self, measure: Measure, at: str) -> None:
        calendar = self.calendar()
        if measure.since is not None and calendar is not None:
            seconds = calendar.business_minutes_between(parse_iso(measure.since), parse_iso(at)) * 60
            measure.elapsed += round(seconds)
        measure.since = None

    def _bank_all(self, at: str) -> None:
        for measure in self.clock.measures.values():
            if measure.running:
                self._bank(measure, at)

    def _resume_all(self, at: str) -> None:
        if self.clock.void or self.clock.status not in ("new", "open"):
            return
        for measure in self.clock.measures.values():
            if measure.done_at is None and measure.since is None:
                measure.since = at

    def _finish(self, metric: str, event: TicketEvent) -> None:
        clock = self.clock
        measure = clock.measures.get(metric)
        if measure is None or measure.done_at is not None:
            return
        measure.done_at, measure.since = event.at, None
        calendar, terms = self.calendar(), clock.terms
        if clock.void or calendar is None or terms is None:
            return
        target = terms.target(metric)
        day = parse_iso(event.at).astimezone(ZoneInfo(terms.calendar.time_zone)).date().isoformat()
        fact = SlaFact(
            ticket_id=event.ticket_id, metric=metric, cycle=measure.cycle, day=day, queue=clock.queue,
            priority=clock.priority, agent=event.actor, started_at=measure.started_at, completed_at=event.at,
            business_seconds=measure.elapsed, target_minutes=target,
            attained=None if target is None else measure.elapsed <= target * 60,
            within_business_day=measure.elapsed <= calendar.day_minutes() * 60,
            policy_id=terms.policy_id, replaces=measure.filed,
        )
        measure.filed = fact.filed
        self.facts.append(fact)

    def _schedule(self) -> None:
        """Derives due and warning times of running measures from what they have banked."""
        calendar, terms = self.calendar(), self.clock.terms
        for measure in self.clock.measures.values():
            measure.target = terms.target(measure.metric) if terms else None
            measure.due_at = measure.warn_at = None
            if not measure.running or calendar is None or terms is None or measure.target is None:
                continue
            since = parse_iso(measure.since or measure.started_at)
            measure.due_at = iso(_after(calendar, since, measure.target * 60 - measure.elapsed))
            threshold = terms.warn_threshold_seconds(measure.metric)
            if threshold is not None:
                measure.warn_at = iso(_after(calendar, since, threshold - measure.elapsed))


def _after(calendar: BusinessCalendar, since: datetime, seconds: float) -> datetime:
    # Time already used up (re-targeted or late) is due at once: "now" is the earliest a sweep can act.
    return calendar.add_business_minutes(since, max(0.0, seconds) / 60)


# ---- what the sweep does ------------------------------------------------------------------------
@dataclass(frozen=True)
class Due:
    """A warning or breach the sweep owes one measure of a ticket."""

    kind: str  # "warning" | "breach"
    metric: str
    cycle: int
    due_at: str


def due_now(clock: SlaClock, now: datetime, warn_until: datetime | None = None) -> tuple[list[Due], bool]:
    """Warnings and breaches due at `now`, and whether an auto-close is. A measure already past its
    due time gets its breach only: a warning after the fact would tell nobody anything. Warnings
    falling due by `warn_until` count as due (the sweep sends them ahead rather than late); breaches
    and closes never come before their time."""
    stamp = iso(now)
    warn_stamp = max(stamp, iso(warn_until)) if warn_until is not None else stamp
    found = []
    for measure in clock.measures.values():
        if not measure.running or measure.breached or not measure.due_at:
            continue
        if measure.due_at <= stamp:
            found.append(Due("breach", measure.metric, measure.cycle, measure.due_at))
        elif _warning_pending(measure) and measure.warn_at and measure.warn_at <= warn_stamp:
            found.append(Due("warning", measure.metric, measure.cycle, measure.due_at))
    close_at = clock.auto_close_at()
    return found, bool(close_at and close_at <= stamp)


# What each event type does to the clock; None: it leaves the clock as it is. Exhaustive by construction.
_CLOCK_RULES: dict[EventType, Callable[[_Fold, TicketEvent], None] | None] = {
    EventType.CREATED: _Fold._on_created,
    EventType.SLA_APPLIED: _Fold._on_sla_applied,
    EventType.PRIORITY_CHANGED: _Fold._on_priority_changed,
    EventType.QUEUE_CHANGED: _Fold._on_queue_changed,
    EventType.STATUS_CHANGED: _Fold._on_status_changed,
    EventType.MESSAGE_RECEIVED: _Fold._on_message_received,
    EventType.REPLY_SENT: _Fold._on_reply_sent,
    EventType.MERGED: _Fold._on_merged,
    EventType.UNMERGED: _Fold._on_unmerged,
    EventType.SLA_WARNING: _Fold._on_sla_warning,
    EventType.SLA_BREACHED: _Fold._on_sla_breached,
    EventType.BOUNCE_RECEIVED: None,
    EventType.ACKNOWLEDGED: None,  # an acknowledgement is not an answer
    EventType.NOTE_ADDED: None,
    EventType.ASSIGNEE_CHANGED: None,
    EventType.TAGS_CHANGED: None,
    EventType.CUSTOMER_CHANGED: None,
    EventType.MERGED_FROM: None,
    EventType.UNMERGED_FROM: None,
    EventType.SLA_NOTICE_FAILED: None,
}
_unruled = set(EventType) - set(_CLOCK_RULES)
if _unruled:  # pragma: no cover - a developer's mistake, caught by every test run
    raise RuntimeError(f"the SLA clock has no rule for event types {sorted(_unruled)}")
