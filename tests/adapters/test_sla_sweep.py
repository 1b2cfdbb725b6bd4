"""The SLA sweep on moto with a controllable clock: each warning, breach and escalation exactly once."""
from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import pytest

from chalicelib import bootstrap
from chalicelib.adapters import keys
from chalicelib.adapters.clock import FixedClock
from chalicelib.adapters.item_store import ItemStore, Operation
from chalicelib.adapters.sns_alerts import RecordingAlertPublisher
from chalicelib.adapters.table_repository import TableRepository
from chalicelib.config import settings
from chalicelib.domain.principals import Principal, Role
from chalicelib.domain.sla_config import SlaPolicy
from chalicelib.domain.tickets import Ticket
from chalicelib.resources import SLA_INDEX
from chalicelib.services.inbound.email_channel import ingest_email
from chalicelib.services.inbox import TicketUpdate, update_ticket
from chalicelib.services.sla_config import save_policy
from chalicelib.services.sla_sweep import SweepOutcome, sweep_sla
from tests.conftest import REGION, sent_emails
from tests.support import build_mail, notification

BERLIN = ZoneInfo("Europe/Berlin")
AGENT = Principal("agent-1", "Alex Agent", Role.AGENT)
MANAGER = Principal("manager-1", "Mia Manager", Role.MANAGER)


def berlin(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=BERLIN)


@dataclass
class Desk:
    clock: FixedClock

    def at(self, moment: datetime) -> None:
        self.clock.moment = moment

    def receive(self, subject: str = "Where is my order?", body: str = "Hello, it has not arrived.",
                in_reply_to: str | None = None) -> str:
        raw, _ = build_mail(subject=subject, body=body, in_reply_to=in_reply_to)
        document = notification()
        action = document["receipt"]["action"]
        boto3.client("s3", region_name=REGION).put_object(Bucket=action["bucketName"], Key=action["objectKey"],
                                                          Body=raw)
        outcome = ingest_email(json.dumps(document), bootstrap.shop().inbound())
        assert outcome.ticket_id
        return outcome.ticket_id

    def sweep(self) -> SweepOutcome:
        return sweep_sla(bootstrap.shop().sweep())

    def ticket(self, ticket_id: str) -> Ticket:
        found = bootstrap.shop().repository.get_ticket(ticket_id)
        assert found is not None
        return found

    def events(self, ticket_id: str, kind: str) -> list[Any]:
        return [e for e in bootstrap.shop().repository.list_events(ticket_id) if e.type == kind]


def alerts() -> list[tuple[Any, ...]]:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    backend = sns_backends[DEFAULT_ACCOUNT_ID][REGION]
    return [n for topic in backend.topics.values() for n in topic.sent_notifications]


@pytest.fixture
def desk(serialized_aws_calls: None, fixed_now: datetime) -> Iterator[Desk]:
    # The sweep works shards on threads; moto's in-process backends are not thread-safe (DynamoDB is), so
    # each AWS call runs alone while the interleavings between calls stay real.
    boto3.client("sns", region_name=REGION).create_topic(Name=settings().names.escalations_topic)
    base = settings()
    configured = replace(base, sla=replace(base.sla, queue_agents={"support": ("team@shop.example",)},
                                           manager_on_duty="manager-7"))
    clock = FixedClock(fixed_now)  # Tuesday 24 November 2026, 10:00 in Berlin
    with bootstrap.overridden(settings=configured, clock=clock):
        yield Desk(clock)


