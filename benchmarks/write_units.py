"""Write units one ticket lifecycle puts on each table and index partition, and the new tickets/s the design sustains.

The lifecycle runs through the real services (email in with its acknowledgement, agent reply, customer reply,
resolve, the customer's "yes") on an in-memory store that prices every write as DynamoDB would: the base item
(the larger of its before and after images, 1 KB a unit, doubled inside a transaction) and, for each global
secondary index of `resources.table_definition`, the index entry the write puts or deletes (see `index_charges`).
Indexes, key attributes and projections are read from resources.py, so the figures follow the design. A
partition is *hot* when the lifecycles of different tickets and customers write the same one; its shards are
the distinct partitions of its family that the lifecycles wrote (keys.py decides how a ticket picks one)."""
from __future__ import annotations

import copy
import math
import re
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from benchmarks.report import figure

PARTITION_WCU_PER_S = 1000  # what one DynamoDB partition (table or index) absorbs, per second
UNIT_BYTES = 1024
LIFECYCLES = 48  # enough tickets that every shard of a sharded partition is written (4 shards: all but surely)
PHASES = ("email+ack", "reply", "customer", "resolve", "yes")
START = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # a Tuesday, 10:00 in Berlin
TABLE = "table"

Item = dict[str, Any]


# ---- the pricing model -----------------------------------------------------------------------------
@dataclass(frozen=True)
class IndexSpec:
    """One global secondary index as CreateTable declares it."""

    name: str
    hash_key: str
    range_key: str | None
    projection: str  # "ALL" | "KEYS_ONLY" | "INCLUDE"
    non_key: tuple[str, ...] = ()


def index_specs(definition: dict[str, Any]) -> list[IndexSpec]:
    """The indexes of a CreateTable definition (resources.table_definition)."""
    specs = []
    for index in definition.get("GlobalSecondaryIndexes", []):
        schema = {k["KeyType"]: k["AttributeName"] for k in index["KeySchema"]}
        projection = index.get("Projection", {})
        specs.append(IndexSpec(index["IndexName"], schema["HASH"], schema.get("RANGE"),
                               projection.get("ProjectionType", "ALL"), tuple(projection.get("NonKeyAttributes", ()))))
    return specs


def table_keys(definition: dict[str, Any]) -> tuple[str, ...]:
    return tuple(k["AttributeName"] for k in definition["KeySchema"])


def attribute_bytes(value: Any) -> int:
    from chalicelib.adapters.item_store import item_bytes

    return item_bytes(value)


def entry_bytes(item: Item) -> int:
    """DynamoDB's size of a top-level item or index entry: each attribute's name plus its value."""
    return sum(len(name.encode()) + attribute_bytes(value) for name, value in item.items())


def units(size: int) -> int:
    return max(1, math.ceil(size / UNIT_BYTES))


@dataclass(frozen=True)
class Charge:
    """Write units one write costs on one partition of the table or of an index."""

    target: str  # TABLE or an index name
    partition: str
    units: int
    kind: str  # "put" | "delete" | "write" (the base item)


def _projected(spec: IndexSpec, keys: Sequence[str], item: Item) -> Item:
    """The index entry DynamoDB keeps for `item`: the index and table keys plus what the index projects."""
    if spec.projection == "ALL":
        return dict(item)
    wanted = {*keys, spec.hash_key, *([spec.range_key] if spec.range_key else [])}
    if spec.projection == "INCLUDE":
        wanted.update(spec.non_key)
    return {name: value for name, value in item.items() if name in wanted}


def _index_key(spec: IndexSpec, item: Item | None) -> tuple[Any, ...] | None:
    """The item's key in the index, or None when the item is not in it (sparse index: a key attribute absent)."""
    if item is None:
        return None
    names = (spec.hash_key, *([spec.range_key] if spec.range_key else []))
    if any(name not in item for name in names):
        return None
    return tuple(item[name] for name in names)


