"""The one AWS error boundary: botocore's exceptions become domain errors, decided by error code and
HTTP status (never by message text). Every adapter call to a boto3 client runs inside `translated`."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from chalicelib.domain.errors import (
    DomainError,
    NotFound,
    OutcomeUnknown,
    Rejected,
    ServiceUnavailable,
    Throttled,
    TransactionConflict,
    TransientFailure,
)

# botocore's standard retry mode treats these as throttling (botocore/retries/standard.py), plus the
# spellings SNS and KMS use. A retry later cures them.
THROTTLING_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
    "TooManyRequestsException", "ProvisionedThroughputExceededException", "TransactionInProgressException",
    "RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled", "SlowDown",
    "PriorRequestNotComplete", "EC2ThrottledException", "Throttled", "KMSThrottling",
})
# Outages and timeouts on AWS's side (standard retry mode's transient codes, and the 5xx codes).
TRANSIENT_CODES = frozenset({
    "RequestTimeout", "RequestTimeoutException", "InternalServerError", "InternalError", "InternalFailure",
    "ServiceUnavailable", "ServiceUnavailableException",
})
# A plain write to an item a transaction holds (TransactWriteItems' own conflicts come as cancellation
# reasons, dynamo_store.cancelled_transaction_error): retried at once, with jitter, by the services.
CONFLICT_CODES = frozenset({"TransactionConflictException"})
# A provider refusing this message or recipient for good; no retry changes the answer.
REJECTED_CODES: dict[str, frozenset[str]] = {
    "ses": frozenset({"MessageRejected", "MailFromDomainNotVerifiedException"}),
    "sns": frozenset({"InvalidParameter", "ParameterValueInvalid", "InvalidParameterValue", "OptedOut",
                      "EndpointDisabled"}),
}
# The resource an adapter is configured with is missing (table, bucket, topic): an operator must act.
MISSING_RESOURCE_CODES: dict[str, frozenset[str]] = {
    "dynamodb": frozenset({"ResourceNotFoundException"}),
    "s3": frozenset({"NoSuchBucket"}),
    "sns": frozenset({"NotFound", "NotFoundException"}),
    "ses": frozenset({"ConfigurationSetDoesNotExist"}),
}
# The thing asked for does not exist (an item-level miss).
NOT_FOUND_CODES = frozenset({"NoSuchKey", "NotFound", "404", "ResourceNotFoundException"})


def client_error_code(exc: Any) -> tuple[str, int]:
    """A ClientError's error code and HTTP status (0 when botocore had none)."""
    response = getattr(exc, "response", None) or {}
    code = str(response.get("Error", {}).get("Code", ""))
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return code, status


def domain_error(service: str, operation: str, exc: Exception, *, provider: str | None = None,
                 recipient: str | None = None, explain: bool = False) -> DomainError:
    """The domain error for a botocore exception raised by `service`'s `operation`. For a refusal,
    `provider` is how an agent knows the service ("the mail provider"), `recipient` whom the send
    concerned (kept on `Rejected`, never put into its text: texts end up in logs) and `explain` adds
    the provider's own explanation (SES names the identity it refused; SNS's may quote the number)."""
    from botocore.exceptions import (
        ClientError,
        ConnectionClosedError,
        ConnectionError,
        HTTPClientError,
        IncompleteReadError,
        ReadTimeoutError,
    )

    call = f"{service} {operation}"
    if not isinstance(exc, ClientError):
        if isinstance(exc, ReadTimeoutError | ConnectionClosedError):  # sent, but no answer: maybe carried out
            return OutcomeUnknown(f"{call} did not answer in time ({type(exc).__name__}); it may have been done")
        if isinstance(exc, ConnectionError | HTTPClientError | IncompleteReadError):
            return TransientFailure(f"{call} could not be reached ({type(exc).__name__}); try again")
        # Credentials, parameter validation, configuration: nothing a retry cures.
        return ServiceUnavailable(f"{call} could not be called ({type(exc).__name__})")
    code, status = client_error_code(exc)
    label = code or str(status or "unknown error")
    if code in CONFLICT_CODES:
        return TransactionConflict(f"{call} met a concurrent transaction ({code}); try again")
    if code in THROTTLING_CODES:
        return Throttled(f"{call} was throttled ({label}); try again later")
    if code in TRANSIENT_CODES or status >= 500:
        return TransientFailure(f"{call} failed for now ({label}); try again")
    if code in REJECTED_CODES.get(service, frozenset()):
        detail = str(exc.response.get("Error", {}).get("Message", "")).strip() if explain else ""
        return Rejected(f"{provider or service} refused the message ({code})" + (f": {detail}" if detail else ""),
                        recipient=recipient)
    if code in MISSING_RESOURCE_CODES.get(service, frozenset()):
        return ServiceUnavailable(f"{call}: the configured resource does not exist ({code})")
    if code in NOT_FOUND_CODES or status == 404:
        return NotFound(f"{call}: not found ({label})")
    # Access denied, unknown credentials, sending paused, a request we built wrong (ValidationException):
    # an operator or a fix must act; the caller sees a clear domain error, never a raw ClientError.
    return ServiceUnavailable(f"{call} refused the request ({label})")


@contextmanager
def translated(service: str, operation: str, *, provider: str | None = None, recipient: str | None = None,
               explain: bool = False) -> Iterator[None]:
    """Runs AWS calls; botocore's exceptions leave it as domain errors (`raise … from` the original).
    Anything else (a domain error an adapter raised itself) passes through untouched."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise domain_error(service, operation, exc, provider=provider, recipient=recipient, explain=explain) from exc
