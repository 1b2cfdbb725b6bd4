"""The local stack driven as a user would: SMTP in, the console's outbox, tokens, schedules, SIGTERM."""
from __future__ import annotations

import json
import os
import smtplib
import time
import uuid
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any, TypeVar

import pytest

from chalicelib.local.harness import StackProcess, port_is_free, stack_process

pytestmark = pytest.mark.local
T = TypeVar("T")
STORE = "support@shop.example"
REGION = "eu-central-1"


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("shopdesk-local")


@pytest.fixture(scope="module")
def stack(state_dir: Path) -> Iterator[StackProcess]:
    with stack_process(api=True, state_dir=state_dir) as running:
        yield running


def eventually(probe: Callable[[], T | None], stack: StackProcess, what: str, timeout: float = 20.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"no {what} after {timeout:.0f} s; stack output:\n{stack.output_tail()}")


def mail(sender: str, subject: str, body: str, **headers: str) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, STORE, subject
    message["Message-ID"] = make_msgid(domain="customer.example")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message


def send(stack: StackProcess, message: EmailMessage, recipients: list[str] | None = None) -> str:
    """Sends through the stack's SMTP server; returns the SES-like id from the 250 reply to DATA."""
    with smtplib.SMTP("127.0.0.1", stack.config.smtp_port, timeout=10) as smtp:
        smtp.ehlo()
        smtp.mail(str(message["From"]).split("<")[-1].rstrip(">"))
        for recipient in recipients or [str(message["To"])]:
            code, _ = smtp.rcpt(recipient)
            assert code == 250
        code, reply = smtp.data(message.as_bytes())
    assert code == 250
    return reply.decode().split()[-1]


def aws(stack: StackProcess, service: str) -> Any:
    import boto3

    return boto3.session.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name=REGION).client(
        service, endpoint_url=stack.config.aws_url)