def index_charges(spec: IndexSpec, keys: Sequence[str], before: Item | None, after: Item | None) -> list[Charge]:
    """What one write of an item costs on an index. The entry is put when the item gains the index's key, when
    the key moves (delete the old entry, put the new one, possibly on another partition) or when a projected
    attribute changes; an item that loses the key deletes its entry. A put costs the new entry's size in 1 KB
    units; a delete the old entry's (DeleteItem is priced by the deleted item's size; ≤ 1 KB entries: 1 unit).
    A write that changes nothing the index holds costs it nothing."""
    old_key, new_key = _index_key(spec, before), _index_key(spec, after)
    charges: list[Charge] = []
    old_entry = _projected(spec, keys, before) if before is not None and old_key is not None else None
    new_entry = _projected(spec, keys, after) if after is not None and new_key is not None else None
    if old_entry is not None and (new_key != old_key):
        charges.append(Charge(spec.name, str(old_entry[spec.hash_key]), units(entry_bytes(old_entry)), "delete"))
    if new_entry is not None and (new_key != old_key or new_entry != old_entry):
        charges.append(Charge(spec.name, str(new_entry[spec.hash_key]), units(entry_bytes(new_entry)), "put"))
    return charges


def table_charge(keys: Sequence[str], before: Item | None, after: Item | None, transactional: bool) -> Charge:
    """The base item: the larger of its images in 1 KB units (DynamoDB prices Put/Update/Delete so), twice
    inside a transaction (prepare and commit)."""
    present = after if after is not None else before
    assert present is not None
    size = max(entry_bytes(before) if before else 0, entry_bytes(after) if after else 0)
    return Charge(TABLE, str(present[keys[0]]), units(size) * (2 if transactional else 1), "write")


def write_charges(specs: Sequence[IndexSpec], keys: Sequence[str], before: Item | None, after: Item | None,
                  transactional: bool) -> list[Charge]:
    """Every unit one item write costs: the table and each index it touches."""
    charges = [table_charge(keys, before, after, transactional)]
    for spec in specs:
        charges.extend(index_charges(spec, keys, before, after))
    return charges


# ---- an in-memory store that prices what it writes -------------------------------------------------
def metered_store(definition: dict[str, Any]) -> Any:
    """An InMemoryItemStore (the contract-tested fake of DynamoItemStore) that records the charges of each write."""
    from chalicelib.adapters.item_store import InMemoryItemStore, Put

    specs, keys = index_specs(definition), table_keys(definition)

    class MeteredItemStore(InMemoryItemStore):
        def __init__(self) -> None:
            super().__init__()
            self.charges: list[tuple[str, Charge]] = []
            self.label = ""

        def _record(self, idents: Iterable[tuple[str, str]], write: Callable[[], Any], transactional: bool) -> Any:
            idents = list(idents)
            before = {ident: copy.deepcopy(self.items.get(ident)) for ident in idents}
            result = write()
            for ident in idents:
                for charge in write_charges(specs, keys, before[ident], self.items.get(ident), transactional):
                    self.charges.append((self.label, charge))
            return result

        def transact(self, operations: Sequence[Any]) -> None:
            idents = [self._ident(op.item if isinstance(op, Put) else op.key) for op in operations]
            self._record(idents, lambda: super(MeteredItemStore, self).transact(operations), True)

        def add(self, key: Any, add: dict[str, int], set_values: dict[str, Any] | None = None, *,
                base: dict[str, int] | None = None) -> Any:
            return self._record([self._ident(key)],
                                lambda: super(MeteredItemStore, self).add(key, add, set_values, base=base), False)

    return MeteredItemStore()


# ---- one lifecycle through the real services ---------------------------------------------------------
@dataclass
class Lifecycle:
    ticket_id: str
    customer_id: str
    number: int
    charges: list[tuple[str, Charge]]  # (phase, charge)


def run_lifecycles(count: int) -> list[Lifecycle]:
    from chalicelib.domain.principals import Principal, Role
    from chalicelib.resources import table_definition
    from tests.support import FakeShop

    store = metered_store(table_definition("bench"))
    shop = FakeShop(now=START, store=store)
    agent = Principal("agent-1", "Alex Agent", Role.AGENT)
    return [_lifecycle(shop, store, agent, n) for n in range(count)]


