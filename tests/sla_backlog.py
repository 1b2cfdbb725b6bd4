"""The weekend backlog on a simulated clock (used by tests/unit/test_sla_backlog.py and benchmarks/sla_sweep.py).

Every ticket that arrives outside business hours gets the same first-response promise (Saturday, Sunday
and early-Monday mail all fall due Monday 13:00 in Berlin, warned at 12:30). The sweep runs once a minute
on the in-memory store behind a latency model: every store call and every send costs simulated time, so
a run's Lambda budget runs out as it would on AWS, and each warning is stamped with the simulated moment
it went out (the run's start plus the time the run had spent by then)."""
from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.adapters import items
from chalicelib.adapters.clock import FixedClock
from chalicelib.adapters.item_store import Delete, InMemoryItemStore, Item, Key, Operation, Put
from chalicelib.adapters.ses_mail import RecordingMailSender
from chalicelib.adapters.sns_alerts import RecordingAlertPublisher
from chalicelib.bootstrap import bootstrap
from chalicelib.config import Settings, load_settings
from chalicelib.domain.ids import iso, new_id, parse_iso
from chalicelib.domain.sla_config import plain_calendar
from chalicelib.domain.tickets import Channel, EventType, Ticket, TicketEvent, TicketStatus
from chalicelib.ports import OutgoingEmail, SentEmail
from chalicelib.resources import SLA_INDEX
from chalicelib.services.sla_rules import SlaRules
from chalicelib.services.sla_sweep import Budget, SweepOutcome, sweep_sla

BERLIN = ZoneInfo("Europe/Berlin")
# Round trips as a Lambda in the table's region sees them (p90-ish, not best case), in seconds.
LATENCY = {"GetItem": 0.008, "BatchGetItem": 0.025, "Query": 0.015, "TransactWriteItems": 0.030,
           "UpdateItem": 0.012, "SendRawEmail": 0.090, "Publish": 0.040}
LAMBDA_TIMEOUT = 60.0  # infra's LAMBDA_TIMEOUT_S
RESERVE = 2.0  # what the handler keeps back from Lambda's remaining time
# The sweep runs on 8 threads; the model lets only 4 of them overlap (imbalance, connection pool,
# GIL for the CPU part): a run's elapsed time is the sum of its calls' latencies divided by 4.
OVERLAP = 4
ARRIVALS = (datetime(2026, 11, 28, 10, 0, tzinfo=BERLIN),  # Saturday
            datetime(2026, 11, 29, 15, 30, tzinfo=BERLIN),  # Sunday
            datetime(2026, 11, 30, 7, 45, tzinfo=BERLIN))  # Monday, before opening
DUE = datetime(2026, 11, 30, 13, 0, tzinfo=BERLIN)
WARN = DUE - timedelta(minutes=30)


class SimulatedTime:
    """The time a run has spent, from the calls it made (see OVERLAP)."""

    def __init__(self, overlap: int = OVERLAP, slowdown: float = 1.0) -> None:
        self.overlap, self.slowdown = overlap, slowdown
        self._spent = 0.0
        self._lock = threading.Lock()

    def charge(self, call: str) -> None:
        with self._lock:
            self._spent += LATENCY[call] * self.slowdown

    def monotonic(self) -> float:
        with self._lock:
            return self._spent / self.overlap


class KeysOnlySlaIndex:
    """The SLA index as DynamoDB keeps it with a KEYS_ONLY projection: table and index keys only,
    maintained from the table's writes. (It also keeps the simulation fast: the fake would otherwise copy
    every whole ticket an index Query returns.)"""

    def __init__(self, store: InMemoryItemStore) -> None:
        self.entries = InMemoryItemStore()
        for item in store.items.values():
            self.follow(item)

    def follow(self, item: Item) -> None:
        ident = (item["pk"], item["sk"])
        if not str(item["pk"]).startswith("TICKET#") or item["sk"] != "TICKET":
            return
        if "gsi6pk" in item:
            self.entries.items[ident] = {name: item[name] for name in ("pk", "sk", "gsi6pk", "gsi6sk")}
        else:
            self.entries.items.pop(ident, None)

    def forget(self, key: Key) -> None:
        self.entries.items.pop((key["pk"], key["sk"]), None)


