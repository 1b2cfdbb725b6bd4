"""1,000 new tickets in a burst, SES at 1 mail/s (sandbox) or 14/s: failed ingests, minutes until every ack went."""
from __future__ import annotations

import os
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from benchmarks.report import figure

MAILS = int(os.environ.get("BENCH_PENDING_ACK_MAILS", "1000"))
START = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # Monday 09:00 in Berlin: Monday morning


class RateLimitedSes:
    """SES on the simulated clock: a token bucket of `rate` mails/s (burst 1 s' worth), Throttling beyond."""

    def __init__(self, inner: Any, clock: Any, rate: float) -> None:
        self.inner, self.clock, self.rate = inner, clock, rate
        self.tokens, self.at = rate, clock.now()
        self.throttled = 0

    def send(self, mail: Any) -> Any:
        from chalicelib.domain.errors import Throttled

        now = self.clock.now()
        self.tokens = min(self.rate, self.tokens + (now - self.at).total_seconds() * self.rate)
        self.at = now
        if self.tokens < 1:
            self.throttled += 1
            raise Throttled("ses SendRawEmail was throttled (Throttling); try again later")
        self.tokens -= 1
        return self.inner.send(mail)


def _run(rate: float, burst_seconds: float) -> dict[str, float]:
    from chalicelib.adapters.item_store import InMemoryItemStore
    from chalicelib.domain.errors import TransientFailure
    from chalicelib.domain.tickets import EventType
    from chalicelib.services.inbound.pending_acks import AckDrainDeps, drain_pending_acks
    from tests.support import FakeShop, build_mail

    env = {"SHOPDESK_STAGE": "test", "SHOPDESK_SES_MAX_SEND_RATE": f"{rate:g}", "SHOPDESK_ACKS_PER_HOUR": "5000",
           "SHOPDESK_ACKS_PER_DOMAIN_PER_HOUR": "5000"}
    shop = FakeShop(now=START, env=env, store=InMemoryItemStore())
    recording = shop.mail
    ses = RateLimitedSes(recording, shop.clock, rate)
    shop.mail = ses  # type: ignore[assignment]
    failed = 0
    for n in range(MAILS):
        raw, _ = build_mail(sender=f"Customer {n} <c{n}@customer.example>", subject=f"Order {n}")
        try:
            shop.receive(raw, ses_id=f"burst-{n}", source=f"c{n}@customer.example")
        except TransientFailure:
            failed += 1
        shop.clock.advance(seconds=burst_seconds / MAILS)
    inline, throttled_at_ingest = len(recording.sent), ses.throttled
    # The schedule: a drain at each whole minute, each for 50 s of Lambda time, waits on the simulated clock.
    minutes, calls = 0, Counter[str]()
    deps = AckDrainDeps(inbound=shop.deps, pause=lambda seconds: shop.clock.advance(seconds=seconds))
    while len(recording.sent) < MAILS and minutes < 180:
        minutes += 1
        shop.clock.moment = START + timedelta(minutes=minutes)
        before = len(shop.store.calls)
        drain_pending_acks(deps, seconds=50)
        calls.update(shop.store.calls[before:])
    drained = len(recording.sent) - inline
    late = sum(1 for e in shop.items("event") if e["type"] == EventType.ACKNOWLEDGED.value and e["data"].get("late"))
    return {"failed": failed, "inline": inline, "throttled": throttled_at_ingest, "minutes": minutes,
            "drained": drained, "calls_per_ack": sum(calls.values()) / max(1, drained), "late": late,
            "sent": len(recording.sent), "detail": calls}  # type: ignore[dict-item]


def main() -> None:
    # The sandbox against a two-minute burst (~8 tickets/s); a production quota against a 30-second one (~33/s).
    for rate, burst, target_minutes in ((1.0, 120, 25), (14.0, 30, 3)):
        result = _run(rate, burst)
        label = f"SES {rate:g}/s, burst {burst} s"
        figure(f"{label}: ingests failed by a throttled ack", result["failed"], "invocations", target=0,
               note=f"{int(result['throttled'])} inline sends throttled (each was a failed invocation before)")
        figure(f"{label}: minutes until all {MAILS:,} acks sent", result["minutes"], "min",
               target=target_minutes, note=f"{int(result['inline'])} inline, {int(result['drained'])} drained")
        figure(f"{label}: acks sent in all", result["sent"], "acks", target=MAILS, better="higher")
        detail = ", ".join(f"{k} {v / max(1, result['drained']):.1f}" for k, v in
                           sorted(result["detail"].items()))  # type: ignore[attr-defined]
        figure(f"{label}: DynamoDB calls per drained ack", result["calls_per_ack"], "calls", target=6,
               note=detail)
        figure(f"{label}: acks whose promise had passed (said no time)", result["late"], "acks")