def _lifecycle(shop: Any, store: Any, agent: Any, n: int) -> Lifecycle:
    """Email in (with its acknowledgement), agent reply, customer reply, resolve, the customer's "yes"."""
    from chalicelib.services.replies import ReplyRequest, reply
    from tests.support import build_mail

    # Each lifecycle its own customer at its own domain (per-sender and per-domain ack limits stay out of it).
    address = f"customer{n}@mail{n}.example"
    sender = f"Customer {n} <{address}>"
    shop.clock.moment = START
    first = len(store.charges)
    store.label = "email+ack"
    outcome = shop.receive(build_mail(sender=sender)[0], source=address)
    assert outcome.status == "created" and outcome.acknowledged, outcome
    ticket = shop.repository.get_ticket(outcome.ticket_id)
    subject = f"Re: [#{ticket.number}] Where is my order?"
    shop.clock.advance(hours=1)
    store.label = "reply"
    reply(ticket.id, ReplyRequest(body="We are on it.", version=ticket.version), agent, shop.shop.inbox())
    shop.clock.advance(hours=1)
    store.label = "customer"
    shop.receive(build_mail(sender=sender, subject=subject, body="It still has not arrived.")[0], source=address)
    shop.clock.advance(hours=1)
    current = shop.repository.get_ticket(ticket.id)
    store.label = "resolve"
    reply(ticket.id, ReplyRequest(body="It is on its way again.", version=current.version, status_after="resolved"),
          agent, shop.shop.inbox())
    shop.clock.advance(hours=1)
    store.label = "yes"
    shop.receive(build_mail(sender=sender, subject=subject, body="Yes, thanks!")[0], source=address)
    closed = shop.repository.get_ticket(ticket.id)
    assert closed.status.value == "closed", closed.status
    return Lifecycle(ticket.id, closed.customer_id, ticket.number, store.charges[first:])


# ---- partitions: generalised names, hot families, shards ------------------------------------------
_ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
_HASH = re.compile(r"^[0-9a-f]{12,}$|^[A-Za-z0-9_-]{20,}$")
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}(T[\d:.]+Z?)?$|^\d{10}$")


def generalised(partition: str, lifecycle: Lifecycle) -> str:
    """A partition key with its ticket-, customer- and time-specific parts named (digit segments stay)."""
    parts = []
    for segment in partition.split("#"):
        if segment == lifecycle.ticket_id:
            parts.append("<ticket>")
        elif segment == lifecycle.customer_id:
            parts.append("<customer>")
        elif segment == str(lifecycle.number):
            parts.append("<number>")
        elif _TIME.match(segment):
            parts.append("<time>")
        elif "@" in segment:
            parts.append("<address>")
        elif _ULID.match(segment):
            parts.append("<id>")
        elif _HASH.match(segment) and not segment.isalpha():
            parts.append("<hash>")
        else:
            parts.append(segment)
    return "#".join(parts)


@dataclass
class Family:
    """Partitions of one target with the same generalised name (a sharded partition's shards are one family)."""

    target: str
    name: str
    hot: bool
    shards: int
    per_phase: dict[str, float]  # median units one lifecycle puts on its member of the family, per phase

    @property
    def lifecycle_units(self) -> float:
        return sum(self.per_phase.values())


