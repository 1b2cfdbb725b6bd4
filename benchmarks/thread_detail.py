"""Detail of a 200-message thread (bodies at the inline limit) and a customer with 120 tickets: DynamoDB calls
and response bytes per page, through the API under moto."""
from __future__ import annotations

import json
import math
import os
from collections import Counter
from dataclasses import replace
from datetime import timedelta
from typing import Any

from benchmarks.report import figure

REGION = "eu-central-1"
MESSAGES = int(os.environ.get("BENCH_THREAD_MESSAGES", "200"))
CUSTOMER_TICKETS = 120
PAGE = 25
MB = 1024 * 1024


def _big(n: int) -> tuple[str, str]:
    """A body at the size an item holds inline (~330 KB with its HTML); every third one in characters JSON
    escapes to 6 and 12 bytes."""
    if n % 3 == 0:
        return f"message {n} " + "Grüße 😀 " * 9_000, "<p>" + "Ünïcödé 😀 " * 9_000 + "</p>"
    return f"message {n} " + "word " * 20_000, "<p>" + "word " * 36_000 + "</p>"


def main() -> None:
    import boto3
    from chalice.test import Client

    from app import app
    from benchmarks.offline import offline_aws
    from chalicelib import bootstrap
    from chalicelib.adapters import items
    from chalicelib.adapters.aws import client
    from chalicelib.adapters.item_store import item_bytes
    from chalicelib.config import AuthSettings
    from chalicelib.domain.ids import iso, new_id, parse_iso
    from chalicelib.domain.principals import Principal, Role
    from chalicelib.domain.tickets import Direction, Message
    from chalicelib.services.new_tickets import NewTicketRequest, open_ticket
    from tests.app.api_support import public_pem, token

    with offline_aws() as bench_settings:
        config = replace(bench_settings, auth=AuthSettings(public_key_pem=public_pem()))
        with bootstrap.overridden(settings=config), Client(app, stage_name="test") as test_client:
            deps = bootstrap.shop().inbox()
            ticket = open_ticket(NewTicketRequest(channel="phone", subject="call", body="notes",
                                                  customer_phone="+4915100000000", queue="support"),
                                 Principal("agent-1", "Alex", Role.AGENT), deps)
            table = boto3.resource("dynamodb", region_name=REGION).Table(config.table_name)
            after = parse_iso(ticket.last_activity_at)
            plain = open_ticket(NewTicketRequest(channel="phone", subject="call", body="notes",
                                                 customer_phone="+4915100000001", queue="support"),
                                Principal("agent-1", "Alex", Role.AGENT), deps)
            thread_bytes, largest = 0, 0
            with table.batch_writer() as batch:  # the item shapes the services write, in bulk
                for n in range(MESSAGES):
                    text, html = _big(n)
                    item = items.message_item(Message(
                        id=new_id(), ticket_id=ticket.id, created_at=iso(after + timedelta(minutes=n + 1)),
                        direction=Direction.INBOUND, channel=ticket.channel, from_address="ann@customer.example",
                        subject=f"Re: parcel {n}", body_text=text, visible_text=text[:len(text) // 2], body_html=html))
                    thread_bytes, largest = thread_bytes + item_bytes(item), max(largest, item_bytes(item))
                    batch.put_item(Item=item)
                    short = "Thanks, where is my parcel? " * 100  # an ordinary mail: ~3 KB of text, its HTML
                    batch.put_item(Item=items.message_item(Message(
                        id=new_id(), ticket_id=plain.id, created_at=iso(after + timedelta(minutes=n + 1)),
                        direction=Direction.INBOUND, channel=plain.channel, from_address="bo@customer.example",
                        subject=f"Re: parcel {n}", body_text=short, visible_text=short, body_html=f"<p>{short}</p>")))
                for n in range(CUSTOMER_TICKETS - 1):
                    stamp = iso(after - timedelta(days=1, minutes=n))
                    batch.put_item(Item=items.ticket_item(replace(ticket, id=new_id(), number=5000 + n,
                                                                  created_at=stamp, updated_at=stamp,
                                                                  last_activity_at=stamp)))
            headers = {"Authorization": f"Bearer {token('agent')}"}
            calls: Counter[str] = Counter()

            def hook(model: Any, **_: Any) -> None:
                calls[model.name] += 1

            def get(path: str) -> tuple[Counter[str], bytes]:
                calls.clear()
                response = test_client.http.get(path, headers=headers)
                assert response.status_code == 200, response.body[:300]
                return Counter(calls), response.body

            events = client("dynamodb", config.region).meta.events
            events.register("before-call.dynamodb.*", hook)
            try:
                first_calls, body = get(f"/tickets/{ticket.id}")
                detail = json.loads(body)
                figure(f"GET /tickets/{{id}}, {MESSAGES}-message thread: DynamoDB calls", sum(first_calls.values()),
                       "calls", target=2, note=f"({dict(first_calls)}; ticket + newest messages, customer's tickets)")
                figure(f"GET /tickets/{{id}}, {MESSAGES}-message thread: response", len(body) / MB, "MB", target=1,
                       digits=3, note=f"({len(detail['messages'])} messages: previews, no HTML)")
                number_calls, _ = get(f"/tickets/by-number/{ticket.number}")
                figure("GET /tickets/by-number/{n}: DynamoDB calls", sum(number_calls.values()), "calls", target=3,
                       note=f"({dict(number_calls)}; the number's pointer + the detail's two)")
                pages, worst_calls, worst_bytes, seen = 1, 0, 0, len(detail["messages"])
                cursor = detail["next_cursor"]
                while cursor:
                    page_calls, body = get(f"/tickets/{ticket.id}/messages?cursor={cursor}&limit={PAGE}")
                    page = json.loads(body)
                    worst_calls, worst_bytes = max(worst_calls, sum(page_calls.values())), max(worst_bytes, len(body))
                    seen += len(page["messages"])
                    cursor = page["next_cursor"]
                    pages += 1
                figure("GET /tickets/{id}/messages?cursor=: DynamoDB calls per page", worst_calls, "calls", target=1)
                figure("GET /tickets/{id}/messages?cursor=: largest page", worst_bytes / MB, "MB", target=1, digits=3)
                # DynamoDB reads at most 1 MB per Query, whole items: items of ~330 KB come three to a page.
                per_query = max(1, MB // largest)
                figure(f"pages to read all {seen} messages at ~{largest // 1024} KB", pages, "pages",
                       target=math.ceil(seen / min(per_query, PAGE)) + 1,
                       note=f"({thread_bytes / MB:.1f} MB of items; {per_query} items per 1 MB Query)")
                plain_pages, cursor = 0, None
                while plain_pages == 0 or cursor:
                    query = f"?cursor={cursor}&limit={PAGE}" if cursor else f"?limit={PAGE}"
                    _, body = get(f"/tickets/{plain.id}/messages{query}")
                    cursor = json.loads(body)["next_cursor"]
                    plain_pages += 1
                figure(f"pages to read all {MESSAGES + 1} messages of ordinary mail", plain_pages, "pages",
                       target=math.ceil((MESSAGES + 1) / PAGE) + 1, note=f"(pages of {PAGE})")
                _, body = get(f"/tickets/{plain.id}?limit=100")
                figure("GET /tickets/{id}?limit=100, ordinary mail: response", len(body) / MB, "MB", target=1, digits=3,
                       note=f"({len(json.loads(body)['messages'])} messages)")
                ref = detail["messages"][0]["ref"]
                html_calls, body = get(f"/tickets/{ticket.id}/messages/{ref}?part=html")
                figure("GET /tickets/{id}/messages/{ref}?part=html: calls", sum(html_calls.values()), "calls",
                       target=1, note=f"({len(body) / 1024:.0f} KB)")
                customer_calls, body = get(f"/customers/{ticket.customer_id}")
                customer = json.loads(body)
                listed, customer_pages = len(customer["tickets"]), 1
                while customer["next_cursor"]:
                    _, body = get(f"/customers/{ticket.customer_id}?cursor={customer['next_cursor']}")
                    customer = json.loads(body)
                    listed += len(customer["tickets"])
                    customer_pages += 1
                figure(f"GET /customers/{{id}}, {CUSTOMER_TICKETS} tickets: calls per page",
                       sum(customer_calls.values()), "calls", target=2, note=f"({dict(customer_calls)})")
                figure(f"GET /customers/{{id}}: tickets listed of {CUSTOMER_TICKETS}", listed, "tickets",
                       target=CUSTOMER_TICKETS, better="higher", note=f"(in {customer_pages} pages of {PAGE})")
            finally:
                events.unregister("before-call.dynamodb.*", hook)
