"""The item-store port (get, batch get, query, atomic transactions with conditions) and its
in-memory implementation; `DynamoItemStore` is the real one. One contract test runs against both."""
from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from chalicelib.resources import INDEX_KEYS, PK, SK, index_projection

Item = dict[str, Any]
Key = dict[str, str]


class _Absent:
    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()  # in `expect`: the attribute must not exist


@dataclass
class Put:
    """Write a whole item; `expect` maps attribute -> required current value (or ABSENT)."""

    item: Item
    expect: dict[str, Any] = field(default_factory=dict)


@dataclass
class Add:
    """Atomically add to numeric attributes, creating the item if needed; `set` also writes values."""

    key: Key
    add: dict[str, int]
    set: dict[str, Any] = field(default_factory=dict)


@dataclass
class Delete:
    """Remove an item (absent is fine)."""

    key: Key


Operation = Put | Add | Delete


@dataclass(frozen=True)
class Filter:
    """A condition on a non-key attribute, applied after the key condition (as DynamoDB does:
    `limit` counts items read, so a filtered page may hold fewer items than the limit)."""

    attribute: str  # a name, or a path into a map ("row.status": what a list index projects)
    op: str  # "eq" | "in" | "contains" | "lt" | "ge" | "absent"
    value: Any = None

    def matches(self, item: Item) -> bool:
        *outer, name = self.attribute.split(".")
        for step in outer:
            nested = item.get(step)
            item = nested if isinstance(nested, dict) else {}
        present = name in item
        current = item.get(name)
        if self.op == "absent":
            return not present
        if not present:
            return False
        if self.op == "eq":
            return bool(current == _dynamo_like(self.value))
        if self.op == "in":
            return current in [_dynamo_like(v) for v in self.value]
        if self.op == "contains":
            return isinstance(current, list | set | str) and self.value in current
        if self.op == "lt":
            return bool(current < _dynamo_like(self.value))
        if self.op == "ge":
            return bool(current >= _dynamo_like(self.value))
        raise ValueError(f"unknown filter op {self.op}")


class ConditionFailed(Exception):
    """A transaction was refused because the conditions at `indexes` did not hold."""

    def __init__(self, indexes: list[int]) -> None:
        super().__init__(f"conditions failed at {indexes}")
        self.indexes = indexes


class ItemStore(Protocol):
    def get(self, key: Key) -> Item | None: ...

    def batch_get(self, keys: Sequence[Key]) -> list[Item]: ...

    def query(
        self,
        partition: str,
        sk_prefix: str = "",
        *,
        index: str | None = None,
        forward: bool = True,
        limit: int | None = None,
        start_after: Key | None = None,
        filters: Sequence[Filter] = (),
        sk_before: str | None = None,
        sk_from: str | None = None,
    ) -> tuple[list[Item], Key | None]:
        """Items of one partition (of the table or an index) in sort-key order; `sk_before` keeps
        sort keys strictly below a bound, `sk_from` at or above one. An index returns only its keys
        and projection. Returns the page and the key to continue after, if any."""
        ...

    def transact(self, operations: Sequence[Operation]) -> None: ...

    def add(self, key: Key, add: dict[str, int], set_values: dict[str, Any] | None = None, *,
            base: dict[str, int] | None = None) -> Item:
        """Atomic increment outside a transaction (an absent attribute counts from its `base`, else 0);
        returns the item after the update. Concurrent increments of one item serialize, none is lost."""
        ...


MAX_ITEM_BYTES = 400 * 1024  # DynamoDB's limit: attribute names and values, in bytes (UTF-8 for strings)


