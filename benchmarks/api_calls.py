"""DynamoDB calls and items read per request of every GET route in /openapi.json, and per complete listing of
each documented GET /tickets filter (every cursor followed), at 1,000 and 10,000 tickets, through the real API
(chalice's test client, the real views, services and repository).

Routes are enumerated from the generated OpenAPI document, so a new GET route is measured without a change here;
path parameters are filled from the seeded data by name (a name this file does not know is reported, not
guessed). Tickets are seeded in bulk with the repository's own item builders (`items.ticket_item`), cloned from
one ticket that came in through the real email handler (the pipeline is measured in aws_calls; 10,000 ingests
under moto would take many minutes).

Stores: real boto3 against moto (calls counted with botocore hooks, items read from ScannedCount) at the sizes
in BENCH_API_MOTO_TICKETS (default 1,000). moto answers an index Query by sorting the whole table (~0.6 s at
1,000 tickets, ~6 s at 10,000), so the larger sizes and the filter listings run the same API over
InMemoryItemStore, the contract-tested twin of DynamoItemStore, metered call by call; at every moto size the
twin's counts are compared with moto's route by route and any difference is printed."""
from __future__ import annotations

import math
import os
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from benchmarks.report import figure

REGION = "eu-central-1"
SIZES = [int(n) for n in os.environ.get("BENCH_TICKETS", "1000,10000").split(",")]
MOTO_SIZES = {int(n) for n in os.environ.get("BENCH_API_MOTO_TICKETS", "1000").split(",") if n}
PAGE = 25  # the inbox's page size: the filter target is ceil(matches / PAGE) + 1 requests
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # a Tuesday, 10:00 in Berlin
ME = "agent-1"  # the token's user: assignee=me
BIG_CUSTOMER_TICKETS = 120  # one customer with many tickets: does /customers/{id} show them all?
DUE_SOON = timedelta(hours=1)
# Documented design figures per route (docs/architecture.md, issue #12); routes without one print no target.
# A list page is one Query per shard of its partition (adapters/keys.py INDEX_SHARDS); a ticket opens with
# two Queries (thread page, the customer's tickets), by number with the number's GetItem before them.
ROUTE_TARGETS = {"/tickets": 4, "/tickets/{ticket_id}": 2, "/tickets/by-number/{number}": 3}


