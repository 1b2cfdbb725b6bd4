"""SlaRepository over any ItemStore: calendars and policies (CONFIG items), the sweep's due index, report facts."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from chalicelib.adapters import items, keys, sla_items
from chalicelib.adapters.item_store import ABSENT, ConditionFailed, Delete, Item, ItemStore, Put
from chalicelib.domain.errors import VersionConflict
from chalicelib.domain.sla_clock import SlaFact
from chalicelib.domain.sla_config import CalendarSpec, SlaPolicy
from chalicelib.domain.tickets import Ticket
from chalicelib.ports import DueEntry, DuePage, SlaConfig
from chalicelib.resources import PK, SLA_INDEX

_SNAPSHOT_ATTEMPTS = 4
_BATCH_KEYS = 100  # BatchGetItem's limit per call


def _expect(expected_version: int) -> dict[str, Any]:
    # Version 0 is "not stored yet" (a new item, or the default the environment seeds).
    return {"pk": ABSENT} if expected_version == 0 else {"version": expected_version}


class TableSlaRepository:
    def __init__(self, store: ItemStore) -> None:
        self.store = store

    def _all(self, partition: str, prefix: str = "") -> list[Item]:
        found: list[Item] = []
        start = None
        while True:
            page, start = self.store.query(partition, prefix, start_after=start)
            found += page
            if start is None:
                return found

    # ---- configuration -------------------------------------------------------------------------
    def load_sla_config(self) -> SlaConfig:
        """Calendars and policies (one Query); message paths read the snapshot in their batch instead."""
        return self._read_config()

    def _read_config(self) -> SlaConfig:
        return self._read_config_and_revision()[0]

    def _read_config_and_revision(self) -> tuple[SlaConfig, int | None]:
        config, revision = SlaConfig(), None
        for item in self._all(keys.SLA_CONFIG_PARTITION):
            if item["sk"].startswith(keys.CALENDAR_PREFIX):
                config.calendars.append(sla_items.calendar_from_item(item))
            elif item["sk"].startswith(keys.POLICY_PREFIX):
                config.policies.append(sla_items.policy_from_item(item))
            elif item["sk"] == keys.sla_config_snapshot()["sk"]:
                revision = int(item.get("revision", 0))
        return config, revision

    def _change(self, operation: Put | Delete, edit: Callable[[SlaConfig], None], conflict: str) -> None:
        """Writes one configuration item together with the snapshot of the whole configuration; the
        snapshot is conditional on its revision, so concurrent edits of different items never lose one."""
        for _ in range(_SNAPSHOT_ATTEMPTS):
            config, revision = self._read_config_and_revision()
            edit(config)
            snapshot = sla_items.snapshot_item(config.calendars, config.policies, (revision or 0) + 1)
            expect: dict[str, Any] = {"pk": ABSENT} if revision is None else {"revision": revision}
            try:
                self.store.transact([operation, Put(snapshot, expect)])
                return
            except ConditionFailed as exc:
                if 0 in exc.indexes:
                    raise VersionConflict(conflict) from exc
        raise VersionConflict("the SLA configuration kept changing; try again")

    def save_calendar(self, spec: CalendarSpec, expected_version: int) -> CalendarSpec:
        stored = replace(spec, version=expected_version + 1)

        def edit(config: SlaConfig) -> None:
            config.calendars = sorted([c for c in config.calendars if c.name != spec.name] + [stored],
                                      key=lambda c: c.name)  # the order the items have

        self._change(Put(sla_items.calendar_item(stored), _expect(expected_version)), edit,
                     f"calendar {spec.name} changed since it was read")
        return stored

    def delete_calendar(self, name: str) -> None:
        def edit(config: SlaConfig) -> None:
            config.calendars = [c for c in config.calendars if c.name != name]

        self._change(Delete(keys.sla_calendar(name)), edit, f"calendar {name} changed")

    def save_policy(self, policy: SlaPolicy, expected_version: int) -> SlaPolicy:
        stored = replace(policy, version=expected_version + 1)

        def edit(config: SlaConfig) -> None:
            config.policies = sorted([p for p in config.policies if p.id != policy.id] + [stored],
                                     key=lambda p: p.id)  # the order the items have

        self._change(Put(sla_items.policy_item(stored), _expect(expected_version)), edit,
                     f"policy {policy.id} changed since it was read")
        return stored

    def delete_policy(self, policy_id: str) -> None:
        def edit(config: SlaConfig) -> None:
            config.policies = [p for p in config.policies if p.id != policy_id]

        self._change(Delete(keys.sla_policy(policy_id)), edit, f"policy {policy_id} changed")

    # ---- the sweep's work queue ----------------------------------------------------------------
    def due_shards(self) -> Sequence[int]:
        return keys.shards()

    def due_entries(self, shard: int, before: str, limit: int,
                    start_after: dict[str, str] | None = None) -> DuePage:
        # Sort keys are "<time>#<ticket>": "$" follows "#", so a bound of "<time>$" keeps that time too.
        found, cursor = self.store.query(keys.sla_partition(shard), index=SLA_INDEX, limit=limit,
                                         start_after=start_after, sk_before=f"{before}$")
        # Keys only: the time from the index's sort key, the ticket from the table's key.
        entries = [DueEntry(str(i["gsi6sk"]).rpartition("#")[0], str(i[PK]).removeprefix("TICKET#")) for i in found]
        return DuePage(entries, cursor)

    def tickets(self, ticket_ids: Sequence[str]) -> list[Ticket]:
        by_id: dict[str, Ticket] = {}
        for start in range(0, len(ticket_ids), _BATCH_KEYS):
            wanted = [keys.ticket(t) for t in ticket_ids[start:start + _BATCH_KEYS]]
            for item in self.store.batch_get(wanted):
                ticket = items.ticket_from_item(item)
                by_id[ticket.id] = ticket
        return [by_id[t] for t in ticket_ids if t in by_id]

    # ---- reports -------------------------------------------------------------------------------
    def sla_facts(self, day: str, queue: str | None = None) -> list[SlaFact]:
        prefix = f"{queue}#" if queue else ""
        return [sla_items.fact_from_item(i) for i in self._all(keys.sla_fact_partition(day), prefix)]
