"""End to end: SES notifications through Chalice's test client into moto's DynamoDB, S3 and SES."""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from chalice.test import Client

from chalicelib import bootstrap
from chalicelib.adapters import keys
from chalicelib.adapters.aws import client as aws_client
from chalicelib.config import settings
from tests.conftest import EVENTS, REGION, SHARED_CORPUS, sent_emails, sent_mime, table_items
from tests.support import CUSTOMER, build_mail, notification


@pytest.fixture
def chalice_client(aws: None) -> Iterator[Client]:
    from app import app

    with Client(app, stage_name="test") as test_client:
        yield test_client


def deliver(test_client: Client, raw: bytes, **options: Any) -> dict[str, Any]:
    document = notification(**options)
    action = document["receipt"]["action"]
    if action["type"] == "S3":
        boto3.client("s3", region_name=REGION).put_object(
            Bucket=action["bucketName"], Key=action["objectKey"], Body=raw)
    return invoke(test_client, json.dumps(document))


def invoke(test_client: Client, message: str) -> dict[str, Any]:
    event = test_client.events.generate_sns_event(message=message)
    response = test_client.lambda_.invoke("ingest_email", event)
    payload: dict[str, Any] = response.payload
    return payload


def test_recorded_notifications_from_tests_events(chalice_client: Client) -> None:
    document = json.loads((EVENTS / "ses_s3_action_notification.json").read_text())
    raw, _ = build_mail(message_id="order-question-1@customer.example")
    action = document["receipt"]["action"]
    boto3.client("s3", region_name=REGION).put_object(Bucket=action["bucketName"], Key=action["objectKey"], Body=raw)
    assert invoke(chalice_client, json.dumps(document))["status"] == "created"
    inline = (EVENTS / "ses_sns_action_notification.json").read_text()
    result = invoke(chalice_client, inline)
    assert result["status"] == "created"
    tickets = {t["queue"]: t for t in table_items("ticket")}
    assert set(tickets) == {"support", "shipping"}
    assert tickets["shipping"]["subject"] == "Parcel damaged"


def test_new_mail_creates_ticket_and_ses_sends_threaded_ack(chalice_client: Client) -> None:
    raw, message_id = build_mail()
    result = deliver(chalice_client, raw)
    assert result["status"] == "created" and result["acknowledged"] is True

    [ticket] = table_items("ticket")
    assert ticket["number"] == 1001 and ticket["customer_email"] == CUSTOMER
    ack = sent_mime()
    assert ack["Subject"] == "[#1001] Where is my order?"
    assert ack["In-Reply-To"] == f"<{message_id}>"
    assert ack["Auto-Submitted"] == "auto-replied" and ack["X-Auto-Response-Suppress"] == "All"
    assert ack["Reply-To"].startswith("support+")
    assert "by today 14:00 (Europe/Berlin)" in ack.get_content() or "(Europe/Berlin)" in ack.get_content()


def test_customer_reply_to_ses_rewritten_id_lands_on_same_ticket(chalice_client: Client) -> None:
    raw, first_id = build_mail()
    created = deliver(chalice_client, raw)
    [ses_sent] = sent_emails()
    rewritten = f"{ses_sent.id}@{REGION}.amazonses.com"
    ack = sent_mime()
    reply, _ = build_mail(subject=f"Re: {ack['Subject']}", to="support@shop.example",
                          in_reply_to=f"<{rewritten}>", references=f"<{first_id}> <{rewritten}>",
                          body="Thanks! Still waiting though.")
    result = deliver(chalice_client, reply)
    assert result["status"] == "appended" and result["ticket_id"] == created["ticket_id"]
    assert result["threaded_by"] == "message-id"
    assert len(sent_emails()) == 1


def test_each_notification_twice_gives_one_ticket_and_one_ack(chalice_client: Client) -> None:
    raw, _ = build_mail()
    document = notification(ses_id="twice")
    boto3.client("s3", region_name=REGION).put_object(
        Bucket=document["receipt"]["action"]["bucketName"], Key=document["receipt"]["action"]["objectKey"], Body=raw)
    assert invoke(chalice_client, json.dumps(document))["status"] == "created"
    assert invoke(chalice_client, json.dumps(document))["status"] == "duplicate"
    assert len(table_items("ticket")) == 1 and len(sent_emails()) == 1


