"""AWS failures as an agent meets them: a reply SES refuses is a 422 saying why, a throttled SES a 503
with Retry-After; never a 500. Failures are played by botocore's Stubber on the app's own SES client."""
from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.stub import Stubber

from chalicelib.adapters.aws import client
from tests.app.api_support import Api, token
from tests.conftest import REGION, sent_emails

CUSTOMER = "carla@customer.example"


def email_ticket(api: Api) -> dict[str, Any]:
    status, ticket = api.call("POST", "/tickets", {
        "channel": "email", "subject": "Your refund", "body": "We refunded your order.",
        "customer_email": CUSTOMER, "customer_name": "Carla"})
    assert status == 201, ticket
    return ticket  # type: ignore[no-any-return]


def reply(api: Api, ticket: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    """An agent's reply; the status, the headers and the JSON answer."""
    response = api.client.http.post(
        f"/tickets/{ticket['id']}/replies",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token('agent')}"},
        body=json.dumps({"body": "Anything else?", "version": ticket["version"]}).encode())
    return response.status_code, response.headers, json.loads(response.body)


@contextmanager
def ses_answers(code: str, message: str, status: int = 400) -> Iterator[None]:
    """Given SES answers the next SendRawEmail with an error."""
    stubber = Stubber(client("ses", REGION))
    stubber.add_client_error("send_raw_email", service_error_code=code, service_message=message,
                             http_status_code=status)
    with stubber:
        yield
        stubber.assert_no_pending_responses()


def test_a_reply_ses_rejects_is_a_422_that_says_why(api: Api) -> None:
    ticket = email_ticket(api)
    before = len(sent_emails())
    with ses_answers("MessageRejected", "Email address is not verified. The following identities failed the check"):
        status, _, body = reply(api, ticket)
    assert status == 422, body
    assert body["error"]["code"] == "rejected"
    message = body["error"]["message"]
    assert "MessageRejected" in message and "Email address is not verified." in message and CUSTOMER in message
    assert len(sent_emails()) == before
    _, detail = api.call("GET", f"/tickets/{ticket['id']}")
    assert all(m["body_text"] != "Anything else?" for m in detail["messages"])  # not on the thread


def test_a_throttled_ses_is_a_503_with_retry_after_and_the_retry_goes_through(api: Api) -> None:
    ticket = email_ticket(api)
    with ses_answers("Throttling", "Maximum sending rate exceeded."):
        status, headers, body = reply(api, ticket)
    assert status == 503, body
    assert body["error"]["code"] == "temporarily_unavailable" and headers["Retry-After"] == "5"
    status, _, sent = reply(api, ticket)  # the agent's retry, once SES takes mail again
    assert status == 201 and sent["direction"] == "outbound"


def test_paused_sending_is_a_503_service_unavailable(api: Api) -> None:
    ticket = email_ticket(api)
    with ses_answers("AccountSendingPausedException", "Sending is paused for this account."):
        status, headers, body = reply(api, ticket)
    assert status == 503 and body["error"]["code"] == "service_unavailable"
    assert "Retry-After" not in headers  # an operator must act; a quick retry will not help


def test_every_domain_error_has_its_status_and_none_is_a_500() -> None:
    from chalicelib.api.errors import domain_error_response
    from chalicelib.domain import errors

    expected = {"NotFound": 404, "VersionConflict": 409, "Forbidden": 403, "RateLimited": 429, "Unavailable": 422,
                "Rejected": 422, "AlreadyExists": 409, "InvalidInput": 400, "TransientFailure": 503,
                "ServiceUnavailable": 503, "OutcomeUnknown": 503, "Throttled": 503, "TransactionConflict": 503,
                "DomainError": 422}
    kinds = [k for k in vars(errors).values() if isinstance(k, type) and issubclass(k, errors.DomainError)]
    assert sorted(k.__name__ for k in kinds) == sorted(expected)  # a new error gets its row here
    for kind in kinds:
        assert domain_error_response(kind("x")).status_code == expected[kind.__name__], kind
    refused = json.loads(domain_error_response(errors.Rejected("refused (MessageRejected)", CUSTOMER)).body)
    assert refused["error"] == {"code": "rejected", "message": f"refused (MessageRejected) (recipient: {CUSTOMER})"}