class SlowStore:
    """The in-memory store with each call charged to the simulated time, and one call at a time (the
    fake's transactions are check-then-write in Python; DynamoDB's are atomic)."""

    def __init__(self, store: InMemoryItemStore, time: SimulatedTime, index: KeysOnlySlaIndex) -> None:
        self._store, self._time, self._index = store, time, index
        self._lock = threading.RLock()

    def get(self, key: Key) -> Item | None:
        self._time.charge("GetItem")
        with self._lock:
            return self._store.get(key)

    def batch_get(self, keys: Sequence[Key]) -> list[Item]:
        self._time.charge("BatchGetItem")
        with self._lock:
            return self._store.batch_get(keys)

    def query(self, partition: str, sk_prefix: str = "", **options: Any) -> tuple[list[Item], Key | None]:
        self._time.charge("Query")
        with self._lock:
            if options.get("index") == SLA_INDEX:
                return self._index.entries.query(partition, sk_prefix, **options)
            return self._store.query(partition, sk_prefix, **options)

    def transact(self, operations: Sequence[Operation]) -> None:
        self._time.charge("TransactWriteItems")
        with self._lock:
            self._store.transact(operations)
            for operation in operations:
                if isinstance(operation, Put):
                    self._index.follow(operation.item)
                elif isinstance(operation, Delete):
                    self._index.forget(operation.key)

    def add(self, key: Key, add: dict[str, int], set_values: dict[str, Any] | None = None) -> Item:
        self._time.charge("UpdateItem")
        with self._lock:
            return self._store.add(key, add, set_values)


class TimedMail(RecordingMailSender):
    """Keeps when (simulated) each mail went out."""

    def __init__(self) -> None:
        super().__init__()
        self.run_started: datetime = DUE
        self.time = SimulatedTime()
        self.sent_at: list[tuple[OutgoingEmail, datetime]] = []
        self._lock = threading.Lock()

    def send(self, mail: OutgoingEmail) -> SentEmail:
        self.time.charge("SendRawEmail")
        with self._lock:
            sent = super().send(mail)
            self.sent_at.append((mail, self.run_started + timedelta(seconds=self.time.monotonic())))
        return sent


class TimedAlerts(RecordingAlertPublisher):
    def __init__(self) -> None:
        super().__init__()
        self.time = SimulatedTime()

    def publish(self, subject: str, message: str) -> str:
        self.time.charge("Publish")
        return super().publish(subject, message)


def _settings(max_tickets: int) -> Settings:
    base = load_settings({"SHOPDESK_STAGE": "test", "SHOPDESK_QUEUE_AGENTS": '{"support": ["team@shop.example"]}'})
    return replace(base, sla=replace(base.sla, sweep_max_tickets=max_tickets))


def ingest_template(settings: Settings, created: datetime) -> tuple[Ticket, list[TicketEvent]]:
    """A ticket with its clock, as email ingest writes it (the same rules and item builders)."""
    stamp = iso(created)
    ticket = Ticket(id=new_id(), number=0, subject="Where is my order?", status=TicketStatus.NEW, queue="support",
                    channel=Channel.EMAIL, customer_id=new_id(), created_at=stamp, updated_at=stamp,
                    last_activity_at=stamp, customer_email="customer@example.com")
    events = [TicketEvent(new_id(), ticket.id, stamp, EventType.CREATED, "customer", {"queue": "support"}),
              TicketEvent(new_id(), ticket.id, stamp, EventType.MESSAGE_RECEIVED, "customer", {})]
    started = SlaRules(None, settings).start(ticket, events, created)
    return started.ticket, started.events


