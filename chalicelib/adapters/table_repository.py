"""TicketRepository over any ItemStore: which items a use case reads and writes, and in which transaction."""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from chalicelib.adapters import items, keys, sla_items, ticket_listing
from chalicelib.adapters.item_store import ABSENT, Add, ConditionFailed, Delete, Item, ItemStore, Operation, Put
from chalicelib.adapters.send_records import SendRecords
from chalicelib.domain.customers import Customer
from chalicelib.domain.errors import AlreadyExists, VersionConflict
from chalicelib.domain.macros import Macro
from chalicelib.domain.tickets import AckState, Message, Ticket, TicketEvent, TicketSummary, summary_of
from chalicelib.ports import (
    SENDING,
    AckRecord,
    AuditEntry,
    Clock,
    CustomerChange,
    EventPage,
    Identity,
    InboundRecord,
    Lookup,
    LookupResult,
    NewTicketWrite,
    QuarantineRecord,
    SlaConfig,
    ThreadPage,
    ThreadPosition,
    TicketBundle,
    TicketChange,
    TicketFilter,
    TicketPage,
)
from chalicelib.resources import CUSTOMER_INDEX, LIST_ROW, PK

RATE_TTL_SECONDS = 2 * 3600
_NUMBER_ATTEMPTS = 8  # numbers tried when pointers are found ahead of the counter
_MOVE_BATCH = 40  # two operations a message; a transaction holds at most 100
_TRANSACTION_LIMIT = 100  # DynamoDB TransactWriteItems


