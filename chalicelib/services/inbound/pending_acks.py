"""Draining the pending-acknowledgement queue: acknowledgements the provider throttled at ingest go out
here, oldest arrival first, within the provider's send rate and the invocation's time.

Every minute (app.py `drain_pending_acks`): one read of the queue's oldest entries (a Query per shard of the
sparse index gsi9, merged), a BatchGetItem of their tickets per chunk, then per entry either a paced send
through `acknowledge` (the same claim-before-send and record as ingest: a concurrent drain, a redelivered
mail or Lambda's retry never sends twice), or nothing to send: the ticket no longer waits (its entry goes),
or a person answered first (the ack is withheld and says why). A channel stops at its first throttle; what
is left waits for the next run. The promise is the ticket's own, made at ingest from its arrival; one that
passed while the ack waited is not repeated (acknowledge._compose)."""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta

from chalicelib.domain.errors import TransientFailure, VersionConflict
from chalicelib.domain.ids import iso, parse_iso
from chalicelib.domain.tickets import AckState, Ticket
from chalicelib.ports import InboundRecord, Lookup, PendingAck
from chalicelib.services.inbound.acknowledge import AckJob, AckResult, acknowledge, overtaken
from chalicelib.services.inbound.message import InboundDeps, SmsRoute

MAX_PER_RUN = 1000  # entries one run reads: ~1,000 acks a minute per drain (docs/capacity.md)
TICKET_CHUNK = 25  # tickets read together, just before their sends (fresh enough to see a person's reply)
DEFAULT_SECONDS = 50.0  # without a Lambda context: most of the schedule's minute


@dataclass(frozen=True)
class AckDrainDeps:
    """The inbound ports (the same acknowledgement code as ingest) and how to wait between sends."""

    inbound: InboundDeps
    pause: Callable[[float], None] = time.sleep


@dataclass
class DrainOutcome:
    """One run, counted (never a ticket's data)."""

    examined: int = 0
    sent: int = 0
    withheld: int = 0  # a person answered first, the ticket is done, or the provider refused for good
    stale: int = 0  # the ticket no longer waits for an ack (a twin sent it): the entry went
    elsewhere: int = 0  # another sender holds the send right now (its lease decides)
    failed: int = 0  # a transient failure other than a throttle (the channel stopped for this run)
    throttled: list[str] = field(default_factory=list)  # channels that throttled: they stopped at once
    lag_seconds: float = 0.0  # how long the oldest entry read has waited since its ticket arrived
    full: bool = False  # the read filled its limit: more may wait than this run could see


def drain_pending_acks(deps: AckDrainDeps, *, seconds: float | None = None) -> DrainOutcome:
    """Sends queued acknowledgements for at most `seconds`, each channel paced at its send rate."""
    inbound, settings = deps.inbound, deps.inbound.settings
    clock = inbound.clock
    start = clock.now()
    deadline = start + timedelta(seconds=DEFAULT_SECONDS if seconds is None else seconds)
    inbound = replace(inbound, deadline=deadline)  # a claim's lease ends after this run can still send
    rates = {"email": settings.ses_max_send_rate, "sms": settings.sms_max_send_rate}
    budget = sum(math.floor(rate * (deadline - start).total_seconds()) for rate in rates.values())
    limit = max(1, min(MAX_PER_RUN, budget))
    entries = inbound.repository.pending_acks(before=iso(start), limit=limit)
    outcome = DrainOutcome(full=len(entries) >= limit)
    if entries:
        outcome.lag_seconds = max(0.0, (start - parse_iso(entries[0].arrived_at)).total_seconds())
    attempts = {"email": 0, "sms": 0}
    stopped: set[str] = set()
    for first in range(0, len(entries), TICKET_CHUNK):
        if len(stopped) == len(rates):
            break
        chunk = entries[first:first + TICKET_CHUNK]
        tickets = inbound.repository.lookup(Lookup(ticket_ids=tuple(e.ticket_id for e in chunk))).tickets
        for entry in chunk:
            channel = _channel(entry)
            if channel in stopped:
                continue
            outcome.examined += 1
            ticket = tickets.get(entry.ticket_id)
            if ticket is None or ticket.ack_state is not AckState.PENDING:
                inbound.repository.drop_pending_ack(entry.ticket_id)
                outcome.stale += 1
                continue
            if overtaken(ticket) is not None:  # no claim needed: nothing is sent, and the write is conditional
                outcome.withheld += _withhold(ticket, entry, inbound)
                continue
            # The n-th send of a channel goes no earlier than n / rate after the start; none after the deadline.
            slot = start + timedelta(seconds=attempts[channel] / rates[channel])
            if slot >= deadline:
                stopped.add(channel)
                continue
            wait = (slot - clock.now()).total_seconds()
            if wait > 0:
                deps.pause(wait)
            attempts[channel] += 1
            try:
                result = acknowledge(ticket, AckJob.from_entry(entry), inbound, queued=True)
            except TransientFailure:
                outcome.failed += 1
                stopped.add(channel)
                continue
            if result is AckResult.DEFERRED:
                outcome.throttled.append(channel)
                stopped.add(channel)
            elif result is AckResult.SENT:
                outcome.sent += 1
            elif result is AckResult.WITHHELD:
                outcome.withheld += 1
            else:
                outcome.elsewhere += 1
    return outcome


def _withhold(ticket: Ticket, entry: PendingAck, deps: InboundDeps) -> int:
    """Withholds the ack of a ticket a person answered (or finished) first; 1 when this run recorded it."""
    reason = overtaken(ticket) or ""
    inbound = InboundRecord(entry.source, entry.source_id, state="done", ticket_id=ticket.id)
    try:
        deps.repository.skip_ack(ticket, reason, inbound)
    except VersionConflict:
        return 0  # it changed meanwhile: the next run reads it again
    return 1


def _channel(entry: PendingAck) -> str:
    return "sms" if isinstance(AckJob.from_entry(entry).route, SmsRoute) else "email"
