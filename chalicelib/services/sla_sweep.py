"""Use case: the SLA sweep (every minute): warnings, breaches with escalation, auto-closes, each exactly once."""
from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from chalicelib.config import Settings
from chalicelib.domain.errors import Rejected, VersionConflict
from chalicelib.domain.ids import iso, new_id, parse_iso
from chalicelib.domain.sla_clock import Due, SlaClock, due_now
from chalicelib.domain.sla_config import ON_DUTY, SlaTerms
from chalicelib.domain.tickets import EventType, Ticket, TicketEvent, TicketStatus
from chalicelib.domain.workflow import PRIORITIES
from chalicelib.ports import AlertPublisher, Clock, DueEntry, MailSender, SlaRepository, TicketChange, TicketRepository
from chalicelib.services import sla_notices
from chalicelib.services.retry import retry_on_conflict
from chalicelib.services.sla_rules import SlaRules, SlaSetup, restamp

NOTICE_LEASE = timedelta(minutes=5)
MAX_NOTICE_ATTEMPTS = 5
PAGE = 25  # tickets read per BatchGetItem (at most 100) and handed to a worker at once
INTERVAL = timedelta(minutes=1)  # app.py schedules the sweep at Rate(1, MINUTES)
PLAN_AHEAD = timedelta(minutes=60)  # how far ahead a run reads the index to size its share of the work
WORKERS = 8  # tickets handled at once: the work is AWS round trips, so threads overlap them
MARGIN_SECONDS = 10.0  # a run claims no new ticket with less than this left: one ticket must finish
_KEYS_PAGE = 1000  # index entries per Query (keys only, ~100 bytes each: well inside DynamoDB's 1 MB page)
_KEYS_PER_SHARD = 20_000  # what one run reads of a shard at most to plan (~2 MB): beyond, plan with what was read
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


