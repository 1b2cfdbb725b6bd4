"""An agent's reply through the API when DynamoDB fails after SES accepted the mail: the reply stays on the
thread (recorded, or "sending"/"unconfirmed", never nothing), and a resend with the same Idempotency-Key
returns the first reply and sends nothing."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.adapters.aws import client as aws_client
from chalicelib.domain.errors import TransientFailure
from tests.app.api_support import Api
from tests.conftest import REGION, sent_emails


class FailAfterSend:
    """Fails DynamoDB's TransactWriteItems once SES has sent (the first `times` of them; None: all)."""

    def __init__(self, times: int | None) -> None:
        self.times, self.sent, self.failed = times, False, 0

    def after_ses(self, model: Any, **_: Any) -> None:
        if model.name == "SendRawEmail":
            self.sent = True

    def before_dynamodb(self, model: Any, **_: Any) -> None:
        if model.name == "TransactWriteItems" and self.sent and (self.times is None or self.failed < self.times):
            self.failed += 1
            raise TransientFailure("injected: DynamoDB unavailable after SES accepted the reply")


@pytest.fixture
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("chalicelib.services.replies.SEND_RECORD_BACKOFF", (0.001,))


@pytest.fixture
def failing_after_send(api: Api) -> Iterator[list[FailAfterSend]]:
    armed: list[FailAfterSend] = []
    ses, dynamodb = aws_client("ses", REGION), aws_client("dynamodb", REGION)

    def after_ses(**kwargs: Any) -> None:
        for hook in armed:
            hook.after_ses(**kwargs)

    def before_dynamodb(**kwargs: Any) -> None:
        for hook in armed:
            hook.before_dynamodb(**kwargs)

    ses.meta.events.register("after-call.ses.*", after_ses)
    dynamodb.meta.events.register("before-call.dynamodb.*", before_dynamodb)
    yield armed
    ses.meta.events.unregister("after-call.ses.*", after_ses)
    dynamodb.meta.events.unregister("before-call.dynamodb.*", before_dynamodb)


def email_ticket(api: Api) -> dict[str, Any]:
    status, ticket = api.call("POST", "/tickets", {
        "channel": "email", "subject": "Your refund", "body": "We refunded your order.",
        "customer_email": "carla@customer.example", "customer_name": "Carla"})
    assert status == 201
    return dict(ticket)


def thread_replies(api: Api, ticket_id: str) -> list[dict[str, Any]]:
    status, detail = api.call("GET", f"/tickets/{ticket_id}")
    assert status == 200
    return [m for m in detail["messages"] if m["direction"] == "outbound" and m["body_text"].startswith("Anything")]


def reply(api: Api, ticket: dict[str, Any], key: str | None) -> tuple[int, Any]:
    headers = {"Idempotency-Key": key} if key else None
    return api.call("POST", f"/tickets/{ticket['id']}/replies", {"body": "Anything else?",
                                                                "version": ticket["version"]}, headers=headers)


def test_one_storage_error_after_ses_is_retried_and_the_reply_is_on_the_thread(
        api: Api, failing_after_send: list[FailAfterSend], quick_backoff: None) -> None:
    # Given a ticket, and DynamoDB failing the first transaction after SES accepts the reply
    ticket = email_ticket(api)
    mails = len(sent_emails())
    hook = FailAfterSend(times=1)
    failing_after_send.append(hook)
    # When the agent replies
    status, message = reply(api, ticket, "reply-1")
    # Then the reply is recorded (the failed record was retried) and shown as sent
    assert hook.failed == 1
    assert status == 201 and message["delivery_state"] == "sent"
    [shown] = thread_replies(api, ticket["id"])
    assert shown["id"] == message["id"] and shown["delivery_state"] == "sent"
    assert len(sent_emails()) == mails + 1


