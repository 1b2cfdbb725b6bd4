"""Acknowledgements the provider throttles: ingest stores the ticket and queues the ack; the drain sends it
later, oldest first, within the send rate, with the promise made at arrival, exactly once — or not at all
when a person answered first. Against the in-memory fakes (the same repository code as DynamoDB's)."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from chalicelib.adapters import keys
from chalicelib.domain.errors import Throttled, TransientFailure
from chalicelib.domain.ids import iso
from chalicelib.ports import SENDING, OutgoingEmail, OutgoingSms, SentEmail, SentSms, TicketChange
from chalicelib.services.inbound.pending_acks import AckDrainDeps, DrainOutcome, drain_pending_acks
from tests.sms_support import FakeSmsShop
from tests.support import FakeShop, build_mail


class ThrottledMail:
    """SES answering Throttling ("Maximum sending rate exceeded") while `throttled`; else the recorder."""

    def __init__(self, inner: Any, *, after: int | None = None) -> None:
        self.inner, self.after, self.attempts = inner, after, 0
        self.throttled = after is None

    def send(self, mail: OutgoingEmail) -> SentEmail:
        self.attempts += 1
        if self.throttled or (self.after is not None and self.attempts > self.after):
            raise Throttled("ses SendRawEmail was throttled (Throttling); try again later")
        sent: SentEmail = self.inner.send(mail)
        return sent


class ThrottledSms:
    def __init__(self, inner: Any) -> None:
        self.inner, self.throttled = inner, True

    def send(self, sms: OutgoingSms) -> SentSms:
        if self.throttled:
            raise Throttled("sns Publish was throttled (Throttled); try again later")
        sent: SentSms = self.inner.send(sms)
        return sent


@pytest.fixture
def shop(fixed_now: datetime) -> FakeShop:
    return FakeShop(now=fixed_now)


def throttle(shop: FakeShop, **options: Any) -> ThrottledMail:
    throttled = ThrottledMail(shop.mail, **options)
    shop.mail = throttled  # type: ignore[assignment]
    return throttled


def drain(shop: FakeShop, seconds: float = 50.0, pauses: list[float] | None = None) -> DrainOutcome:
    """One drain run on the simulated clock: its waits between sends advance the clock."""
    def pause(delay: float) -> None:
        (pauses if pauses is not None else []).append(delay)
        shop.clock.advance(seconds=delay)

    return drain_pending_acks(AckDrainDeps(inbound=shop.deps, pause=pause), seconds=seconds)


def mails(shop: FakeShop, count: int, *, start: int = 0) -> list[str]:
    """`count` new tickets from different senders, a minute apart; their ticket ids."""
    ids = []
    for n in range(start, start + count):
        raw, _ = build_mail(sender=f"Customer {n} <c{n}@customer.example>", subject=f"Question {n}")
        outcome = shop.receive(raw, ses_id=f"mail-{n}", source=f"c{n}@customer.example")
        ids.append(outcome.ticket_id or "")
        shop.clock.advance(minutes=1)
    return ids


def ticket(shop: FakeShop, ticket_id: str) -> dict[str, Any]:
    return shop.store.items[(keys.ticket(ticket_id)["pk"], "TICKET")]


# ---- ingest ------------------------------------------------------------------------------------------
def test_a_throttled_ack_leaves_ingest_successful_and_the_ticket_queued(shop: FakeShop) -> None:
    # Given SES throttling every send
    recording = shop.mail
    throttle(shop)
    raw, _ = build_mail()
    # When a new mail arrives
    outcome = shop.receive(raw, ses_id="throttled")
    # Then ingest succeeds: the ticket and message are stored, the ack is pending and queued
    assert outcome.status == "created" and not outcome.acknowledged and outcome.ack_deferred
    [stored] = shop.items("ticket")
    assert stored["ack_state"] == "pending" and len(shop.items("message")) == 1 and recording.sent == []
    [entry] = shop.items("pending_ack")
    assert entry["gsi9pk"] == keys.pending_ack_partition(keys.shard_of(stored["id"]))
    assert entry["gsi9sk"] == f"{stored['created_at']}#{stored['id']}"  # the original arrival orders it
    assert "gsi9pk" not in stored  # the ticket item and its indexes are untouched
    # The claim is released (a drain may send at once) and the delivery stays "stored" until the ack goes
    [claim] = shop.items("send_claim")
    assert claim["state"] == SENDING and claim["lease_until"] <= iso(shop.clock.now())
    [delivery] = shop.items("inbound")
    assert delivery["state"] == "stored"


def test_an_unthrottled_ack_never_enters_the_queue(shop: FakeShop) -> None:
    raw, _ = build_mail()
    assert shop.receive(raw).acknowledged
    assert shop.items("pending_ack") == []
    assert shop.repository.pending_acks(before=iso(shop.clock.now() + timedelta(days=1)), limit=10) == []


def test_a_non_throttle_failure_still_fails_the_invocation_but_the_queue_keeps_the_ack(shop: FakeShop) -> None:
    class Down:
        def send(self, mail: OutgoingEmail) -> SentEmail:
            raise TransientFailure("injected: SES unreachable")

    recording = shop.mail
    shop.mail = Down()  # type: ignore[assignment]
    raw, _ = build_mail()
    with pytest.raises(TransientFailure):
        shop.receive(raw, ses_id="down")
    assert len(shop.items("pending_ack")) == 1  # if Lambda's retries run out, the drain still sends it
    shop.mail = recording
    shop.clock.advance(minutes=1)
    assert drain(shop).sent == 1 and len(recording.sent) == 1
    assert shop.receive(raw, ses_id="down").status == "duplicate"  # Lambda's retry: the drain finished it
    assert len(recording.sent) == 1


# ---- the drain ---------------------------------------------------------------------------------------
def test_the_drain_sends_the_ack_once_with_the_promise_made_at_arrival(shop: FakeShop) -> None:
    # Given a mail at Tuesday 10:00 in Berlin whose ack SES throttled (promise: four business hours)
    recording, throttled = shop.mail, throttle(shop)
    [ticket_id] = mails(shop, 1)
    promised = ticket(shop, ticket_id)["first_response_due_at"]
    # When SES takes mail again twenty minutes later and the drain runs (twice)
    throttled.throttled = False
    shop.clock.advance(minutes=20)
    first, second = drain(shop), drain(shop)
    # Then the one ack went out, promising what was promised at 10:00, not 10:20 + four hours
    assert first.sent == 1 and second.examined == 0 and len(recording.sent) == 1
    [ack] = recording.sent
    assert "by today 14:00 (Europe/Berlin)" in ack.text and ack.subject == "[#1001] Question 0"
    stored = ticket(shop, ticket_id)
    assert stored["ack_state"] == "sent" and stored["first_response_due_at"] == promised
    [event] = [e for e in shop.items("event") if e["type"] == "acknowledged"]
    assert event["data"]["promise"] == promised and "late" not in event["data"]
    assert shop.items("pending_ack") == [] and shop.items("inbound")[0]["state"] == "done"
    # A redelivery of the same mail now sends nothing
    raw, _ = build_mail(sender="Customer 0 <c0@customer.example>", subject="Question 0")
    assert shop.receive(raw, ses_id="mail-0", source="c0@customer.example").status == "duplicate"
    assert len(recording.sent) == 1


def test_an_ack_whose_promise_passed_while_it_waited_promises_no_time(shop: FakeShop) -> None:
    recording, throttled = shop.mail, throttle(shop)
    [ticket_id] = mails(shop, 1)
    throttled.throttled = False
    shop.clock.advance(hours=5)  # 15:00: the 14:00 promise has passed
    assert drain(shop).sent == 1
    [ack] = recording.sent
    assert "answer by" not in ack.text and "as soon as they can" in ack.text and "late" in ack.text
    [event] = [e for e in shop.items("event") if e["type"] == "acknowledged"]
    assert event["data"]["late"] is True and "promise" not in event["data"]
    assert ticket(shop, ticket_id)["ack_state"] == "sent"


def test_no_ack_after_a_person_answered(shop: FakeShop) -> None:
    recording, throttled = shop.mail, throttle(shop)
    [ticket_id] = mails(shop, 1)
    # Given an agent answered before SES took mail again
    current = shop.repository.get_ticket(ticket_id)
    assert current is not None
    shop.repository.apply(TicketChange(ticket=replace(current, first_responded_at=iso(shop.clock.now()))))
    throttled.throttled = False
    outcome = drain(shop)
    assert outcome.withheld == 1 and outcome.sent == 0 and recording.sent == []
    stored = ticket(shop, ticket_id)
    assert stored["ack_state"] == "skipped" and "a person answered" in stored["ack_reason"]
    assert shop.items("pending_ack") == [] and shop.items("inbound")[0]["state"] == "done"
    assert drain(shop).examined == 0


def test_the_drain_stops_at_the_first_throttle_and_leaves_the_rest(shop: FakeShop) -> None:
    recording, throttled = shop.mail, throttle(shop)
    ids = mails(shop, 4)
    # SES takes one more mail, then throttles again
    throttled.throttled, throttled.after, throttled.attempts = False, 1, 0
    outcome = drain(shop)
    assert outcome.sent == 1 and outcome.throttled == ["email"] and throttled.attempts == 2
    assert [m.subject for m in recording.sent] == ["[#1001] Question 0"]  # the oldest first
    waiting = shop.repository.pending_acks(before=iso(shop.clock.now()), limit=10)
    assert [w.ticket_id for w in waiting] == ids[1:]
    throttled.after = None
    assert drain(shop).sent == 3 and len(recording.sent) == 4
    assert all(ticket(shop, t)["ack_state"] == "sent" for t in ids)


def test_the_drain_paces_sends_at_the_send_rate_and_within_its_time(shop: FakeShop) -> None:
    recording, throttled = shop.mail, throttle(shop)
    mails(shop, 10)
    throttled.throttled = False
    pauses: list[float] = []
    start = shop.clock.now()
    outcome = drain(shop, seconds=4.5, pauses=pauses)  # 1 mail/s (the sandbox's default) for 4.5 s
    assert outcome.sent == 5 and len(recording.sent) == 5 and outcome.full  # sends at 0, 1, 2, 3, 4 s
    assert shop.clock.now() - start <= timedelta(seconds=4.5)
    assert len(pauses) == 4 and all(0 < p <= 1.0 for p in pauses)
    assert outcome.lag_seconds >= 10 * 60 - 60  # the oldest waited since its arrival, ten minutes ago


def test_the_send_rate_setting_raises_the_drain(fixed_now: datetime) -> None:
    shop = FakeShop(now=fixed_now, env={"SHOPDESK_STAGE": "test", "SHOPDESK_SES_MAX_SEND_RATE": "14",
                                                 "SHOPDESK_ACKS_PER_DOMAIN_PER_HOUR": "100"})
    throttled = throttle(shop)
    mails(shop, 30)
    throttled.throttled = False
    assert drain(shop, seconds=2.0).sent == 28  # 14/s for two seconds


def test_oldest_first_across_shards(shop: FakeShop) -> None:
    recording, throttled = shop.mail, throttle(shop)
    ids = mails(shop, 12)
    assert len({keys.shard_of(t) for t in ids}) > 1  # the queue really is spread over shards
    throttled.throttled = False
    drain(shop)
    assert [m.subject for m in recording.sent] == [f"[#{1001 + n}] Question {n}" for n in range(12)]


def test_a_queue_entry_whose_ack_went_meanwhile_is_dropped_unsent(shop: FakeShop) -> None:
    recording, throttled = shop.mail, throttle(shop)
    [ticket_id] = mails(shop, 1)
    # An entry left behind (here: an old one, written again after a redelivery recorded the ack)
    [entry] = shop.items("pending_ack")
    throttled.throttled = False
    raw, _ = build_mail(sender="Customer 0 <c0@customer.example>", subject="Question 0")
    assert shop.receive(raw, ses_id="mail-0", source="c0@customer.example").acknowledged  # SES redelivered it
    assert shop.items("pending_ack") == []
    shop.store.items[(entry["pk"], entry["sk"])] = entry
    outcome = drain(shop)
    assert outcome.stale == 1 and outcome.sent == 0 and len(recording.sent) == 1
    assert shop.items("pending_ack") == [] and ticket(shop, ticket_id)["ack_state"] == "sent"


def test_a_throttled_sms_ack_is_queued_and_drained_the_same_way(fixed_now: datetime) -> None:
    shop = FakeSmsShop(now=fixed_now)
    recording = shop.sms
    throttled = ThrottledSms(recording)
    shop.sms = throttled  # type: ignore[assignment]
    outcome = shop.text("My parcel is late")
    assert outcome.status == "created" and outcome.ack_deferred and not outcome.acknowledged
    assert len(shop.items("pending_ack")) == 1
    throttled.throttled = False
    shop.clock.advance(minutes=5)
    result = drain_pending_acks(AckDrainDeps(inbound=shop.deps, pause=lambda s: shop.clock.advance(seconds=s)))
    assert result.sent == 1
    [ack] = recording.sent
    assert "today 14:00 (Europe/Berlin)" in ack.text and "#1001" in ack.text
    assert shop.items("pending_ack") == []
