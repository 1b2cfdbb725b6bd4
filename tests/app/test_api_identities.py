"""Identity flags through the API: a manager sees why an address gets no mail and clears the flag;
a stranger's message in a thread is flagged in the ticket view (issue 11)."""
from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import boto3

from chalicelib import bootstrap
from chalicelib.handlers import handle_inbound_email
from tests.app.api_support import Api
from tests.conftest import REGION, sent_mime
from tests.support import CUSTOMER, build_mail, notification


def received(raw: bytes, source: str = CUSTOMER) -> dict[str, Any]:
    document = notification(source=source)
    action = document["receipt"]["action"]
    boto3.client("s3", region_name=REGION).put_object(Bucket=action["bucketName"], Key=action["objectKey"], Body=raw)
    return handle_inbound_email(json.dumps(document))


def bounce_of(message_id: str, recipient: str) -> bytes:
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.customer.example>\r\nTo: support@shop.example\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn-1@mx.customer.example>\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.customer.example\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: support@shop.example\r\nMessage-ID: <{message_id}>\r\nSubject: ack\r\n\r\n--B--\r\n"
    ).encode()


def audit_items() -> list[dict[str, Any]]:
    table = bootstrap.shop().settings.names.table
    found = boto3.client("dynamodb", region_name=REGION).scan(TableName=table)["Items"]  # a test may scan
    return [i for i in found if i.get("entity", {}).get("S") == "audit"]


def test_manager_sees_and_clears_an_undeliverable_flag(api: Api) -> None:
    received(build_mail()[0])
    ack_id = str(sent_mime()["Message-ID"]).strip("<>")
    received(bounce_of(ack_id, CUSTOMER), source="")
    _, detail = api.call("GET", "/tickets/by-number/1001")
    customer_id = detail["ticket"]["customer"]["id"]

    status, listed = api.call("GET", f"/customers/{customer_id}/identities")
    assert status == 200 and listed["items"] == [{"kind": "email", "value": CUSTOMER, "customer_id": customer_id,
                                                  "undeliverable": True, "sms_opted_out": False}]
    path = f"/identities/email/{quote(CUSTOMER, safe='')}/undeliverable"
    status, body = api.call("DELETE", path)  # an agent may look, not clear
    assert status == 403
    status, body = api.call("DELETE", path, role="manager", user="manager-1")
    assert status == 200 and body["undeliverable"] is False and body["value"] == CUSTOMER
    [entry] = audit_items()
    assert entry["actor"]["S"] == "manager-1" and entry["action"]["S"] == "undeliverable_cleared"
    assert CUSTOMER not in json.dumps(entry)  # the address is pseudonymized in the audit
    _, listed = api.call("GET", f"/customers/{customer_id}/identities")
    assert listed["items"][0]["undeliverable"] is False
    status, _ = api.call("DELETE", path, role="manager")  # clearing again changes nothing
    assert status == 200 and len(audit_items()) == 1


def test_clearing_an_unknown_or_malformed_address(api: Api) -> None:
    status, body = api.call("DELETE", "/identities/email/nobody%40customer.example/undeliverable", role="manager")
    assert status == 404
    status, body = api.call("DELETE", "/identities/email/not-an-address/undeliverable", role="manager")
    assert status == 400 and body["error"]["field"] == "address"
    status, _ = api.call("GET", "/customers/nosuchcustomer/identities")
    assert status == 404


def test_strangers_message_is_flagged_in_the_ticket(api: Api) -> None:
    received(build_mail()[0])
    ack_id = str(sent_mime()["Message-ID"]).strip("<>")
    stranger = "mallory@evil.example"
    received(build_mail(sender=stranger, body="Yes, thanks!", in_reply_to=f"<{ack_id}>")[0], source=stranger)
    _, detail = api.call("GET", "/tickets/by-number/1001")
    flags = {m["from"]: m["from_stranger"] for m in detail["messages"] if m["direction"] == "inbound"}
    assert flags == {CUSTOMER: False, stranger: True}