def item_bytes(value: Any) -> int:
    """An item's size as DynamoDB counts it (close enough to refuse what DynamoDB refuses)."""
    if isinstance(value, str):
        return len(value) if value.isascii() else len(value.encode("utf-8", "surrogatepass"))
    if isinstance(value, bytes | bytearray):
        return len(value)
    if isinstance(value, dict):
        return 3 + sum(item_bytes(k) + item_bytes(v) + 1 for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return 3 + sum(item_bytes(v) + 1 for v in value)
    if isinstance(value, bool) or value is None:
        return 1
    return 1 + len(str(value)) // 2 + 1  # numbers: about one byte per two significant digits


def _projected(item: Item, index: str | None) -> Item:
    """What DynamoDB returns from an index: the table's and the index's keys plus its projection, so
    code that relies on an attribute the index does not carry fails here as it would in AWS."""
    if index is None:
        return item
    projection = index_projection(index)
    if projection["ProjectionType"] == "ALL":
        return item
    kept = {PK, SK, *INDEX_KEYS[index], *projection.get("NonKeyAttributes", ())}
    return {k: v for k, v in item.items() if k in kept}


def _copied(value: Any) -> Any:
    """A copy of stored containers (callers may mutate what they read); scalars are immutable."""
    if isinstance(value, dict):
        return {k: _copied(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copied(v) for v in value]
    if isinstance(value, set):
        return set(value)
    return value


def _dynamo_like(value: Any) -> Any:
    """Numbers come back from DynamoDB as Decimal; the fake does the same so code cannot rely on int."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _dynamo_like(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_dynamo_like(v) for v in value]
    return copy.deepcopy(value)


class InMemoryItemStore:
    """A dict behind the ItemStore interface, with DynamoDB's condition and transaction semantics."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], Item] = {}
        self.calls: list[str] = []

    @staticmethod
    def _ident(key: Key) -> tuple[str, str]:
        return key[PK], key[SK]

    def get(self, key: Key) -> Item | None:
        self.calls.append("GetItem")
        item = self.items.get(self._ident(key))
        return _copied(item) if item is not None else None

    def batch_get(self, keys: Sequence[Key]) -> list[Item]:
        self.calls.append("BatchGetItem")
        found = (self.items.get(self._ident(k)) for k in keys)
        return [_copied(item) for item in found if item is not None]

    def query(
        self,
        partition: str,
        sk_prefix: str = "",
        *,
        index: str | None = None,
        forward: bool = True,
        limit: int | None = None,
        start_after: Key | None = None,
        filters: Sequence[Filter] = (),
        sk_before: str | None = None,
        sk_from: str | None = None,
    ) -> tuple[list[Item], Key | None]:
        self.calls.append("Query")
        pk_attr, sk_attr = INDEX_KEYS[index] if index else (PK, SK)
        matches = sorted(
            (
                item
                for item in self.items.values()
                if item.get(pk_attr) == partition and sk_attr in item
                and str(item[sk_attr]).startswith(sk_prefix)
                and (sk_before is None or str(item[sk_attr]) < sk_before)
                and (sk_from is None or str(item[sk_attr]) >= sk_from)
            ),
            key=lambda item: (item[sk_attr], item[PK], item[SK]),
            reverse=not forward,
        )
        if start_after is not None:
            marker = (start_after[sk_attr], start_after[PK], start_after[SK])
            matches = [
                i for i in matches
                if ((i[sk_attr], i[PK], i[SK]) > marker if forward else (i[sk_attr], i[PK], i[SK]) < marker)
            ]
        page = matches[:limit] if limit else matches
        last: Key | None = None
        if limit and len(matches) > limit:
            tail = page[-1]
            last = {PK: tail[PK], SK: tail[SK], sk_attr: tail[sk_attr], pk_attr: tail[pk_attr]}
        kept = [_projected(i, index) for i in page]
        kept = [i for i in kept if all(f.matches(i) for f in filters)]
        return [_copied(i) for i in kept], last

    def _holds(self, current: Item | None, expect: dict[str, Any]) -> bool:
        for attribute, wanted in expect.items():
            present = current is not None and attribute in current
            if wanted is ABSENT:
                if present:
                    return False
            elif not present or current is None or current[attribute] != _dynamo_like(wanted):
                return False
        return True

    def transact(self, operations: Sequence[Operation]) -> None:
        self.calls.append("TransactWriteItems")
        idents = [self._ident(op.item if isinstance(op, Put) else op.key) for op in operations]
        if len(operations) > 100:
            raise ValueError("a transaction holds at most 100 operations")
        if len(set(idents)) != len(idents):
            raise ValueError("a transaction may touch each item once")  # as DynamoDB's ValidationException
        if any(isinstance(op, Put) and item_bytes(op.item) > MAX_ITEM_BYTES for op in operations):
            raise ValueError("Item size has exceeded the maximum allowed size")  # as DynamoDB's ValidationException
        failed = [
            n for n, op in enumerate(operations)
            if isinstance(op, Put) and not self._holds(self.items.get(idents[n]), op.expect)
        ]
        if failed:
            raise ConditionFailed(failed)
        for ident, op in zip(idents, operations, strict=True):
            if isinstance(op, Put):
                self.items[ident] = _dynamo_like(op.item)
            elif isinstance(op, Delete):
                self.items.pop(ident, None)
            else:
                self._apply_add(ident, op.key, op.add, op.set)

    def _apply_add(self, ident: tuple[str, str], key: Key, add: dict[str, int], values: dict[str, Any],
                   base: dict[str, int] | None = None) -> Item:
        item = self.items.setdefault(ident, dict(key))
        for attribute, amount in add.items():
            item[attribute] = Decimal(item.get(attribute, (base or {}).get(attribute, 0))) + amount
        item.update(_dynamo_like(values))
        copied: Item = _copied(item)
        return copied

    def add(self, key: Key, add: dict[str, int], set_values: dict[str, Any] | None = None, *,
            base: dict[str, int] | None = None) -> Item:
        self.calls.append("UpdateItem")
        return self._apply_add(self._ident(key), key, add, set_values or {}, base)

    def all_items(self) -> Iterable[Item]:
        """For tests only: everything stored."""
        return self.items.values()