def test_a_reply_whose_record_keeps_failing_stays_on_the_thread_and_a_resend_sends_nothing(
        api: Api, failing_after_send: list[FailAfterSend], quick_backoff: None) -> None:
    # Given a ticket, and DynamoDB failing every transaction after SES accepted the reply
    ticket = email_ticket(api)
    mails = len(sent_emails())
    failing_after_send.append(FailAfterSend(times=None))
    # When the agent replies
    status, body = reply(api, ticket, "reply-2")
    # Then the agent hears it was sent but not recorded, and the thread shows it, not confirmed
    assert status == 503, body
    failing_after_send.clear()
    [shown] = thread_replies(api, ticket["id"])
    assert shown["delivery_state"] in ("sending", "unconfirmed")
    assert len(sent_emails()) == mails + 1
    # When the agent sends it again with the same key
    status, again = reply(api, ticket, "reply-2")
    # Then the first reply comes back and nothing is sent
    assert status == 201 and again["id"] == shown["id"]
    assert len(sent_emails()) == mails + 1
    assert len(thread_replies(api, ticket["id"])) == 1


def test_the_same_key_twice_sends_one_mail_and_another_key_sends_another(api: Api) -> None:
    ticket = email_ticket(api)
    mails = len(sent_emails())
    status, first = reply(api, ticket, "same")
    assert status == 201
    status, second = reply(api, ticket, "same")  # the version is stale now: the key answers first
    assert status == 201 and second["id"] == first["id"]
    assert len(sent_emails()) == mails + 1
    _, detail = api.call("GET", f"/tickets/{ticket['id']}")
    status, third = api.call("POST", f"/tickets/{ticket['id']}/replies", {
        "body": "Anything more?", "version": detail["ticket"]["version"]}, headers={"Idempotency-Key": "other"})
    assert status == 201 and third["id"] != first["id"]
    assert len(sent_emails()) == mails + 2


def test_a_malformed_key_is_refused_before_anything_is_sent(api: Api) -> None:
    ticket = email_ticket(api)
    mails = len(sent_emails())
    status, body = reply(api, ticket, "no spaces allowed")
    assert status == 400 and body["error"]["field"] == "Idempotency-Key"
    assert len(sent_emails()) == mails


def test_a_send_that_fails_leaves_nothing_and_frees_the_key(api: Api) -> None:
    ticket = email_ticket(api)
    ses = aws_client("ses", REGION)

    def refuse(**_: Any) -> None:
        raise TransientFailure("injected: SES unreachable")

    ses.meta.events.register("before-call.ses.SendRawEmail", refuse)
    try:
        status, _ = reply(api, ticket, "retry-me")
    finally:
        ses.meta.events.unregister("before-call.ses.SendRawEmail", refuse)
    assert status == 503
    assert thread_replies(api, ticket["id"]) == []
    status, message = reply(api, ticket, "retry-me")
    assert status == 201 and message["delivery_state"] == "sent"


def test_a_reply_whose_answer_from_ses_never_came_stays_unconfirmed_and_a_resend_sends_nothing(
        api: Api, quick_backoff: None) -> None:
    """Given SES took the request but its answer timed out (it may have sent the mail), the reply is on
    the thread as unconfirmed, and a resend with the same Idempotency-Key sends no second mail."""
    from botocore.exceptions import ReadTimeoutError

    ticket = email_ticket(api)
    ses = aws_client("ses", REGION)
    before = len(sent_emails())

    def answer_lost(**_: Any) -> None:
        raise ReadTimeoutError(endpoint_url="https://email.eu-central-1.amazonaws.com")

    ses.meta.events.register("before-call.ses.SendRawEmail", answer_lost)
    try:
        status, body = reply(api, ticket, "lost-answer")
    finally:
        ses.meta.events.unregister("before-call.ses.SendRawEmail", answer_lost)
    assert status == 503 and body["error"]["code"] == "temporarily_unavailable"
    [shown] = thread_replies(api, ticket["id"])
    assert shown["delivery_state"] == "unconfirmed"
    status, again = reply(api, ticket, "lost-answer")
    assert status in (200, 201) and again["id"] == shown["id"]
    assert len(sent_emails()) == before


def test_the_openapi_document_declares_the_idempotency_key_header(api: Api) -> None:
    status, document = api.call("GET", "/openapi.json", role=None)
    assert status == 200
    parameters = document["paths"]["/tickets/{ticket_id}/replies"]["post"]["parameters"]
    [header] = [p for p in parameters if p["in"] == "header"]
    assert header["name"] == "Idempotency-Key" and header["required"] is False
