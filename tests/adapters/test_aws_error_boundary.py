"""Every adapter call answers AWS failures with domain errors: botocore's Stubber plays throttling,
outages, refusals and denied access at each call (offline: the Stubber answers before any network)."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError
from botocore.stub import Stubber

from chalicelib.adapters.aws_errors import domain_error
from chalicelib.adapters.dynamo_store import DynamoItemStore
from chalicelib.adapters.item_store import ConditionFailed, Put
from chalicelib.adapters.s3_blobs import S3BlobStore
from chalicelib.adapters.ses_mail import SesMailSender
from chalicelib.adapters.sns_alerts import SnsAlertPublisher
from chalicelib.adapters.sns_sms import SnsSmsSender
from chalicelib.domain.errors import (
    DomainError,
    InvalidInput,
    NotFound,
    OutcomeUnknown,
    Rejected,
    ServiceUnavailable,
    Throttled,
    TransactionConflict,
    TransientFailure,
)
from chalicelib.ports import OutgoingEmail, OutgoingSms
from tests.conftest import REGION

KEY = {"pk": "TICKET#1", "sk": "TICKET"}
CUSTOMER = "anna@customer.example"


def aws_client(service: str) -> Any:
    """A real boto3 client with the test suite's dummy credentials; only ever stubbed here."""
    return boto3.session.Session().client(service, region_name=REGION)


@contextmanager
def failing(client: Any, method: str, code: str, status: int = 400, message: str = "",
            **modeled: Any) -> Iterator[None]:
    """Given AWS answers the next `method` call with `code`."""
    stubber = Stubber(client)
    stubber.add_client_error(method, service_error_code=code, service_message=message or code,
                             http_status_code=status, modeled_fields=modeled or None)
    with stubber:
        yield
        stubber.assert_no_pending_responses()


@contextmanager
def unreachable(client: Any, event: str, error: Exception) -> Iterator[None]:
    """Given the network fails at `event` (a timeout, a refused connection)."""

    def fail(**_: Any) -> None:
        raise error

    client.meta.events.register(event, fail)
    try:
        yield
    finally:
        client.meta.events.unregister(event, fail)


# ---- the translation table ----------------------------------------------------------------------
def client_error(code: str, status: int = 400, message: str = "") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, "Operation")


@pytest.mark.parametrize(("service", "code", "status", "expected"), [
    ("dynamodb", "ThrottlingException", 400, Throttled),
    ("dynamodb", "ProvisionedThroughputExceededException", 400, Throttled),
    ("dynamodb", "RequestLimitExceeded", 400, Throttled),
    ("dynamodb", "InternalServerError", 500, TransientFailure),
    ("s3", "SlowDown", 503, Throttled),
    ("s3", "ServiceUnavailable", 503, TransientFailure),
    ("s3", "", 502, TransientFailure),  # a bare 5xx from a proxy: no code at all
    ("ses", "Throttling", 400, Throttled),
    ("sns", "Throttled", 400, Throttled),
    ("sns", "TooManyRequestsException", 429, Throttled),
    ("ses", "MessageRejected", 400, Rejected),
    ("ses", "MailFromDomainNotVerifiedException", 400, Rejected),
    ("sns", "InvalidParameter", 400, Rejected),
    ("sns", "ParameterValueInvalid", 400, Rejected),
    ("sns", "OptedOut", 400, Rejected),
    ("ses", "AccountSendingPausedException", 400, ServiceUnavailable),
    ("ses", "ConfigurationSetDoesNotExist", 400, ServiceUnavailable),
    ("s3", "NoSuchKey", 404, NotFound),
    ("s3", "404", 404, NotFound),
    ("s3", "NoSuchBucket", 404, ServiceUnavailable),
    ("dynamodb", "ResourceNotFoundException", 400, ServiceUnavailable),  # DynamoDB: the table is missing
    ("sns", "NotFound", 404, ServiceUnavailable),  # the topic is missing
    ("s3", "AccessDenied", 403, ServiceUnavailable),
    ("dynamodb", "AccessDeniedException", 400, ServiceUnavailable),
    ("dynamodb", "UnrecognizedClientException", 400, ServiceUnavailable),
    ("sns", "AuthorizationError", 403, ServiceUnavailable),
    ("dynamodb", "ValidationException", 400, ServiceUnavailable),  # a request we built wrong
    ("dynamodb", "SomethingNewException", 400, ServiceUnavailable),  # unknown codes never leak raw
])
def test_error_codes_become_domain_errors(service: str, code: str, status: int, expected: type[DomainError]) -> None:
    error = domain_error(service, "Operation", client_error(code, status))
    assert type(error) is expected


