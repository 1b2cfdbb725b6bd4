"""DynamoDB calls per GET /tickets page and per GET /tickets/{id}, and their median in-process
latency over 1,000 tickets under moto."""
from __future__ import annotations

import os
import statistics
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from benchmarks.report import figure

REGION = "eu-central-1"
TICKETS = int(os.environ.get("BENCH_TICKETS", "1000"))
SAMPLES = 50


def main() -> None:
    import boto3
    from chalice.test import Client

    from app import app
    from benchmarks.offline import offline_aws
    from chalicelib import bootstrap
    from chalicelib.adapters import items
    from chalicelib.adapters.aws import client
    from chalicelib.config import AuthSettings
    from chalicelib.domain.ids import iso, new_id
    from chalicelib.domain.principals import Principal, Role
    from chalicelib.services.new_tickets import NewTicketRequest, open_ticket
    from tests.app.api_support import public_pem, token

    with offline_aws() as bench_settings:
        config = replace(bench_settings, auth=AuthSettings(public_key_pem=public_pem()))
        with bootstrap.overridden(settings=config), Client(app, stage_name="test") as test_client:
            agent = Principal("agent-1", "Alex", Role.AGENT)
            deps = bootstrap.shop().inbox()
            started = time.perf_counter()
            template = open_ticket(NewTicketRequest(channel="phone", subject="call", body="notes",
                                                    customer_phone="+4915100000000", queue="support"), agent, deps)
            bundle = deps.repository.bundle(template.id)
            table = boto3.resource("dynamodb", region_name=REGION).Table(config.table_name)
            ids = []
            # Seeded in bulk (BatchWriteItem) with the same item shapes the services write.
            with table.batch_writer() as batch:
                for n in range(TICKETS):
                    ticket_id = new_id()
                    stamp = iso(datetime(2026, 11, 1, tzinfo=UTC) + timedelta(minutes=n))
                    ticket = replace(template, id=ticket_id, number=2000 + n, created_at=stamp, updated_at=stamp,
                                     last_activity_at=stamp, customer_id=new_id(),
                                     queue=("support", "shipping", "products")[n % 3])
                    batch.put_item(Item=items.ticket_item(ticket))
                    for message in bundle.messages:
                        batch.put_item(Item=items.message_item(replace(message, id=new_id(), ticket_id=ticket_id)))
                    for event in bundle.events:
                        batch.put_item(Item=items.event_item(replace(event, id=new_id(), ticket_id=ticket_id)))
                    ids.append(ticket_id)
            figure(f"seeded {TICKETS} tickets", time.perf_counter() - started, "s", digits=1)
            headers = {"Authorization": f"Bearer {token('agent')}"}
            calls: Counter[str] = Counter()

            def hook(model: Any, **_: Any) -> None:
                calls[model.name] += 1

            dynamodb = client("dynamodb", config.region)
            dynamodb.meta.events.register("before-call.*.*", hook)

            def measure(path: str) -> tuple[float, Counter[str]]:
                calls.clear()
                began = time.perf_counter()
                response = test_client.http.get(path, headers=headers)
                elapsed = time.perf_counter() - began
                assert response.status_code == 200, response.body
                return elapsed, Counter(calls)

            for label, paths in (("GET /tickets?limit=25", ["/tickets?limit=25"] * SAMPLES),
                                 ("GET /tickets?queue=support&limit=25", ["/tickets?queue=support&limit=25"] * SAMPLES),
                                 ("GET /tickets/{id}", [f"/tickets/{ids[n * 7 % len(ids)]}" for n in range(SAMPLES)])):
                results = [measure(p) for p in paths]
                median = statistics.median(r[0] for r in results) * 1000
                per_call = results[-1][1]
                figure(f"{label} DynamoDB calls", sum(per_call.values()), "calls", note=f"({dict(per_call)})")
                figure(f"{label} median", median, "ms", digits=1)
            dynamodb.meta.events.unregister("before-call.*.*", hook)