def test_malformed_sns_message_is_quarantined(chalice_client: Client) -> None:
    assert invoke(chalice_client, "{not json")["status"] == "quarantined"
    assert invoke(chalice_client, (SHARED_CORPUS / "events" / "ses_received_s3_alert_notification.json").read_text()
                  if SHARED_CORPUS.exists() else "null")["status"] == "quarantined"
    assert len(table_items("quarantine")) == 2


def test_shared_corpus_sns_action_example(chalice_client: Client) -> None:
    path = SHARED_CORPUS / "events" / "ses_received_sns_action_notification.json"
    if not path.exists():
        pytest.skip("../shared/corpus not present")
    result = invoke(chalice_client, path.read_text())
    # The documented example is SES's own test mail to recipient@example.com, not one of our addresses:
    # it still becomes a ticket in the default queue, with an acknowledgement from our address.
    assert result["status"] == "created"
    [message] = [m for m in table_items("message") if m["direction"] == "inbound"]
    assert message["from_address"] == "sender@example.com" and message["subject"] == "Example subject"


class FailAt:
    """Raises a connection error at the n-th AWS call (0-based) made by ShopDesk's clients."""

    def __init__(self, n: int | None) -> None:
        self.n, self.seen = n, 0
        self.names: list[str] = []

    def __call__(self, model: Any, **_: Any) -> None:
        index = self.seen
        self.seen += 1
        self.names.append(model.name)
        if self.n is not None and index == self.n:
            raise EndpointConnectionError(endpoint_url=f"injected failure at call {index} ({model.name})")


def hooked(counter: FailAt) -> None:
    for service in ("dynamodb", "s3", "ses"):
        aws_client(service, REGION).meta.events.register("before-call.*.*", counter)


def unhook(counter: FailAt) -> None:
    for service in ("dynamodb", "s3", "ses"):
        aws_client(service, REGION).meta.events.unregister("before-call.*.*", counter)


def test_failure_at_each_aws_call_then_retry_gives_exactly_one_of_everything() -> None:
    from moto import mock_aws

    from app import app
    from tests.conftest import provision

    raw, _ = build_mail(attachments=[("receipt.pdf", "application/pdf", b"%PDF-1.4 data")])
    calls: list[str] = []
    for n in [None, *range(12)]:
        if n is not None and n >= len(calls):
            break
        bootstrap.reset()
        with mock_aws():
            provision()
            with Client(app, stage_name="test") as test_client:
                document = notification(ses_id=f"fail-{n}")
                action = document["receipt"]["action"]
                boto3.client("s3", region_name=REGION).put_object(
                    Bucket=action["bucketName"], Key=action["objectKey"], Body=raw)
                failing = FailAt(n)
                hooked(failing)
                try:
                    invoke(test_client, json.dumps(document))
                except Exception:  # Lambda would retry; the invocation below is that retry
                    pass
                unhook(failing)
                if n is None:
                    calls = failing.names  # the clean run: every call an ingest makes
                    assert len(calls) >= 4
                    continue
                invoke(test_client, json.dumps(document))
                tickets = table_items("ticket")
                inbound = [m for m in table_items("message") if m["direction"] == "inbound"]
                where = f"failure at call {n} ({calls[n]})"
                assert len(tickets) == 1, where
                assert len(inbound) == 1, where
                assert len(sent_emails()) == 1, where
                assert tickets[0]["ack_state"] == "sent", where
    bootstrap.reset()


def test_handler_raises_when_storage_is_down_so_lambda_retries(chalice_client: Client) -> None:
    raw, _ = build_mail()
    boto3.client("dynamodb", region_name=REGION).delete_table(TableName=settings().table_name)
    with pytest.raises(Exception):  # noqa: B017 - any AWS error must surface for Lambda's retry
        deliver(chalice_client, raw)
    objects = boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=settings().raw_mail_bucket)
    assert objects["KeyCount"] == 1  # the raw mail is still there


def test_ticket_number_pointer_and_customer_identity_written(chalice_client: Client) -> None:
    deliver(chalice_client, build_mail()[0])
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    pointer = dynamodb.get_item(TableName=settings().table_name,
                                Key={k: {"S": v} for k, v in keys.ticket_number(1001).items()})
    assert "Item" in pointer
    identity = dynamodb.get_item(TableName=settings().table_name,
                                 Key={k: {"S": v} for k, v in keys.identity("email", CUSTOMER).items()})
    assert "Item" in identity