@dataclass(frozen=True)
class Budget:
    """How long a run may work: Lambda's remaining time less a reserve, on a monotonic clock (tests and
    the backlog benchmark pass a simulated one, so the deadline bites there as it does in Lambda)."""

    seconds: float
    monotonic: Callable[[], float] = time.monotonic
    started: float = 0.0

    @classmethod
    def starting_now(cls, seconds: float, monotonic: Callable[[], float] = time.monotonic) -> Budget:
        return cls(seconds, monotonic, monotonic())

    def left(self) -> float:
        return self.seconds - (self.monotonic() - self.started)

    def may_claim(self) -> bool:
        """Whether a new ticket may be started: MARGIN_SECONDS must be left for it (a quarter of the
        budget when that is shorter, as with chalice's 3-second local context)."""
        return self.left() >= min(MARGIN_SECONDS, self.seconds / 4)


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
    backlog: bool = False  # more was owed to this run than it did (its cap or its time ran out)
    planned: int = 0  # index entries this run took on: what was due plus its share of what is coming
    early_warnings: int = 0  # warnings sent before their time, so that none is late (a burst ahead)
    not_yet: int = 0  # tickets read ahead whose action (a breach, a close) may not happen before its time

    def add(self, other: SweepOutcome) -> None:
        for name in ("examined", "warnings", "breaches", "escalations", "auto_closed", "notices_sent",
                     "notices_failed", "conflicts", "early_warnings", "not_yet"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.failed += other.failed
        self.lag_seconds = max(self.lag_seconds, other.lag_seconds)
        self.backlog = self.backlog or other.backlog


@dataclass
class _Claim:
    change: TicketChange
    notices: list[dict[str, Any]] = field(default_factory=list)
    warnings: int = 0
    breaches: int = 0
    escalated: bool = False
    closed: bool = False


def share_of_work(times: Sequence[datetime], now: datetime, capacity: int) -> int:
    """How many of the soonest entries (`times`, sorted) this run must take so that, if every later run
    (one per INTERVAL) does `capacity`, none is late. An entry at t must be handled by a run that starts
    at least one INTERVAL before t (a run may take that long), so it belongs to run
    floor((t - now - INTERVAL) / INTERVAL), or to this one when that is <= 0; this run takes the largest
    excess over what the runs before an entry's own could do. With no burst ahead that is exactly what
    falls due before the run after next; with a burst it starts on it early enough."""
    need, step = 0, INTERVAL.total_seconds()
    for n, at in enumerate(times, 1):
        run = max(0, math.floor(((at - now) - INTERVAL).total_seconds() / step))
        need = max(need, n - run * capacity)
    return need


def sweep_sla(deps: SweepDeps, *, max_tickets: int | None = None, page: int = PAGE,
              budget: Budget | None = None, workers: int = WORKERS) -> SweepOutcome:
    """One run. Reads the sparse SLA index (every shard, keys only) up to PLAN_AHEAD, takes what is due
    now plus its share of what is coming (`share_of_work`, at most `max_tickets`), reads those tickets
    with BatchGetItem and handles them on `workers` threads, soonest first: a warning may go out ahead
    of its time (never late because of the schedule or a burst); a breach or an auto-close never before
    its time. With a `budget`, no new ticket is claimed in the last MARGIN_SECONDS; a ticket in hand is
    finished. What a run leaves stays in the index: the next run continues it.

    Exactly once, even when runs overlap or are retried: warnings and breaches are marked on the clock
    (per measure and cycle) in the same conditional write as their events and escalation; the loser of
    a race fails its condition, re-reads, finds the mark and does nothing. The claim leases its notice
    (5 minutes): only the claimant sends it; a notice whose sender died before recording it is sent by a
    later run when the lease ends (the one window, between sending and recording, for a repeat)."""
    now = deps.clock.now()
    limit = max_tickets or deps.settings.sla.sweep_max_tickets
    horizon = iso(now + PLAN_AHEAD)
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="sla-sweep") as pool:
        reads = list(pool.map(lambda shard: _entries(deps.sla, shard, horizon), deps.sla.due_shards()))
        entries = sorted((e for shard in reads for e in shard[0]), key=lambda e: (e.at, e.ticket_id))
        moments = _moments(entries)
        owed = share_of_work(moments, now, limit)
        share = min(owed, limit)
        # The index does not say what an entry is: a breach or a close read ahead of its time is left
        # (not_yet) and the next entry takes its place, reading at most twice the share.
        queue = _WorkQueue(entries, moments, want=share, size=max(1, min(page, 100)))
        rules = SlaRules(deps.setup, deps.settings)  # one configuration read per run, shared by the workers
        runs = [pool.submit(_work, _Sweep(deps, now, rules), queue, budget) for _ in range(max(1, workers))]
        outcome = SweepOutcome(planned=share)
        for run in runs:
            outcome.add(run.result())
    # Backlog: the budget stopped a worker, more was owed to this run than its cap, or a shard held more
    # than one run reads (a breach read ahead and left is not backlog: its time has not come).
    outcome.backlog = (outcome.backlog or owed > limit
                       or any(truncated for _, truncated in reads))
    return outcome


class _WorkQueue:
    """The run's entries, handed to workers a chunk at a time, soonest first, until `want` tickets were
    acted on (or are in hand) or twice `want` were read."""

    def __init__(self, entries: Sequence[DueEntry], moments: Sequence[datetime], want: int, size: int) -> None:
        self._entries, self._moments = entries, moments
        self._want, self._size = want, size
        self._read_cap = min(len(entries), 2 * want)
        self._next = self._in_hand = 0
        self.acted = 0
        self._lock = threading.Lock()

    def take(self) -> list[tuple[DueEntry, datetime]]:
        with self._lock:
            room = min(self._size, self._want - self.acted - self._in_hand, self._read_cap - self._next)
            if room <= 0:
                return []
            chunk = list(zip(self._entries[self._next:self._next + room],
                             self._moments[self._next:self._next + room], strict=True))
            self._next += room
            self._in_hand += room
            return chunk

    def done(self, taken: int, acted: int) -> None:
        with self._lock:
            self._in_hand -= taken
            self.acted += acted


