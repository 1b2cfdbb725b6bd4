"""What an email ingest downloads and reads back, counted with botocore event hooks against moto: a finished
delivery is never downloaded again, an unfinished one still is (and finishes), an SNS-action mail is stored
and parsed from the bytes in hand."""
from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError

from chalicelib.adapters.aws import client as aws_client
from chalicelib.config import settings
from chalicelib.handlers import handle_inbound_email
from tests.conftest import REGION, sent_emails, table_items
from tests.support import build_mail, notification

SERVICES = ("dynamodb", "s3", "ses")


class Calls:
    """Every AWS call ShopDesk's clients make while hooked, by operation name; `on(name, action)` runs
    `action` just before the first call of that name (a failure, or a twin delivery in between)."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self._actions: dict[str, Callable[[], None]] = {}

    def on(self, name: str, action: Callable[[], None]) -> None:
        self._actions[name] = action

    def __call__(self, model: Any, **_: Any) -> None:
        self.names.append(model.name)
        action = self._actions.pop(model.name, None)
        if action is not None:
            action()


@pytest.fixture
def calls(aws: None) -> Iterator[Calls]:
    counter = Calls()
    yield counter
    for service in SERVICES:
        aws_client(service, REGION).meta.events.unregister("before-call.*.*", counter)


def hook(counter: Calls) -> Calls:
    """Counts from now on."""
    for service in SERVICES:
        aws_client(service, REGION).meta.events.register("before-call.*.*", counter)
    return counter


def s3_action(raw: bytes, ses_id: str) -> str:
    document = notification(ses_id=ses_id, bucket=settings().raw_mail_bucket)
    action = document["receipt"]["action"]
    boto3.client("s3", region_name=REGION).put_object(Bucket=action["bucketName"], Key=action["objectKey"], Body=raw)
    return json.dumps(document)


def test_a_redelivered_finished_mail_costs_one_read_and_no_download(calls: Calls) -> None:
    # Given a mail whose delivery finished (ticket written, acknowledgement sent)
    message = s3_action(build_mail(attachments=[("receipt.pdf", "application/pdf", b"%PDF-1.4 data")])[0], "again")
    assert handle_inbound_email(message)["status"] == "created"
    # When SNS or Lambda delivers the same notification again
    hook(calls)
    result = handle_inbound_email(message)
    # Then one read of the delivery record answers it: no GetObject, no parse, nothing written or sent
    assert result["status"] == "duplicate" and result["reason"] == "delivery already done"
    assert calls.names == ["BatchGetItem"]
    assert len(table_items("ticket")) == 1 and len(sent_emails()) == 1


def test_a_redelivered_unfinished_mail_is_downloaded_and_finished(calls: Calls) -> None:
    # Given a first attempt that stored the ticket and then failed sending the acknowledgement
    message = s3_action(build_mail()[0], "half-done")

    def ses_unreachable() -> None:
        raise EndpointConnectionError(endpoint_url="https://email.eu-central-1.amazonaws.com")

    hook(calls).on("SendRawEmail", ses_unreachable)
    with pytest.raises(Exception):  # noqa: B017 - the failure Lambda retries
        handle_inbound_email(message)
    [record] = table_items("inbound")
    assert record["state"] == "stored"
    calls.names.clear()
    # When Lambda retries
    result = handle_inbound_email(message)
    # Then the pre-check does not stop it: the mail is downloaded again and the acknowledgement goes out once
    assert result["status"] == "resumed" and result["acknowledged"] is True
    assert calls.names.count("GetObject") == 1
    assert len(table_items("ticket")) == 1 and len(sent_emails()) == 1


def test_a_twin_finishing_between_the_pre_check_and_the_decision_changes_nothing(calls: Calls) -> None:
    # Given two deliveries of one mail, the second finishing while the first is past its pre-check
    message = s3_action(build_mail()[0], "twins")
    outcomes: list[dict[str, Any]] = []
    hook(calls).on("GetObject", lambda: outcomes.append(handle_inbound_email(message)))
    # When the first goes on to decide
    first = handle_inbound_email(message)
    # Then its own read finds the twin's record: one ticket, one acknowledgement
    assert outcomes[0]["status"] == "created"
    assert first["status"] == "duplicate"
    assert len(table_items("ticket")) == 1 and len(sent_emails()) == 1


def test_an_sns_action_mail_is_stored_and_never_read_back(calls: Calls) -> None:
    # Given an SNS-action notification: the mail is inside it, base64
    raw, _ = build_mail(subject="Parcel damaged")
    message = json.dumps(notification(ses_id="inline", inline=raw))
    # When it is ingested
    hook(calls)
    result = handle_inbound_email(message)
    # Then the mail is kept in S3 exactly as sent, and parsed from the bytes in hand
    assert result["status"] == "created"
    assert "GetObject" not in calls.names and calls.names.count("PutObject") == 1
    [stored] = boto3.client("s3", region_name=REGION).list_objects_v2(
        Bucket=settings().raw_mail_bucket, Prefix="inbound/sns/")["Contents"]
    body = boto3.client("s3", region_name=REGION).get_object(Bucket=settings().raw_mail_bucket, Key=stored["Key"])
    assert body["Body"].read() == raw
    [ticket] = table_items("ticket")
    assert ticket["subject"] == "Parcel damaged"


def test_an_sns_action_redelivery_is_a_duplicate(calls: Calls) -> None:
    raw, _ = build_mail()
    message = json.dumps(notification(ses_id="inline-twice", inline=raw))
    assert handle_inbound_email(message)["status"] == "created"
    hook(calls)
    assert handle_inbound_email(message)["status"] == "duplicate"
    assert "GetObject" not in calls.names
    assert len(table_items("ticket")) == 1 and len(sent_emails()) == 1


def test_large_attachments_are_streamed_to_s3_as_sent(calls: Calls) -> None:
    # Given a mail with photos large enough to leave the parsed tree for temporary files
    photos = [(f"photo-{n}.jpg", "image/jpeg", os.urandom(1_500_000 + n)) for n in range(2)]
    message = s3_action(build_mail(attachments=photos)[0], "photos")
    # When it is ingested through the real adapters
    hook(calls)
    assert handle_inbound_email(message)["status"] == "created"
    # Then one download, one PutObject per photo, and each stored object is the photo, byte for byte
    assert calls.names.count("GetObject") == 1 and calls.names.count("PutObject") == len(photos)
    [stored] = [m for m in table_items("message") if m["direction"] == "inbound"]
    s3 = boto3.client("s3", region_name=REGION)
    for attachment, (name, _, data) in zip(stored["attachments"], photos, strict=True):
        bucket, _, key = attachment["key"].removeprefix("s3://").partition("/")
        assert attachment["filename"] == name and int(attachment["size"]) == len(data)
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == data