def test_warning_then_breach_then_escalation_exactly_once_under_repeated_sweeps(desk: Desk) -> None:
    ticket_id = desk.receive()
    acknowledgements = len(sent_emails())
    desk.at(berlin(24, 13))
    assert desk.sweep().examined == 0  # nothing due: nothing read beyond the empty index page
    desk.at(berlin(24, 13, 31))
    first = desk.sweep()
    assert (first.examined, first.warnings, first.breaches, first.notices_sent) == (1, 1, 0, 1)
    [warning] = sent_emails()[acknowledgements:]
    assert set(warning.destinations) == {"team@shop.example"}
    desk.at(berlin(24, 13, 32))
    assert desk.sweep().examined == 0
    desk.at(berlin(24, 14, 1))
    breach = desk.sweep()
    assert (breach.breaches, breach.escalations) == (1, 1)
    [alert] = alerts()
    assert "#1001" in alert[2] and "first response" in alert[1]
    assert "@" not in alert[1] + alert[2]  # no customer address in the alert
    for minute in (2, 5, 30):
        desk.at(berlin(24, 14, minute))
        assert desk.sweep().examined == 0
    ticket = desk.ticket(ticket_id)
    assert (ticket.priority, ticket.assignee) == ("high", "manager-7")
    assert len(desk.events(ticket_id, "sla_warning")) == 1 and len(desk.events(ticket_id, "sla_breached")) == 1
    assert [e.data["reason"] for e in desk.events(ticket_id, "priority_changed")] == ["sla breach"]
    assert len(sent_emails()) == acknowledgements + 1 and len(alerts()) == 1
    assert ticket.sla_due == ticket.first_response_due_at  # breached, still listed as due
    assert ticket.sla_notices == []


class _Overlapping:
    """An ItemStore that runs a whole second sweep just before the first sweep's first write, after
    both have read the same due tickets: the race two overlapping scheduled runs would have."""

    def __init__(self, store: ItemStore, other: Any) -> None:
        self._store, self._other, self.raced = store, other, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def transact(self, operations: Sequence[Operation]) -> None:
        if not self.raced:
            self.raced = True
            self._other()
        self._store.transact(operations)


def test_overlapping_sweeps_warn_and_escalate_once(desk: Desk) -> None:
    ticket_id = desk.receive()
    acknowledgements = len(sent_emails())
    for moment, kind in ((berlin(24, 13, 31), "sla_warning"), (berlin(24, 14, 1), "sla_breached")):
        desk.at(moment)
        inner: list[SweepOutcome] = []
        deps = bootstrap.shop().sweep()
        racing = _Overlapping(deps.repository.store, lambda found=inner: found.append(desk.sweep()))
        outer = sweep_sla(replace(deps, repository=TableRepository(racing, clock=deps.clock)))  # type: ignore[arg-type]
        assert racing.raced and inner[0].examined == 1 and outer.examined == 1
        assert inner[0].warnings + inner[0].breaches + outer.warnings + outer.breaches == 1
        assert len(desk.events(ticket_id, kind)) == 1
    assert len(sent_emails()) == acknowledgements + 1 and len(alerts()) == 1
    assert desk.ticket(ticket_id).priority == "high"


def test_a_failed_alert_is_sent_once_by_a_later_sweep(desk: Desk) -> None:
    ticket_id = desk.receive()
    failing = RecordingAlertPublisher()
    failing.fail_next = 1
    with bootstrap.overridden(alerts=failing):
        desk.at(berlin(24, 14, 1))
        first = desk.sweep()
        assert (first.breaches, first.notices_failed) == (1, 1)
        desk.at(berlin(24, 14, 2))  # Lambda's retry, or the next minute: the claim's lease holds
        assert desk.sweep().breaches == 0 and failing.published == []
        desk.at(berlin(24, 14, 7))  # the lease ran out
        retry = desk.sweep()
        assert (retry.breaches, retry.notices_sent) == (0, 1)
        desk.at(berlin(24, 14, 20))
        desk.sweep()
    assert len(failing.published) == 1
    assert len(desk.events(ticket_id, "sla_breached")) == 1
    assert len(desk.events(ticket_id, "priority_changed")) == 1


def in_sla_index(ticket_id: str) -> bool:
    """Whether the ticket is in its shard of the sweep's index (and in no other shard)."""
    table = boto3.client("dynamodb", region_name=REGION)
    found = {shard: table.query(TableName=settings().table_name, IndexName=SLA_INDEX,
                                KeyConditionExpression="gsi6pk = :p",
                                ExpressionAttributeValues={":p": {"S": keys.sla_partition(shard)}})["Items"]
             for shard in keys.shards()}
    holding = [shard for shard, entries in found.items() if any(i["pk"]["S"] == f"TICKET#{ticket_id}" for i in entries)]
    assert holding in ([], [keys.shard_of(ticket_id)])
    return bool(holding)