def _moments(entries: Sequence[DueEntry]) -> list[datetime]:
    parsed: dict[str, datetime] = {}  # a burst shares a handful of distinct times: parse each once
    return [parsed.get(e.at) or parsed.setdefault(e.at, parse_iso(e.at)) for e in entries]


def _entries(sla: SlaRepository, shard: int, before: str) -> tuple[list[DueEntry], bool]:
    """One shard's entries up to `before`, soonest first; True when more were there than one run reads."""
    found: list[DueEntry] = []
    cursor = None
    while len(found) < _KEYS_PER_SHARD:
        page = sla.due_entries(shard, before, min(_KEYS_PAGE, _KEYS_PER_SHARD - len(found)), cursor)
        found += page.entries
        cursor = page.cursor
        if cursor is None or not page.entries:
            return found, False
    return found, True


def _work(sweep: _Sweep, queue: _WorkQueue, budget: Budget | None) -> SweepOutcome:
    """One worker: a chunk at a time, one BatchGetItem each, then each ticket in time order until the
    budget says stop (a ticket in hand is finished)."""
    while chunk := queue.take():
        if budget is not None and not budget.may_claim():
            queue.done(len(chunk), 0)
            sweep.outcome.backlog = True
            break
        at = {entry.ticket_id: moment for entry, moment in chunk}
        before = sweep.outcome.examined
        stopped = False
        for ticket in sweep.deps.sla.tickets(list(at)):
            if budget is not None and not budget.may_claim():
                stopped = sweep.outcome.backlog = True
                break
            sweep.handle_safely(ticket, at[ticket.id])
        queue.done(len(chunk), sweep.outcome.examined - before + (len(chunk) if stopped else 0))
        if stopped:
            break
    return sweep.outcome


class _Sweep:
    def __init__(self, deps: SweepDeps, now: datetime, rules: SlaRules) -> None:
        self.deps = deps
        self.now = self.warn_until = now
        self.stamp = iso(self.now)
        self.rules = rules
        self.outcome = SweepOutcome()

    def handle_safely(self, ticket: Ticket, entry_at: datetime | None = None) -> None:
        """One ticket that cannot be handled (a bug, a dependency down) must not hold up the others;
        it stays due and is tried again next run. Its warnings falling due by `entry_at` (the time it
        was taken on for) go out now."""
        self.warn_until = max(self.now, entry_at or self.now)
        try:
            self.handle(ticket)
        except Exception:
            self.outcome.failed.append(ticket.id)

    def handle(self, ticket: Ticket) -> None:
        # Read ahead of its time (the run's share of a burst, or the look-ahead): it counts as examined
        # only if something was done; a breach or a close waits for its time (a later run).
        ahead = ticket.sla_action_at is not None and ticket.sla_action_at > self.stamp
        if not ahead:
            self.outcome.examined += 1
        if ticket.sla_action_at and not ahead:
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
            self.outcome.examined += int(ahead)
            return
        if claimed is None:
            self.outcome.not_yet += int(ahead)
            return
        claim, stored = claimed
        if ahead:
            self.outcome.examined += 1
            self.outcome.early_warnings += claim.warnings
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
        dues, close = due_now(clock, self.now, self.warn_until)
        expired = [n for n in ticket.sla_notices if str(n.get("lease_until", "")) <= self.stamp]
        if not dues and not close and not expired:
            if ticket.sla_action_at and ticket.sla_action_at <= self.stamp:
                # Its key says "due" but nothing is (e.g. computed by an older rule): move it on.
                return _Claim(TicketChange(ticket=restamp(ticket)))
            if ticket.sla_wake_at and ticket.sla_action_at and ticket.sla_wake_at < ticket.sla_action_at:
                # An entry a change left early on purpose (sla_rules._stamped): its real time, once.
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
