"""Long threads, long histories and busy customers through the API (moto): the first page of a ticket costs
two Queries and stays under 1 MB whatever the thread holds; paging to the end yields every message once,
in order; cursors cannot be forged or carried to another ticket; a message's HTML comes only on request."""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.ids import iso, new_id, parse_iso
from chalicelib.domain.tickets import Direction, Message, new_event
from tests.app.api_support import Api, token
from tests.app.test_api_tickets import phone_ticket

REGION = "eu-central-1"
MB = 1024 * 1024


@contextmanager
def dynamodb_calls() -> Iterator[Counter[str]]:
    """Every DynamoDB call the app makes meanwhile, by operation (a botocore event hook)."""
    from chalicelib.adapters.aws import client

    calls: Counter[str] = Counter()

    def hook(model: Any, **_: Any) -> None:
        calls[model.name] += 1

    events = client("dynamodb", REGION).meta.events
    events.register("before-call.dynamodb.*", hook)
    try:
        yield calls
    finally:
        events.unregister("before-call.dynamodb.*", hook)


def raw_get(api: Api, path: str) -> tuple[int, bytes]:
    response = api.client.http.get(path, headers={"Authorization": f"Bearer {token('agent')}"})
    return response.status_code, response.body


def big_message(ticket_id: str, n: int, after: datetime) -> Message:
    """A mail at the size an item holds inline (~330 KB): long text, quoted history, HTML; every third one
    in characters that JSON escapes to 6 or 12 bytes."""
    if n % 3 == 0:
        text, html = f"message {n} " + "Grüße 😀 " * 9_000, "<p>" + "Ünïcödé 😀 " * 9_000 + "</p>"
    else:
        text, html = f"message {n} " + "word " * 20_000, "<p>" + "word " * 36_000 + "</p>"
    return Message(id=new_id(), ticket_id=ticket_id, created_at=iso(after + timedelta(minutes=n + 1)),
                   direction=Direction.INBOUND, channel=ticket_channel(), from_address="ann@customer.example",
                   subject=f"Re: parcel {n}", body_text=text, visible_text=text[: len(text) // 2], body_html=html)


def ticket_channel() -> Any:
    from chalicelib.domain.tickets import Channel

    return Channel.PHONE


def seed_messages(ticket_id: str, count: int) -> list[Message]:
    """Written straight into the table (BatchWriteItem), with the item shapes the services write, after
    the ticket's own messages."""
    import boto3

    from chalicelib import bootstrap
    from chalicelib.adapters import items
    from chalicelib.adapters.item_store import item_bytes

    ticket = bootstrap.shop().repository.get_ticket(ticket_id)
    assert ticket is not None
    after = parse_iso(ticket.last_activity_at)
    messages = [big_message(ticket_id, n, after) for n in range(count)]
    table = boto3.resource("dynamodb", region_name=REGION).Table(bootstrap.shop().settings.table_name)
    with table.batch_writer() as batch:
        for message in messages:
            item = items.message_item(message)
            assert 300 * 1024 < item_bytes(item) < 400 * 1024  # as DynamoDB counts it
            batch.put_item(Item=item)
    return messages


def test_the_first_page_of_a_200_message_thread_is_two_queries_and_under_1_mb(api: Api) -> None:
    ticket = phone_ticket(api)  # one message of its own: the call log
    seed_messages(ticket["id"], 200)
    with dynamodb_calls() as calls:
        status, body = raw_get(api, f"/tickets/{ticket['id']}")
    assert status == 200
    assert calls == Counter(Query=2), calls  # the ticket with its newest messages; the customer's tickets
    assert len(body) <= MB, len(body)
    detail = json.loads(body)
    assert detail["ticket"]["id"] == ticket["id"]
    newest = detail["messages"]
    assert newest and newest[0]["subject"] == "Re: parcel 199"  # newest first
    assert all(m["body_html"] is None and m["has_html"] and m["truncated"] for m in newest)
    assert all(len(json.dumps(m["body_text"])) <= 8_002 for m in newest)
    assert detail["next_cursor"]


def test_paging_to_the_end_yields_every_message_once_in_order(api: Api) -> None:
    ticket = phone_ticket(api)
    seeded = seed_messages(ticket["id"], 200)
    _, detail = api.call("GET", f"/tickets/{ticket['id']}")
    seen = [m["id"] for m in detail["messages"]]
    cursor = detail["next_cursor"]
    # Given a customer writes while the agent pages: the new message is above the pages, never inside them.
    later = parse_iso(seeded[-1].created_at) + timedelta(days=1)
    late = replace(big_message(ticket["id"], 500, later), body_text="late", visible_text="late", body_html=None)
    seed_messages_exact([late])
    pages = 1
    while cursor:
        with dynamodb_calls() as calls:
            status, body = raw_get(api, f"/tickets/{ticket['id']}/messages?cursor={cursor}&limit=100")
        assert status == 200 and calls == Counter(Query=1) and len(body) <= MB, (status, calls, len(body))
        page = json.loads(body)
        assert page["messages"] or not page["next_cursor"]  # every page moves on
        seen += [m["id"] for m in page["messages"]]
        cursor = page["next_cursor"]
        pages += 1
        # DynamoDB ends a Query at 1 MB read: items of ~330 KB come three to a page, whatever the limit.
        assert pages <= 200 // 3 + 2
    stored = [m.id for m in reversed(ticket_messages(ticket["id"])) if m.id != late.id]
    assert stored[:200] == [m.id for m in reversed(seeded)]
    assert seen == stored  # every message once, newest first, the late one not among them
    assert len(set(seen)) == len(seen) > 200


def seed_messages_exact(messages: list[Message]) -> None:
    from chalicelib import bootstrap
    from chalicelib.adapters import items
    from chalicelib.adapters.item_store import Put

    bootstrap.shop().repository.store.transact([Put(items.message_item(m)) for m in messages])  # type: ignore[attr-defined]


def ticket_messages(ticket_id: str) -> list[Message]:
    from chalicelib import bootstrap

    return bootstrap.shop().repository.list_messages(ticket_id)


def test_a_forged_or_foreign_cursor_is_a_400(api: Api) -> None:
    first, second = phone_ticket(api), phone_ticket(api, subject="another call")
    seed_messages(first["id"], 30)
    seed_messages(second["id"], 30)
    _, detail = api.call("GET", f"/tickets/{first['id']}?limit=5")
    cursor = detail["next_cursor"]
    assert api.call("GET", f"/tickets/{first['id']}/messages?cursor={cursor}")[0] == 200
    body, _, signature = cursor.partition(".")
    tampered = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + signature
    for bad in (tampered, body + ".", "x", cursor + "x", "." + signature):
        status, answer = api.call("GET", f"/tickets/{first['id']}/messages?cursor={bad}")
        assert status == 400 and answer["error"]["field"] == "cursor", (bad, answer)
    # A genuine cursor of one ticket says nothing about another ticket, nor about its events.
    status, answer = api.call("GET", f"/tickets/{second['id']}/messages?cursor={cursor}")
    assert status == 400 and answer["error"]["field"] == "cursor"
    assert api.call("GET", f"/tickets/{first['id']}/events?cursor={cursor}")[0] == 400
    assert api.call("GET", f"/customers/{first['customer']['id']}?cursor={cursor}")[0] == 400
    for limit in ("0", "101", "-1", "²", "1e2", "9" * 5000, ""):
        status, _ = api.call("GET", f"/tickets/{first['id']}/messages?limit={limit}")
        assert status in (200, 400) and (status == 400 or limit == ""), limit
    assert api.call("GET", f"/tickets/{first['id']}?cursor={cursor}")[0] == 400  # the first page has none


def test_html_and_the_whole_text_come_only_on_request(api: Api) -> None:
    ticket = phone_ticket(api)
    [message] = seed_messages(ticket["id"], 1)
    _, detail = api.call("GET", f"/tickets/{ticket['id']}")
    shown = detail["messages"][0]
    assert shown["id"] == message.id and shown["body_html"] is None and shown["has_html"] and shown["truncated"]
    with dynamodb_calls() as calls:
        status, html = api.call("GET", f"/tickets/{ticket['id']}/messages/{shown['ref']}?part=html")
    assert status == 200 and calls == Counter(GetItem=1)
    assert html["body_html"] == message.body_html and html["body_text"] == "" and not html["truncated"]
    status, text = api.call("GET", f"/tickets/{ticket['id']}/messages/{shown['ref']}?part=text")
    assert text["body_text"] == message.body_text and text["visible_text"] == message.visible_text
    assert text["body_html"] is None
    status, whole = api.call("GET", f"/tickets/{ticket['id']}/messages/{shown['ref']}")
    assert whole["body_text"] == message.body_text and whole["body_html"] == message.body_html
    assert api.call("GET", f"/tickets/{ticket['id']}/messages/{shown['ref']}?part=raw")[0] == 400
    # A message's ref names it only on its own ticket: another ticket's path finds nothing.
    other = phone_ticket(api, subject="another call")
    assert api.call("GET", f"/tickets/{other['id']}/messages/{shown['ref']}")[0] == 404
    for ref in ("x", "AAAA", "%00", "a" * 200, shown["ref"] + "Zm9v"):
        assert api.call("GET", f"/tickets/{ticket['id']}/messages/{ref}")[0] == 404, ref


def test_a_body_kept_in_the_blob_store_comes_back_whole(api: Api) -> None:
    from chalicelib import bootstrap

    ticket = phone_ticket(api)
    text = "long text " * 40_000
    location = bootstrap.shop().blobs.put(f"bodies/{ticket['id']}/m.json",
                                          json.dumps({"text": text, "visible_text": "long", "html": "<b>x</b>"})
                                          .encode(), "application/json")
    stored = replace(big_message(ticket["id"], 1, parse_iso(ticket["created_at"])), body_text=text[:20_000],
                     visible_text="long", body_html=None, body_key=location)
    seed_messages_exact([stored])
    _, detail = api.call("GET", f"/tickets/{ticket['id']}")
    shown = detail["messages"][0]
    assert shown["has_html"] and shown["truncated"] and len(shown["body_text"]) <= 8_000
    _, whole = api.call("GET", f"/tickets/{ticket['id']}/messages/{shown['ref']}")
    assert whole["body_text"] == text and whole["body_html"] == "<b>x</b>" and not whole["truncated"]


def test_events_page_newest_first(api: Api) -> None:
    from chalicelib import bootstrap
    from chalicelib.adapters import items
    from chalicelib.adapters.item_store import Put
    from chalicelib.domain.tickets import EventType

    ticket = phone_ticket(api)
    base = parse_iso(ticket["created_at"]) + timedelta(days=1)
    added = [new_event(ticket["id"], iso(base + timedelta(seconds=n)), EventType.TAGS_CHANGED, "agent-1",
                       **{"from": [], "to": [f"t{n}"]}) for n in range(60)]
    store = bootstrap.shop().repository.store  # type: ignore[attr-defined]
    for start in range(0, 60, 20):
        store.transact([Put(items.event_item(e)) for e in added[start:start + 20]])
    seen: list[str] = []
    cursor = None
    while True:
        query = f"?limit=25&cursor={cursor}" if cursor else "?limit=25"
        with dynamodb_calls() as calls:
            status, page = api.call("GET", f"/tickets/{ticket['id']}/events{query}")
        assert status == 200 and calls == Counter(Query=1) and len(page["events"]) <= 25
        seen += [e["id"] for e in page["events"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen[:60] == [e.id for e in reversed(added)]
    assert len(seen) == len(set(seen)) == 62  # and the ticket's own created, sla_applied
    other = phone_ticket(api, subject="another call")
    _, first = api.call("GET", f"/tickets/{ticket['id']}/events?limit=5")
    assert api.call("GET", f"/tickets/{other['id']}/events?cursor={first['next_cursor']}")[0] == 400
    assert api.call("GET", f"/tickets/{new_id()}/events")[0] == 404


def test_a_customer_with_120_tickets_pages_them_all(api: Api) -> None:
    import boto3

    from chalicelib import bootstrap
    from chalicelib.adapters import items

    first = phone_ticket(api)
    customer_id = first["customer"]["id"]
    template = bootstrap.shop().repository.get_ticket(first["id"])
    assert template is not None
    table = boto3.resource("dynamodb", region_name=REGION).Table(bootstrap.shop().settings.table_name)
    with table.batch_writer() as batch:
        for n in range(119):
            stamp = iso(parse_iso(first["created_at"]) - timedelta(days=1, minutes=n))
            batch.put_item(Item=items.ticket_item(replace(template, id=new_id(), number=5000 + n, created_at=stamp,
                                                          updated_at=stamp, last_activity_at=stamp)))
    seen: list[str] = []
    with dynamodb_calls() as calls:
        status, customer = api.call("GET", f"/customers/{customer_id}")
    assert status == 200 and calls == Counter(GetItem=1, Query=1)
    assert len(customer["tickets"]) == 25 and customer["next_cursor"]
    seen += [t["id"] for t in customer["tickets"]]
    cursor = customer["next_cursor"]
    while cursor:
        status, customer = api.call("GET", f"/customers/{customer_id}?cursor={cursor}&limit=50")
        assert status == 200, customer
        seen += [t["id"] for t in customer["tickets"]]
        cursor = customer["next_cursor"]
    assert len(seen) == len(set(seen)) == 120 and seen[0] == first["id"]  # newest first
    created = [t.created_at for t in bootstrap.shop().repository.all_customer_tickets(customer_id)]
    assert created == sorted(created, reverse=True)
    # The detail shows the latest few and hands over a cursor the customer's route continues.
    _, detail = api.call("GET", f"/tickets/{first['id']}")
    assert len(detail["customer_tickets"]) == 9 and first["id"] not in [t["id"] for t in detail["customer_tickets"]]
    status, rest = api.call("GET", f"/customers/{customer_id}?cursor={detail['customer_tickets_next_cursor']}")
    assert status == 200 and [t["id"] for t in rest["tickets"]] == seen[10:35]
    stranger = phone_ticket(api, customer_phone="+4915199999999")["customer"]["id"]
    assert api.call("GET", f"/customers/{stranger}?cursor={cursor or customer['next_cursor'] or 'x'}")[0] == 400
    status, _ = api.call("GET", f"/customers/{stranger}?cursor={detail['customer_tickets_next_cursor']}")
    assert status == 400


def test_by_number_reads_the_pointer_and_then_the_detail(api: Api) -> None:
    ticket = phone_ticket(api)
    with dynamodb_calls() as calls:
        status, detail = api.call("GET", f"/tickets/by-number/{ticket['number']}")
    assert status == 200 and detail["ticket"]["id"] == ticket["id"]
    assert calls == Counter(GetItem=1, Query=2), calls  # no second read of the ticket
    assert api.call("GET", "/tickets/by-number/99999")[0] == 404
    assert api.call("GET", "/tickets/by-number/١٢")[0] == 404