def test_pending_pauses_the_clock_and_the_customer_reply_resumes_it(desk: Desk) -> None:
    ticket_id = desk.receive()
    desk.at(berlin(24, 11))
    ticket = desk.ticket(ticket_id)
    update_ticket(ticket_id, TicketUpdate(version=ticket.version, status="pending"), AGENT, bootstrap.shop().inbox())
    assert not in_sla_index(ticket_id)
    desk.at(berlin(24, 16))
    assert desk.sweep().examined == 0  # paused: the promise of 14:00 is not broken
    desk.at(berlin(25, 10))
    desk.receive(subject="Re: [#1001] Where is my order?", body="Any news?")
    resumed = desk.ticket(ticket_id)
    assert resumed.status.value == "open" and in_sla_index(ticket_id)
    assert resumed.first_response_due_at == "2026-11-25T12:00:00.000000Z"  # 3 hours left: 13:00 in Berlin
    desk.at(berlin(25, 12, 31))
    assert desk.sweep().warnings == 1
    desk.at(berlin(25, 13, 1))
    assert desk.sweep().breaches == 1


def test_policy_change_mid_ticket(desk: Desk) -> None:
    old = desk.receive(subject="First")
    desk.at(berlin(24, 10, 10))
    save_policy(SlaPolicy("default", "Default", first_response_minutes=60, warn_minutes_before=10), 0, MANAGER,
                bootstrap.shop().sla_config())
    desk.at(berlin(24, 10, 15))
    new = desk.receive(subject="Second")
    assert desk.ticket(new).first_response_due_at == "2026-11-24T10:15:00.000000Z"
    assert desk.ticket(old).first_response_due_at == "2026-11-24T13:00:00.000000Z"  # keeps its terms
    desk.at(berlin(24, 10, 30))
    ticket = desk.ticket(old)
    update_ticket(old, TicketUpdate(version=ticket.version, priority="high"), AGENT, bootstrap.shop().inbox())
    assert desk.ticket(old).first_response_due_at == "2026-11-24T10:00:00.000000Z"  # 60 minus the 30 spent
    desk.at(berlin(24, 11, 6))
    outcome = desk.sweep()
    assert (outcome.examined, outcome.warnings, outcome.breaches) == (2, 1, 1)
    assert len(desk.events(old, "sla_breached")) == 1 and len(desk.events(new, "sla_warning")) == 1


def test_bounded_runs_leave_the_backlog_for_the_next(desk: Desk) -> None:
    tickets = [desk.receive(subject=f"Question {n}") for n in range(5)]
    desk.at(berlin(24, 14, 1))
    first = sweep_sla(bootstrap.shop().sweep(), max_tickets=3, page=2)
    assert (first.examined, first.breaches, first.backlog) == (3, 3, True)
    second = sweep_sla(bootstrap.shop().sweep(), max_tickets=3, page=2)
    assert (second.examined, second.breaches, second.backlog) == (2, 2, False)
    assert all(len(desk.events(t, "sla_breached")) == 1 for t in tickets)
    assert first.lag_seconds == pytest.approx(31 * 60)  # their warnings were due at 13:30, nobody swept since