def families(lifecycles: Sequence[Lifecycle]) -> list[Family]:
    writers: dict[tuple[str, str], set[int]] = defaultdict(set)  # concrete partition -> lifecycles writing it
    for n, life in enumerate(lifecycles):
        for _, charge in life.charges:
            writers[charge.target, charge.partition].add(n)
    hot = {p for p, who in writers.items() if len(who) > 1}

    def family_of(target: str, partition: str, life: Lifecycle) -> str:
        name = generalised(partition, life)
        if (target, partition) in hot:
            name = "#".join("<shard>" if s.isdigit() else s for s in name.split("#"))
        return name

    members: dict[tuple[str, str], set[str]] = defaultdict(set)
    units_by: dict[tuple[str, str], list[dict[str, float]]] = defaultdict(list)
    for life in lifecycles:
        mine: dict[tuple[str, str], dict[str, dict[str, float]]] = defaultdict(
            lambda: defaultdict(lambda: defaultdict(float)))
        for label, charge in life.charges:
            key = (charge.target, family_of(charge.target, charge.partition, life))
            members[key].add(charge.partition)
            mine[key][charge.partition][label] += charge.units
        for key, by_partition in mine.items():
            busiest = max(by_partition.values(), key=lambda phases: sum(phases.values()))
            units_by[key].append(busiest)
    result = []
    for (target, name), samples in units_by.items():
        is_hot = any((target, p) in hot for p in members[target, name])
        # Median over the lifecycles that wrote the family (a "hot" family is written by nearly all of them).
        per_phase = {label: statistics.median([s.get(label, 0.0) for s in samples]) for label in PHASES}
        shards = len(members[target, name]) if is_hot and "<shard>" in name else 1
        result.append(Family(target, name, is_hot, shards, per_phase))
    order = {TABLE: 0}
    return sorted(result, key=lambda f: (not f.hot, order.get(f.target, 1), f.target, f.name))


def main() -> None:
    from chalicelib.adapters import keys
    from chalicelib.resources import table_definition

    specs = index_specs(table_definition("bench"))
    print("   indexes: " + ", ".join(f"{s.name} {s.projection}{'(' + ','.join(s.non_key) + ')' if s.non_key else ''}"
                                     for s in specs) + f"; keys.INDEX_SHARDS = {getattr(keys, 'INDEX_SHARDS', '-')}")
    lifecycles = run_lifecycles(LIFECYCLES)
    found = families(lifecycles)
    width = max(len(f"{f.target} {f.name}") for f in found) + 2
    print(f"   units per lifecycle ({LIFECYCLES} lifecycles, median; hot = written by other tickets' lifecycles too)")
    print(f"   {'partition':<{width}}{'shards':>7}" + "".join(f"{p:>11}" for p in PHASES) + f"{'total':>8}")
    for f in found:
        label = f"{f.target} {f.name}"
        print(f"   {label:<{width}}{(str(f.shards) if f.hot else 'own'):>7}"
              + "".join(f"{f.per_phase[p]:>11g}" for p in PHASES) + f"{f.lifecycle_units:>8g}")
    hot = [f for f in found if f.hot]
    if not hot:
        print("   no partition is shared between tickets")
        return
    busiest = max(hot, key=lambda f: f.lifecycle_units)
    figure("busiest hot partition, units per lifecycle", busiest.lifecycle_units, "WCU", target=6, digits=0,
           note=f"({busiest.target} {busiest.name})")
    own = sum(f.lifecycle_units for f in found if not f.hot)
    figure("units per lifecycle, all partitions", sum(f.lifecycle_units for f in found), "WCU", digits=0,
           note=f"(hot {sum(f.lifecycle_units for f in hot):g}, per ticket or customer {own:g})")

    def rate(f: Family, spent: float) -> float:
        return PARTITION_WCU_PER_S * f.shards / spent if spent else math.inf

    creating = [(rate(f, f.per_phase["email+ack"]), f) for f in hot if f.per_phase["email+ack"]]
    if creating:
        tickets, limit = min(creating, key=lambda pair: pair[0])
        figure("new tickets/s the design sustains", tickets, "/s", target=1000, better="higher", digits=0,
               note=f"({limit.target} {limit.name}: {limit.per_phase['email+ack']:g} WCU per new ticket × "
                    f"{limit.shards} shard{'s' if limit.shards != 1 else ''})")
    lives, limit = min(((rate(f, f.lifecycle_units), f) for f in hot), key=lambda pair: pair[0])
    figure("full lifecycles/s the design sustains", lives, "/s", digits=0,
           note=f"({limit.target} {limit.name}: {limit.lifecycle_units:g} WCU × {limit.shards} shard"
                f"{'s' if limit.shards != 1 else ''})")
