"""The write-unit model behind `make bench`'s write_units figures: what DynamoDB charges a table and its indexes."""
from __future__ import annotations

from benchmarks.write_units import (
    TABLE,
    Charge,
    IndexSpec,
    Lifecycle,
    entry_bytes,
    families,
    index_charges,
    index_specs,
    table_charge,
    write_charges,
)
from chalicelib.resources import INDEX_KEYS, table_definition

KEYS = ("pk", "sk")
ALL = IndexSpec("all", "ipk", "isk", "ALL")
KEYS_ONLY = IndexSpec("keys", "ipk", "isk", "KEYS_ONLY")
INCLUDE = IndexSpec("include", "ipk", "isk", "INCLUDE", ("status",))


def ticket(**values: object) -> dict[str, object]:
    item: dict[str, object] = {"pk": "TICKET#1", "sk": "TICKET", "ipk": "LANE#active", "isk": "2026-11-24#1",
                               "status": "open", "body": "x" * 1500}  # ~1.6 KB: 2 units when projected whole
    item.update(values)
    return item


def test_the_definition_yields_every_index_with_its_keys_and_projection() -> None:
    specs = index_specs(table_definition("t"))
    assert {s.name: (s.hash_key, s.range_key) for s in specs} == INDEX_KEYS
    assert all(s.projection in ("ALL", "KEYS_ONLY", "INCLUDE") for s in specs)


def test_entry_size_counts_attribute_names_and_values() -> None:
    assert entry_bytes({"pk": "abc"}) == 5
    assert entry_bytes({"pk": "abc", "n": 7}) == 5 + 1 + 2  # a number: about a byte per two digits, plus one


def test_a_new_item_puts_an_entry_priced_by_what_the_index_projects() -> None:
    # Given a ~1.6 KB ticket, when it is first written:
    # then ALL stores the whole item (2 units), KEYS_ONLY and INCLUDE small entries (1 unit each).
    assert index_charges(ALL, KEYS, None, ticket()) == [Charge("all", "LANE#active", 2, "put")]
    assert index_charges(KEYS_ONLY, KEYS, None, ticket()) == [Charge("keys", "LANE#active", 1, "put")]
    assert index_charges(INCLUDE, KEYS, None, ticket()) == [Charge("include", "LANE#active", 1, "put")]


def test_a_changed_attribute_rewrites_only_the_indexes_that_project_it() -> None:
    before, body_changed, status_changed = ticket(), ticket(body="y" * 1500), ticket(status="pending")
    assert index_charges(ALL, KEYS, before, body_changed) == [Charge("all", "LANE#active", 2, "put")]
    assert index_charges(KEYS_ONLY, KEYS, before, body_changed) == []
    assert index_charges(INCLUDE, KEYS, before, body_changed) == []
    assert index_charges(KEYS_ONLY, KEYS, before, status_changed) == []
    assert index_charges(INCLUDE, KEYS, before, status_changed) == [Charge("include", "LANE#active", 1, "put")]


def test_unchanged_projected_attributes_cost_the_index_nothing() -> None:
    assert index_charges(ALL, KEYS, ticket(), ticket()) == []
    assert write_charges([ALL, KEYS_ONLY, INCLUDE], KEYS, ticket(), ticket(), transactional=False) == [
        Charge(TABLE, "TICKET#1", 2, "write")]  # the base item is written (and paid) all the same


def test_a_moved_sort_key_deletes_the_old_entry_and_puts_the_new_one() -> None:
    moved = ticket(isk="2026-11-25#1")
    assert index_charges(ALL, KEYS, ticket(), moved) == [Charge("all", "LANE#active", 2, "delete"),
                                                         Charge("all", "LANE#active", 2, "put")]
    assert index_charges(KEYS_ONLY, KEYS, ticket(), moved) == [Charge("keys", "LANE#active", 1, "delete"),
                                                               Charge("keys", "LANE#active", 1, "put")]


def test_a_moved_partition_charges_the_delete_to_the_old_partition_and_the_put_to_the_new() -> None:
    archived = ticket(ipk="LANE#archived")
    assert index_charges(KEYS_ONLY, KEYS, ticket(), archived) == [Charge("keys", "LANE#active", 1, "delete"),
                                                                  Charge("keys", "LANE#archived", 1, "put")]


def test_a_sparse_index_entry_appears_and_disappears_with_its_key() -> None:
    stopped = {k: v for k, v in ticket().items() if k != "isk"}
    assert index_charges(KEYS_ONLY, KEYS, ticket(), stopped) == [Charge("keys", "LANE#active", 1, "delete")]
    assert index_charges(KEYS_ONLY, KEYS, stopped, ticket()) == [Charge("keys", "LANE#active", 1, "put")]
    assert index_charges(KEYS_ONLY, KEYS, stopped, stopped) == []
    assert index_charges(KEYS_ONLY, KEYS, ticket(), None) == [Charge("keys", "LANE#active", 1, "delete")]


def test_the_base_item_costs_its_larger_image_twice_inside_a_transaction() -> None:
    small = {"pk": "COUNTER#n", "sk": "COUNTER", "value": 1001}
    assert table_charge(KEYS, None, small, transactional=False) == Charge(TABLE, "COUNTER#n", 1, "write")
    assert table_charge(KEYS, small, small, transactional=True) == Charge(TABLE, "COUNTER#n", 2, "write")
    assert table_charge(KEYS, ticket(), small | {"pk": "TICKET#1"}, transactional=False).units == 2
    assert table_charge(KEYS, ticket(), None, transactional=True).units == 4


def test_partitions_other_tickets_write_are_hot_and_their_shards_one_family() -> None:
    # Given eight lifecycles, each writing its own ticket partition and one of four lane shards:
    lives = [Lifecycle(f"T{n}", f"C{n}", 1000 + n, [
        ("email+ack", Charge(TABLE, f"TICKET#T{n}", 4, "write")),
        ("email+ack", Charge("gsi5", f"LANE#active#{n % 4}", 1, "put")),
        ("reply", Charge("gsi5", f"LANE#active#{n % 4}", 1, "delete")),
        ("reply", Charge("gsi5", f"LANE#active#{n % 4}", 1, "put")),
    ]) for n in range(8)]
    found = {(f.target, f.name): f for f in families(lives)}
    lane = found["gsi5", "LANE#active#<shard>"]
    assert lane.hot and lane.shards == 4 and lane.per_phase["email+ack"] == 1 and lane.lifecycle_units == 3
    own = found[TABLE, "TICKET#<ticket>"]
    assert not own.hot and own.lifecycle_units == 4
