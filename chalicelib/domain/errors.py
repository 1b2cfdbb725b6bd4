"""Domain errors: what can go wrong in ShopDesk's own terms, mapped to HTTP or retries at the edges."""
from __future__ import annotations


class DomainError(Exception):
    """Base of every error ShopDesk raises on purpose."""


class NotFound(DomainError):
    """The thing asked for does not exist."""


class VersionConflict(DomainError):
    """An update was based on a stale version; the caller must re-read and decide again.
    `current` carries the current state when the caller should be shown it."""

    def __init__(self, message: str, current: object | None = None) -> None:
        super().__init__(message)
        self.current = current


class Forbidden(DomainError):
    """The principal's role does not allow this."""


class RateLimited(DomainError):
    """Too many requests from one source; try later."""


class Unavailable(DomainError):
    """The operation cannot be carried out on this ticket or channel (e.g. opted out, undeliverable)."""


class AlreadyExists(DomainError):
    """A write that must be the first of its kind found one already there."""


class InvalidInput(DomainError):
    """Input from outside is malformed; `field` names the culprit when there is one."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class TransientFailure(DomainError):
    """A dependency failed in a way a retry may cure; handlers let it propagate so Lambda retries."""


class TransactionConflict(TransientFailure):
    """Another transaction held an item this write touched (DynamoDB's TransactionConflict): nothing was
    written. Trying again after a short random pause usually succeeds; if it keeps happening, Lambda retries."""


class Throttled(TransientFailure):
    """A provider refused the request for now because we sent too fast (SES's send rate, SNS's TPS): a
    later try succeeds. What can wait (an acknowledgement) waits in a queue instead of failing its caller."""


class Rejected(Unavailable):
    """A provider refused this message or recipient for good (SES `MessageRejected`, an address on the
    suppression list, a number that opted out at SNS): no retry changes the answer. `recipient` says whom
    it concerned, when one recipient was refused."""

    def __init__(self, message: str, recipient: str | None = None) -> None:
        super().__init__(message)
        self.recipient = recipient


class ServiceUnavailable(DomainError):
    """An AWS dependency cannot be used (access denied, a table or bucket missing, sending paused for the
    account): no quick retry cures it, an operator must. The API answers 503; handlers let it propagate."""


class OutcomeUnknown(TransientFailure):
    """The request reached the provider but its answer never came (a read timeout): it may have been carried
    out. A sender must not assume "not sent" (that is how customers get a mail twice)."""
