"""An agent's new ticket when DynamoDB cancels its transaction for a conflict (the adapter raises
TransactionConflict): retried after a fresh read, so what changed meanwhile decides; never two tickets."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import pytest

from chalicelib.adapters.clock import FixedClock
from chalicelib.adapters.item_store import InMemoryItemStore, Operation, Put
from chalicelib.adapters.items import customer_item, identity_item
from chalicelib.adapters.table_repository import TableRepository
from chalicelib.config import load_settings
from chalicelib.domain.customers import Customer
from chalicelib.domain.errors import TransactionConflict, TransientFailure
from chalicelib.domain.principals import Principal, Role
from chalicelib.ports import Identity
from chalicelib.services.inbox import InboxDeps
from chalicelib.services.new_tickets import NewTicketRequest, open_ticket

AGENT = Principal("agent-1", "Alex", Role.AGENT)
EMAIL = "ann@customer.example"


class ConflictingStore(InMemoryItemStore):
    """Cancels the first `times` transactions (None: all) as a conflict; `meanwhile` runs before the first,
    as the concurrent writer whose transaction held the item."""

    def __init__(self, times: int | None, meanwhile: Callable[[InMemoryItemStore], None] | None = None) -> None:
        super().__init__()
        self.times, self.meanwhile, self.cancelled = times, meanwhile, 0

    def transact(self, operations: Sequence[Operation]) -> None:
        if self.times is None or self.cancelled < self.times:
            self.cancelled += 1
            if self.meanwhile is not None:
                meanwhile, self.meanwhile = self.meanwhile, None
                meanwhile(self)
            raise TransactionConflict("DynamoDB cancelled the transaction: another transaction held one of its items")
        super().transact(operations)


def desk(store: InMemoryItemStore, now: datetime) -> InboxDeps:
    clock = FixedClock(now)
    return InboxDeps(TableRepository(store, clock=clock), mail=None, clock=clock,  # type: ignore[arg-type]
                     settings=load_settings({"SHOPDESK_STAGE": "test"}))


def call(deps: InboxDeps) -> str:
    request = NewTicketRequest(channel="phone", subject="Call", body="Asked about the parcel.", customer_email=EMAIL)
    return open_ticket(request, AGENT, deps).customer_id


def test_a_conflict_is_retried_on_a_fresh_read(fixed_now: datetime) -> None:
    # Given the transaction that held our items was another agent's, giving the address to a customer
    def another_agent(store: InMemoryItemStore) -> None:
        InMemoryItemStore.transact(store, [
            Put(customer_item(Customer(id="known", name="Ann", emails=[EMAIL], created_at="2026-01-01T00:00:00Z"))),
            Put(identity_item(Identity("email", EMAIL, "known")))])

    store = ConflictingStore(1, another_agent)
    # When the agent logs a call from that address
    customer_id = call(desk(store, fixed_now))
    # Then the retry read again and the ticket joined that customer (no second customer for one address)
    assert store.cancelled == 1 and customer_id == "known"
    tickets = [i for i in store.all_items() if i.get("entity") == "ticket"]
    assert [t["customer_id"] for t in tickets] == ["known"]
    assert len([i for i in store.all_items() if i.get("entity") == "customer"]) == 1


def test_conflicts_that_persist_are_a_transient_failure_with_nothing_written(fixed_now: datetime) -> None:
    store = ConflictingStore(None)
    with pytest.raises(TransientFailure) as failure:
        call(desk(store, fixed_now))
    assert isinstance(failure.value.__cause__, TransactionConflict) and store.cancelled == 4
    assert [i for i in store.all_items() if i.get("entity") == "ticket"] == []