def test_resolved_tickets_close_after_the_quiet_period_with_one_notice(desk: Desk) -> None:
    ticket_id = desk.receive()
    ticket = desk.ticket(ticket_id)
    update_ticket(ticket_id, TicketUpdate(version=ticket.version, status="resolved"), AGENT, bootstrap.shop().inbox())
    before = len(sent_emails())
    desk.at(berlin(29, 9, 59))
    # Resolving moved the next action later (to the auto-close) and kept the sweep's earlier entry (two
    # index writes saved): the sweep wakes once, does nothing before its time, and re-keys the entry.
    early = desk.sweep()
    assert (early.auto_closed, early.notices_sent, early.warnings, early.breaches) == (0, 0, 0, 0)
    rekeyed = desk.ticket(ticket_id)
    assert rekeyed.status.value == "resolved" and rekeyed.sla_wake_at == rekeyed.sla_action_at
    assert desk.sweep().examined == 0  # once: the entry now says the real time
    desk.at(berlin(29, 10, 1))
    outcome = desk.sweep()
    assert (outcome.auto_closed, outcome.notices_sent) == (1, 1)
    desk.at(berlin(30, 10))
    assert desk.sweep().examined == 0
    closed = desk.ticket(ticket_id)
    assert closed.status.value == "closed" and closed.sla_action_at is None
    [notice] = sent_emails()[before:]
    assert "closed" in str(notice.raw_data) and "Auto-Submitted: auto-generated" in str(notice.raw_data)
    messages = bootstrap.shop().repository.list_messages(ticket_id)
    assert any(m.automated_reason == "closed after a quiet period" for m in messages)


def test_the_scheduled_handler_emits_breach_metrics_without_extra_dimensions(
    desk: Desk, capsys: pytest.CaptureFixture[str]
) -> None:
    from chalice.test import Client

    from app import app

    desk.receive()
    desk.at(berlin(24, 14, 1) + timedelta(seconds=30))
    capsys.readouterr()
    with Client(app, stage_name="test") as client:
        event = client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event", detail={},
                                                resources=[])
        result = client.lambda_.invoke("sla_sweep", event).payload
    assert result["breaches"] == 1
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    breaches = [b for b in blobs if "SlaBreaches" in b]
    assert len(breaches) == 1 and breaches[0]["SlaBreaches"] == [1.0]
    definition = breaches[0]["_aws"]["CloudWatchMetrics"][0]
    assert definition["Namespace"] == "ShopDesk" and definition["Dimensions"] == [["service"]]
    assert breaches[0]["service"] == "shopdesk"
    assert any(b.get("SlaSweepLagSeconds") for b in blobs)


def test_a_ticket_that_cannot_be_handled_does_not_hold_up_the_others(desk: Desk) -> None:
    broken, fine = desk.receive(subject="One"), desk.receive(subject="Two")
    boto3.client("dynamodb", region_name=REGION).update_item(
        TableName=settings().table_name, Key={"pk": {"S": f"TICKET#{broken}"}, "sk": {"S": "TICKET"}},
        UpdateExpression="SET sla.measures = :nonsense",
        ExpressionAttributeValues={":nonsense": {"M": {"first_response": {"M": {"nonsense": {"S": "x"}}}}}})
    desk.at(berlin(24, 14, 1))
    outcome = desk.sweep()
    assert outcome.failed == [broken] and outcome.breaches == 1
    assert len(desk.events(fine, "sla_breached")) == 1


def test_a_warning_the_mail_provider_rejects_is_dropped_with_an_event_not_retried(desk: Desk) -> None:
    """Given SES refuses the warning for good, when the sweep sends it, then the ticket records the failed
    notice and no later sweep tries again (a retry would be refused the same way, every minute)."""
    from botocore.exceptions import ClientError

    from chalicelib.adapters.aws import client as aws_client

    ticket_id = desk.receive()

    def reject(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "MessageRejected", "Message": "Address blacklisted."}}, "SendRawEmail")

    ses = aws_client("ses", REGION)
    ses.meta.events.register("before-call.ses.SendRawEmail", reject)
    try:
        desk.at(berlin(24, 13, 31))
        first = desk.sweep()
    finally:
        ses.meta.events.unregister("before-call.ses.SendRawEmail", reject)
    assert (first.warnings, first.notices_sent, first.notices_failed) == (1, 0, 1)
    assert [e.data.get("reason") for e in desk.events(ticket_id, "sla_notice_failed")] == [
        "rejected by the mail provider"]
    desk.at(berlin(24, 13, 45))
    assert desk.sweep().examined == 0
