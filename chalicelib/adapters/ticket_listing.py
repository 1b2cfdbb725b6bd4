"""Ticket lists over the list indexes: which index and partitions a filter reads (`plan`), and the merge
of a partition's shards into one ordered page with one cursor (`read_page`).

Every documented filter has a key of its own (resources.py), so a page costs one Query per shard of
one logical partition and reads about what it shows; whatever the chosen index does not narrow is a
filter within the page (`row.<field>`: the list indexes project only the list row). The cursor holds,
per partition, the sort key consumed so far ("~" once the partition is done); it is signed by the API
together with the filters, so it cannot be forged or carried to another listing.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from chalicelib.adapters import keys
from chalicelib.adapters.item_store import Filter, Item, ItemStore, Key
from chalicelib.domain.tickets import TicketStatus
from chalicelib.ports import TicketFilter
from chalicelib.resources import (
    ASSIGNEE_INDEX,
    CUSTOMER_INDEX,
    DUE_INDEX,
    INDEX_KEYS,
    LANE_INDEX,
    LIST_ROW,
    PK,
    QUEUE_ASSIGNEE_DUE_INDEX,
    QUEUE_ASSIGNEE_INDEX,
    QUEUE_INDEX,
    SK,
    SLA_STATE_INDEX,
    STATUS_INDEX,
    TAG_INDEX,
)

DONE = "~"  # a partition read to its end


@dataclass(frozen=True)
class ListingPlan:
    """One logical partition of one index (as its shards), the order, the key range and what the
    page still filters."""

    index: str
    partitions: list[str]
    forward: bool  # True: soonest first (due); False: newest first
    filters: list[Filter] = field(default_factory=list)
    sk_from: str | None = None
    sk_before: str | None = None

    @property
    def entries_are_tags(self) -> bool:
        return self.index == TAG_INDEX


def _row(name: str) -> str:
    return f"{LIST_ROW}.{name}"


def plan(query: TicketFilter) -> ListingPlan:
    """The narrowest key the filters have; the rest is filtered within the page."""
    lane = query.lane
    narrowed: set[str] = set()
    due_range = query.sort == "due" or query.due_before is not None or query.due_from is not None
    if query.customer_id:
        chosen = ListingPlan(CUSTOMER_INDEX, [keys.customer_partition(query.customer_id)], False)
        narrowed.add("customer")
    elif query.tag:
        chosen = ListingPlan(TAG_INDEX, keys.sharded(keys.tag_partition(query.tag, lane)), False)
        narrowed |= {"tag", "lane"}
    elif query.sla_state == "warned":
        chosen = ListingPlan(SLA_STATE_INDEX, keys.sharded(keys.sla_state_partition("warned")), True)
    elif due_range and query.queue and query.assignee:
        partition = keys.queue_assignee_due_partition(query.queue, _assignee(query.assignee))
        chosen = ListingPlan(QUEUE_ASSIGNEE_DUE_INDEX, keys.sharded(partition), True)
        narrowed |= {"queue", "assignee"}
    elif due_range:
        chosen = ListingPlan(DUE_INDEX, keys.sharded(keys.DUE_PARTITION), True)
    elif query.queue and query.assignee:
        partition = keys.queue_assignee_partition(query.queue, _assignee(query.assignee), lane)
        chosen = ListingPlan(QUEUE_ASSIGNEE_INDEX, keys.sharded(partition), False)
        narrowed |= {"queue", "assignee", "lane"}
    elif query.assignee:
        partition = keys.assignee_partition(_assignee(query.assignee), lane)
        chosen = ListingPlan(ASSIGNEE_INDEX, keys.sharded(partition), False)
        narrowed |= {"assignee", "lane"}
    elif query.statuses:
        partitions = [p for status in query.statuses for p in keys.sharded(keys.status_partition(status))]
        chosen = ListingPlan(STATUS_INDEX, partitions, False)
        narrowed |= {"status", "lane"}
    elif query.queue:
        chosen = ListingPlan(QUEUE_INDEX, keys.sharded(keys.queue_partition(query.queue, lane)), False)
        narrowed |= {"queue", "lane"}
    else:
        chosen = ListingPlan(LANE_INDEX, keys.sharded(keys.lane_partition(lane)), False)
        narrowed.add("lane")
    filters: list[Filter] = []
    if "status" not in narrowed and (query.statuses or "lane" not in narrowed):
        lane_statuses = query.statuses or tuple(s.value for s in TicketStatus if s.lane == lane)
        filters.append(Filter(_row("status"), "in", list(lane_statuses)))
    if query.queue and "queue" not in narrowed:
        filters.append(Filter(_row("queue"), "eq", query.queue))
    if query.assignee and "assignee" not in narrowed:
        filters.append(Filter(_row("assignee"), "absent") if query.assignee == "none"
                       else Filter(_row("assignee"), "eq", query.assignee))
    if query.customer_id and "customer" not in narrowed:
        filters.append(Filter(_row("customer_id"), "eq", query.customer_id))
    if query.priority:
        filters.append(Filter(_row("priority"), "eq", query.priority))
    if query.tag and "tag" not in narrowed:
        filters.append(Filter(_row("tags"), "contains", query.tag))
    if query.channel:
        filters.append(Filter(_row("channel"), "eq", query.channel))
    if query.sla_state == "warned" and chosen.index != SLA_STATE_INDEX:
        filters.append(Filter(_row("sla_state"), "eq", "warned"))
    return ListingPlan(chosen.index, chosen.partitions, chosen.forward, filters,
                       sk_from=query.due_from if due_range else None,
                       sk_before=query.due_before if due_range else None)


def _assignee(assignee: str) -> str | None:
    return None if assignee == "none" else assignee


@dataclass
class PageRead:
    entries: list[Item]  # index entries in listing order (tickets' rows, or tag entries: keys only)
    cursor: dict[str, str] | None
    queries: int


def read_page(store: ItemStore, chosen: ListingPlan, limit: int, cursor: dict[str, str] | None) -> PageRead:
    """One page from every partition of the plan, merged in order. Each partition is read with the
    page's limit, so the partition whose read ended soonest (the frontier) alone can fill the page:
    every entry up to the frontier is certain to be in order; entries beyond it wait for the next page.
    A keys-only index (tags) cannot filter on the row: its filters apply after the tickets are read."""
    _pk_attr, sk_attr = INDEX_KEYS[chosen.index]
    position = dict(cursor or {})
    reads: dict[int, tuple[list[Item], Key | None]] = {}
    per_partition = partition_limit(limit, len(chosen.partitions), filtered=bool(chosen.filters))
    for n, partition in enumerate(chosen.partitions):
        state = position.get(str(n))
        if state == DONE:
            continue
        start = _start_key(chosen, partition, state) if state else None
        found, last = store.query(partition, index=chosen.index, forward=chosen.forward, limit=per_partition,
                                  start_after=start, sk_before=chosen.sk_before, sk_from=chosen.sk_from,
                                  filters=() if chosen.entries_are_tags else chosen.filters)
        reads[n] = (found, last)
    frontier: str | None = None
    for _found, last in reads.values():
        if last is not None:
            mark = str(last[sk_attr])
            frontier = mark if frontier is None or _before(mark, frontier, chosen.forward) else frontier
    candidates = [(str(entry[sk_attr]), n, entry) for n, (found, _last) in reads.items() for entry in found
                  if frontier is None or not _before(frontier, str(entry[sk_attr]), chosen.forward)]
    candidates.sort(key=lambda c: c[0], reverse=not chosen.forward)
    page = candidates[:limit]
    for n, (found, last) in reads.items():
        taken = [c[0] for c in page if c[1] == n]
        if len(taken) == len(found) and (last is None or frontier is None
                                         or not _before(frontier, str(last[sk_attr]), chosen.forward)):
            position[str(n)] = DONE if last is None else str(last[sk_attr])
        elif taken:
            position[str(n)] = taken[-1]
    finished = all(position.get(str(n)) == DONE for n in range(len(chosen.partitions)))
    return PageRead([c[2] for c in page], None if finished else position, len(reads))


def partition_limit(limit: int, partitions: int, *, filtered: bool) -> int:
    """How many entries to read from each partition for a page of `limit`. Tickets spread evenly over
    shards, so a share of the page with room to spare fills it while reading ~1.5x what it shows
    (each partition's full limit would read 4x); a page the frontier cuts short is still in order, only
    shorter. A filtered page reads whole limits: its matches are not spread evenly."""
    if filtered or partitions <= 1:
        return limit
    return min(limit, -(-limit * 3 // (2 * partitions)) + 2)


def _before(a: str, b: str, forward: bool) -> bool:
    """True when sort key `a` comes strictly before `b` in the listing's order."""
    return a < b if forward else a > b


def _start_key(chosen: ListingPlan, partition: str, sort_key: str) -> Key:
    """The continuation key of an entry, rebuilt from its sort key (`<time>#<ticket id>`): the table's
    keys are the ticket's (or its tag entry's), the index's are the partition and the sort key."""
    pk_attr, sk_attr = INDEX_KEYS[chosen.index]
    ticket_id = sort_key.rsplit("#", 1)[-1]
    table_key = (keys.tag_entry(ticket_id, _tag_of(partition)) if chosen.entries_are_tags
                 else keys.ticket(ticket_id))
    return {PK: table_key[PK], SK: table_key[SK], pk_attr: partition, sk_attr: sort_key}


def _tag_of(partition: str) -> str:
    # TAG#<tag>#<lane>#<shard>: tags are [a-z0-9_-], so the tag is the second field.
    return partition.split("#")[1]


def ticket_keys(entries: Sequence[Item]) -> list[Key]:
    """The tickets of keys-only entries (tag entries live in their ticket's partition)."""
    return [keys.ticket(str(entry[PK]).split("#", 1)[1]) for entry in entries]
