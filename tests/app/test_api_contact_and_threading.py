"""The public contact form, replies to a customer's own mail, and macros applied to replies."""
from __future__ import annotations

import json
from typing import Any

import boto3

from chalicelib.handlers import handle_inbound_email
from tests.app.api_support import Api
from tests.conftest import REGION, sent_emails, sent_mime
from tests.support import CUSTOMER, build_mail, notification

FORM = {"name": "Dana Doe", "email": "Dana@Customer.example", "phone": "+49 151 2345 6789",
        "order_number": "A-5512", "subject": "Wrong size", "message": "I got an M instead of an L."}


def received(raw: bytes) -> dict[str, Any]:
    document = notification()
    action = document["receipt"]["action"]
    boto3.client("s3", region_name=REGION).put_object(Bucket=action["bucketName"], Key=action["objectKey"], Body=raw)
    return handle_inbound_email(json.dumps(document))


def test_contact_form_opens_web_ticket_and_acknowledges_by_email(api: Api) -> None:
    status, body = api.call("POST", "/contact", FORM, role=None)
    assert status == 202 and body == {"status": "received", "ticket_number": 1001}
    ack = sent_mime()
    # Issue 11 (finding 9): a form's acknowledgement repeats nothing typed; it was "[#1001] Wrong size".
    assert ack["To"] == "dana@customer.example" and ack["Subject"] == "[#1001] We received your message"
    assert ack["Auto-Submitted"] == "auto-replied"
    _, detail = api.call("GET", "/tickets/by-number/1001")
    assert detail["ticket"]["channel"] == "web"
    assert detail["ticket"]["customer"] == {"id": detail["ticket"]["customer"]["id"], "name": "Dana Doe",
                                            "email": "dana@customer.example", "phone": "+4915123456789"}
    assert "Order number: A-5512" in detail["messages"][-1]["body_text"]  # newest first: the form is the oldest
    status, customer = api.call("GET", "/customers?phone=%2B4915123456789")
    assert status == 200 and customer["id"] == detail["ticket"]["customer"]["id"]


def test_contact_form_validation_names_the_field(api: Api) -> None:
    for change, field in [({"email": "not-an-address"}, "email"), ({"phone": "call me"}, "phone"),
                          ({"message": ""}, "message"), ({"subject": "x" * 201}, "subject"),
                          ({"colour": "red"}, "colour")]:
        status, body = api.call("POST", "/contact", {**FORM, **change}, role=None)
        assert status == 400 and body["error"]["field"] == field, change
    assert sent_emails() == []


def test_honeypot_is_kept_aside_silently(api: Api) -> None:
    status, body = api.call("POST", "/contact", {**FORM, "website": "http://spam.example"}, role=None)
    assert status == 202 and body["ticket_number"] is None
    assert sent_emails() == []
    _, page = api.call("GET", "/tickets")
    assert page["items"] == []


def test_contact_form_is_rate_limited_per_address(api: Api) -> None:
    statuses = [api.call("POST", "/contact", {**FORM, "subject": f"try {n}"}, role=None)[0] for n in range(7)]
    assert statuses[:5] == [202] * 5 and statuses[5:] == [429, 429]
    status, body = api.call("POST", "/contact", {**FORM, "subject": "again"}, role=None)
    assert status == 429 and body["error"]["code"] == "rate_limited"


def test_agent_reply_threads_into_the_customers_own_mail(api: Api) -> None:
    raw, customer_message_id = build_mail()
    created = received(raw)
    ack_seen_by_customer = f"<{sent_emails()[0].id}@{REGION}.amazonses.com>"
    _, detail = api.call("GET", f"/tickets/{created['ticket_id']}")
    status, _ = api.call("POST", f"/tickets/{created['ticket_id']}/replies",
                         {"body": "Your parcel left today.", "version": detail["ticket"]["version"],
                          "status_after": "pending"})
    assert status == 201
    reply = sent_mime()
    assert reply["To"] == CUSTOMER
    assert reply["In-Reply-To"] == f"<{customer_message_id}>"
    assert reply["References"].split() == [f"<{customer_message_id}>", ack_seen_by_customer]
    assert reply["Subject"] == "Re: [#1001] Where is my order?"
    assert reply["Reply-To"].startswith("support+") and "Auto-Submitted" not in reply
    # The customer answers the agent's reply: it lands on the same ticket and reopens it.
    answer, _ = build_mail(subject="Re: Re: [#1001] Where is my order?", body="Thanks, but where is it now?",
                           in_reply_to=f"<{sent_emails()[-1].id}@{REGION}.amazonses.com>")
    outcome = received(answer)
    assert outcome["ticket_id"] == created["ticket_id"] and outcome["threaded_by"] == "message-id"
    _, detail = api.call("GET", f"/tickets/{created['ticket_id']}")
    assert detail["ticket"]["status"] == "open" and detail["ticket"]["first_responded_at"]


def test_reply_with_macro_renders_and_applies_actions(api: Api) -> None:
    _, macro = api.call("POST", "/macros", {"name": "Shipped", "body": "Hi {{ customer.first_name }}, it shipped.",
                                            "actions": {"status": "resolved", "add_tags": ["shipping"]}},
                        role="manager")
    created = received(build_mail()[0])
    _, detail = api.call("GET", f"/tickets/{created['ticket_id']}")
    status, message = api.call("POST", f"/tickets/{created['ticket_id']}/replies",
                               {"version": detail["ticket"]["version"], "macro_id": macro["id"]})
    assert status == 201 and message["body_text"].startswith("Hi Anna, it shipped.")
    _, detail = api.call("GET", f"/tickets/{created['ticket_id']}")
    assert detail["ticket"]["status"] == "resolved" and detail["ticket"]["tags"] == ["shipping"]


def test_attachments_come_with_a_short_lived_download_url(api: Api) -> None:
    raw, _ = build_mail(attachments=[("invoice.pdf", "application/pdf", b"%PDF-1.4 x")])
    created = received(raw)
    _, detail = api.call("GET", f"/tickets/{created['ticket_id']}")
    [attachment] = detail["messages"][-1]["attachments"]  # newest first: the customer's mail is the oldest
    assert attachment["filename"] == "invoice.pdf" and attachment["size"] == 10
    assert "X-Amz-Expires=300" in attachment["url"] and "X-Amz-Signature" in attachment["url"]
