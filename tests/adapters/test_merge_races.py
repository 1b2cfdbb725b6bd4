"""Merges racing each other, against the in-memory store and DynamoDB (moto): exactly one of two
opposite merges wins and no ticket is ever merged into a ticket that is merged back into it."""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.adapters.item_store import Item, ItemStore, Key, Operation
from chalicelib.adapters.table_repository import TableRepository
from chalicelib.domain.errors import DomainError, VersionConflict
from chalicelib.domain.principals import Principal, Role
from chalicelib.domain.tickets import EventType, Message, TicketStatus
from chalicelib.services.inbox import InboxDeps, merge, unmerge
from chalicelib.services.new_tickets import NewTicketRequest, open_ticket

AGENT = Principal("agent-1", "Alex Agent", Role.AGENT)
MANAGER = Principal("manager-1", "Mia Manager", Role.MANAGER)
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


class RacingStore:
    """An ItemStore that lets every thread do its reads, then holds each thread's first write until
    all racers got there: the interleaving that turns two opposite merges into a cycle. Calls into the
    wrapped store are serialized (moto is not thread-safe); the race is between read and write."""

    def __init__(self, inner: ItemStore, racers: int) -> None:
        self.inner = inner
        self._lock = threading.Lock()
        self._barrier = threading.Barrier(racers, timeout=5)
        self._wrote: set[int] = set()
        self.racing = False

    def _call(self, call: Callable[[], Any]) -> Any:
        with self._lock:
            return call()

    def get(self, key: Key) -> Item | None:
        return self._call(lambda: self.inner.get(key))  # type: ignore[no-any-return]

    def batch_get(self, keys: Sequence[Key]) -> list[Item]:
        return self._call(lambda: self.inner.batch_get(keys))  # type: ignore[no-any-return]

    def query(self, partition: str, sk_prefix: str = "", **options: Any) -> tuple[list[Item], Key | None]:
        return self._call(lambda: self.inner.query(partition, sk_prefix, **options))  # type: ignore[no-any-return]

    def transact(self, operations: Sequence[Operation]) -> None:
        me = threading.get_ident()
        if self.racing and me not in self._wrote:
            self._wrote.add(me)
            try:
                self._barrier.wait()
            except threading.BrokenBarrierError:
                pass  # the other racer gave up before writing: nothing to wait for
        self._call(lambda: self.inner.transact(operations))

    def add(self, key: Key, add: dict[str, int], set_values: dict[str, Any] | None = None, *,
            base: dict[str, int] | None = None) -> Item:
        return self._call(lambda: self.inner.add(key, add, set_values, base=base))  # type: ignore[no-any-return]


@dataclass
class Desk:
    deps: InboxDeps
    racing: RacingStore


@pytest.fixture
def desk(store: ItemStore) -> Iterator[Desk]:
    from chalicelib import bootstrap
    from chalicelib.adapters.clock import FixedClock

    clock = FixedClock(NOW)
    racing = RacingStore(store, racers=2)
    base = bootstrap.bootstrap(store=store, clock=clock).inbox()
    yield Desk(replace(base, repository=TableRepository(racing, clock=clock)), racing)


def _call(api_phone: str, desk: Desk) -> str:
    ticket = open_ticket(NewTicketRequest(channel="phone", subject="A call", body=f"Caller {api_phone}",
                                          customer_phone=api_phone), AGENT, desk.deps)
    return ticket.id