@pytest.mark.parametrize(("failure", "expected"), [
    (EndpointConnectionError(endpoint_url="https://dynamodb.invalid"), TransientFailure),
    (ConnectTimeoutError(endpoint_url="https://dynamodb.invalid"), TransientFailure),
    # Transient too, and more: the request went out, so it may have been carried out.
    (ReadTimeoutError(endpoint_url="https://dynamodb.invalid"), OutcomeUnknown),
])
def test_network_failures_are_transient(failure: Exception, expected: type[DomainError]) -> None:
    assert type(domain_error("dynamodb", "GetItem", failure)) is expected


def test_a_refusal_keeps_the_recipient_out_of_its_text() -> None:
    refusal = client_error("MessageRejected", message="Email address is not verified.")
    error = domain_error("ses", "SendRawEmail", refusal, provider="the mail provider", recipient=CUSTOMER, explain=True)
    assert isinstance(error, Rejected) and error.recipient == CUSTOMER
    assert str(error) == "the mail provider refused the message (MessageRejected): Email address is not verified."
    quiet = domain_error("sns", "Publish", client_error("InvalidParameter", message="+4915112345678 is invalid"),
                         provider="the SMS provider", recipient="+4915112345678")
    assert str(quiet) == "the SMS provider refused the message (InvalidParameter)"  # SNS's text may quote the number


# ---- DynamoItemStore ----------------------------------------------------------------------------
@pytest.fixture
def dynamodb() -> Any:
    return aws_client("dynamodb")


def _store(client: Any) -> DynamoItemStore:
    return DynamoItemStore(client, "shopdesk-test")


STORE_CALLS: dict[str, tuple[str, Callable[[DynamoItemStore], object]]] = {
    "get": ("get_item", lambda s: s.get(KEY)),
    "batch_get": ("batch_get_item", lambda s: s.batch_get([KEY])),
    "query": ("query", lambda s: s.query("TICKET#1", "MSG#")),
    "transact": ("transact_write_items", lambda s: s.transact([Put({**KEY, "version": 1})])),
    "add": ("update_item", lambda s: s.add({"pk": "RATE#x", "sk": "RATE"}, {"count": 1})),
}


@pytest.mark.parametrize("call", sorted(STORE_CALLS))
@pytest.mark.parametrize("code", ["ThrottlingException", "ProvisionedThroughputExceededException",
                                  "RequestLimitExceeded"])
def test_throttled_dynamodb_is_transient_at_every_store_call(dynamodb: Any, call: str, code: str) -> None:
    method, run = STORE_CALLS[call]
    with failing(dynamodb, method, code), pytest.raises(TransientFailure) as failure:
        run(_store(dynamodb))
    assert code in str(failure.value)


@pytest.mark.parametrize("call", sorted(STORE_CALLS))
def test_a_missing_table_or_denied_access_is_service_unavailable(dynamodb: Any, call: str) -> None:
    method, run = STORE_CALLS[call]
    for code in ("ResourceNotFoundException", "AccessDeniedException"):
        with failing(dynamodb, method, code), pytest.raises(ServiceUnavailable):
            run(_store(dynamodb))


def test_dynamodb_outage_and_unreachable_endpoint_are_transient(dynamodb: Any) -> None:
    with failing(dynamodb, "get_item", "InternalServerError", 500), pytest.raises(TransientFailure):
        _store(dynamodb).get(KEY)
    down = unreachable(dynamodb, "before-call.dynamodb.GetItem", EndpointConnectionError(endpoint_url="https://x"))
    with down, pytest.raises(TransientFailure):
        _store(dynamodb).get(KEY)


