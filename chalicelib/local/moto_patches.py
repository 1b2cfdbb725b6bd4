"""One change to the in-process moto: a transaction snapshots the items it touches for its rollback, where
moto deep-copies the whole table once per transaction item, so every write slowed as the table grew."""
from __future__ import annotations

import copy
import threading
from types import ModuleType
from typing import Any

_installed = False
_lock = threading.Lock()


class _CopyWithoutTables:
    """Stands in for `copy` inside moto.dynamodb.models: deep copies of whole tables are skipped
    (the wrapper below restores touched items instead); everything else is copied as before."""

    def __init__(self, table_type: type, real: ModuleType) -> None:
        self._table_type = table_type
        self._real = real

    def deepcopy(self, value: Any, memo: dict[int, Any] | None = None) -> Any:
        if isinstance(value, self._table_type):
            return value
        return self._real.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def _touched_key(table: Any, operation: dict[str, Any]) -> dict[str, Any] | None:
    source = operation.get("Item") if "Item" in operation else operation.get("Key")
    if not isinstance(source, dict):
        return None
    names = [n for n in (table.hash_key_attr, table.range_key_attr) if n]
    if any(n not in source for n in names):
        return None
    return {n: source[n] for n in names}


def _snapshot(backend: Any, entry: Any) -> tuple[Any, Any, Any, Any] | None:
    """The item a transaction entry will write, as it is now (None if absent), with its table and key."""
    operation = next(iter(entry.values()), None) if isinstance(entry, dict) else None
    if not isinstance(operation, dict):
        return None
    table = backend.tables.get(operation.get("TableName"))
    key = _touched_key(table, operation) if table is not None else None
    if key is None:
        return None
    try:
        hash_value, range_value = backend.get_keys_value(table, key)
    except Exception:
        return None  # moto rejects the transaction itself
    return table, hash_value, range_value, copy.deepcopy(table.get_item(hash_value, range_value))


def install() -> None:
    """Idempotent; only the local stack calls it (tests use moto unchanged)."""
    global _installed
    with _lock:
        if _installed:
            return
        import moto.dynamodb.models as dynamodb_models
        from moto.dynamodb.models.table import Table

        backend_type = dynamodb_models.DynamoDBBackend
        original = backend_type.transact_write_items

        def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
            snapshots: list[tuple[Any, Any, Any, Any]] = []  # table, hash value, range value, item before
            for entry in transact_items[:100]:
                snapshot = _snapshot(self, entry)
                if snapshot is not None:
                    snapshots.append(snapshot)
            try:
                original(self, transact_items)
            except Exception:
                for table, hash_value, range_value, before in reversed(snapshots):
                    table.delete_item(hash_value, range_value)
                    if before is not None:
                        if range_value is not None:
                            table.items[hash_value][range_value] = before
                        else:
                            table.items[hash_value] = before
                raise

        dynamodb_models.copy = _CopyWithoutTables(Table, copy)  # type: ignore[assignment]
        backend_type.transact_write_items = transact_write_items  # type: ignore[method-assign]
        _installed = True
