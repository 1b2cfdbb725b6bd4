"""End to end: two-way SMS notifications through Chalice's test client into moto's DynamoDB and SNS,
agents' SMS replies through the API, and one customer across email and SMS."""
from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from chalice.test import Client

from chalicelib import bootstrap
from chalicelib.observability import logger
from tests.app.api_support import Api
from tests.conftest import EVENTS, REGION, table_items
from tests.sms_support import CUSTOMER_PHONE, STORE_NUMBER, sms_payload
from tests.support import CUSTOMER, build_mail, notification


def sms_sent() -> list[tuple[str, str]]:
    """What moto's SNS recorded as texted: (number, text), oldest first."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    return list(sns_backends[DEFAULT_ACCOUNT_ID][REGION].sms_messages.values())


@pytest.fixture
def sms_numbers() -> Iterator[None]:
    with bootstrap.overridden(settings=replace(bootstrap.shop().settings, sms_numbers={STORE_NUMBER: "support"})):
        yield


@pytest.fixture
def chalice_client(aws: None, sms_numbers: None) -> Iterator[Client]:
    from app import app

    with Client(app, stage_name="test") as test_client:
        yield test_client


def invoke(test_client: Client, payload: dict[str, Any] | str, timestamp: datetime | None = None) -> dict[str, Any]:
    message = payload if isinstance(payload, str) else json.dumps(payload)
    event = test_client.events.generate_sns_event(message=message)
    if timestamp is not None:
        event["Records"][0]["Sns"]["Timestamp"] = timestamp.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    result: dict[str, Any] = test_client.lambda_.invoke("ingest_sms", event).payload
    return result


def text(api: Api, body: str, **options: Any) -> dict[str, Any]:
    from app import app

    with Client(app, stage_name="test") as test_client:
        return invoke(test_client, sms_payload(body, **options))


def test_recorded_sns_event_from_tests_events(chalice_client: Client) -> None:
    event = json.loads((EVENTS / "sns_two_way_sms_event.json").read_text())
    result = chalice_client.lambda_.invoke("ingest_sms", event).payload
    assert result["status"] == "created" and result["acknowledged"] is True
    [ticket] = table_items("ticket")
    assert ticket["channel"] == "sms" and ticket["customer_phone"] == CUSTOMER_PHONE and ticket["number"] == 1001
    [(number, ack)] = sms_sent()
    assert number == CUSTOMER_PHONE and "#1001" in ack
    [identity] = table_items("identity")
    assert identity["pk"] == f"IDENT#phone#{CUSTOMER_PHONE}"
    [conversation] = table_items("conversation")
    assert conversation["ticket_id"] == ticket["id"]


def test_duplicates_and_out_of_order_delivery(chalice_client: Client) -> None:
    now = datetime.now(UTC)
    first = sms_payload("first", inbound_id="in-1")
    second = sms_payload("second", inbound_id="in-2")
    third = sms_payload("third", inbound_id="in-3")
    assert invoke(chalice_client, first, now - timedelta(seconds=30))["status"] == "created"
    assert invoke(chalice_client, third, now - timedelta(seconds=10))["status"] == "appended"
    assert invoke(chalice_client, second, now - timedelta(seconds=20))["status"] == "appended"  # arrives late
    assert invoke(chalice_client, third, now - timedelta(seconds=10))["status"] == "duplicate"  # SNS redelivers
    assert invoke(chalice_client, first)["status"] == "duplicate"
    [ticket] = table_items("ticket")
    inbound = sorted((m for m in table_items("message") if m["direction"] == "inbound"), key=lambda m: m["sk"])
    assert [m["body_text"] for m in inbound] == ["first", "second", "third"]
    assert len(sms_sent()) == 1  # one acknowledgement, for the new ticket only
    assert ticket["ack_state"] == "sent"


def test_malformed_payload_is_quarantined_not_raised(chalice_client: Client) -> None:
    assert invoke(chalice_client, "{not json")["status"] == "quarantined"
    result = invoke(chalice_client, sms_payload("hi", origination="+49 1"))
    assert result == {"status": "quarantined", "reason": "impossible origination number: too short",
                      "acknowledged": False, "replied": False}
    assert len(table_items("quarantine")) == 2 and sms_sent() == []


def test_stop_then_agent_reply_is_refused_with_email_suggested_and_start_allows_it(api: Api,
                                                                                  sms_numbers: None) -> None:
    created = text(api, "Where is my parcel?")
    text(api, "STOP")
    assert len(sms_sent()) == 2 and "START" in sms_sent()[-1][1]
    _, detail = api.call("GET", f"/tickets/{created['ticket_id']}")
    version = detail["ticket"]["version"]
    status, body = api.call("POST", f"/tickets/{created['ticket_id']}/replies", {"body": "It is on its way.",
                                                                                "version": version})
    assert status == 422 and body["error"]["code"] == "unavailable"
    assert "opted out" in body["error"]["message"] and "no email address" in body["error"]["message"]

    customer_id = detail["ticket"]["customer"]["id"]
    status, _ = api.call("POST", f"/customers/{customer_id}/identities",
                         {"kind": "email", "value": CUSTOMER, "version": 1})
    assert status == 200
    status, body = api.call("POST", f"/tickets/{created['ticket_id']}/replies", {"body": "It is on its way.",
                                                                                "version": version})
    assert status == 422 and f"reply by email to {CUSTOMER}" in body["error"]["message"]
    assert len(sms_sent()) == 2

    text(api, "START")
    status, message = api.call("POST", f"/tickets/{created['ticket_id']}/replies",
                               {"body": "It is on its way.", "version": version, "status_after": "resolved"})
    assert status == 201 and message["channel"] == "sms" and message["direction"] == "outbound"
    number, reply = sms_sent()[-1]
    assert number == CUSTOMER_PHONE and reply.startswith("It is on its way.") and "YES" in reply
    _, detail = api.call("GET", f"/tickets/{created['ticket_id']}")
    assert detail["ticket"]["status"] == "resolved"


def test_an_sms_reply_over_the_segment_limit_is_refused_clearly(api: Api, sms_numbers: None) -> None:
    created = text(api, "Question")
    _, detail = api.call("GET", f"/tickets/{created['ticket_id']}")
    status, body = api.call("POST", f"/tickets/{created['ticket_id']}/replies",
                            {"body": "Ж" * 200, "version": detail["ticket"]["version"]})
    assert status == 400 and body["error"]["field"] == "body"
    assert "at most 2 segments" in body["error"]["message"] and "UCS-2" in body["error"]["message"]
    assert len(sms_sent()) == 1


def test_a_customer_who_emails_and_texts_and_is_linked_shows_one_history(api: Api, sms_numbers: None) -> None:
    raw, _ = build_mail()
    document = notification()
    action = document["receipt"]["action"]
    boto3.client("s3", region_name=REGION).put_object(Bucket=action["bucketName"], Key=action["objectKey"], Body=raw)
    from chalicelib.handlers import handle_inbound_email

    by_mail = handle_inbound_email(json.dumps(document))
    by_text = text(api, "Texting about the same order")
    _, mail_ticket = api.call("GET", f"/tickets/{by_mail['ticket_id']}")
    _, sms_ticket = api.call("GET", f"/tickets/{by_text['ticket_id']}")
    anna = mail_ticket["ticket"]["customer"]["id"]
    texter = sms_ticket["ticket"]["customer"]["id"]
    assert anna != texter

    status, body = api.call("POST", f"/customers/{anna}/identities",
                            {"kind": "phone", "value": CUSTOMER_PHONE, "version": 1})
    assert status == 409 and "merge" in body["error"]["message"]  # identities are unique
    status, merged = api.call("POST", f"/customers/{texter}/merge", {"target_id": anna, "version": 1})
    assert status == 200 and merged["id"] == anna
    assert merged["emails"] == [CUSTOMER] and merged["phones"] == [CUSTOMER_PHONE]
    assert [t["channel"] for t in merged["tickets"]] == ["sms", "email"]  # newest first, every channel
    status, again = api.call("POST", f"/customers/{texter}/merge", {"target_id": anna, "version": 1})
    assert status == 200 and len(again["tickets"]) == 2  # safe to repeat
    _, gone = api.call("GET", f"/customers/{texter}")
    assert gone["merged_into"] == anna and gone["tickets"] == []

    follow = text(api, "One more thing")  # the conversation continues, now on Anna's record
    assert follow["status"] == "appended"
    _, record = api.call("GET", f"/customers/{anna}")
    assert len(record["tickets"]) == 2
    _, detail = api.call("GET", f"/tickets/{by_mail['ticket_id']}")
    assert [t["channel"] for t in detail["customer_tickets"]] == ["sms"]

    second_phone = "+14255550199"
    status, linked = api.call("POST", f"/customers/{anna}/identities",
                              {"kind": "phone", "value": "+1 (425) 555-0199", "version": record["version"]})
    assert status == 200 and linked["phones"] == [CUSTOMER_PHONE, second_phone]
    from_second = text(api, "From my other phone", origination=second_phone)
    _, third = api.call("GET", f"/tickets/{from_second['ticket_id']}")
    assert third["ticket"]["customer"]["id"] == anna

    status, unlinked = api.call("DELETE", f"/customers/{anna}/identities/phone/%2B14255550199")
    assert status == 200 and unlinked["phones"] == [CUSTOMER_PHONE] and len(unlinked["tickets"]) == 3
    status, _ = api.call("DELETE", f"/customers/{anna}/identities/phone/%2B14255550199")
    assert status == 404
    status, _ = api.call("DELETE", f"/customers/{anna}/identities/fax/123")
    assert status == 400


def test_sms_ingest_logs_no_number_and_no_text(chalice_client: Client, capsys: pytest.CaptureFixture[str]) -> None:
    # Spelled indirectly: a "--- Logging error ---" from a handler an earlier test left on a closed stream
    # prints the call stack with these source lines, and the secret must not be in them either.
    order, body = "".join(["98", "765"]), "My private question"
    log = logger()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(log.registered_formatter)
    log.addHandler(handler)
    try:
        invoke(chalice_client, sms_payload(f"{body} about order {order}"))
        invoke(chalice_client, sms_payload("x", origination="+49 1"))
    finally:
        log.removeHandler(handler)
    output = capsys.readouterr()
    logged = stream.getvalue() + output.out + output.err
    assert "sms ingested" in logged and "sms quarantined" in logged
    for secret in (CUSTOMER_PHONE, CUSTOMER_PHONE[1:], order, body, STORE_NUMBER):
        assert secret not in logged


def test_agent_opens_an_sms_conversation(api: Api, sms_numbers: None) -> None:
    status, ticket = api.call("POST", "/tickets", {
        "channel": "sms", "subject": "Your parcel", "body": "Hi, your parcel is ready for pickup.",
        "customer_phone": "+49 151 2345 6789", "customer_name": "Eva"})
    assert status == 201 and ticket["channel"] == "sms" and ticket["customer"]["phone"] == "+4915123456789"
    assert sms_sent()[-1] == ("+4915123456789", "Hi, your parcel is ready for pickup.")
    _, detail = api.call("GET", f"/tickets/{ticket['id']}")
    # newest first: the text sent, then the note of what was sent
    assert [(m["direction"], m["internal"]) for m in detail["messages"]] == [("outbound", False), ("outbound", True)]
    status, body = api.call("POST", "/tickets", {"channel": "sms", "subject": "x", "body": "y"})
    assert status == 400 and body["error"]["field"] == "customer_phone"