def test_a_cancelled_transaction_still_names_the_failed_conditions(dynamodb: Any) -> None:
    reasons = [{"Code": "None"}, {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"}]
    cancelled = failing(dynamodb, "transact_write_items", "TransactionCanceledException", CancellationReasons=reasons)
    with cancelled, pytest.raises(ConditionFailed) as failure:
        _store(dynamodb).transact([Put({**KEY}), Put({"pk": "B", "sk": "1"})])
    assert failure.value.indexes == [1]
    throttled = [{"Code": "ThrottlingError"}, {"Code": "None"}]
    cancelled = failing(dynamodb, "transact_write_items", "TransactionCanceledException", CancellationReasons=throttled)
    with cancelled, pytest.raises(TransientFailure) as transient:
        _store(dynamodb).transact([Put({**KEY}), Put({"pk": "B", "sk": "1"})])
    assert not isinstance(transient.value, TransactionConflict)


def test_a_conflict_with_another_transaction_is_its_own_retryable_error(dynamodb: Any) -> None:
    # A transaction cancelled only because another one held an item: retry at once (a kind of transient failure)
    reasons = [{"Code": "None"}, {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}]
    cancelled = failing(dynamodb, "transact_write_items", "TransactionCanceledException", CancellationReasons=reasons)
    with cancelled, pytest.raises(TransactionConflict):
        _store(dynamodb).transact([Put({**KEY}), Put({"pk": "B", "sk": "1"})])
    # A conflict beside a failed condition: the condition decides (the caller re-reads and decides again)
    mixed = [{"Code": "TransactionConflict"}, {"Code": "ConditionalCheckFailed"}]
    cancelled = failing(dynamodb, "transact_write_items", "TransactionCanceledException", CancellationReasons=mixed)
    with cancelled, pytest.raises(ConditionFailed):
        _store(dynamodb).transact([Put({**KEY}), Put({"pk": "B", "sk": "1"})])
    # A plain write to an item a transaction holds
    with failing(dynamodb, "update_item", "TransactionConflictException"), pytest.raises(TransactionConflict) as held:
        _store(dynamodb).add(KEY, {"value": 1})
    assert isinstance(held.value, TransientFailure)


# ---- S3BlobStore --------------------------------------------------------------------------------
@pytest.fixture
def s3() -> Any:
    return aws_client("s3")


def _blobs(client: Any) -> S3BlobStore:
    return S3BlobStore(client, "shopdesk-test-raw-mail")


@pytest.mark.parametrize(("code", "status"), [("SlowDown", 503), ("ServiceUnavailable", 503), ("InternalError", 500)])
def test_s3_slowdown_and_outages_are_transient(s3: Any, code: str, status: int) -> None:
    with failing(s3, "get_object", code, status), pytest.raises(TransientFailure):
        _blobs(s3).read("inbound/1", 1000)
    with failing(s3, "put_object", code, status), pytest.raises(TransientFailure):
        _blobs(s3).put("inbound/1", b"x", "message/rfc822")


def test_s3_denied_access_and_a_missing_bucket_are_service_unavailable(s3: Any) -> None:
    for code, status in (("AccessDenied", 403), ("NoSuchBucket", 404)):
        with failing(s3, "get_object", code, status), pytest.raises(ServiceUnavailable):
            _blobs(s3).read("inbound/1", 1000)
        with failing(s3, "put_object", code, status), pytest.raises(ServiceUnavailable):
            _blobs(s3).put("inbound/1", b"x", "message/rfc822")


def test_s3_missing_key_is_not_found(s3: Any) -> None:
    with failing(s3, "get_object", "NoSuchKey", 404), pytest.raises(NotFound):
        _blobs(s3).read("s3://other-bucket/inbound/1", 1000)


class _StalledBody:
    def read(self, *_: Any) -> bytes:
        raise ReadTimeoutError(endpoint_url="https://s3.invalid")

    def close(self) -> None:
        pass


def test_a_body_that_stalls_while_streaming_is_transient(s3: Any) -> None:
    stubber = Stubber(s3)
    stubber.add_response("get_object", {"Body": _StalledBody(), "ContentLength": 10})
    with stubber, pytest.raises(TransientFailure):
        _blobs(s3).read("inbound/1", 1000)
    stubber.add_response("get_object", {"Body": _StalledBody(), "ContentLength": 5000})
    with stubber, pytest.raises(InvalidInput):  # too big is decided before the body is read
        _blobs(s3).read("inbound/1", 1000)


# ---- SesMailSender ------------------------------------------------------------------------------
@pytest.fixture
def ses() -> Any:
    return aws_client("ses")


def mail(*to: str) -> OutgoingEmail:
    return OutgoingEmail(from_address="support@shop.example", from_name="Shop", to=list(to or [CUSTOMER]),
                         subject="Your order", text="It ships today.", message_id="<a@shop.example>")


def test_ses_message_rejected_is_rejected_with_ses_explanation(ses: Any) -> None:
    refused = failing(ses, "send_raw_email", "MessageRejected", message="Email address is not verified.")
    with refused, pytest.raises(Rejected) as failure:
        SesMailSender(ses, REGION).send(mail())
    assert failure.value.recipient == CUSTOMER
    assert "MessageRejected" in str(failure.value) and "Email address is not verified." in str(failure.value)
    assert CUSTOMER not in str(failure.value)
    with failing(ses, "send_raw_email", "MessageRejected"), pytest.raises(Rejected) as several:
        SesMailSender(ses, REGION).send(mail(CUSTOMER, "bob@customer.example"))
    assert several.value.recipient is None  # SES does not say which one


@pytest.mark.parametrize("code", ["Throttling", "ThrottlingException", "ServiceUnavailable"])
def test_ses_throttling_is_transient(ses: Any, code: str) -> None:
    with failing(ses, "send_raw_email", code), pytest.raises(TransientFailure):
        SesMailSender(ses, REGION).send(mail())


def test_ses_paused_sending_or_denied_access_is_service_unavailable(ses: Any) -> None:
    for code in ("AccountSendingPausedException", "ConfigurationSetSendingPausedException", "AccessDenied"):
        with failing(ses, "send_raw_email", code), pytest.raises(ServiceUnavailable):
            SesMailSender(ses, REGION).send(mail())


def test_ses_connect_timeout_is_transient(ses: Any) -> None:
    down = unreachable(ses, "before-call.ses.SendRawEmail", ConnectTimeoutError(endpoint_url="https://ses.invalid"))
    with down, pytest.raises(TransientFailure):
        SesMailSender(ses, REGION).send(mail())


# ---- SnsSmsSender -------------------------------------------------------------------------------
@pytest.fixture
def sns() -> Any:
    return aws_client("sns")


TEXT = OutgoingSms(to="+4915112345678", text="Your ticket #1001 is open.")


@pytest.mark.parametrize("code", ["InvalidParameter", "ParameterValueInvalid", "OptedOut"])
def test_sns_refusing_a_number_is_rejected(sns: Any, code: str) -> None:
    with failing(sns, "publish", code), pytest.raises(Rejected) as failure:
        SnsSmsSender(lambda: sns).send(TEXT)
    assert failure.value.recipient == TEXT.to and TEXT.to not in str(failure.value)


@pytest.mark.parametrize(("code", "status"), [("Throttled", 400), ("Throttling", 400), ("InternalError", 500)])
def test_sns_throttling_and_outages_are_transient_for_texts(sns: Any, code: str, status: int) -> None:
    with failing(sns, "publish", code, status), pytest.raises(TransientFailure):
        SnsSmsSender(lambda: sns).send(TEXT)


def test_sns_denied_texting_is_service_unavailable(sns: Any) -> None:
    with failing(sns, "publish", "AuthorizationError", 403), pytest.raises(ServiceUnavailable):
        SnsSmsSender(lambda: sns).send(TEXT)


# ---- SnsAlertPublisher --------------------------------------------------------------------------
TOPIC = "arn:aws:sns:eu-central-1:123456789012:shopdesk-test-escalations"


@pytest.mark.parametrize(("code", "status"), [("Throttled", 400), ("InternalError", 500)])
def test_sns_throttling_is_transient_for_alerts(sns: Any, code: str, status: int) -> None:
    with failing(sns, "publish", code, status), pytest.raises(TransientFailure):
        SnsAlertPublisher(sns, TOPIC, "escalations").publish("SLA breach", "ticket #1001")


def test_a_missing_topic_or_denied_publish_is_service_unavailable(sns: Any) -> None:
    for code, status in (("NotFound", 404), ("AuthorizationError", 403)):
        with failing(sns, "publish", code, status), pytest.raises(ServiceUnavailable):
            SnsAlertPublisher(sns, TOPIC, "escalations").publish("SLA breach", "ticket #1001")
    with failing(sns, "create_topic", "AuthorizationError", 403), pytest.raises(ServiceUnavailable):
        SnsAlertPublisher(sns, None, "escalations").publish("SLA breach", "ticket #1001")


def test_sns_refusing_an_alert_is_rejected(sns: Any) -> None:
    with failing(sns, "publish", "InvalidParameter"), pytest.raises(Rejected):
        SnsAlertPublisher(sns, TOPIC, "escalations").publish("SLA breach", "ticket #1001")
