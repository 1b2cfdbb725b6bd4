"""DynamoDB items one SLA sweep reads with N open tickets, K due (N = 1,000 and 10,000; K = 10); escalations/s;
the weekend backlog (10,000 due the same minute) on a simulated clock."""
from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from benchmarks.report import figure

REGION = "eu-central-1"
SIZES = [int(n) for n in os.environ.get("BENCH_SLA_TICKETS", "1000,10000").split(",")]
DUE = 10
ESCALATIONS = int(os.environ.get("BENCH_SLA_ESCALATIONS", "200"))
BACKLOG = int(os.environ.get("BENCH_SLA_BACKLOG", "10000"))
START = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # Tuesday 10:00 in Berlin


@contextmanager
def _moto() -> Iterator[Any]:
    """A fresh moto account with ShopDesk's resources (the escalations topic among them); yields the settings."""
    import boto3
    from moto import mock_aws

    from chalicelib import bootstrap
    from chalicelib.config import settings
    from chalicelib.local import moto_patches
    from chalicelib.local.provision import provision

    # As the local stack runs moto: a transaction snapshots the items it touches, not the whole table
    # once per item (which makes every write O(table size) and this benchmark minutes long).
    moto_patches.install()
    bootstrap.reset()
    with mock_aws():
        base = settings()
        config = replace(base, sla=replace(base.sla, manager_on_duty="manager-on-duty"))
        provision(partial(boto3.client, region_name=REGION), config.names, REGION, config.support_addresses)
        with bootstrap.overridden(settings=config):
            yield config
    bootstrap.reset()


def _template(config: Any, created: datetime) -> tuple[Any, list[Any]]:
    """A ticket with its clock, as email ingest writes it (the backlog simulation's own template)."""
    from tests.sla_backlog import ingest_template

    return ingest_template(config, created)


def _seed(config: Any, total: int, due: int) -> float:
    """`total` open tickets, `due` of them past their first-response promise, in bulk (BatchWriteItem)."""
    import boto3

    from chalicelib.adapters import items
    from chalicelib.domain.ids import new_id

    began = time.perf_counter()
    late, _ = _template(config, START - timedelta(days=1))  # breached by START + 1 minute
    fresh, events = _template(config, START)  # due at 14:00, warned at 13:30
    table = boto3.resource("dynamodb", region_name=REGION).Table(config.table_name)
    with table.batch_writer() as batch:
        for n in range(total):
            template = late if n < due else fresh
            ticket = replace(template, id=new_id(), number=2000 + n, customer_id=new_id())
            batch.put_item(Item=items.ticket_item(ticket))
            for event in events:
                batch.put_item(Item=items.event_item(replace(event, id=new_id(), ticket_id=ticket.id)))
    return time.perf_counter() - began


@contextmanager
def _counting() -> Iterator[Counter[str]]:
    """Items DynamoDB read (Query's ScannedCount, GetItem, BatchGetItem) and calls made, per operation."""
    from chalicelib import bootstrap
    from chalicelib.adapters.aws import client

    read: Counter[str] = Counter()

    def after(http_response: Any, parsed: Any, model: Any, **_: Any) -> None:
        read[f"calls:{model.name}"] += 1
        if model.name == "Query":
            read["items"] += int(parsed.get("ScannedCount", 0))
        elif model.name == "GetItem":
            read["items"] += int("Item" in parsed)
        elif model.name == "BatchGetItem":
            read["items"] += sum(len(v) for v in parsed.get("Responses", {}).values())

    dynamodb = client("dynamodb", bootstrap.shop().settings.region)
    dynamodb.meta.events.register("after-call.dynamodb.*", after)
    try:
        yield read
    finally:
        dynamodb.meta.events.unregister("after-call.dynamodb.*", after)


def _sweep_at(moment: datetime, max_tickets: int | None = None) -> Any:
    from chalicelib import bootstrap
    from chalicelib.adapters.clock import FixedClock
    from chalicelib.services.sla_sweep import sweep_sla

    with bootstrap.overridden(clock=FixedClock(moment)):
        return sweep_sla(bootstrap.shop().sweep(), max_tickets=max_tickets)


def main() -> None:
    weekend_backlog()
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION=REGION,
                      AWS_REGION=REGION, SHOPDESK_STAGE="bench")
    os.environ.pop("AWS_ENDPOINT_URL", None)
    for total in SIZES:
        with _moto() as config:
            seeded = _seed(config, total, DUE)
            with _counting() as read:
                began = time.perf_counter()
                outcome = _sweep_at(START + timedelta(minutes=1))
                elapsed = time.perf_counter() - began
            calls = {k.removeprefix("calls:"): v for k, v in read.items() if k.startswith("calls:")}
            figure(f"N={total:,} K={DUE}: items one sweep read", read["items"], "items", note=f"({calls})")
            figure(f"N={total:,} K={DUE}: {outcome.breaches} breaches escalated in", elapsed * 1000, "ms",
                   digits=0, note=f"(seeded in {seeded:.1f} s)")
            with _counting() as read:
                _sweep_at(START + timedelta(minutes=2))
            figure(f"N={total:,} K={DUE}: items the next sweep read", read["items"], "items", note="(nothing due)")
    with _moto() as config:
        _seed(config, ESCALATIONS, ESCALATIONS)
        began = time.perf_counter()
        outcome = _sweep_at(START + timedelta(minutes=1), max_tickets=ESCALATIONS)
        elapsed = time.perf_counter() - began
        figure(f"escalations under moto ({outcome.escalations} in {elapsed:.2f} s)", outcome.escalations / elapsed,
               "/s", digits=0, note="(each: claim transaction, SNS alert, notice recorded; moto with the local "
               "stack's transaction patch, so a figure of this code, not of DynamoDB)")


def weekend_backlog() -> None:
    """Issue #12 item 4: every weekend ticket falls due Monday 13:00 (warned 12:30); the sweep runs every
    minute on the in-memory store behind a latency model, with Lambda's 60-second budget on the simulated
    clock (tests/sla_backlog.py)."""
    from tests.sla_backlog import WARN
    from tests.sla_backlog import weekend_backlog as simulate

    began = time.perf_counter()
    morning = simulate(BACKLOG, last_run=WARN + timedelta(minutes=5))
    elapsed = time.perf_counter() - began
    figure(f"weekend backlog {BACKLOG:,}: warned on time", morning.on_time, "tickets", target=BACKLOG,
           better="higher", note=f"(of {BACKLOG:,}; {len(morning.warned_at):,} warned; simulated in {elapsed:.0f} s)")
    figure("weekend backlog: latest warning vs its time", morning.latest.total_seconds(), "s", target=0, digits=0,
           note=f"(negative: ahead; the earliest {-morning.earliest.total_seconds() / 60:.0f} min ahead)")
    figure("weekend backlog: runs that sent warnings", morning.working_runs, "runs",
           note=f"(each at most {max(o.warnings for _, o, _ in morning.outcomes)} warnings)")
    figure("weekend backlog: longest run (simulated)", morning.longest_run, "s", target=58, digits=1,
           note="(Lambda timeout 60 s less the handler's 2 s reserve)")
