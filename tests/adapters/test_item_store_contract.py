"""One contract for the ItemStore port, run against the in-memory fake and DynamoDB (moto)."""
from __future__ import annotations

from decimal import Decimal

import pytest

from chalicelib.adapters.item_store import ABSENT, Add, ConditionFailed, ItemStore, Put


def item(pk: str, sk: str, **values: object) -> dict[str, object]:
    return {"pk": pk, "sk": sk, **values}


def test_put_then_get_returns_numbers_as_decimal(store: ItemStore) -> None:
    store.transact([Put(item("A", "1", n=3, nested={"size": 5}, flag=True))])
    found = store.get({"pk": "A", "sk": "1"})
    assert found == {"pk": "A", "sk": "1", "n": Decimal(3), "nested": {"size": Decimal(5)}, "flag": True}


def test_get_missing_is_none(store: ItemStore) -> None:
    assert store.get({"pk": "nope", "sk": "x"}) is None


def test_conditional_put_refuses_existing_item_and_writes_nothing(store: ItemStore) -> None:
    store.transact([Put(item("A", "1", v=1))])
    with pytest.raises(ConditionFailed) as failure:
        store.transact([Put(item("B", "1")), Put(item("A", "1", v=2), {"pk": ABSENT})])
    assert failure.value.indexes == [1]
    assert store.get({"pk": "B", "sk": "1"}) is None  # all or nothing
    assert store.get({"pk": "A", "sk": "1"})["v"] == 1  # type: ignore[index]


def test_version_condition(store: ItemStore) -> None:
    store.transact([Put(item("T", "1", version=1))])
    store.transact([Put(item("T", "1", version=2), {"version": 1})])
    with pytest.raises(ConditionFailed):
        store.transact([Put(item("T", "1", version=3), {"version": 1})])


def test_add_creates_and_increments(store: ItemStore) -> None:
    assert store.add({"pk": "C", "sk": "C"}, {"count": 1})["count"] == 1
    store.transact([Add({"pk": "C", "sk": "C"}, {"count": 2}, {"expires_at": 10})])
    assert store.get({"pk": "C", "sk": "C"}) == {"pk": "C", "sk": "C", "count": 3, "expires_at": 10}


def test_add_counts_an_absent_attribute_from_its_base_and_an_existing_one_from_its_value(store: ItemStore) -> None:
    counter = {"pk": "COUNTER#n", "sk": "COUNTER"}
    assert store.add(counter, {"value": 1}, base={"value": 1000})["value"] == 1001
    assert store.add(counter, {"value": 1}, base={"value": 1000})["value"] == 1002
    store.transact([Put(item("COUNTER#old", "COUNTER", value=5000))])
    assert store.add({"pk": "COUNTER#old", "sk": "COUNTER"}, {"value": 1}, base={"value": 1000})["value"] == 5001


def test_batch_get_returns_found_items_only(store: ItemStore) -> None:
    store.transact([Put(item("A", "1")), Put(item("B", "1"))])
    found = store.batch_get([{"pk": "A", "sk": "1"}, {"pk": "B", "sk": "1"}, {"pk": "Z", "sk": "1"}])
    assert sorted(i["pk"] for i in found) == ["A", "B"]


def test_batch_get_over_one_hundred_keys(store: ItemStore) -> None:
    for start in range(0, 150, 25):
        store.transact([Put(item(f"K{n}", "1")) for n in range(start, start + 25)])
    found = store.batch_get([{"pk": f"K{n}", "sk": "1"} for n in range(150)])
    assert len(found) == 150


def test_query_by_prefix_pages_in_order(store: ItemStore) -> None:
    store.transact([Put(item("P", f"MSG#{n}")) for n in range(5)] + [Put(item("P", "EVT#1"))])
    first, start = store.query("P", "MSG#", limit=3)
    assert [i["sk"] for i in first] == ["MSG#0", "MSG#1", "MSG#2"]
    assert start is not None
    rest, _ = store.query("P", "MSG#", limit=3, start_after=start)
    assert [i["sk"] for i in rest] == ["MSG#3", "MSG#4"]
    backwards, _ = store.query("P", "MSG#", forward=False)
    assert backwards[0]["sk"] == "MSG#4"