def api(stack: StackProcess, path: str, token: str | None = None) -> tuple[int, Any]:
    import urllib.error
    import urllib.request

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(f"{stack.config.api_url}{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def agent_token(stack: StackProcess) -> str:
    token: str = stack.get("/token?role=agent&user=ada")["token"]
    return token


def outbox_to(stack: StackProcess, address: str) -> list[dict[str, Any]]:
    return [item for item in stack.get("/outbox") if address in item["to"]]


def ticket_messages(stack: StackProcess, ticket_id: str) -> list[dict[str, Any]]:
    dynamodb = aws(stack, "dynamodb")
    response = dynamodb.query(
        TableName="shopdesk-local-tickets", KeyConditionExpression="pk = :pk AND begins_with(sk, :msg)",
        ExpressionAttributeValues={":pk": {"S": f"TICKET#{ticket_id}"}, ":msg": {"S": "MSG#"}})
    return [{k: next(iter(v.values())) for k, v in item.items()} for item in response["Items"]]


def test_an_email_is_acknowledged_and_the_reply_lands_on_the_same_ticket(stack: StackProcess) -> None:
    from chalicelib.domain.threading import subject_ticket_number

    # Given a customer who writes to the store through SMTP
    customer = f"anna-{uuid.uuid4().hex[:8]}@customer.example"
    first = mail(f"Anna <{customer}>", "Where is my order?", "Order 5512 has not arrived.")
    send(stack, first)

    # Then the acknowledgement is in the outbox, with the Message-ID SES would give it
    ack = eventually(lambda: outbox_to(stack, customer), stack, "acknowledgement")[0]
    assert ack["channel"] == "email"
    assert ack["message_id"].endswith(f"@{REGION}.amazonses.com>")
    assert ack["in_reply_to"] == first["Message-ID"]
    assert any(h["name"] == "Auto-Submitted" and h["value"] == "auto-replied" for h in ack["headers"])
    number = subject_ticket_number(ack["subject"])
    assert number is not None

    # When the customer replies to it with what their mail client takes from its headers
    reply = mail(f"Anna <{customer}>", f"Re: {ack['subject']}", "Any news?", In_Reply_To=ack["message_id"],
                 References=ack["message_id"])
    del reply["To"]
    reply["To"] = ack["reply_to"] or STORE
    send(stack, reply)

    # Then the API, behind its real authorizer, shows the reply on the same ticket, acknowledged once
    token = agent_token(stack)

    def detail() -> dict[str, Any] | None:
        status, body = api(stack, f"/tickets/by-number/{number}", token)
        inbound = [m for m in body.get("messages", []) if m["direction"] == "inbound"] if status == 200 else []
        return body if len(inbound) == 2 else None

    ticket = eventually(detail, stack, "reply on the ticket through the API")["ticket"]
    assert ticket["customer"]["email"] == customer
    # ... and moto's table holds the reply's Message-ID in that ticket's partition
    stored_ids = {str(m.get("header_message_id", "")).strip("<>") for m in ticket_messages(stack, ticket["id"])}
    assert str(reply["Message-ID"]).strip("<>") in stored_ids
    time.sleep(0.3)
    assert len(outbox_to(stack, customer)) == 1


def test_mail_to_other_addresses_is_refused_at_rcpt(stack: StackProcess) -> None:
    with smtplib.SMTP("127.0.0.1", stack.config.smtp_port, timeout=10) as smtp:
        smtp.ehlo()
        smtp.mail("someone@customer.example")
        assert smtp.rcpt("sales@other.example")[0] == 550
        assert smtp.rcpt("nobody@shop.example")[0] == 550
        assert smtp.rcpt("support+anything@shop.example")[0] == 250


def test_the_test_header_forces_a_spam_verdict_into_the_stored_mail(stack: StackProcess) -> None:
    message = mail("Spammer <spam@customer.example>", "Cheap watches", "Buy now", X_ShopDesk_Test_Verdict="spam")
    ses_id = send(stack, message)
    stored = aws(stack, "s3").get_object(Bucket="shopdesk-local-raw-mail", Key=f"inbound/{ses_id}")["Body"].read()
    assert b"X-SES-Spam-Verdict: FAIL" in stored
    assert b"X-SES-Virus-Verdict: PASS" in stored


def test_token_is_signed_by_the_local_key(stack: StackProcess, state_dir: Path) -> None:
    import jwt

    from chalicelib.local.keys import public_key_path

    status, body = stack.request("GET", "/token?role=manager&user=mia")
    assert status == 200
    token = body["token"]
    claims = jwt.decode(token, public_key_path(state_dir).read_text(), algorithms=["RS256"], audience="shopdesk",
                        issuer="shopdesk-local")
    assert claims["sub"] == "mia" and claims["cognito:groups"] == ["manager"]
    assert 11 * 3600 < claims["exp"] - time.time() <= 12 * 3600
    assert jwt.get_unverified_header(token)["kid"] == body["kid"]
    assert stack.request("GET", "/token?role=owner")[0] == 400


def test_console_routes_for_sms_and_schedules(stack: StackProcess) -> None:
    status, body = stack.request("POST", "/schedules/nope", {})
    assert status == 404 and "nope" in body["error"]
    status, body = stack.request("POST", "/sms", {"from": "+4915112345678", "to": "+4930123456", "body": "HELP"})
    assert status == 202 and body["inboundMessageId"]
    assert stack.request("POST", "/sms", {"from": "0151", "to": "+4930123456", "body": "x"})[0] == 400


def test_a_text_through_the_console_opens_a_ticket_and_is_acknowledged_by_sms(stack: StackProcess) -> None:
    # Given a customer who texts the store's number (the console publishes End User Messaging's JSON)
    phone = f"+1425555{uuid.uuid4().int % 10_000:04d}"
    status, body = stack.request("POST", "/sms", {"from": phone, "to": "+4930123456", "body": "Is my parcel late?"})
    assert status == 202 and body["handlers"] == ["ingest_sms"]

    # Then ingest_sms, delivered by the local SNS subscription, answers by SMS with the ticket number
    ack = eventually(lambda: outbox_to(stack, phone), stack, "SMS acknowledgement")[0]
    assert ack["channel"] == "sms" and "ticket #" in ack["text"]

    # And a keyword is answered instead of opening a ticket
    stack.request("POST", "/sms", {"from": phone, "to": "+4930123456", "body": "HELP"})
    answers = eventually(lambda: [i for i in outbox_to(stack, phone) if "support" in i["text"]] or None, stack,
                         "HELP answer")
    assert len(answers) == 1

def test_the_console_shows_one_short_line_per_event_and_the_log_file_keeps_the_json(
        stack: StackProcess, state_dir: Path) -> None:
    from chalicelib.domain.threading import subject_ticket_number

    # Given a customer who writes and one who texts, as a person running `make run` would see it
    customer = f"lena-{uuid.uuid4().hex[:8]}@customer.example"
    send(stack, mail(f"Lena <{customer}>", "Parcel damaged", "The box arrived crushed."))
    phone = f"+1425555{uuid.uuid4().int % 10_000:04d}"
    stack.request("POST", "/sms", {"from": phone, "to": "+4930123456", "body": "Damaged parcel, help"})
    ack = eventually(lambda: outbox_to(stack, customer), stack, "acknowledgement")[0]
    number = subject_ticket_number(ack["subject"])
    eventually(lambda: outbox_to(stack, phone), stack, "SMS acknowledgement")
    status, _ = api(stack, "/tickets?limit=5", agent_token(stack))
    assert status == 200

    def event_lines() -> list[str]:
        output = stack.output.read_text(errors="replace")
        return output.split("Ctrl-C stops everything.", 1)[1].splitlines()[1:]

    created = f"email in: ticket #{number} created, acknowledgement sent"
    lines = eventually(lambda: event_lines() if any(created in line for line in event_lines()) else None, stack,
                       "console line for the new ticket")

    # Then each event is one short line: mail in, the ticket with its number and the acknowledgement, SMS in,
    # the API request; no JSON (Powertools logs, EMF metrics), no botocore chatter, no address or number
    events = [line for line in lines if line.strip()]
    assert len([line for line in events if created in line]) == 1
    assert any("SMTP: received" in line for line in events)
    assert any("SMS: received" in line for line in events)
    assert any("SMS in: ticket #" in line and "created, acknowledgement sent" in line for line in events)
    assert any("API GET /tickets -> 200" in line for line in events)
    assert all(len(line) < 160 for line in events), [line for line in events if len(line) >= 160]
    assert not [line for line in events if "{" in line]
    assert not [line for line in events if "@" in line or phone[1:] in line]
    assert not [line for line in events if "credentials" in line.lower()]

    # And the log file has everything in full, one JSON document a line: the service's records, EMF metrics
    log_file = state_dir / "logs" / "shopdesk.jsonl"
    records = [json.loads(line) for line in log_file.read_text().splitlines() if line.strip()]
    ingested = [r for r in records if r.get("message") == "email ingested"
                and r.get("outcome", {}).get("ticket_number") == number]
    assert len(ingested) == 1 and ingested[0]["service"] == "shopdesk" and ingested[0]["correlation_id"]
    assert any(r.get("_aws") and "EmailsIngested" in r for r in records)
    assert any(r.get("logger", "").startswith("botocore") for r in records)


def test_the_api_accepts_console_tokens_and_refuses_others(stack: StackProcess) -> None:
    assert api(stack, "/tickets")[0] == 401
    assert api(stack, "/tickets", "not-a-token")[0] == 401
    status, body = api(stack, "/tickets", agent_token(stack))
    assert status == 200 and "items" in body


# ---- the parts, without processes ----------------------------------------------------------------
def test_smtp_notification_is_what_the_ingest_parser_accepts() -> None:
    from datetime import UTC, datetime

    from chalicelib.local.smtp import ReceiptTarget, forced_verdicts, receipt_notification, stored_mail
    from chalicelib.mail.ses_notification import parse_ses_notification

    raw = mail("Anna <anna@customer.example>", "Hallo", "Text", X_ShopDesk_Test_Verdict="virus").as_bytes()
    verdicts = forced_verdicts(raw)
    at = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    stored = stored_mail(raw, mail_from="anna@customer.example", recipient=STORE, ses_id="abc", verdicts=verdicts,
                         received_at=at)
    target = ReceiptTarget("bucket", "inbound/", "arn:aws:sns:eu-central-1:123456789012:topic")
    document = receipt_notification(stored, ses_id="abc", mail_from="anna@customer.example", recipients=[STORE],
                                    target=target, verdicts=verdicts, received_at=at, processing_ms=3)
    receipt = parse_ses_notification(json.dumps(document))
    assert receipt.location == "s3://bucket/inbound/abc"
    assert (receipt.verdicts.virus, receipt.verdicts.spam) == ("FAIL", "PASS")
    assert document["mail"]["commonHeaders"]["from"] == ["Anna <anna@customer.example>"]
    assert document["mail"]["timestamp"] == "2026-11-24T09:00:00.000Z"


def test_console_lines_come_from_the_outcome_and_hide_addresses_and_numbers(tmp_path: Path) -> None:
    import logging

    from chalicelib.local.logs import ConsoleFilter, ConsoleFormatter

    def line(message: str, level: int = logging.INFO, **outcome: Any) -> str | None:
        record = logging.LogRecord("shopdesk", level, __file__, 1, message, None, None)
        record.outcome = outcome
        return ConsoleFormatter(tmp_path).format(record).split(" ", 1)[1] if ConsoleFilter().filter(record) else None

    assert line("email ingested", status="appended", ticket_number=1004, threaded_by="in-reply-to") == \
        "email in: appended to ticket #1004 (by in-reply-to)"
    assert line("sms quarantined", logging.WARNING, status="quarantined",
                reason="impossible number +49 151 1234567 from ann@example.com") == \
        "SMS in: quarantined (impossible number <number> from <address>)"
    assert line("sla sweep done", examined=3, warnings=1, breaches=2, escalations=2, failed=[]) == \
        "SLA sweep: 3 tickets due: 1 warned, 2 breached, 2 escalated"
    assert line("sla sweep done", examined=0, failed=[]) is None  # a sweep that found nothing is not an event
    chatter = logging.LogRecord("botocore.credentials", logging.INFO, __file__, 1, "Found credentials", None, None)
    assert not ConsoleFilter().filter(chatter)


def test_schedules_and_topics_come_from_the_app_and_run_one_at_a_time() -> None:
    from chalice import Chalice, Rate

    from chalicelib.local.delivery import FunctionWorker, Scheduler
    from chalicelib.local.registry import discover

    # Given an app with a schedule every minute and an SNS handler
    app = Chalice(app_name="probe")
    calls: list[str] = []

    @app.schedule(Rate(1, unit=Rate.MINUTES), name="sweep")
    def sweep(event: Any) -> str:
        calls.append(event.to_dict()["detail-type"])
        return "swept"

    @app.on_sns_message(topic="shopdesk-local-inbound-sms", name="ingest_sms")
    def ingest_sms(event: Any) -> None:
        return None

    registry = discover(app)
    assert registry.subscriptions == {"shopdesk-local-inbound-sms": "ingest_sms"}
    assert registry.schedules["sweep"].every_seconds == 60

    # When the scheduler runs 600 times faster than real time
    worker = FunctionWorker("sweep", app.handler_map["sweep"])
    scheduler = Scheduler(registry.schedules.values(), {"sweep": worker}, region=REGION, rule_prefix="probe",
                          speedup=600)
    worker.start()
    scheduler.start()
    try:
        assert scheduler.run_now("sweep").result(timeout=5) == "swept"
        deadline = time.monotonic() + 5
        while len(calls) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        scheduler.stop()
        worker.stop()
    # Then ticks arrive as EventBridge scheduled events
    assert len(calls) >= 3 and set(calls) == {"Scheduled Event"}


def test_a_failing_handler_is_retried_then_given_up() -> None:
    from chalicelib.local.delivery import FunctionWorker

    attempts: list[int] = []

    def flaky(event: dict[str, Any], context: Any) -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise RuntimeError("storage down")
        return "ok"

    def broken(event: dict[str, Any], context: Any) -> None:
        raise RuntimeError("always")

    workers = [FunctionWorker("flaky", flaky, retry_delays=(0.01, 0.01)),
               FunctionWorker("broken", broken, retry_delays=(0.01, 0.01))]
    for worker in workers:
        worker.start()
    try:
        # A handler that fails twice succeeds on Lambda's second retry
        assert workers[0].submit({}, "first").result(timeout=5) == "ok"
        assert len(attempts) == 3
        # One that keeps failing is given up after three attempts
        with pytest.raises(RuntimeError):
            workers[1].submit({}, "second").result(timeout=5)
        assert workers[1].invocations == 3
    finally:
        for worker in workers:
            worker.stop()


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process table from /proc")
def test_sigterm_stops_everything(stack: StackProcess) -> None:
    # Runs last in this module: it stops the stack the fixture started.
    children = _descendants(stack.process.pid)
    assert children, "the API runs as a child process"
    assert stack.terminate(timeout=20) == 0, stack.output_tail()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(_alive(pid) for pid in children):
        time.sleep(0.1)
    assert not [pid for pid in children if _alive(pid)]
    assert [port for port in stack.ports if not port_is_free(port)] == []

