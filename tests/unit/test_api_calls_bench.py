"""The api_calls benchmark's own machinery: its metered in-memory twin answers exactly as InMemoryItemStore does,
and it reads list responses and cursors whatever they are called."""
from __future__ import annotations

import random

from benchmarks.api_calls import get_routes, listing_shape, metered_memory_store, page_cursor, page_items
from chalicelib.adapters.item_store import Filter, InMemoryItemStore, Put


def test_the_metered_twin_pages_and_filters_exactly_as_the_fake_and_counts_items_before_filters() -> None:
    # Given the same 300 items in the plain fake and in the metered twin (which caches one partition per Query):
    rng = random.Random(3)
    plain, metered = InMemoryItemStore(), metered_memory_store()
    for n in range(300):
        item = {"pk": f"T#{n}", "sk": "T", "gsi5pk": f"LANE#{n % 2}", "gsi5sk": f"{rng.random():.6f}#{n}",
                "tag": "vip" if n % 7 == 0 else "-"}
        plain.transact([Put(item)])
        metered.transact([Put(item)])
    metered.meter.reset()
    # When both list a partition page by page, forward and backward, with a filter:
    for forward in (True, False):
        cursors: list[dict[str, str] | None] = [None, None]
        while True:
            pages = [store.query("LANE#0", index="gsi5", forward=forward, limit=25, start_after=cursor,
                                 filters=[Filter("tag", "eq", "vip")])
                     for store, cursor in zip((plain, metered), cursors, strict=True)]
            # Then every page and cursor is the same.
            assert pages[0] == pages[1]
            cursors = [pages[0][1], pages[1][1]]
            if cursors[0] is None:
                break
    # And the twin counted every Query and the 150 items each direction read before the filter.
    assert metered.meter.calls["Query"] == 2 * 6 and metered.meter.items == 300


def test_a_write_is_seen_by_the_next_query() -> None:
    store = metered_memory_store()
    store.transact([Put({"pk": "T#1", "sk": "T", "gsi5pk": "LANE#a", "gsi5sk": "1"})])
    assert len(store.query("LANE#a", index="gsi5")[0]) == 1
    store.transact([Put({"pk": "T#2", "sk": "T", "gsi5pk": "LANE#a", "gsi5sk": "2"})])
    assert len(store.query("LANE#a", index="gsi5")[0]) == 2


def test_list_responses_and_cursors_are_read_under_any_of_their_names() -> None:
    assert page_items({"items": [{"id": 1}], "next": "c"}) == [{"id": 1}]
    assert page_items({"tickets": [{"id": 2}], "next_cursor": "d"}) == [{"id": 2}]
    assert page_cursor({"items": [], "next": "c"}) == "c" and page_cursor({"next_cursor": "d"}) == "d"
    assert page_cursor({"items": [], "next": None}) is None


def test_routes_and_the_cursor_parameter_come_from_the_openapi_document() -> None:
    from chalicelib.api.openapi import document

    spec = document()
    assert "/tickets" in get_routes(spec) and "/tickets/{ticket_id}" in get_routes(spec)
    names, cursor = listing_shape(spec)
    assert cursor in names and {"status", "queue", "assignee", "tag"} <= names
