"""Hostile input on the contact form and POST /tickets: line breaks and control characters in one-line
fields, addresses that are two addresses or none. Every such request is a 400 naming the field, and
it writes nothing (no ticket, no rate counter, no mail), so a resubmit cannot make a second ticket."""
from __future__ import annotations

from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.app.api_support import Api
from tests.conftest import REGION, sent_emails

FORM = {"name": "Dana Doe", "email": "dana@customer.example", "subject": "Wrong size",
        "message": "I got an M instead of an L."}
EMAIL_TICKET = {"channel": "email", "subject": "Your order", "body": "Hello Dana, about your order.",
                "customer_email": "dana@customer.example", "customer_name": "Dana Doe"}
PHONE_TICKET = {"channel": "phone", "subject": "Called", "body": "Asked about the parcel.",
                "customer_phone": "+4915112345678", "customer_name": "Berta Beispiel"}
# Everything str.splitlines() breaks on, and other control characters a header must never carry.
BREAKS = ["\r", "\n", "\r\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029", "\x00", "\x1b",
          "\t"]
BAD_EMAILS = ["a@b@c", "dana@customer.example, attacker@evil.example", "dana@customer.example\nBcc: x@evil.example",
              "Dana <dana@customer.example>", "dana@localhost", "@customer.example", "dana@", "dana@cust omer.example"]


def stored() -> int:
    """How many items the table holds (test-only scan): a refused request must not change it."""
    from chalicelib.config import settings as load

    table = boto3.resource("dynamodb", region_name=REGION).Table(load().table_name)
    return len(table.scan()["Items"])


@pytest.mark.parametrize("brk", BREAKS, ids=repr)
@pytest.mark.parametrize("field", ["subject", "name", "order_number"])
def test_contact_form_refuses_line_breaks_in_one_line_fields(api: Api, field: str, brk: str) -> None:
    before = stored()
    status, body = api.call("POST", "/contact", {**FORM, field: f"Wrong{brk}Bcc: x@evil.example"}, role=None)
    assert status == 400 and body["error"]["field"] == field, body
    assert stored() == before and sent_emails() == []


@pytest.mark.parametrize("brk", BREAKS, ids=repr)
@pytest.mark.parametrize(("ticket", "field"), [(EMAIL_TICKET, "subject"), (PHONE_TICKET, "subject"),
                                               (EMAIL_TICKET, "customer_name")])
def test_new_ticket_refuses_line_breaks_in_one_line_fields(api: Api, ticket: dict[str, Any], field: str,
                                                           brk: str) -> None:
    before = stored()
    status, body = api.call("POST", "/tickets", {**ticket, field: f"Your{brk}order"})
    assert status == 400 and body["error"]["field"] == field, body
    assert stored() == before and sent_emails() == []


@pytest.mark.parametrize("address", BAD_EMAILS)
def test_contact_form_and_new_ticket_take_one_real_address(api: Api, address: str) -> None:
    before = stored()
    status, body = api.call("POST", "/contact", {**FORM, "email": address}, role=None)
    assert status == 400 and body["error"]["field"] == "email", body
    status, body = api.call("POST", "/tickets", {**EMAIL_TICKET, "customer_email": address})
    assert status == 400 and body["error"]["field"] == "customer_email", body
    assert stored() == before and sent_emails() == []


def test_surrounding_whitespace_is_trimmed_not_refused(api: Api) -> None:
    padded = {**FORM, "subject": "  Wrong size\r\n", "email": " Dana@Customer.Example "}
    status, body = api.call("POST", "/contact", padded, role=None)
    assert status == 202, body
    _, detail = api.call("GET", "/tickets/by-number/1001")
    assert detail["ticket"]["subject"] == "Wrong size"
    assert detail["ticket"]["customer"]["email"] == "dana@customer.example"


def test_linking_a_bad_address_to_a_customer_is_refused(api: Api) -> None:
    status, ticket = api.call("POST", "/tickets", PHONE_TICKET)
    assert status == 201
    customer_id = ticket["customer"]["id"]
    _, customer = api.call("GET", f"/customers/{customer_id}")
    for address in BAD_EMAILS:
        status, body = api.call("POST", f"/customers/{customer_id}/identities",
                                {"kind": "email", "value": address, "version": customer["version"]})
        assert status == 400 and body["error"]["field"] == "value", (address, body)


SINGLE = [b for b in BREAKS if len(b) == 1]
HOSTILE = st.text(alphabet=st.sampled_from([*SINGLE, "a", "Z", " ", "@", ",", "<", ">", "é", "\u200d", "\ud800"]),
                  max_size=12)


def test_fuzzed_contact_forms_never_5xx_and_a_400_writes_nothing(api: Api) -> None:
    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(field=st.sampled_from(["name", "email", "subject", "order_number", "phone", "message"]),
           noise=HOSTILE, at=st.integers(0, 10))
    def run(field: str, noise: str, at: int) -> None:
        value = str(FORM.get(field, "A-1"))
        before = stored()
        status, body = api.call("POST", "/contact", {**FORM, field: value[:at] + noise + value[at:]}, role=None)
        assert status < 500, (field, noise, body)
        if status == 400:
            assert stored() == before, (field, noise)

    run()


def test_fuzzed_new_tickets_never_5xx_and_a_400_writes_nothing(api: Api) -> None:
    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(ticket=st.sampled_from([EMAIL_TICKET, PHONE_TICKET]),
           field=st.sampled_from(["subject", "customer_name", "customer_email", "body"]),
           noise=HOSTILE, at=st.integers(0, 10))
    def run(ticket: dict[str, Any], field: str, noise: str, at: int) -> None:
        value = str(ticket.get(field, "x"))
        before = stored()
        status, body = api.call("POST", "/tickets", {**ticket, field: value[:at] + noise + value[at:]})
        assert status < 500, (field, noise, body)
        if status == 400:
            assert stored() == before, (field, noise)

    run()
