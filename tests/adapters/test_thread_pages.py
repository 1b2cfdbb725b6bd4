"""A ticket's thread and history a page at a time, and a customer's tickets: the same over the in-memory store
and DynamoDB (moto)."""
from __future__ import annotations

from dataclasses import replace

from chalicelib.adapters.table_repository import TableRepository
from chalicelib.domain.ids import new_id
from chalicelib.domain.tickets import Channel, Direction, Message, TicketEvent, TicketStatus
from chalicelib.ports import ThreadPosition, TicketChange
from tests.adapters.test_repository_contract import new_ticket


def at(n: int) -> str:
    return f"2026-11-25T09:{n // 60:02d}:{n % 60:02d}.000000Z"


def thread(repository: TableRepository, messages: int, events: int = 3) -> tuple[str, list[str], list[str]]:
    """A ticket with `messages` messages and `events` events besides its own; their ids, oldest first."""
    write = new_ticket()
    created = repository.create_ticket(write)
    extra = [Message(id=new_id(), ticket_id=created.id, created_at=at(n + 1), direction=Direction.INBOUND,
                     channel=Channel.EMAIL, from_address="a@customer.example", body_text=f"m{n}")
             for n in range(messages - 1)]
    history = [TicketEvent(id=new_id(), ticket_id=created.id, at=at(n + 1), type="note_added", actor="agent")
               for n in range(events)]
    repository.apply(TicketChange(ticket=created, messages=extra, events=history))
    return created.id, [write.message.id] + [m.id for m in extra], [write.events[0].id] + [e.id for e in history]


def pages(repository: TableRepository, ticket_id: str, limit: int) -> list[tuple[list[str], bool]]:
    found, before = [], None
    while True:
        page = repository.thread_page(ticket_id, limit, before)
        assert (page.ticket is not None) == (before is None)  # the ticket comes with the first page only
        found.append(([m.id for m in page.messages], page.more))
        if not page.more:
            return found
        last = page.messages[-1]
        before = ThreadPosition(last.created_at, last.id)


def test_a_thread_pages_newest_first_and_ends(repository: TableRepository) -> None:
    ticket_id, messages, _ = thread(repository, 7)
    newest = list(reversed(messages))
    assert pages(repository, ticket_id, 3) == [(newest[:3], True), (newest[3:6], True), (newest[6:], False)]
    assert pages(repository, ticket_id, 7) == [(newest, False)]  # exactly one page: it says so
    assert pages(repository, ticket_id, 100) == [(newest, False)]
    assert pages(repository, ticket_id, 1) == [([m], m != newest[-1]) for m in newest]


def test_the_first_page_needs_no_events_and_counts_none(repository: TableRepository) -> None:
    ticket_id, messages, _ = thread(repository, 2, events=40)
    page = repository.thread_page(ticket_id, 5)
    assert page.ticket is not None and page.ticket.id == ticket_id
    assert [m.id for m in page.messages] == list(reversed(messages)) and not page.more


def test_no_ticket_no_page(repository: TableRepository) -> None:
    page = repository.thread_page(new_id(), 25)
    assert page.ticket is None and page.messages == [] and not page.more
    assert repository.event_page(new_id(), 25).events == []


def test_events_page_newest_first(repository: TableRepository) -> None:
    ticket_id, _, events = thread(repository, 1, events=5)
    first = repository.event_page(ticket_id, 4)
    assert [e.id for e in first.events] == list(reversed(events))[:4] and first.more
    last = first.events[-1]
    rest = repository.event_page(ticket_id, 4, ThreadPosition(last.at, last.id))
    assert [e.id for e in rest.events] == list(reversed(events))[4:] and not rest.more


def test_one_message_and_a_number_are_one_read_each(repository: TableRepository) -> None:
    ticket_id, _, _ = thread(repository, 2)
    page = repository.thread_page(ticket_id, 1)
    shown = page.messages[0]
    assert repository.get_message(ticket_id, shown.created_at, shown.id) == shown
    assert repository.get_message(new_id(), shown.created_at, shown.id) is None  # only on its own ticket
    assert page.ticket is not None and repository.ticket_id_for_number(page.ticket.number) == ticket_id
    assert repository.ticket_id_for_number(999_999) is None


def test_a_customers_tickets_page_across_both_lanes(repository: TableRepository) -> None:
    created = [repository.create_ticket(new_ticket(customer="c9")) for _ in range(5)]
    repository.apply(TicketChange(ticket=replace(created[0], status=TicketStatus.CLOSED)))
    repository.create_ticket(new_ticket(customer="someone-else"))
    seen: list[str] = []
    cursor = None
    while True:
        page = repository.customer_ticket_page("c9", 2, cursor)
        assert len(page.tickets) <= 2
        seen += [t.id for t in page.tickets]
        cursor = page.cursor
        if cursor is None:
            break
    assert sorted(seen) == sorted(t.id for t in created) and len(seen) == 5  # the closed one too


def test_the_ticket_item_sorts_right_above_its_messages() -> None:
    """The first page reads downwards from the top of the partition: it relies on this order."""
    from chalicelib.adapters import keys

    ticket, message, event = keys.ticket("t"), keys.message("t", "9999", "z"), keys.event("t", "9999", "z")
    assert ticket["pk"] == message["pk"] == event["pk"] == keys.ticket_partition("t")
    assert event["sk"] < keys.MESSAGE_PREFIX <= message["sk"] < ticket["sk"]
    assert not ticket["sk"].startswith((keys.MESSAGE_PREFIX, keys.EVENT_PREFIX))