def test_query_on_index(store: ItemStore) -> None:
    store.transact([
        Put(item("TICKET#1", "TICKET", gsi2pk="CUSTOMER#c", gsi2sk="2026-01-02#1")),
        Put(item("TICKET#2", "TICKET", gsi2pk="CUSTOMER#c", gsi2sk="2026-01-01#2")),
        Put(item("TICKET#3", "TICKET", gsi2pk="CUSTOMER#d", gsi2sk="2026-01-01#3")),
    ])
    found, _ = store.query("CUSTOMER#c", index="gsi2", forward=False)
    assert [i["pk"] for i in found] == ["TICKET#1", "TICKET#2"]


def test_query_filters_and_upper_bound(store: ItemStore) -> None:
    from chalicelib.adapters.item_store import Filter

    store.transact([
        Put(item("Q", "2026-01-01#a", status="open", tags=["vip"], priority="high")),
        Put(item("Q", "2026-01-02#b", status="pending", tags=[], priority="normal")),
        Put(item("Q", "2026-01-03#c", status="open", tags=["vip", "late"], priority="normal")),
    ])
    found, _ = store.query("Q", filters=[Filter("status", "in", ["open"]), Filter("tags", "contains", "vip")])
    assert [i["sk"] for i in found] == ["2026-01-01#a", "2026-01-03#c"]
    found, _ = store.query("Q", filters=[Filter("priority", "eq", "normal"), Filter("assignee", "absent")])
    assert [i["sk"] for i in found] == ["2026-01-02#b", "2026-01-03#c"]
    due, _ = store.query("Q", sk_before="2026-01-03")
    assert [i["sk"] for i in due] == ["2026-01-01#a", "2026-01-02#b"]


def test_delete_in_a_transaction(store: ItemStore) -> None:
    from chalicelib.adapters.item_store import Delete

    store.transact([Put(item("A", "1")), Put(item("A", "2"))])
    store.transact([Delete({"pk": "A", "sk": "1"}), Put(item("B", "1")), Delete({"pk": "Z", "sk": "9"})])
    assert store.get({"pk": "A", "sk": "1"}) is None and store.get({"pk": "B", "sk": "1"}) is not None


def test_bounded_index_range_pages_in_order(store: ItemStore) -> None:
    """What the SLA sweep asks: a sparse index's entries up to a bound, a few at a time; items without
    the index keys are not in it."""
    store.transact([
        Put(item(f"TICKET#{n}", "TICKET", gsi6pk="SLA", gsi6sk=f"2026-11-24T1{n}:00#{n}")) for n in range(5)
    ] + [Put(item("TICKET#x", "TICKET"))])
    pages: list[list[str]] = []
    cursor = None
    while True:
        page, cursor = store.query("SLA", index="gsi6", limit=2, sk_before="2026-11-24T13:00$", start_after=cursor)
        pages.append([i["pk"] for i in page])
        if cursor is None:
            break
    # DynamoDB may end with an empty page (a full page always carries a cursor); the fake need not.
    assert [p for p in pages if p] == [["TICKET#0", "TICKET#1"], ["TICKET#2", "TICKET#3"]]


def test_an_item_over_400_kb_of_bytes_is_refused_by_both(store: ItemStore) -> None:
    """DynamoDB counts bytes, not characters: 110,000 emoji are 440 KB. The fake refuses what DynamoDB does."""
    from chalicelib.domain.errors import DomainError

    with pytest.raises((ValueError, DomainError)):
        store.transact([Put({"pk": "BIG", "sk": "BIG", "body": "😀" * 110_000})])
    assert store.get({"pk": "BIG", "sk": "BIG"}) is None
    store.transact([Put({"pk": "OK", "sk": "OK", "body": "😀" * 90_000})])  # 360 KB: fits