class TableRepository(SendRecords):
    """Expiry times (TTL) and record times come from `clock`, never the wall clock, so a test's fixed
    time is the time the table sees."""

    def __init__(self, store: ItemStore, *, clock: Clock) -> None:
        self.store = store
        self.clock = clock

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
        wanted += [keys.conversation(channel, number) for channel, number in request.conversations]
        if request.sla_config:
            wanted.append(keys.sla_config_snapshot())
        result = LookupResult()
        now = self.clock.now().timestamp()
        for item in self.store.batch_get(wanted) if wanted else []:
            self._collect(item, result, now)
        if request.sla_config and result.sla_config is None:
            result.sla_config = SlaConfig()  # nothing stored: the environment's defaults apply
        return result

    @staticmethod
    def _collect(item: Item, result: LookupResult, now: float) -> None:
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
            expired = int(item.get("expires_at", 0)) < now  # TTL deletes lazily: expired may still be read
            result.rates[pk.removeprefix("RATE#")] = 0 if expired else int(item.get("count", 0))
        elif kind == "TICKET":
            ticket = items.ticket_from_item(item)
            result.tickets[ticket.id] = ticket
        elif kind == "NUMBER":
            result.numbers[int(pk.removeprefix("NUMBER#"))] = item["ticket_id"]
        elif kind == "CONFIG" and item["sk"] == keys.sla_config_snapshot()["sk"]:
            calendars, policies, _revision = sla_items.snapshot_contents(item)
            result.sla_config = SlaConfig(calendars, policies)
        elif kind == "CONVO":
            result.conversations[(item["channel"], item["number"])] = item["ticket_id"]

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

    def bundle(self, ticket_id: str) -> TicketBundle | None:
        found = self._query_all(keys.ticket_partition(ticket_id), "")
        ticket = next((items.ticket_from_item(i) for i in found if i["sk"] == "TICKET"), None)
        if ticket is None:
            return None
        messages = [items.message_from_item(i) for i in found if i["sk"].startswith(keys.MESSAGE_PREFIX)]
        events = [items.event_from_item(i) for i in found if i["sk"].startswith(keys.EVENT_PREFIX)]
        return TicketBundle(ticket, messages, events)

    # ---- a ticket's thread, a page at a time, newest first -----------------------------------
    def ticket_id_for_number(self, number: int) -> str | None:
        pointer = self.store.get(keys.ticket_number(number))
        return str(pointer["ticket_id"]) if pointer else None

    def thread_page(self, ticket_id: str, limit: int, before: ThreadPosition | None = None) -> ThreadPage:
        """The first page is one Query read downwards from the top of the ticket's partition: the
        ticket item (sk `TICKET`) sorts just above the messages (`MSG#<time>#<id>`), the events
        (`EVT#…`) below them, so the ticket and its newest messages come in one call. One message more
        than asked is read to know whether another page follows. DynamoDB also ends a Query at 1 MB
        read (a few messages with bodies of ~350 KB): the page is then shorter, never a second call."""
        partition = keys.ticket_partition(ticket_id)
        if before is not None:
            found, last = self.store.query(partition, keys.MESSAGE_PREFIX, forward=False, limit=limit + 1,
                                           start_after=keys.message(ticket_id, before.at, before.id))
            messages, ended = found, False
            ticket = None
        else:
            found, last = self.store.query(partition, forward=False, limit=limit + 2)
            if not found or found[0]["sk"] != keys.ticket(ticket_id)["sk"]:
                return ThreadPage(None, [], False)  # nothing sorts above the ticket item: no ticket
            ticket = items.ticket_from_item(found[0])
            messages = []
            ended = False  # read past the oldest message, into the events
            for item in found[1:]:
                if not str(item["sk"]).startswith(keys.MESSAGE_PREFIX):
                    ended = True
                    break
                messages.append(item)
        more = len(messages) > limit or (not ended and last is not None)
        return ThreadPage(ticket, [items.message_from_item(i) for i in messages[:limit]], more)

    def event_page(self, ticket_id: str, limit: int, before: ThreadPosition | None = None) -> EventPage:
        start = keys.event(ticket_id, before.at, before.id) if before else None
        found, last = self.store.query(keys.ticket_partition(ticket_id), keys.EVENT_PREFIX, forward=False,
                                       limit=limit + 1, start_after=start)
        more = len(found) > limit or last is not None
        return EventPage([items.event_from_item(i) for i in found[:limit]], more)

    def get_message(self, ticket_id: str, at: str, message_id: str) -> Message | None:
        item = self.store.get(keys.message(ticket_id, at, message_id))
        return items.message_from_item(item) if item else None

    def customer_ticket_page(self, customer_id: str, limit: int,
                             cursor: dict[str, str] | None = None) -> TicketPage:
        found, last = self.store.query(keys.customer_partition(customer_id), index=CUSTOMER_INDEX, forward=False,
                                       limit=limit, start_after=cursor)
        return TicketPage(items.summaries(found), last)

    def get_identity(self, kind: str, value: str) -> Identity | None:
        item = self.store.get(keys.identity(kind, value))
        return items.identity_from_item(item) if item else None

    def list_tickets(self, query: TicketFilter) -> TicketPage:
        chosen = ticket_listing.plan(query)
        read = ticket_listing.read_page(self.store, chosen, query.limit, query.cursor)
        if not chosen.entries_are_tags:
            return TicketPage(items.summaries(read.entries), read.cursor)
        # Tag entries carry keys only (rewriting a copy of the row per tag on every change would cost
        # more than one BatchGetItem a page); the page's other filters apply to the tickets read.
        wanted = ticket_listing.ticket_keys(read.entries)
        found = {item[PK]: item for item in self.store.batch_get(wanted)} if wanted else {}
        in_order = [found[key[PK]] for key in wanted if key[PK] in found]
        kept = [i for i in in_order if all(f.matches(i) for f in chosen.filters)]
        return TicketPage(items.summaries(kept), read.cursor)

    def _query_all(self, partition: str, prefix: str) -> list[Item]:
        found, start = [], None
        while True:
            page, start = self.store.query(partition, prefix, start_after=start)
            found += page
            if start is None:
                return found

    # ---- writes --------------------------------------------------------------------------------
    def create_ticket(self, write: NewTicketWrite) -> Ticket:
        """The number comes from one atomic increment of the counter, before the transaction, so concurrent
        creates never meet on the counter (a transaction holding it would make every other one conflict).
        A number whose transaction then fails is skipped for good: numbers have gaps, never repeats."""
        for _ in range(_NUMBER_ATTEMPTS):
            ticket = replace(write.ticket, number=self._next_number())
            try:
                self.store.transact(self._new_ticket_operations(write, ticket))
                return ticket
            except ConditionFailed as exc:
                if exc.indexes != [0]:
                    raise AlreadyExists("an item of this ticket was written concurrently") from exc
                # The pointer exists, so the counter was behind it (restored from a backup, edited by
                # hand): the increment already moved the counter past this number; take the next one.
        raise VersionConflict("could not allocate a ticket number: the counter is behind its pointers")

    def _next_number(self) -> int:
        # `value` is the last number given out (as the counter items of earlier releases hold it); a new
        # table's counter starts below the first number.
        counter = self.store.add(keys.counter(keys.TICKET_NUMBER_COUNTER), {"value": 1},
                                 base={"value": keys.FIRST_TICKET_NUMBER - 1})
        return int(counter["value"])

    def _new_ticket_operations(self, write: NewTicketWrite, ticket: Ticket) -> list[Operation]:
        operations: list[Operation] = [
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
        if write.customer_update:
            operations.append(self._customer_put(write.customer_update, write.customer_update.version))
        if write.conversation:
            claim = write.conversation
            expect = {"ticket_id": claim.previous} if claim.previous else {"pk": ABSENT}
            operations.append(Put(items.conversation_item(claim.channel, claim.number, claim.ticket_id), expect))
        if write.send_claim:
            operations.append(Put(items.send_claim_item(write.send_claim, self._epoch_in(items.SEND_CLAIM_TTL_SECONDS)),
                                  {"pk": ABSENT}))
        return operations

    @staticmethod
    def _customer_put(customer: Customer, expected_version: int | None) -> Put:
        """A customer written as version + 1 of what was read (or as version 1 when new)."""
        if expected_version is None:
            return Put(items.customer_item(replace(customer, version=1)), {"pk": ABSENT})
        return Put(items.customer_item(replace(customer, version=expected_version + 1)),
                   {"version": expected_version})

    @staticmethod
    def _identity_put(identity: Identity, read: Identity | None) -> Put:
        if read is None:
            return Put(items.identity_item(identity), {"pk": ABSENT})
        # The whole item is rewritten, so everything it says must still be as read: a STOP that lands
        # between our read and this write is never undone by it.
        expect: dict[str, Any] = {"customer_id": read.customer_id,
                                  "sms_opted_out": True if read.sms_opted_out else ABSENT,
                                  "undeliverable": True if read.undeliverable else ABSENT}
        return Put(items.identity_item(identity), expect)

    def _inbound_put(self, record: InboundRecord, *, first: bool = False, at: str | None = None) -> Put:
        # The write that creates a ticket must be the first outcome of its delivery; a
        # concurrent twin fails here and, on its retry, resumes from what this one wrote.
        return Put(items.inbound_item(record, at or self._stamp(), self._epoch_in(items.INBOUND_TTL_SECONDS)),
                   {"pk": ABSENT} if first else {})

    def _rate_add(self, rate_key: str) -> Add:
        return Add(keys.rate(rate_key), {"count": 1}, {"expires_at": self._epoch_in(RATE_TTL_SECONDS)})

    def _change_operations(self, change: TicketChange) -> tuple[Ticket, list[Operation]]:
        """The ticket as stored and the writes of one change; the ticket's own write comes first."""
        ticket = replace(change.ticket, version=change.ticket.version + 1)
        ticket, tag_operations = self._tag_entries(ticket)
        operations: list[Operation] = [Put(items.ticket_item(ticket), {"version": change.ticket.version})]
        operations += tag_operations
        operations += [Put(items.message_item(m), {"pk": ABSENT}) for m in change.messages]
        operations += [Put(items.message_item(m), {"delivery_state": SENDING}) for m in change.outbound]
        if change.inbound:
            operations.append(self._inbound_put(change.inbound, first=change.inbound_first))
        operations += [Put(items.event_item(e)) for e in change.events]
        operations += [Put(items.message_id_item(m), {"pk": ABSENT}) for m in change.claim_message_ids]
        for kind, value in change.undeliverable:
            operations.append(Add(keys.identity(kind, value), {}, {"undeliverable": True}))
        operations += self._fact_operations(change)
        return ticket, operations

    @staticmethod
    def _tag_entries(ticket: Ticket) -> tuple[Ticket, list[Operation]]:
        """The tag entries to write or remove so the tag lists match the ticket's tags and lane; the
        ticket remembers which it has (`listed_tags`), so an unchanged ticket writes none."""
        wanted = {f"{tag}@{ticket.status.lane}" for tag in ticket.tags}
        have = set(ticket.listed_tags)
        if wanted == have:
            return ticket, []
        stored = replace(ticket, listed_tags=sorted(wanted))
        current = {entry.rsplit("@", 1)[0] for entry in wanted}
        operations: list[Operation] = [Delete(keys.tag_entry(ticket.id, entry.rsplit("@", 1)[0])) for entry in have
                                       if entry.rsplit("@", 1)[0] not in current]
        fresh = {entry.rsplit("@", 1)[0] for entry in wanted - have}
        operations += [Put(item) for item in items.tag_entry_items(stored)
                       if item["sk"].removeprefix(keys.TAG_PREFIX) in fresh]
        return stored, operations

    def apply(self, change: TicketChange) -> Ticket:
        ticket, operations = self._change_operations(change)
        try:
            self.store.transact(operations)
        except ConditionFailed as exc:
            if 0 in exc.indexes:
                raise VersionConflict(f"ticket {ticket.id} changed since it was read") from exc
            raise AlreadyExists("a message of this delivery was stored concurrently") from exc
        return ticket

    def apply_together(self, changes: list[TicketChange]) -> list[Ticket]:
        """Ticket changes that must happen together (a merge: the source closes, the target takes it)
        in one transaction, each conditional on its ticket's version as read: two opposite merges
        racing cannot both commit. Returns the tickets as stored, in order."""
        stored: list[Ticket] = []
        operations: list[Operation] = []
        for change in changes:
            ticket, ops = self._change_operations(change)
            stored.append(ticket)
            operations += ops
        if len(operations) > _TRANSACTION_LIMIT:
            raise ValueError("these ticket changes hold more operations than a transaction")
        try:
            self.store.transact(operations)
        except ConditionFailed as exc:
            raise VersionConflict("a ticket changed since it was read") from exc
        return stored

    @staticmethod
    def _fact_operations(change: TicketChange) -> list[Operation]:
        """Report facts go with the change that finished them; a reopened-then-resolved ticket's new
        fact replaces the one it filed before (possibly under another day or queue)."""
        operations: list[Operation] = []
        for fact in change.sla_facts:
            operations.append(Put(sla_items.fact_item(fact)))
            if fact.replaces and fact.replaces != fact.filed:
                day, _, queue = fact.replaces.partition("#")
                operations.append(Delete(keys.sla_fact(day, queue, fact.metric, fact.ticket_id, fact.cycle)))
        return operations

    def record_ack(self, record: AckRecord) -> Ticket:
        ticket = record.ticket
        updated = replace(ticket, ack_state=AckState.SENT, version=ticket.version + 1)
        operations: list[Operation] = [
            Put(items.ticket_item(updated), {"version": ticket.version}),
            Put(items.message_item(record.message)),
            Put(items.event_item(record.event)),
        ]
        if record.dequeue:  # out of the pending-ack queue, if it was in it
            operations.append(Delete(keys.pending_ack(ticket.id)))
        operations += [Put(items.message_id_item(m)) for m in record.message_ids]
        if record.inbound:
            operations.append(self._inbound_put(record.inbound))
        if record.claim:  # the send is done: whoever finds the claim now records, never sends
            operations.append(Put(items.send_claim_item(record.claim, self._epoch_in(items.SEND_CLAIM_TTL_SECONDS))))
        try:
            self.store.transact(operations)
        except ConditionFailed as exc:
            raise VersionConflict(f"ticket {ticket.id} changed while recording its ack") from exc
        return updated

    def move_messages(self, messages: list[Message], target_ticket_id: str) -> int:
        batch = _MOVE_BATCH
        for start in range(0, len(messages), batch):
            operations: list[Operation] = []
            for message in messages[start:start + batch]:
                moved = replace(message, ticket_id=target_ticket_id)
                operations += [Put(items.message_item(moved)),
                               Delete(keys.message(message.ticket_id, message.created_at, message.id))]
            self.store.transact(operations)
        return len(messages)

    def apply_all(self, changes: list[TicketChange]) -> None:
        """Many independent ticket changes, packed into transactions of at most 100 operations."""
        batch: list[Operation] = []
        for change in changes:
            _, operations = self._change_operations(change)
            if len(operations) > _TRANSACTION_LIMIT:
                raise ValueError("one ticket change holds more operations than a transaction")
            if len(batch) + len(operations) > _TRANSACTION_LIMIT:
                self._transact_tickets(batch)
                batch = []
            batch += operations
        if batch:
            self._transact_tickets(batch)

    def _transact_tickets(self, operations: list[Operation]) -> None:
        try:
            self.store.transact(operations)
        except ConditionFailed as exc:
            raise VersionConflict("a ticket changed while it was being moved; read it again") from exc

    def change_customers(self, change: CustomerChange) -> None:
        operations: list[Operation] = [self._customer_put(c, v) for c, v in change.customers]
        operations += [self._identity_put(identity, read) for identity, read in change.identities]
        if change.inbound:
            operations.append(self._inbound_put(change.inbound, first=True))
        operations += [self._rate_add(r) for r in change.rate_increments]
        operations += [Put(self._audit_item(a), {"pk": ABSENT}) for a in change.audit]
        try:
            self.store.transact(operations)
        except ConditionFailed as exc:
            if any(index < len(change.customers) for index in exc.indexes):
                raise VersionConflict("the customer changed since it was read") from exc
            raise AlreadyExists("an identity or this delivery was written concurrently") from exc

    @staticmethod
    def _audit_item(entry: AuditEntry) -> Item:
        """`AUDIT#<day>` / `<time>#<id>`: a day's changes by people, read back with one Query."""
        return {"pk": f"AUDIT#{entry.at[:10]}", "sk": f"{entry.at}#{entry.id}", "entity": "audit", "id": entry.id,
                "at": entry.at, "actor": entry.actor, "action": entry.action, "subject": entry.subject,
                "data": dict(entry.data)}

    def all_customer_tickets(self, customer_id: str) -> list[TicketSummary]:
        found: list[TicketSummary] = []
        start: dict[str, str] | None = None
        while True:
            page, start = self.store.query(keys.customer_partition(customer_id), index=CUSTOMER_INDEX,
                                           forward=False, start_after=start)
            found += items.summaries(page)
            # A ticket written before list rows existed has no row in the index: a merge must still
            # move it, so it is read whole (only until it is next written or backfilled).
            rowless = [keys.ticket(str(i[PK]).split("#", 1)[1]) for i in page if LIST_ROW not in i]
            found += [summary_of(items.ticket_from_item(t)) for t in self.store.batch_get(rowless)] if rowless else []
            if start is None:
                return found

    # ---- customers, macros, rates --------------------------------------------------------------
    def save_customer(self, customer: Customer, expected_version: int) -> Customer:
        updated = replace(customer, version=expected_version + 1)
        try:
            self.store.transact([Put(items.customer_item(updated), {"version": expected_version})])
        except ConditionFailed as exc:
            current = self.get_customer(customer.id)
            raise VersionConflict("the customer changed since it was read", current=current) from exc
        return updated

    def list_macros(self) -> list[Macro]:
        found, start = [], None
        while True:
            page, start = self.store.query(keys.MACROS_PARTITION, start_after=start)
            found += [items.macro_from_item(i) for i in page]
            if start is None:
                return sorted(found, key=lambda m: m.name.lower())

    def get_macro(self, macro_id: str) -> Macro | None:
        item = self.store.get(keys.macro(macro_id))
        return items.macro_from_item(item) if item else None

    def save_macro(self, macro: Macro, expected_version: int | None) -> Macro:
        """Creates (expected_version None) or replaces a macro conditionally."""
        stored = replace(macro, version=1 if expected_version is None else expected_version + 1)
        expect: dict[str, Any] = {"pk": ABSENT} if expected_version is None else {"version": expected_version}
        try:
            self.store.transact([Put(items.macro_item(stored), expect)])
        except ConditionFailed as exc:
            raise VersionConflict("the macro changed since it was read", current=self.get_macro(macro.id)) from exc
        return stored

    def delete_macro(self, macro_id: str) -> None:
        self.store.transact([Delete(keys.macro(macro_id))])

    def hit_rate(self, rate_key: str, ttl_seconds: int = RATE_TTL_SECONDS) -> int:
        """Counts one more request under `rate_key` (per window, TTL-expired) and returns the count."""
        item = self.store.add(keys.rate(rate_key), {"count": 1}, {"expires_at": self._epoch_in(ttl_seconds)})
        return int(item["count"])

    def record_inbound(self, record: InboundRecord, at: str) -> None:
        self.store.transact([self._inbound_put(record, at=at)])

    def quarantine(self, record: QuarantineRecord) -> None:
        self.store.transact([Put(items.quarantine_item(record))])
