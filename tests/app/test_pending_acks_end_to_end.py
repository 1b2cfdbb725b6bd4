"""End to end against moto: SES throttling the acknowledgement (injected with a botocore event hook on the
real SES client) leaves ingest successful and the ticket in the pending-ack index (gsi9); the scheduled
drain sends it once with the promise made at arrival; a person's reply before the drain means no ack."""
from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import pytest
from botocore.exceptions import ClientError

from chalicelib import bootstrap
from chalicelib.adapters import keys
from chalicelib.adapters.aws import client as aws_client
from chalicelib.config import settings
from chalicelib.domain.ids import parse_iso
from chalicelib.resources import PENDING_ACK_INDEX
from tests.app.api_support import Api
from tests.conftest import REGION, sent_emails, sent_mime, table_items
from tests.support import build_mail, notification


class SesThrottle:
    """SES answering SendRawEmail with Throttling ("Maximum sending rate exceeded") while `on`, the way a
    sandbox account's 1 mail/s answers a burst; every call is counted."""

    def __init__(self) -> None:
        self.on, self.calls, self.allow = True, 0, 0

    def __call__(self, **_: Any) -> None:
        self.calls += 1
        if self.on and self.allow <= 0:
            raise ClientError({"Error": {"Code": "Throttling", "Message": "Maximum sending rate exceeded."},
                               "ResponseMetadata": {"HTTPStatusCode": 400}}, "SendRawEmail")
        self.allow -= 1


@contextmanager
def ses_throttle() -> Iterator[SesThrottle]:
    throttle = SesThrottle()
    ses = aws_client("ses", REGION)
    ses.meta.events.register("before-call.ses.SendRawEmail", throttle)
    try:
        yield throttle
    finally:
        ses.meta.events.unregister("before-call.ses.SendRawEmail", throttle)


@pytest.fixture
def quick(api: Api) -> Iterator[Api]:
    """A send rate that keeps the drain's pacing short in real time (the pacing itself is tested on a clock)."""
    with bootstrap.overridden(settings=replace(bootstrap.shop().settings, ses_max_send_rate=50.0)):
        yield api


def mail_in(api: Api, n: int) -> dict[str, Any]:
    sender = f"c{n}@customer.example"
    raw, _ = build_mail(sender=f"Customer {n} <{sender}>", subject=f"Question {n}")
    document = notification(ses_id=f"pending-{n}", source=sender)
    action = document["receipt"]["action"]
    boto3.client("s3", region_name=REGION).put_object(Bucket=action["bucketName"], Key=action["objectKey"], Body=raw)
    event = api.client.events.generate_sns_event(message=json.dumps(document))
    payload: dict[str, Any] = api.client.lambda_.invoke("ingest_email", event).payload
    return payload


def drain(api: Api) -> dict[str, Any]:
    event = api.client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event", detail={},
                                                resources=[])
    payload: dict[str, Any] = api.client.lambda_.invoke("drain_pending_acks", event).payload
    return payload


def queued(ticket_id: str) -> list[dict[str, Any]]:
    """The ticket's entries in the pending-ack index, as DynamoDB (moto) answers a Query on gsi9."""
    found = boto3.client("dynamodb", region_name=REGION).query(
        TableName=settings().table_name, IndexName=PENDING_ACK_INDEX, KeyConditionExpression="gsi9pk = :p",
        ExpressionAttributeValues={":p": {"S": keys.pending_ack_partition(keys.shard_of(ticket_id))}})
    return [i for i in found["Items"] if i["ticket_id"]["S"] == ticket_id]


def test_a_throttled_ack_is_stored_queued_and_drained_once_with_the_original_promise(quick: Api) -> None:
    # Given SES throttling (the sandbox's one mail a second, exceeded)
    with ses_throttle() as throttle:
        # When a new mail arrives
        result = mail_in(quick, 1)
        # Then ingest succeeds: ticket and message stored, ack pending, the ticket in the pending-ack index
        assert result["status"] == "created" and not result["acknowledged"] and result["ack_deferred"] is True
        assert throttle.calls == 1 and sent_emails() == []
        [ticket] = table_items("ticket")
        assert ticket["ack_state"] == "pending" and len(table_items("message")) == 1
        [entry] = queued(ticket["id"])
        assert entry["gsi9sk"]["S"] == f"{ticket['created_at']}#{ticket['id']}"
        # A drain while SES still throttles stops at once and leaves it queued
        assert drain(quick)["throttled"] == ["email"] and len(queued(ticket["id"])) == 1
        # When SES takes mail again, the scheduled drain sends it; a second run sends nothing
        throttle.on = False
        first, second = drain(quick), drain(quick)
    assert first["sent"] == 1 and second["sent"] == 0 and len(sent_emails()) == 1
    ack = sent_mime()
    assert ack["Subject"] == "[#1001] Question 1" and ack["Auto-Submitted"] == "auto-replied"
    [stored] = table_items("ticket")
    due = stored["first_response_due_at"]
    assert due == ticket["first_response_due_at"]  # the promise made at arrival
    zone = settings().time_zone
    promised = parse_iso(due).astimezone(ZoneInfo(zone)).strftime("%H:%M")
    assert "will answer by" in ack.get_content() and f"{promised} ({zone})" in ack.get_content()
    assert stored["ack_state"] == "sent" and queued(ticket["id"]) == []
    [delivery] = table_items("inbound")
    assert delivery["state"] == "done"


def test_the_drain_stops_at_the_first_throttle_and_leaves_the_rest(quick: Api) -> None:
    with ses_throttle() as throttle:
        tickets = [mail_in(quick, n)["ticket_id"] for n in range(3)]
        throttle.calls, throttle.allow = 0, 1  # SES takes one mail, then throttles again
        result = drain(quick)
        assert result["sent"] == 1 and result["throttled"] == ["email"] and throttle.calls == 2
        assert queued(tickets[0]) == [] and all(queued(t) for t in tickets[1:])  # the oldest went first
        throttle.on = False
        assert drain(quick)["sent"] == 2
    assert len(sent_emails()) == 3 and {t["ack_state"] for t in table_items("ticket")} == {"sent"}


def test_no_ack_goes_after_an_agent_answered(quick: Api) -> None:
    with ses_throttle() as throttle:
        ticket_id = mail_in(quick, 7)["ticket_id"]
        throttle.on = False
        # Given an agent answers the ticket before the drain runs
        _, ticket = quick.call("GET", f"/tickets/{ticket_id}")
        status, _ = quick.call("POST", f"/tickets/{ticket_id}/replies",
                               {"body": "Your parcel left today.", "version": ticket["ticket"]["version"]})
        assert status == 201
        # When the drain runs
        result = drain(quick)
    # Then the reply is the only mail; the ack is withheld and says why
    assert result["sent"] == 0 and result["withheld"] == 1 and len(sent_emails()) == 1
    [stored] = table_items("ticket")
    assert stored["ack_state"] == "skipped" and "a person answered" in stored["ack_reason"]
    assert queued(ticket_id) == []
