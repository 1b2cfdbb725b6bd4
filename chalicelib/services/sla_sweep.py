"""Use case: the SLA sweep (every minute): warnings, breaches with escalation, auto-closes, each exactly once."""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from chalicelib.config import Settings
from chalicelib.domain.errors import Rejected, VersionConflict
from chalicelib.domain.ids import iso, new_id, parse_iso
from chalicelib.domain.sla_clock import Due, SlaClock, due_now
from chalicelib.domain.sla_config import ON_DUTY, SlaTerms
from chalicelib.domain.tickets import EventType, Ticket, TicketEvent, TicketStatus
from chalicelib.domain.workflow import PRIORITIES
from chalicelib.ports import AlertPublisher, Clock, MailSender, SlaRepository, TicketChange, TicketRepository
from chalicelib.services import sla_notices
from chalicelib.services.retry import retry_on_conflict
from chalicelib.services.sla_rules import SlaRules, SlaSetup, restamp

NOTICE_LEASE = timedelta(minutes=5)
MAX_NOTICE_ATTEMPTS = 5
PAGE = 25
_CLAIM_ATTEMPTS = 3
_RECORD_ATTEMPTS = 4


@dataclass
class SweepDeps:
    repository: TicketRepository
    sla: SlaRepository
    setup: SlaSetup
    mail: MailSender
    alerts: AlertPublisher
    clock: Clock
    settings: Settings


@dataclass
class SweepOutcome:
    """What one run did; logged and turned into metrics by the handler (no personal data)."""

    examined: int = 0
    warnings: int = 0
    breaches: int = 0
    escalations: int = 0
    auto_closed: int = 0
    notices_sent: int = 0
    notices_failed: int = 0
    conflicts: int = 0
    failed: list[str] = field(default_factory=list)  # ids of tickets whose handling raised (retried next run)
    lag_seconds: float = 0.0  # how long the oldest action handled had been due
    backlog: bool = False  # more was due than one run may do (or its time ran out)


@dataclass
class _Claim:
    change: TicketChange
    notices: list[dict[str, Any]] = field(default_factory=list)
    warnings: int = 0
    breaches: int = 0
    escalated: bool = False
    closed: bool = False


def sweep_sla(deps: SweepDeps, *, max_tickets: int | None = None, page: int = PAGE,
              seconds: float | None = None) -> SweepOutcome:
    """One run: Query the sparse SLA index up to now for tickets owed an action (warning, breach with
    escalation, auto-close, a notice to retry), claim each with a write conditional on the ticket's
    version, then send what was claimed. At most `max_tickets` (and about `seconds`) per run, soonest
    first; every handled ticket's index entry moves past now, so the next run continues the backlog.

    Exactly once, even when runs overlap or are retried: warnings and breaches are marked on the clock
    (per measure and cycle) in the same conditional write as their events and escalation; the loser of
    a race fails its condition, re-reads, finds the mark and does nothing. The claim leases its notice
    (5 minutes): only the claimant sends it; a notice whose sender died before recording it is sent by a
    later run when the lease ends (the one window, between sending and recording, for a repeat)."""
    sweep = _Sweep(deps)
    limit = max_tickets or deps.settings.sla.sweep_max_tickets
    deadline = None if seconds is None else time.monotonic() + seconds
    cursor = None
    while sweep.outcome.examined < limit:
        batch = deps.sla.due_tickets(iso(sweep.now), min(page, limit - sweep.outcome.examined), cursor)
        for ticket in batch.tickets:
            if deadline is not None and time.monotonic() > deadline:
                sweep.outcome.backlog = True
                return sweep.outcome
            sweep.handle_safely(ticket)
        cursor = batch.cursor
        if cursor is None or not batch.tickets:
            break
    sweep.outcome.backlog = cursor is not None
    return sweep.outcome


