"""TicketRepository behaviour, the same over the in-memory store and DynamoDB (moto)."""
from __future__ import annotations

from dataclasses import replace

import pytest

from chalicelib.adapters import keys
from chalicelib.adapters.item_store import Put
from chalicelib.adapters.table_repository import TableRepository
from chalicelib.domain.errors import AlreadyExists, VersionConflict
from chalicelib.domain.ids import new_id
from chalicelib.domain.tickets import Channel, Direction, Message, Ticket, TicketEvent, TicketStatus
from chalicelib.ports import InboundRecord, Lookup, MessageIdEntry, NewTicketWrite, TicketChange, TicketFilter
from chalicelib.ports import SlaConfig as SlaConfigType

NOW = "2026-11-24T09:00:00.000000Z"




def new_ticket(customer: str = "c1", **fields: object) -> NewTicketWrite:
    ticket_id = new_id()
    ticket = Ticket(id=ticket_id, number=0, subject="Parcel", status=TicketStatus.NEW, queue="support",
                    channel=Channel.EMAIL, customer_id=customer, created_at=NOW, updated_at=NOW,
                    last_activity_at=NOW, **fields)  # type: ignore[arg-type]
    message = Message(id=new_id(), ticket_id=ticket_id, created_at=NOW, direction=Direction.INBOUND,
                      channel=Channel.EMAIL, from_address="a@customer.example", body_text="hello")
    event = TicketEvent(id=new_id(), ticket_id=ticket_id, at=NOW, type="created", actor="customer")
    return NewTicketWrite(ticket=ticket, message=message, events=[event],
                          inbound=InboundRecord("email", new_id(), "done", ticket_id),
                          claim_message_ids=[MessageIdEntry(f"{ticket_id}@customer.example", ticket_id, "inbound")])


def test_numbers_are_sequential_from_1001_and_the_create_path_never_reads_the_counter(
        repository: TableRepository) -> None:
    calls = getattr(repository.store, "calls", None)
    created = [repository.create_ticket(new_ticket()) for _ in range(3)]
    assert [t.number for t in created] == [1001, 1002, 1003]
    assert repository.get_ticket_by_number(1003).id == created[2].id  # type: ignore[union-attr]
    if calls is not None:  # the fake counts its calls: one atomic increment and one transaction per ticket
        assert calls == ["UpdateItem", "TransactWriteItems"] * 3 + ["GetItem", "GetItem"]


def test_a_counter_written_by_an_earlier_release_continues_where_it_stood(repository: TableRepository) -> None:
    # Given a table whose counter the old create transaction wrote (value: the last number given out)
    repository.store.transact([Put({**keys.counter(keys.TICKET_NUMBER_COUNTER), "value": 5000})])
    # Then the next ticket takes the number after it
    assert repository.create_ticket(new_ticket()).number == 5001


def test_a_number_already_taken_is_skipped_never_reused(repository: TableRepository) -> None:
    # Given pointers ahead of the counter (a counter restored from an older backup than the tickets)
    holder = repository.create_ticket(new_ticket())
    repository.store.transact([Put({**keys.ticket_number(n), "ticket_id": holder.id}) for n in (1002, 1003)])
    # When a ticket is created, it takes the first free number; the pointers keep their tickets
    created = repository.create_ticket(new_ticket())
    assert created.number == 1004
    assert repository.get_ticket_by_number(1002).id == holder.id  # type: ignore[union-attr]
    assert repository.get_ticket_by_number(1004).id == created.id  # type: ignore[union-attr]


def test_a_delivery_is_stored_once(repository: TableRepository) -> None:
    write = new_ticket()
    repository.create_ticket(write)
    twin = new_ticket()
    with pytest.raises(AlreadyExists):
        repository.create_ticket(replace(twin, inbound=write.inbound))
    assert repository.lookup(Lookup(inbound=("email", write.inbound.source_id))).inbound is not None


def test_changes_are_conditional_on_the_version_read(repository: TableRepository) -> None:
    created = repository.create_ticket(new_ticket())
    moved = repository.apply(TicketChange(ticket=replace(created, status=TicketStatus.OPEN)))
    assert moved.version == created.version + 1
    with pytest.raises(VersionConflict):
        repository.apply(TicketChange(ticket=replace(created, priority="high")))
    assert repository.get_ticket(created.id).status is TicketStatus.OPEN  # type: ignore[union-attr]


def test_bundle_lookup_and_listing(repository: TableRepository) -> None:
    write = new_ticket()
    created = repository.create_ticket(write)
    bundle = repository.bundle(created.id)
    assert bundle is not None and [m.id for m in bundle.messages] == [write.message.id]
    found = repository.lookup(Lookup(message_ids=(f"{created.id}@customer.example",), ticket_ids=(created.id,)))
    assert found.message_ids[f"{created.id}@customer.example"].ticket_id == created.id
    assert found.tickets[created.id].number == created.number
    page = repository.list_tickets(TicketFilter(queue="support"))
    assert [t.id for t in page.tickets] == [created.id]
    assert repository.list_tickets(TicketFilter(lane="archived")).tickets == []


def test_move_messages_between_tickets(repository: TableRepository) -> None:
    source, target = repository.create_ticket(new_ticket()), repository.create_ticket(new_ticket())
    messages = repository.bundle(source.id).messages  # type: ignore[union-attr]
    assert repository.move_messages(messages, target.id) == 1
    assert repository.bundle(source.id).messages == []  # type: ignore[union-attr]
    assert len(repository.bundle(target.id).messages) == 2  # type: ignore[union-attr]


def test_sla_configuration_reaches_message_paths_in_their_batch_read(repository: TableRepository) -> None:
    from chalicelib.adapters.sla_repository import TableSlaRepository
    from chalicelib.domain.errors import VersionConflict as Conflict
    from chalicelib.domain.sla_config import CalendarSpec, SlaPolicy

    sla = TableSlaRepository(repository.store)
    assert repository.lookup(Lookup(sla_config=True)).sla_config == SlaConfigType()
    sla.save_calendar(CalendarSpec(name="uk", time_zone="Europe/London", weekly=None), 0)
    fast = sla.save_policy(SlaPolicy(id="vip", name="VIP", calendar="uk", priorities=("urgent",),
                                     first_response_minutes=30), 0)
    sla.save_policy(SlaPolicy(id="shipping", name="Shipping", queues=("shipping",), first_response_minutes=120), 0)
    seen = repository.lookup(Lookup(sla_config=True)).sla_config
    assert seen is not None
    assert [c.name for c in seen.calendars] == ["uk"]
    assert [(p.id, p.first_response_minutes) for p in seen.policies] == [("shipping", 120), ("vip", 30)]
    with pytest.raises(Conflict):
        sla.save_policy(replace(fast, first_response_minutes=10), 0)  # a stale version changes nothing
    sla.delete_policy("vip")
    seen = repository.lookup(Lookup(sla_config=True)).sla_config
    assert seen is not None and [p.id for p in seen.policies] == ["shipping"]
    assert seen.policies == sla.load_sla_config().policies  # the snapshot and the items agree