@dataclass
class Backlog:
    """The outcome of a simulated morning."""

    tickets: int
    warn_at: dict[int, datetime] = field(default_factory=dict)  # ticket number -> its warning time
    warned_at: dict[int, datetime] = field(default_factory=dict)  # ticket number -> when its warning went out
    outcomes: list[tuple[datetime, SweepOutcome, float]] = field(default_factory=list)  # run, outcome, seconds

    @property
    def on_time(self) -> int:
        return sum(1 for n, at in self.warned_at.items() if at <= self.warn_at[n])

    @property
    def latest(self) -> timedelta:
        """The latest warning relative to its time (negative: ahead of it)."""
        return max(at - self.warn_at[n] for n, at in self.warned_at.items())

    @property
    def earliest(self) -> timedelta:
        return min(at - self.warn_at[n] for n, at in self.warned_at.items())

    @property
    def working_runs(self) -> int:
        return sum(1 for _, o, _ in self.outcomes if o.warnings)

    @property
    def longest_run(self) -> float:
        return max(seconds for _, _, seconds in self.outcomes)


def weekend_backlog(tickets: int, *, max_tickets: int = 500, slowdown: float = 1.0,
                    first_run: datetime = WARN - timedelta(minutes=70), offset_seconds: float = 37.0,
                    last_run: datetime = DUE + timedelta(minutes=2), twin_runs: bool = False) -> Backlog:
    """`tickets` weekend tickets, then a sweep every minute (at `offset_seconds` past it) from `first_run`
    to `last_run`, each with Lambda's budget measured on the simulated time."""
    settings = _settings(max_tickets)
    store = InMemoryItemStore()
    result = Backlog(tickets)
    templates = [ingest_template(settings, arrival) for arrival in ARRIVALS]
    for ticket, _ in templates:
        assert ticket.first_response_due_at == iso(DUE), ticket.first_response_due_at  # the same promise
    for n in range(tickets):
        template, events = templates[n % len(templates)]
        ticket = replace(template, id=new_id(), number=1001 + n, customer_id=new_id())
        store.items[(f"TICKET#{ticket.id}", "TICKET")] = _stored(items.ticket_item(ticket))
        for event in events:
            item = items.event_item(replace(event, id=new_id(), ticket_id=ticket.id))
            store.items[(item["pk"], item["sk"])] = _stored(item)
        result.warn_at[ticket.number] = parse_iso(str(ticket.sla_action_at))
    index = KeysOnlySlaIndex(store)
    mail, alerts, clock = TimedMail(), TimedAlerts(), FixedClock(first_run)
    moment = first_run + timedelta(seconds=offset_seconds)
    while moment <= last_run:
        spent = SimulatedTime(slowdown=slowdown)
        mail.time = alerts.time = spent
        mail.run_started = clock.moment = moment
        shop = bootstrap(settings, store=SlowStore(store, spent, index), mail=mail, alerts=alerts,  # type: ignore[arg-type]
                         clock=clock, build_calendar=plain_calendar)
        budget = Budget.starting_now(LAMBDA_TIMEOUT - RESERVE, spent.monotonic)
        if twin_runs:  # the schedule delivered twice: two runs at once over the same table
            with ThreadPoolExecutor(2) as pool:
                twins = [pool.submit(sweep_sla, shop.sweep(), budget=budget) for _ in range(2)]
                for twin in twins:
                    result.outcomes.append((moment, twin.result(), spent.monotonic()))
        else:
            outcome = sweep_sla(shop.sweep(), budget=budget)
            result.outcomes.append((moment, outcome, spent.monotonic()))
        moment += timedelta(minutes=1)
    for sent, at in mail.sent_at:
        if "SLA warning" in sent.subject:
            number = int(sent.subject.split("]")[0].removeprefix("[#"))
            assert number not in result.warned_at, f"#{number} warned twice"
            result.warned_at[number] = at
    return result


def _stored(item: Item) -> Item:
    """An item as the fake keeps it (numbers as Decimal), written straight into its dict: seeding
    10,000 tickets through transactions would cost more than the morning it sets up."""
    from chalicelib.adapters.item_store import _dynamo_like

    stored: Item = _dynamo_like(item)
    return stored
