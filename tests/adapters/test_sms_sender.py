"""The SmsSender port on SNS (moto records the text) and its recording twin: same answers, same refusals."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from chalicelib.adapters.sns_sms import RecordingSmsSender, SnsSmsSender
from chalicelib.domain.errors import Rejected, TransientFailure
from chalicelib.ports import OutgoingSms, SmsSender
from tests.conftest import REGION


def _client() -> Any:
    from chalicelib.adapters.aws import client

    return client("sns", REGION)


@pytest.fixture(params=["recording", "sns"])
def sender(request: pytest.FixtureRequest) -> Iterator[SmsSender]:
    if request.param == "recording":
        fake = RecordingSmsSender()
        fake.refuse.add("0151-123")
        yield fake
        return
    request.getfixturevalue("aws")
    yield SnsSmsSender(_client)


def test_a_text_gets_a_provider_id(sender: SmsSender) -> None:
    sent = sender.send(OutgoingSms(to="+4915112345678", text="Hello", origination="+12125550101"))
    assert sent.provider_id


def test_a_number_the_provider_refuses_is_rejected(sender: SmsSender) -> None:
    with pytest.raises(Rejected) as failure:
        sender.send(OutgoingSms(to="0151-123", text="Hello"))  # SNS: not E.164
    assert failure.value.recipient == "0151-123" and "0151-123" not in str(failure.value)
    assert str(failure.value) == "the SMS provider refused the message (InvalidParameter)"


def test_sns_gets_the_phone_number_origination_and_transactional_type(aws: None) -> None:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    seen: list[dict[str, Any]] = []

    def capture(params: dict[str, Any], **_: Any) -> None:
        seen.append(params)

    _client().meta.events.register("provide-client-params.sns.Publish", capture)
    try:
        SnsSmsSender(_client).send(OutgoingSms(to="+4915112345678", text="Hi", origination="+12125550101"))
        SnsSmsSender(_client).send(OutgoingSms(to="+4915112345678", text="Hi again"))
    finally:
        _client().meta.events.unregister("provide-client-params.sns.Publish", capture)
    assert seen[0]["PhoneNumber"] == "+4915112345678"
    assert seen[0]["MessageAttributes"] == {
        "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"},
        "AWS.MM.SMS.OriginationNumber": {"DataType": "String", "StringValue": "+12125550101"},
    }
    assert "AWS.MM.SMS.OriginationNumber" not in seen[1]["MessageAttributes"]  # SNS picks the account's default
    assert list(sns_backends[DEFAULT_ACCOUNT_ID][REGION].sms_messages.values()) == [
        ("+4915112345678", "Hi"), ("+4915112345678", "Hi again")]


def test_an_unreachable_provider_is_transient(aws: None) -> None:
    def down(**_: Any) -> None:
        raise EndpointConnectionError(endpoint_url="https://sns.invalid")

    _client().meta.events.register("before-call.sns.Publish", down)
    try:
        with pytest.raises(TransientFailure):
            SnsSmsSender(_client).send(OutgoingSms(to="+4915112345678", text="Hi"))
    finally:
        _client().meta.events.unregister("before-call.sns.Publish", down)
