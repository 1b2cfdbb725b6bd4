"""Sending exactly once: the send claim and its lease, the provider's id on the claim so that a lost record
is recorded and not resent, and the backoff of records of sent messages."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from chalicelib.adapters.clock import FixedClock
from chalicelib.adapters.item_store import InMemoryItemStore
from chalicelib.adapters.table_repository import TableRepository
from chalicelib.domain.errors import TransientFailure, VersionConflict
from chalicelib.ports import SENDING, SENT, AckRecord, OutgoingEmail, SentEmail, TicketRepository
from chalicelib.services.retry import retry_on_conflict
from tests.support import FakeShop, build_mail


@pytest.fixture
def shop(fixed_now: datetime) -> FakeShop:
    return FakeShop(now=fixed_now)


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("chalicelib.services.inbound.acknowledge.SEND_RECORD_BACKOFF", (0.001,))


class AckRecordsFail:
    """The repository with DynamoDB failing every ack record (right after the provider accepted it)."""

    def __init__(self, inner: TicketRepository) -> None:
        self.inner, self.failures = inner, 0

    def record_ack(self, record: AckRecord) -> Any:
        self.failures += 1
        raise TransientFailure("injected: DynamoDB unavailable")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


# ---- the claim -------------------------------------------------------------------------------------
def test_only_the_first_claimant_holds_a_send_until_its_lease_ends(fixed_now: datetime) -> None:
    clock = FixedClock(fixed_now)
    repository = TableRepository(InMemoryItemStore(), clock=clock)
    lease = fixed_now + timedelta(seconds=40)
    first = repository.claim_send("ack#t1", "a", lease)
    assert first.held_by("a") and first.state == SENDING
    twin = repository.claim_send("ack#t1", "b", lease)
    assert not twin.held_by("b") and twin.held_by("a")  # a live claim: the twin leaves it alone
    clock.advance(seconds=41)  # the first sender died: its lease ran out
    taken = repository.claim_send("ack#t1", "c", lease + timedelta(seconds=60))
    assert taken.held_by("c") and taken.version == 2
    with pytest.raises(VersionConflict):
        repository.mark_sent(first, "provider-1")  # the dead sender's claim is no longer its own
    sent = repository.mark_sent(taken, "provider-2", "<id@ses>")
    clock.advance(days=1)
    found = repository.claim_send("ack#t1", "d", clock.now() + timedelta(seconds=40))
    assert found == sent and found.state == SENT and found.provider_id == "provider-2"  # sent is never re-sent


def test_a_released_claim_may_be_taken_at_once(fixed_now: datetime) -> None:
    repository = TableRepository(InMemoryItemStore(), clock=FixedClock(fixed_now))
    lease = fixed_now + timedelta(seconds=40)
    first = repository.claim_send("answer#sms#1", "a", lease)
    repository.release_send(first)
    assert repository.claim_send("answer#sms#1", "b", lease).held_by("b")


# ---- the acknowledgement ----------------------------------------------------------------------------
def test_a_lost_ack_record_is_recorded_by_the_retry_not_sent_again(shop: FakeShop) -> None:
    # Given DynamoDB failing every ack record after SES accepted the acknowledgement
    raw, _ = build_mail()
    inner = shop.repository
    failing = AckRecordsFail(inner)
    shop.repository = failing  # type: ignore[assignment]
    # When the mail arrives, the handler fails after backing off (Lambda will retry)
    with pytest.raises(TransientFailure):
        shop.receive(raw, ses_id="lost-record")
    assert failing.failures > 1 and len(shop.mail.sent) == 1
    [claim] = shop.items("send_claim")
    assert claim["state"] == SENT and claim["provider_id"]
    # When Lambda's retry delivers it again, with DynamoDB back
    shop.repository = inner
    outcome = shop.receive(raw, ses_id="lost-record")
    # Then the acknowledgement is recorded under the id SES gave it, and not sent a second time
    assert outcome.status == "resumed" and not outcome.acknowledged
    assert len(shop.mail.sent) == 1
    [ticket] = shop.items("ticket")
    assert ticket["ack_state"] == "sent"
    [ack] = [m for m in shop.items("message") if m.get("automated_reason") == "acknowledgement"]
    assert ack["provider_message_id"] == claim["provider_id"]
    assert ack["delivered_message_id"] == claim["header_message_id"]


def test_a_send_that_failed_is_released_so_the_retry_sends_it(shop: FakeShop) -> None:
    class DownOnce:
        def __init__(self, inner: Any) -> None:
            self.inner, self.calls = inner, 0

        def send(self, mail: OutgoingEmail) -> SentEmail:
            self.calls += 1
            if self.calls == 1:
                raise TransientFailure("injected: SES unreachable")
            sent: SentEmail = self.inner.send(mail)
            return sent

    recording = shop.mail
    shop.mail = DownOnce(recording)  # type: ignore[assignment]
    raw, _ = build_mail()
    with pytest.raises(TransientFailure):
        shop.receive(raw, ses_id="ses-down")
    outcome = shop.receive(raw, ses_id="ses-down")
    assert outcome.status == "resumed" and outcome.acknowledged
    assert len(recording.sent) == 1


def test_a_twin_that_finds_a_live_claim_sends_nothing(shop: FakeShop) -> None:
    raw, _ = build_mail()
    failing = AckRecordsFail(shop.repository)
    inner = shop.repository
    shop.repository = failing  # type: ignore[assignment]
    with pytest.raises(TransientFailure):
        shop.receive(raw, ses_id="twin")
    shop.repository = inner
    # A claim still "sending" (its sender is, as far as its lease says, at it): the twin leaves it alone
    [claim] = shop.items("send_claim")
    shop.store.items[(claim["pk"], claim["sk"])].update(state=SENDING)  # as if the send had not finished
    outcome = shop.receive(raw, ses_id="twin")
    assert outcome.status == "resumed" and not outcome.acknowledged and len(shop.mail.sent) == 1
    # After the lease the claim is taken over: the ack is sent (the one window for a repeat: the sender died)
    shop.clock.advance(minutes=2)
    outcome = shop.receive(raw, ses_id="twin")
    assert outcome.acknowledged and len(shop.mail.sent) == 2


# ---- backoff -----------------------------------------------------------------------------------------
def test_records_back_off_exponentially_with_jitter_within_the_time_left() -> None:
    pauses: list[float] = []

    def always(_: int) -> None:
        raise TransientFailure("down")

    with pytest.raises(TransientFailure, match="gave up"):
        retry_on_conflict(always, attempts=6, retry_on=(Exception,), backoff=(0.05, 0.2, 0.8),
                          pause=pauses.append, exhausted=lambda: TransientFailure("gave up"))
    assert len(pauses) == 5
    for pause, scheduled in zip(pauses, (0.05, 0.2, 0.8, 0.8, 0.8), strict=True):
        assert scheduled / 2 <= pause <= scheduled
    pauses.clear()
    with pytest.raises(TransientFailure):
        retry_on_conflict(always, attempts=6, retry_on=(Exception,), backoff=(0.05, 0.2, 0.8),
                          pause=pauses.append, seconds_left=lambda: 0.3, exhausted=lambda: TransientFailure("x"))
    assert len(pauses) == 2  # the 0.8 s pause would outlast the invocation: it stops there


def test_handlers_pass_lambdas_remaining_time_down_as_the_deadline() -> None:
    from chalicelib import bootstrap
    from chalicelib.handlers import _inbound_deps

    class Context:
        def get_remaining_time_in_millis(self) -> int:
            return 30_000

    deps = _inbound_deps(Context())
    assert deps.deadline is not None
    left = (deps.deadline - deps.clock.now()).total_seconds()
    assert 27 < left <= 28  # what Lambda leaves, less a reserve for logging and returning
    assert _inbound_deps(None).deadline is None  # no context: the services' default of a few seconds
    bootstrap.reset()