def _race(*runs: Callable[[], Any]) -> list[Any]:
    outcomes: list[Any] = [None] * len(runs)

    def run(n: int) -> None:
        try:
            outcomes[n] = runs[n]()
        except DomainError as exc:
            outcomes[n] = exc

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(runs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def test_opposite_merges_at_once_one_wins_and_no_cycle(desk: Desk) -> None:
    # Given two tickets, each with its call log
    a, b = _call("+4915112345678", desk), _call("+4915187654321", desk)
    repository = desk.deps.repository
    # When an agent merges A into B while another merges B into A
    desk.racing.racing = True
    outcomes = _race(lambda: merge(a, b, 1, AGENT, desk.deps), lambda: merge(b, a, 1, AGENT, desk.deps))
    desk.racing.racing = False
    # Then exactly one merge succeeded, the other was told the ticket changed
    won = [o for o in outcomes if not isinstance(o, Exception)]
    lost = [o for o in outcomes if isinstance(o, Exception)]
    assert len(won) == 1 and len(lost) == 1, outcomes
    assert isinstance(lost[0], VersionConflict | DomainError)
    # And the tickets form no cycle: one is merged, its target is not
    ta, tb = repository.get_ticket(a), repository.get_ticket(b)
    assert ta is not None and tb is not None
    merged = [t for t in (ta, tb) if t.merged_into]
    assert len(merged) == 1
    source = merged[0]
    target = tb if source is ta else ta
    assert source.merged_into == target.id and target.merged_into is None
    assert source.status is TicketStatus.CLOSED and target.status is TicketStatus.OPEN
    # And every message is on the surviving ticket
    assert repository.list_messages(source.id) == []
    assert len(repository.list_messages(target.id)) == 2


def test_a_merge_into_a_ticket_being_merged_away_is_refused(desk: Desk) -> None:
    a, b, c = (_call(n, desk) for n in ("+4915112345678", "+4915187654321", "+4915100000001"))
    desk.racing.racing = True
    outcomes = _race(lambda: merge(a, b, 1, AGENT, desk.deps), lambda: merge(b, c, 1, AGENT, desk.deps))
    desk.racing.racing = False
    assert sum(not isinstance(o, Exception) for o in outcomes) == 1, outcomes
    tickets = {t: desk.deps.repository.get_ticket(t) for t in (a, b, c)}
    # never a chain: whatever is merged points at a ticket that is not merged itself
    for ticket in tickets.values():
        assert ticket is not None
        if ticket.merged_into:
            hop = tickets[ticket.merged_into]
            assert hop is not None and hop.merged_into is None


class CrashingMoves(TableRepository):
    """A Lambda that dies after the merge transaction, before the messages moved."""

    crash = True

    def move_messages(self, messages: list[Message], target_ticket_id: str) -> int:
        if self.crash:
            self.crash = False
            raise RuntimeError("the function timed out")
        return super().move_messages(messages, target_ticket_id)


def test_repeating_a_merge_that_stopped_half_way_finishes_it(desk: Desk) -> None:
    a, b = _call("+4915112345678", desk), _call("+4915187654321", desk)
    crashing = CrashingMoves(desk.racing, clock=desk.deps.clock)
    deps = replace(desk.deps, repository=crashing)
    with pytest.raises(RuntimeError):
        merge(a, b, 1, AGENT, deps)
    # the merge is recorded (threading already follows it); the call log is still on the source
    assert crashing.get_ticket(a).merged_into == b  # type: ignore[union-attr]
    assert len(crashing.list_messages(a)) == 1
    # the agent (or a retry) sends the same request again: the move finishes, nothing is recorded twice
    again = merge(a, b, 1, AGENT, deps)
    assert again.id == b and crashing.list_messages(a) == [] and len(crashing.list_messages(b)) == 2
    assert len([e for e in crashing.list_events(b) if e.type is EventType.MERGED_FROM]) == 1


def test_a_manager_unmerges_and_the_source_reopens(desk: Desk) -> None:
    a, b = _call("+4915112345678", desk), _call("+4915187654321", desk)
    repository = desk.deps.repository
    merge(a, b, 1, AGENT, desk.deps)
    source = repository.get_ticket(a)
    assert source is not None
    reopened = unmerge(a, source.version, MANAGER, desk.deps)
    assert reopened.status is TicketStatus.OPEN and reopened.merged_into is None and reopened.closed_at is None
    assert any(e.type is EventType.UNMERGED for e in repository.list_events(a))
    assert any(e.type is EventType.UNMERGED_FROM for e in repository.list_events(b))
    # the messages that moved stay where the agents answered them
    assert len(repository.list_messages(b)) == 2
    # and the reopened ticket can be merged again, either way
    merge(b, a, repository.get_ticket(b).version, AGENT, desk.deps)  # type: ignore[union-attr]
    assert repository.get_ticket(b).merged_into == a  # type: ignore[union-attr]
