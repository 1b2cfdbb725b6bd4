"""Sending exactly once under twin deliveries: claim the send, send only as its claimant, and let go of the
claim only when the message surely did not go. Used by acknowledgements and SMS keyword answers."""
from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from chalicelib.domain.errors import DomainError, OutcomeUnknown, Unavailable
from chalicelib.domain.ids import iso, new_id
from chalicelib.ports import SendClaim
from chalicelib.services.inbound.message import InboundDeps
from chalicelib.services.retry import deadline_or_default

T = TypeVar("T")

# A claim outlives its claimant's deadline by this much: Lambda stops the claimant by then, so a claim still
# "sending" after it belongs to a sender that died, and a retry may send.
LEASE_MARGIN = timedelta(seconds=30)


def new_claim(key: str, deps: InboundDeps) -> SendClaim:
    """A claim to write together with what makes the send due (a new ticket's create transaction)."""
    deadline = deadline_or_default(deps.deadline, deps.clock)
    return SendClaim(key=key, owner=new_id(), lease_until=iso(deadline + LEASE_MARGIN))


def take(key: str, deps: InboundDeps, held: SendClaim | None = None) -> tuple[SendClaim, bool]:
    """The send's claim, and whether this attempt holds it (`held`: a claim the caller already wrote). A
    claim someone else holds is live (leave it) or `sent` (record it, never send again)."""
    if held is not None:
        return held, True
    owner = new_id()
    deadline = deadline_or_default(deps.deadline, deps.clock)
    claim = deps.repository.claim_send(key, owner, deadline + LEASE_MARGIN)
    return claim, claim.held_by(owner)


def send_claimed(claim: SendClaim, send: Callable[[], T], deps: InboundDeps) -> T:
    """Runs the provider call of a held claim. A refusal (Unavailable) and an answer that never came
    (OutcomeUnknown: it may have gone) keep the claim; any other failure releases it, so Lambda's retry
    may claim and send at once."""
    try:
        return send()
    except (Unavailable, OutcomeUnknown):
        raise
    except Exception:
        try:
            deps.repository.release_send(claim)
        except DomainError:
            pass  # the lease runs out on its own
        raise
