"""TicketRepository over any ItemStore: which items a use case reads and writes, and in which transaction."""
from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from chalicelib.adapters import items, keys
from chalicelib.adapters.item_store import ABSENT, Add, ConditionFailed, Item, ItemStore, Operation, Put
from chalicelib.domain.customers import Customer
from chalicelib.domain.errors import AlreadyExists, VersionConflict
from chalicelib.domain.tickets import AckState, Message, Ticket, TicketEvent
from chalicelib.ports import (
    AckRecord,
    AppendMessageWrite,
    InboundRecord,
    Lookup,
    LookupResult,
    NewTicketWrite,
    QuarantineRecord,
)

RATE_TTL_SECONDS = 2 * 3600
_NUMBER_ATTEMPTS = 8


def _epoch_in(seconds: int) -> int:
    return int(time.time()) + seconds


class TableRepository:
    def __init__(self, store: ItemStore) -> None:
        self.store = store

    # ---- reads ---------------------------------------------------------------------------------
    def lookup(self, request: Lookup) -> LookupResult:
        wanted: list[dict[str, str]] = []
        if request.inbound:
            wanted.append(keys.inbound(*request.inbound))
        wanted += [keys.message_id(m) for m in request.message_ids]
        wanted += [keys.identity(kind, value) for kind, value in request.identities]
        wanted += [keys.rate(r) for r in request.rate_keys]
        wanted += [keys.ticket(t) for t in request.ticket_ids]
        wanted += [keys.ticket_number(n) for n in request.ticket_numbers]
        if request.next_ticket_number:
            wanted.append(keys.counter(keys.TICKET_NUMBER_COUNTER))
        result = LookupResult(next_ticket_number=keys.FIRST_TICKET_NUMBER)
        for item in self.store.batch_get(wanted) if wanted else []:
            self._collect(item, result)
        return result

    @staticmethod
    def _collect(item: Item, result: LookupResult) -> None:
        pk: str = item["pk"]
        kind = pk.split("#", 1)[0]
        if kind == "INBOUND":
            result.inbound = items.inbound_from_item(item)
        elif kind == "MSGID":
            entry = items.message_id_from_item(item)
            result.message_ids[entry.message_id] = entry
        elif kind == "IDENT":
            identity = items.identity_from_item(item)
            result.identities[(identity.kind, identity.value)] = identity
        elif kind == "RATE":
            expired = int(item.get("expires_at", 0)) < time.time()
            result.rates[pk.removeprefix("RATE#")] = 0 if expired else int(item.get("count", 0))
        elif kind == "TICKET":
            ticket = items.ticket_from_item(item)
            result.tickets[ticket.id] = ticket
        elif kind == "NUMBER":
            result.numbers[int(pk.removeprefix("NUMBER#"))] = item["ticket_id"]
        elif kind == "COUNTER":
            result.next_ticket_number = int(item["value"]) + 1

    def get_ticket(self, ticket_id: str) -> Ticket | None:
        item = self.store.get(keys.ticket(ticket_id))
        return items.ticket_from_item(item) if item else None

    def get_ticket_by_number(self, number: int) -> Ticket | None:
        pointer = self.store.get(keys.ticket_number(number))
        return self.get_ticket(pointer["ticket_id"]) if pointer else None

    def get_customer(self, customer_id: str) -> Customer | None:
        item = self.store.get(keys.customer(customer_id))
        return items.customer_from_item(item) if item else None

    def list_messages(self, ticket_id: str) -> list[Message]:
        found = self._query_all(keys.ticket_partition(ticket_id), keys.MESSAGE_PREFIX)
        return [items.message_from_item(i) for i in found]

    def list_events(self, ticket_id: str) -> list[TicketEvent]:
        found = self._query_all(keys.ticket_partition(ticket_id), keys.EVENT_PREFIX)
        return [items.event_from_item(i) for i in found]

    def _query_all(self, partition: str, prefix: str) -> list[Item]:
        found, start = [], None
        while True:
            page, start = self.store.query(partition, prefix, start_after=start)
            found += page
            if start is None:
                return found

    # ---- writes --------------------------------------------------------------------------------
    def create_ticket(self, write: NewTicketWrite) -> Ticket:
        number = write.expected_number or keys.FIRST_TICKET_NUMBER
        for _ in range(_NUMBER_ATTEMPTS):
            ticket = replace(write.ticket, number=number)
            operations = self._new_ticket_operations(write, ticket)
            try:
                self.store.transact(operations)
                return ticket
            except ConditionFailed as exc:
                if any(index > 1 for index in exc.indexes):
                    raise AlreadyExists("an item of this ticket was written concurrently") from exc
                # Someone took this number first: read the counter and try the next one.
                counter = self.store.get(keys.counter(keys.TICKET_NUMBER_COUNTER))
                number = int(counter["value"]) + 1 if counter else keys.FIRST_TICKET_NUMBER
        raise VersionConflict("could not allocate a ticket number under contention")

    def _new_ticket_operations(self, write: NewTicketWrite, ticket: Ticket) -> list[Operation]:
        previous = ticket.number - 1
        counter_expect: dict[str, Any] = (
            {"value": previous} if previous >= keys.FIRST_TICKET_NUMBER else {"value": ABSENT}
        )
        operations: list[Operation] = [
            Put({**keys.counter(keys.TICKET_NUMBER_COUNTER), "value": ticket.number}, counter_expect),
            Put({**keys.ticket_number(ticket.number), "ticket_id": ticket.id}, {"pk": ABSENT}),
            Put(items.ticket_item(ticket), {"pk": ABSENT}),
            Put(items.message_item(write.message), {"pk": ABSENT}),
            self._inbound_put(write.inbound, first=True),
        ]
        operations += [Put(items.event_item(e)) for e in write.events]
        if write.new_customer:
            operations.append(Put(items.customer_item(write.new_customer), {"pk": ABSENT}))
        operations += [Put(items.identity_item(i), {"pk": ABSENT}) for i in write.new_identities]
        operations += [Put(items.message_id_item(m), {"pk": ABSENT}) for m in write.claim_message_ids]
        operations += [self._rate_add(r) for r in write.rate_increments]
        return operations

    @staticmethod
    def _inbound_put(record: InboundRecord, *, first: bool = False) -> Put:
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        # The write that creates a ticket must be the first outcome of its delivery; a
        # concurrent twin fails here and, on its retry, resumes from what this one wrote.
        return Put(items.inbound_item(record, at, _epoch_in(items.INBOUND_TTL_SECONDS)),
                   {"pk": ABSENT} if first else {})

    @staticmethod
    def _rate_add(rate_key: str) -> Add:
        return Add(keys.rate(rate_key), {"count": 1}, {"expires_at": _epoch_in(RATE_TTL_SECONDS)})

    def append_message(self, write: AppendMessageWrite) -> Ticket:
        ticket = replace(write.ticket, version=write.ticket.version + 1)
        operations: list[Operation] = [
            Put(items.ticket_item(ticket), {"version": write.ticket.version}),
            Put(items.message_item(write.message), {"pk": ABSENT}),
        ]
        if write.inbound:
            operations.append(self._inbound_put(write.inbound))
        operations += [Put(items.event_item(e)) for e in write.events]
        operations += [Put(items.message_id_item(m), {"pk": ABSENT}) for m in write.claim_message_ids]
        for kind, value in write.undeliverable:
            operations.append(Add(keys.identity(kind, value), {}, {"undeliverable": True}))
        try:
            self.store.transact(operations)
        except ConditionFailed as exc:
            if 0 in exc.indexes:
                raise VersionConflict(f"ticket {ticket.id} changed since it was read") from exc
            raise AlreadyExists("a message of this delivery was stored concurrently") from exc
        return ticket

    def record_ack(self, record: AckRecord) -> Ticket:
        ticket = record.ticket
        updated = replace(ticket, ack_state=AckState.SENT, version=ticket.version + 1)
        operations: list[Operation] = [
            Put(items.ticket_item(updated), {"version": ticket.version}),
            Put(items.message_item(record.message)),
            Put(items.event_item(record.event)),
        ]
        operations += [Put(items.message_id_item(m)) for m in record.message_ids]
        if record.inbound:
            operations.append(self._inbound_put(record.inbound))
        try:
            self.store.transact(operations)
        except ConditionFailed as exc:
            raise VersionConflict(f"ticket {ticket.id} changed while recording its ack") from exc
        return updated

    def record_inbound(self, record: InboundRecord, at: str) -> None:
        self.store.transact([self._inbound_put(record)])

    def quarantine(self, record: QuarantineRecord) -> None:
        self.store.transact([Put(items.quarantine_item(record))])
