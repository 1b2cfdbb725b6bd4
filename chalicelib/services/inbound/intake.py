"""Intake: what is kept of every delivery whatever becomes of it — the delivery record, quarantine with
a reason, and the bounded retries of a decision that met a concurrent writer."""
from __future__ import annotations

from collections.abc import Callable

from chalicelib.domain.errors import AlreadyExists, TransactionConflict, TransientFailure, VersionConflict
from chalicelib.domain.ids import iso
from chalicelib.domain.privacy import pseudonym
from chalicelib.ports import InboundRecord, QuarantineRecord
from chalicelib.services.inbound.message import InboundDeps, InboundOutcome
from chalicelib.services.retry import retry_on_conflict

DECISION_ATTEMPTS = 4


def with_retries(attempt: Callable[[], InboundOutcome], what: str) -> InboundOutcome:
    """Runs one decide-and-write attempt again when something changed between its read and its write
    (a twin delivery, an agent), or a concurrent transaction held an item it wrote (DynamoDB's
    TransactionConflict: nothing was written): every attempt reads afresh, so the last one decides on what
    is there. The pauses between attempts are jittered, so writers that met do not meet again in step."""
    return retry_on_conflict(
        lambda _: attempt(), attempts=DECISION_ATTEMPTS,
        retry_on=(VersionConflict, AlreadyExists, TransactionConflict),
        exhausted=lambda: TransientFailure(f"the ticket kept changing while {what} was being stored"))


def record_outcome(source: tuple[str, str], state: str, reason: str, deps: InboundDeps,
                   ticket_id: str | None = None) -> InboundOutcome:
    """A delivery that ends without a ticket message (dropped, duplicate, answered keyword)."""
    deps.repository.record_inbound(InboundRecord(*source, state=state, ticket_id=ticket_id, reason=reason),
                                   iso(deps.clock.now()))
    return InboundOutcome(state, ticket_id, reason=reason)


def quarantine_payload(payload: str, reason: str, *, source: str, folder: str, deps: InboundDeps,
                       outcome_reason: str | None = None) -> InboundOutcome:
    """A notification we cannot even read: its text is kept for an admin, and the handler returns normally
    (an exception would only make Lambda deliver the same unreadable text again)."""
    digest = pseudonym(payload) + pseudonym(payload[::-1])
    location = deps.blobs.put(f"quarantine/{folder}/{digest}.json", payload.encode("utf-8", "surrogateescape"),
                              "application/json")
    deps.repository.quarantine(QuarantineRecord(id=digest, at=iso(deps.clock.now()), source=source,
                                                reason=reason, raw_location=location))
    return InboundOutcome("quarantined", reason=outcome_reason or reason)


def quarantine_delivery(source: tuple[str, str], reason: str, raw_location: str, deps: InboundDeps,
                        sender: str = "") -> InboundOutcome:
    """A delivery that will not become a ticket message; its raw content stays where it is."""
    now = iso(deps.clock.now())
    deps.repository.quarantine(QuarantineRecord(id=pseudonym(source[1]), at=now, source=source[0], reason=reason,
                                                raw_location=raw_location,
                                                sender_hash=pseudonym(sender) if sender else ""))
    deps.repository.record_inbound(InboundRecord(*source, state="quarantined", reason=reason), now)
    return InboundOutcome("quarantined", reason=reason)