# ---- counting what the real client sends ------------------------------------------------------------
@dataclass
class Meter:
    """DynamoDB calls by operation and the items they read (ScannedCount for Query/Scan: filtered items count)."""

    calls: Counter[str] = field(default_factory=Counter)
    items: int = 0

    def before(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1

    def after(self, model: Any, parsed: dict[str, Any], **_: Any) -> None:
        if "ScannedCount" in parsed:
            self.items += int(parsed["ScannedCount"])
        elif "Item" in parsed:
            self.items += 1
        elif model.name in ("BatchGetItem", "TransactGetItems"):
            found = parsed.get("Responses", {})
            self.items += sum(len(v) for v in found.values()) if isinstance(found, dict) else len(found)

    def reset(self) -> None:
        self.calls.clear()
        self.items = 0

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def detail(self) -> str:
        return ", ".join(f"{name} {n}" for name, n in sorted(self.calls.items()))


@contextmanager
def metered(region: str) -> Iterator[Meter]:
    from chalicelib.adapters.aws import client

    meter = Meter()
    dynamodb = client("dynamodb", region)
    dynamodb.meta.events.register("before-call.dynamodb.*", meter.before)
    dynamodb.meta.events.register("after-call.dynamodb.*", meter.after)
    try:
        yield meter
    finally:
        dynamodb.meta.events.unregister("before-call.dynamodb.*", meter.before)
        dynamodb.meta.events.unregister("after-call.dynamodb.*", meter.after)


# ---- the seeded shop ---------------------------------------------------------------------------------
@dataclass
class Seeded:
    template: Any  # the ticket that came in through the real handler
    customer_email: str
    tickets: list[Any] = field(default_factory=list)  # every seeded Ticket (the template's clones)


def _ingest_template(config: Any) -> Seeded:
    """One new-ticket email through the real handler: a ticket, its message, events, customer and identity."""
    import json

    import boto3

    from chalicelib import bootstrap
    from chalicelib.handlers import handle_inbound_email
    from tests.support import CUSTOMER, build_mail, notification

    raw, _ = build_mail()
    document = notification(bucket=config.raw_mail_bucket)
    action = document["receipt"]["action"]
    boto3.client("s3", region_name=REGION).put_object(Bucket=action["bucketName"], Key=action["objectKey"], Body=raw)
    outcome = handle_inbound_email(json.dumps(document))
    ticket = bootstrap.shop().repository.get_ticket(outcome["ticket_id"])
    assert ticket is not None, outcome
    return Seeded(ticket, CUSTOMER, [ticket])


def _variant(seeded: Seeded, n: int, rng: random.Random, queues: list[str]) -> Any:
    """Ticket n of the shop: a plausible mix of statuses, queues, assignees, priorities, channels, tags, clocks."""
    from chalicelib.domain.ids import iso, new_id
    from chalicelib.domain.tickets import Channel, TicketStatus

    template = seeded.template
    created = NOW - timedelta(minutes=7 * n + rng.randrange(7))
    status = rng.choices([TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING, TicketStatus.RESOLVED,
                          TicketStatus.CLOSED, TicketStatus.SPAM], [30, 35, 15, 10, 9, 1])[0]
    running = status in (TicketStatus.NEW, TicketStatus.OPEN)
    # Promises spread from six hours ago (breached) to three days ahead: ~8 % of running clocks breached,
    # ~1.3 % due within the next hour.
    due = NOW + timedelta(minutes=rng.randrange(-6 * 60, 72 * 60)) if running else None
    tags = [t for t, share in (("vip", 0.007), ("refund", 0.05), ("damaged", 0.03)) if rng.random() < share]
    stamp = iso(created)
    return replace(
        template, id=new_id(), number=template.number + 1 + n, created_at=stamp, updated_at=stamp,
        last_activity_at=iso(created + timedelta(minutes=rng.randrange(60 * 24))),
        status=status, queue=rng.choices(queues, [50, 30, 20][:len(queues)] or None)[0],
        channel=rng.choices([Channel.EMAIL, Channel.SMS, Channel.WEB, Channel.PHONE], [70, 15, 10, 5])[0],
        priority=rng.choices(["normal", "low", "high", "urgent"], [70, 10, 15, 5])[0],
        assignee=rng.choices([None, ME, *(f"agent-{k}" for k in range(2, 10))], [40, 15, *[45 / 8] * 8])[0],
        tags=tags, customer_id=template.customer_id if n < BIG_CUSTOMER_TICKETS else new_id(),
        sla=template.sla if running else None, sla_due=iso(due) if due else None,
        sla_action_at=iso(due - timedelta(minutes=30)) if due else None,
        first_response_due_at=iso(due) if due else None, first_responded_at=None if running else stamp,
        resolved_at=stamp if status is TicketStatus.RESOLVED else None,
        closed_at=stamp if status is TicketStatus.CLOSED else None, ack_state=template.ack_state,
    )


def seed(put: Callable[[dict[str, Any]], None], seeded: Seeded, total: int, rng: random.Random,
         queues: list[str]) -> float:
    """Grows the shop to `total` tickets (each written with the repository's item builder); returns seconds."""
    from chalicelib.adapters import items
    from chalicelib.adapters.item_store import Put
    from chalicelib.adapters.table_repository import TableRepository

    began = time.perf_counter()
    for n in range(len(seeded.tickets) - 1, total - 1):
        ticket, tag_entries = TableRepository._tag_entries(_variant(seeded, n, rng, queues))
        put(items.ticket_item(ticket))
        for entry in tag_entries:  # the tag list's entries, as the repository writes them with the ticket
            if isinstance(entry, Put):
                put(entry.item)
        seeded.tickets.append(ticket)
    return time.perf_counter() - began


def metered_memory_store() -> Any:
    """InMemoryItemStore (the contract-tested twin of DynamoItemStore) counting calls and items read as
    DynamoDB would: a Query reads its page before the filters drop items (ScannedCount)."""
    from chalicelib.adapters.item_store import InMemoryItemStore
    from chalicelib.resources import INDEX_KEYS

    class MeteredMemoryStore(InMemoryItemStore):
        def __init__(self) -> None:
            super().__init__()
            self.meter = Meter()
            self._partitions: dict[tuple[str, str], dict[tuple[str, str], Any]] = {}

        @contextmanager
        def _only(self, keys: tuple[str, str], partition: str) -> Iterator[None]:
            """The inherited query, unchanged, over the items of one partition, kept in sort-key order until the
            next write: the fake sorts every item of the table per Query, minutes over thousands of pages."""
            everything = self.items
            attribute, sort_key = keys
            key = (attribute, partition)
            if key not in self._partitions:
                members = [(k, v) for k, v in everything.items() if v.get(attribute) == partition]
                members.sort(key=lambda kv: (str(kv[1].get(sort_key, "")), kv[1]["pk"], kv[1]["sk"]))
                self._partitions[key] = dict(members)
            self.items = self._partitions[key]
            try:
                yield
            finally:
                self.items = everything

        def get(self, key: Any) -> Any:
            found = super().get(key)
            self.meter.calls["GetItem"] += 1
            self.meter.items += found is not None
            return found

        def batch_get(self, keys: Any) -> Any:
            found = super().batch_get(keys)
            self.meter.calls["BatchGetItem"] += math.ceil(len({(k["pk"], k["sk"]) for k in keys}) / 100) or 1
            self.meter.items += len(found)
            return found

        def query(self, partition: str, sk_prefix: str = "", *, filters: Any = (), **options: Any) -> Any:
            with self._only(INDEX_KEYS[options["index"]] if options.get("index") else ("pk", "sk"), partition):
                page, last = super().query(partition, sk_prefix, **options)
            self.meter.calls["Query"] += 1
            self.meter.items += len(page)
            return [i for i in page if all(f.matches(i) for f in filters)], last

        def transact(self, operations: Any) -> None:
            self._partitions.clear()
            super().transact(operations)
            self.meter.calls["TransactWriteItems"] += 1

        def add(self, key: Any, add: Any, set_values: Any = None) -> Any:
            self.meter.calls["UpdateItem"] += 1
            self._partitions.clear()
            return super().add(key, add, set_values)

    return MeteredMemoryStore()


# ---- the API --------------------------------------------------------------------------------------
@dataclass
class Api:
    client: Any
    headers: dict[str, str]

    def get(self, path: str, query: dict[str, str] | None = None) -> tuple[int, Any]:
        import json

        url = path + ("?" + urlencode(query) if query else "")
        response = self.client.http.get(url, headers=self.headers)
        body = json.loads(response.body) if response.body else None
        return response.status_code, body


def get_routes(document: dict[str, Any]) -> list[str]:
    return [path for path, operations in document.get("paths", {}).items() if "get" in operations]


def listing_shape(document: dict[str, Any]) -> tuple[set[str], str]:
    """GET /tickets: its query parameters, and the one that carries the cursor (described as one)."""
    parameters = document["paths"]["/tickets"]["get"].get("parameters", [])
    names = {p["name"] for p in parameters if p.get("in") == "query"}
    cursor = next((p["name"] for p in parameters if p.get("in") == "query"
                   and "cursor" in p.get("description", "").lower()), "next")
    return names, cursor


def page_items(body: Any) -> list[dict[str, Any]]:
    """The tickets of a list response, whatever the list is called (`items`, `tickets`)."""
    if isinstance(body, list):
        return body
    for name in ("items", "tickets", "results"):
        if isinstance(body, dict) and isinstance(body.get(name), list):
            found: list[dict[str, Any]] = body[name]
            return found
    return []


def page_cursor(body: Any) -> str | None:
    if not isinstance(body, dict):
        return None
    for name in ("next", "next_cursor", "cursor"):
        if body.get(name):
            return str(body[name])
    return None


def path_values(seeded: Seeded) -> dict[str, str]:
    template = seeded.template
    return {"ticket_id": template.id, "number": str(template.number), "customer_id": template.customer_id,
            "id": template.id}


# A route that needs query parameters to answer (200) gets them here, by path.
ROUTE_QUERIES: dict[str, Callable[[Seeded], dict[str, str]]] = {
    "/customers": lambda seeded: {"email": seeded.customer_email},
    "/tickets": lambda _: {"limit": str(PAGE)},
}


RouteFigures = dict[str, tuple[int, str, int]]  # route -> (calls, calls by operation, items read)


def measure_routes(api: Api, meter: Meter, document: dict[str, Any], seeded: Seeded, *, show: bool,
                   store: str) -> RouteFigures:
    import re

    values = path_values(seeded)
    size = len(seeded.tickets)
    measured: RouteFigures = {}
    for route in get_routes(document):
        names = re.findall(r"{(\w+)}", route)
        missing = [n for n in names if n not in values]
        label = f"GET {route} @{size:,}"
        if missing:
            if show:
                print(f"   {label}: not measured, no seeded value for {', '.join(missing)} (add it to path_values)")
            continue
        path = re.sub(r"{(\w+)}", lambda m: values[m.group(1)], route)
        query = ROUTE_QUERIES.get(route, lambda _: {})(seeded)
        meter.reset()
        status, body = api.get(path, query)
        measured[route] = (meter.total, meter.detail(), meter.items)
        if not show:
            continue
        answer = "" if status == 200 else f"; HTTP {status}"
        note = f"({meter.detail() or 'none'}; {meter.items:,} items read{_shown(body, seeded)}{answer}; {store})"
        if meter.calls.get("Scan"):
            note += " SCAN on a request path"
        figure(f"{label} DynamoDB calls", meter.total, "calls", target=ROUTE_TARGETS.get(route), note=note)
    return measured


def _shown(body: Any, seeded: Seeded) -> str:
    """What the response lists (tickets of a page or a customer, messages of a thread), against what exists."""
    if not isinstance(body, dict):
        return ""
    parts = []
    for name in ("items", "tickets", "customer_tickets", "messages"):
        if isinstance(body.get(name), list):
            parts.append(f"{len(body[name])} {name}")
    if "tickets" in body or "customer_tickets" in body:
        parts.append(f"the customer has {sum(t.customer_id == seeded.template.customer_id for t in seeded.tickets)}")
    return "; shows " + ", ".join(parts) if parts else ""


# ---- GET /tickets filters: list every match ---------------------------------------------------------------
@dataclass(frozen=True)
class Listing:
    label: str
    query: dict[str, str]
    matches: Callable[[Any], bool]  # which seeded tickets the listing should return
    stop: Callable[[dict[str, Any]], bool] | None = None  # read no further once an item passes this
    skip: Callable[[dict[str, Any]], bool] | None = None  # items read on the way that are not matches


def _item_due(item: dict[str, Any]) -> str | None:
    due = item.get("sla_due") or item.get("first_response_due_at")
    return str(due) if due else None


def _due_before(moment: str) -> Callable[[dict[str, Any]], bool]:
    return lambda item: (_item_due(item) or "~") < moment


def _active(ticket: Any) -> bool:
    return bool(ticket.status.lane == "active")


def _due(ticket: Any) -> str | None:
    due: str | None = ticket.sla_due_at
    return due


def listings(queues: list[str]) -> list[Listing]:
    from chalicelib.domain.ids import iso

    queue = queues[1] if len(queues) > 1 else queues[0]
    now, soon = iso(NOW), iso(NOW + DUE_SOON)
    return [
        Listing("status=new", {"status": "new"}, lambda t: t.status.value == "new"),
        Listing("status=pending", {"status": "pending"}, lambda t: t.status.value == "pending"),
        Listing("status=closed", {"status": "closed"}, lambda t: t.status.value == "closed"),
        Listing(f"queue={queue}", {"queue": queue}, lambda t: _active(t) and t.queue == queue),
        Listing("assignee=me", {"assignee": "me"}, lambda t: _active(t) and t.assignee == ME),
        Listing("assignee=none", {"assignee": "none"}, lambda t: _active(t) and t.assignee is None),
        Listing(f"queue={queue}&assignee=me", {"queue": queue, "assignee": "me"},
                lambda t: _active(t) and t.queue == queue and t.assignee == ME),
        Listing(f"queue={queue}&assignee=none", {"queue": queue, "assignee": "none"},
                lambda t: _active(t) and t.queue == queue and t.assignee is None),
        Listing("tag=vip", {"tag": "vip"}, lambda t: _active(t) and "vip" in t.tags),
        Listing("priority=urgent", {"priority": "urgent"}, lambda t: _active(t) and t.priority == "urgent"),
        Listing("channel=sms", {"channel": "sms"}, lambda t: _active(t) and t.channel.value == "sms"),
        Listing(f"sort=due&queue={queue}&assignee=me", {"sort": "due", "queue": queue, "assignee": "me"},
                lambda t: _active(t) and _due(t) is not None and t.queue == queue and t.assignee == ME),
        Listing("breached=true", {"breached": "true"}, lambda t: _active(t) and (_due(t) or "~") < now),
        Listing("sla=due_soon", {"sla": "due_soon"}, lambda t: _active(t) and now <= (_due(t) or "~") < soon),
        Listing("sla=warned", {"sla": "warned"}, lambda t: _active(t) and t.sla_state == "warned"),
    ]


def listing_partitions(query: dict[str, str]) -> int:
    """How many partitions (shards x statuses) the listing plan reads for these parameters."""
    from chalicelib.adapters import ticket_listing
    from chalicelib.ports import TicketFilter

    statuses = tuple(query["status"].split(",")) if "status" in query else ()
    chosen = ticket_listing.plan(TicketFilter(
        statuses=statuses, queue=query.get("queue"), assignee=query.get("assignee"), tag=query.get("tag"),
        priority=query.get("priority"), channel=query.get("channel"), sort=query.get("sort", "activity"),
        due_before="x" if query.get("sla") in ("breached", "due_soon") or query.get("breached") == "true" else None,
        sla_state="warned" if query.get("sla") == "warned" else None))
    return len(chosen.partitions)


def list_all(api: Api, meter: Meter, listing: Listing, cursor_name: str) -> tuple[int, int, int, int]:
    """Follows cursors to the end; returns (matches listed, API pages, DynamoDB calls, Queries, items read)."""
    meter.reset()
    query = {**listing.query, "limit": str(PAGE)}
    listed = pages = 0
    for _ in range(10_000):
        pages += 1
        status, body = api.get("/tickets", query)
        if status != 200:
            raise RuntimeError(f"GET /tickets?{urlencode(query)} answered {status}: {body}")
        page = [item for item in page_items(body) if listing.skip is None or not listing.skip(item)]
        if listing.stop is not None:
            kept = [item for item in page if not listing.stop(item)]
            listed += len(kept)
            if len(kept) < len(page):
                break
        else:
            listed += len(page)
        cursor = page_cursor(body)
        if cursor is None:
            break
        query = {**listing.query, "limit": str(PAGE), cursor_name: cursor}
    return listed, pages, meter.total, meter.calls.get("Query", 0), meter.items


def measure_listings(api: Api, meter: Meter, document: dict[str, Any], seeded: Seeded, queues: list[str],
                     store: str) -> None:
    known, cursor_name = listing_shape(document)
    for listing in listings(queues):
        unknown = sorted(set(listing.query) - known)
        if unknown:
            print(f"   {listing.label}: not offered by GET /tickets ({', '.join(unknown)}), skipped")
            continue
        expected = sum(1 for t in seeded.tickets if listing.matches(t))
        try:
            listed, pages, calls, queries, read = list_all(api, meter, listing, cursor_name)
        except RuntimeError as exc:  # one listing the API refuses does not cost the others their figures
            print(f"   {listing.label}: failed, {exc}")
            continue
        target = math.ceil(listed / PAGE) + 1
        wrong = "" if listed == expected else f"; the seed has {expected} matches"
        figure(f"{listing.label} @{len(seeded.tickets):,}", pages, "requests", target=target,
               note=f"({listed:,} matches; {calls} DynamoDB calls, {read:,} items read{wrong}; {store})")
        # A page is one Query per shard of the partition the filter has (keys.INDEX_SHARDS): the price
        # of write capacity (docs/capacity.md). Bounded by shards x pages, marked when it is not.
        shards = listing_partitions(listing.query)
        figure(f"  its DynamoDB Queries ({shards} per page)", queries, "Queries", target=shards * target)


def _compare(moto: RouteFigures, twin: RouteFigures, size: int) -> None:
    differ = [f"{route}: moto {moto[route][1]}, twin {twin.get(route, (0, 'none', 0))[1]}"
              for route in moto if moto[route][:2] != twin.get(route, (0, "", 0))[:2]]
    if differ:
        print(f"   the in-memory twin differs from moto at {size:,}: " + "; ".join(differ))
    else:
        print(f"   the in-memory twin makes the same calls as moto on all {len(moto)} routes at {size:,}")


def main() -> None:
    import boto3
    from chalice.test import Client

    from app import app
    from benchmarks.offline import offline_aws
    from chalicelib import bootstrap
    from chalicelib.adapters.clock import FixedClock
    from chalicelib.adapters.item_store import Put
    from chalicelib.config import AuthSettings
    from chalicelib.local import moto_patches
    from tests.app.api_support import public_pem, token

    # As the local stack runs moto: transactions snapshot only the items they touch.
    moto_patches.install()
    rng = random.Random(12)
    sizes = sorted(SIZES)
    headers = {"Authorization": f"Bearer {token('agent', user=ME)}"}
    with offline_aws() as bench_settings:
        config = replace(bench_settings, auth=AuthSettings(public_key_pem=public_pem()))
        queues = list(dict.fromkeys(config.support_addresses.values()))
        table = boto3.resource("dynamodb", region_name=REGION).Table(config.table_name)
        moto_figures: dict[int, RouteFigures] = {}
        with (bootstrap.overridden(settings=config, clock=FixedClock(NOW)),
              Client(app, stage_name="test") as test_client, metered(config.region) as meter):
            api = Api(test_client, headers)
            seeded = _ingest_template(config)
            status, document = api.get("/openapi.json")
            assert status == 200, document
            for size in sorted(MOTO_SIZES):
                with table.batch_writer() as batch:
                    took = seed(lambda item: batch.put_item(Item=item), seeded, size, rng, queues)
                print(f"   seeded {size:,} tickets in moto in {took:.1f} s (BatchWriteItem)", flush=True)
                moto_figures[size] = measure_routes(api, meter, document, seeded, show=True, store="moto")
            copied = [item for page in _scan(table) for item in page]  # setup only: the twin starts where moto is
        twin = metered_memory_store()
        for item in copied:
            twin.transact([Put(item)])
        with bootstrap.overridden(settings=config, clock=FixedClock(NOW), store=twin), \
                Client(app, stage_name="test") as test_client:
            api = Api(test_client, headers)
            for size in sizes:
                took = seed(lambda item: twin.transact([Put(item)]), seeded, max(size, len(seeded.tickets)), rng,
                            queues)
                began = time.perf_counter()
                if size in moto_figures:
                    _compare(moto_figures[size], measure_routes(api, twin.meter, document, seeded, show=False,
                                                                store="twin"), size)
                else:
                    print(f"   seeded {size:,} tickets in the in-memory twin in {took:.1f} s", flush=True)
                    measure_routes(api, twin.meter, document, seeded, show=True, store="in-memory twin")
                if size == sizes[-1]:
                    measure_listings(api, twin.meter, document, seeded, queues, store="in-memory twin")
                print(f"   measured {size:,} in {time.perf_counter() - began:.1f} s", flush=True)


def _scan(table: Any) -> Iterator[list[dict[str, Any]]]:
    """Every item of the benchmark's table (setup, not a request path)."""
    options: dict[str, Any] = {}
    while True:
        page = table.scan(**options)
        yield page["Items"]
        if "LastEvaluatedKey" not in page:
            return
        options["ExclusiveStartKey"] = page["LastEvaluatedKey"]
