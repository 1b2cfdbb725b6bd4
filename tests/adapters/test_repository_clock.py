"""The repository's times come from its clock: TTL expiries, rate windows and record times follow a
fixed clock far from today, over the in-memory store and DynamoDB (moto) alike."""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.adapters import keys
from chalicelib.adapters.clock import FixedClock
from chalicelib.adapters.item_store import ItemStore
from chalicelib.adapters.items import INBOUND_TTL_SECONDS
from chalicelib.adapters.table_repository import RATE_TTL_SECONDS, TableRepository
from chalicelib.domain.ids import iso
from chalicelib.ports import InboundRecord, Lookup
from tests.adapters.test_repository_contract import new_ticket

PAST = datetime(1999, 12, 31, 23, 0, tzinfo=UTC)
FUTURE = datetime(2091, 6, 1, 12, 0, tzinfo=UTC)




@pytest.mark.parametrize("moment", [PAST, FUTURE], ids=["past", "future"])
def test_inbound_records_expire_from_the_clock_and_keep_the_time_they_were_given(
        store: ItemStore, moment: datetime) -> None:
    repository = TableRepository(store, clock=FixedClock(moment))
    given = iso(moment - timedelta(minutes=3))  # the service's own "now", passed along
    repository.record_inbound(InboundRecord("sms", "in-1", "quarantined", reason="bad payload"), given)
    stored = store.get(keys.inbound("sms", "in-1"))
    assert stored is not None
    assert stored["at"] == given
    assert int(stored["expires_at"]) == int(moment.timestamp()) + INBOUND_TTL_SECONDS


@pytest.mark.parametrize("moment", [PAST, FUTURE], ids=["past", "future"])
def test_a_new_tickets_delivery_record_and_rate_counter_follow_the_clock(store: ItemStore, moment: datetime) -> None:
    repository = TableRepository(store, clock=FixedClock(moment))
    write = replace(new_ticket(), rate_increments=["ack#sender#h1"])
    repository.create_ticket(write)
    record = store.get(keys.inbound(write.inbound.source, write.inbound.source_id))
    rate = store.get(keys.rate("ack#sender#h1"))
    assert record is not None and rate is not None
    assert record["at"] == iso(moment)
    assert int(record["expires_at"]) == int(moment.timestamp()) + INBOUND_TTL_SECONDS
    assert int(rate["expires_at"]) == int(moment.timestamp()) + RATE_TTL_SECONDS


def test_a_rate_window_ends_when_the_clock_passes_its_expiry(store: ItemStore) -> None:
    clock = FixedClock(PAST)
    repository = TableRepository(store, clock=clock)
    assert repository.hit_rate("contact#ip#x#h", ttl_seconds=3600) == 1
    counter = store.get(keys.rate("contact#ip#x#h"))
    assert counter is not None and int(counter["expires_at"]) == int(PAST.timestamp()) + 3600
    assert repository.lookup(Lookup(rate_keys=("contact#ip#x#h",))).rates["contact#ip#x#h"] == 1
    clock.advance(seconds=3601)  # DynamoDB's TTL deletes lazily: the item is still there, but over
    assert repository.lookup(Lookup(rate_keys=("contact#ip#x#h",))).rates["contact#ip#x#h"] == 0