class _Sweep:
    def __init__(self, deps: SweepDeps) -> None:
        self.deps = deps
        self.now = deps.clock.now()
        self.stamp = iso(self.now)
        self.rules = SlaRules(deps.setup, deps.settings)
        self.outcome = SweepOutcome()

    def handle_safely(self, ticket: Ticket) -> None:
        """One ticket that cannot be handled (a bug, a dependency down) must not hold up the others;
        it stays due and is tried again next run."""
        try:
            self.handle(ticket)
        except Exception:
            self.outcome.failed.append(ticket.id)

    def handle(self, ticket: Ticket) -> None:
        self.outcome.examined += 1
        if ticket.sla_action_at:
            late = (self.now - parse_iso(ticket.sla_action_at)).total_seconds()
            self.outcome.lag_seconds = max(self.outcome.lag_seconds, late)
        def claim_once(attempt: int) -> tuple[_Claim, Ticket] | None:
            # On a retry someone (an agent, another sweep) wrote first: decide again on what is there now.
            current = ticket if attempt == 0 else self.deps.repository.get_ticket(ticket.id)
            claim = self._claim(current) if current is not None else None
            return None if claim is None else (claim, self.deps.repository.apply(claim.change))

        try:
            claimed = retry_on_conflict(claim_once, attempts=_CLAIM_ATTEMPTS,
                                        exhausted=lambda: VersionConflict("the ticket kept changing"))
        except VersionConflict:
            self.outcome.conflicts += 1
            return
        if claimed is None:
            return
        claim, stored = claimed
        self.outcome.warnings += claim.warnings
        self.outcome.breaches += claim.breaches
        self.outcome.escalations += int(claim.escalated)
        self.outcome.auto_closed += int(claim.closed)
        if claim.notices:
            self._deliver(stored, claim.notices)

    # ---- deciding and claiming -----------------------------------------------------------------
    def _claim(self, ticket: Ticket) -> _Claim | None:
        if ticket.sla is None:
            return None
        clock = SlaClock.from_dict(ticket.sla)
        dues, close = due_now(clock, self.now)
        expired = [n for n in ticket.sla_notices if str(n.get("lease_until", "")) <= self.stamp]
        if not dues and not close and not expired:
            if ticket.sla_action_at and ticket.sla_action_at <= self.stamp:
                # Its key says "due" but nothing is (e.g. computed by an older rule): move it on.
                return _Claim(TicketChange(ticket=restamp(ticket)))
            return None
        changed = replace(ticket, updated_at=self.stamp,
                          sla_notices=[n for n in ticket.sla_notices if n not in expired])
        events: list[TicketEvent] = []
        claim = _Claim(TicketChange(ticket=changed))
        for due in dues:
            kind = EventType.SLA_WARNING if due.kind == "warning" else EventType.SLA_BREACHED
            events.append(self._event(ticket, kind,
                                      metric=due.metric, cycle=due.cycle, due_at=due.due_at,
                                      policy=clock.terms.policy_id if clock.terms else None))
            claim.notices.append(self._notice(due.kind, due))
            if due.kind == "warning":
                claim.warnings += 1
            else:
                claim.breaches += 1
        if claim.breaches and clock.terms is not None:
            escalation = self._escalate(changed, clock.terms)
            events += escalation
            claim.escalated = True
        if close:
            events.append(self._event(ticket, EventType.STATUS_CHANGED, **{"from": ticket.status.value},
                                      to=TicketStatus.CLOSED.value, reason="no reply after the quiet period"))
            changed.status, changed.closed_at = TicketStatus.CLOSED, self.stamp
            claim.closed = True
            if ticket.customer_email:
                claim.notices.append(self._notice("closed"))
        for notice in expired:
            if int(notice.get("attempts", 1)) >= MAX_NOTICE_ATTEMPTS:
                events.append(self._event(ticket, EventType.SLA_NOTICE_FAILED, notice=notice.get("kind")))
                self.outcome.notices_failed += 1
            else:
                claim.notices.append({**notice, "attempts": int(notice.get("attempts", 1)) + 1,
                                      "lease_until": iso(self.now + NOTICE_LEASE)})
        changed.sla_notices = [*changed.sla_notices, *claim.notices]
        stamp = self.rules.advance(changed, events, self.now)
        claim.change = TicketChange(ticket=stamp.ticket, events=stamp.events, sla_facts=stamp.facts)
        return claim

    def _notice(self, kind: str, due: Due | None = None) -> dict[str, Any]:
        notice: dict[str, Any] = {"id": new_id(), "kind": kind, "attempts": 1,
                                  "lease_until": iso(self.now + NOTICE_LEASE)}
        if due is not None:
            notice.update(metric=due.metric, cycle=due.cycle, due_at=due.due_at)
        return notice

    def _event(self, ticket: Ticket, event_type: EventType, **data: Any) -> TicketEvent:
        return TicketEvent(id=new_id(), ticket_id=ticket.id, at=self.stamp, type=event_type, actor="system",
                           data={k: v for k, v in data.items() if v is not None})

    def _escalate(self, ticket: Ticket, terms: SlaTerms) -> list[TicketEvent]:
        """The policy's escalation, on `ticket` in place. It does not re-match policies: an escalation
        that tightened the promise would breach it again at once."""
        rule, events = terms.escalation, []
        if rule.raise_priority and ticket.priority in PRIORITIES and ticket.priority != PRIORITIES[-1]:
            raised = PRIORITIES[PRIORITIES.index(ticket.priority) + 1]
            events.append(self._event(ticket, EventType.PRIORITY_CHANGED, **{"from": ticket.priority}, to=raised,
                                      reason="sla breach"))
            ticket.priority = raised
        if rule.queue and rule.queue != ticket.queue:
            events.append(self._event(ticket, EventType.QUEUE_CHANGED, **{"from": ticket.queue}, to=rule.queue,
                                      reason="sla breach"))
            ticket.queue = rule.queue
        assignee = self.deps.settings.sla.manager_on_duty if rule.assignee == ON_DUTY else rule.assignee
        if assignee and assignee != ticket.assignee:
            events.append(self._event(ticket, EventType.ASSIGNEE_CHANGED, **{"from": ticket.assignee}, to=assignee,
                                      reason="sla breach"))
            ticket.assignee = assignee
        return events

    # ---- sending and recording -----------------------------------------------------------------
    def _deliver(self, ticket: Ticket, notices: list[dict[str, Any]]) -> None:
        sent: list[str] = []
        delivered = sla_notices.Delivered()
        for notice in notices:
            try:
                result = self._send(ticket, notice)
            except Rejected:  # refused for good (the address rejects mail): drop it, say so on the ticket
                self.outcome.notices_failed += 1
                sent.append(str(notice["id"]))
                delivered.events.append(self._event(ticket, EventType.SLA_NOTICE_FAILED, notice=notice.get("kind"),
                                                    reason="rejected by the mail provider"))
                continue
            except Exception:  # one failed notice must not stop the sweep; its lease retries it later
                self.outcome.notices_failed += 1
                continue
            sent.append(str(notice["id"]))
            delivered.messages += result.messages
            delivered.claims += result.claims
            self.outcome.notices_sent += 1
        if sent:
            self._record(ticket, sent, delivered)

    def _send(self, ticket: Ticket, notice: dict[str, Any]) -> sla_notices.Delivered:
        deps, kind = self.deps, notice["kind"]
        if kind == "warning":
            return sla_notices.send_warning(ticket, notice, self.now, deps.settings, deps.mail)
        if kind == "breach":
            return sla_notices.publish_breach(ticket, notice, self.now, deps.alerts)
        identity = deps.repository.get_identity("email", ticket.customer_email or "")
        if identity is not None and identity.undeliverable:
            return sla_notices.Delivered()
        terms = SlaClock.from_dict(ticket.sla or {}).terms
        quiet_days = terms.auto_close_days if terms else deps.settings.sla.auto_close_days
        return sla_notices.send_closed_notice(ticket, notice, self.now, quiet_days, deps.settings, deps.mail)

    def _record(self, ticket: Ticket, sent: list[str], delivered: sla_notices.Delivered) -> None:
        """Drops the sent notices from the ticket (and threads a customer notice), re-reading on a
        concurrent change: the mail is out, so this must land."""
        def record(attempt: int) -> None:
            current = ticket if attempt == 0 else self.deps.repository.get_ticket(ticket.id)
            if current is None:
                return
            remaining = [n for n in current.sla_notices if str(n.get("id")) not in sent]
            self.deps.repository.apply(TicketChange(ticket=restamp(replace(current, sla_notices=remaining)),
                                                    messages=delivered.messages, events=delivered.events,
                                                    claim_message_ids=delivered.claims))

        try:
            retry_on_conflict(record, attempts=_RECORD_ATTEMPTS,
                              exhausted=lambda: VersionConflict("the ticket kept changing"))
            return
        except VersionConflict:
            pass
        self.outcome.conflicts += 1  # the lease runs out and a later sweep sends again
