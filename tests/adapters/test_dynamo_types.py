"""Our DynamoDB attribute-value codec gives what boto3's TypeSerializer/TypeDeserializer give, value by value
(boto3 stays a test dependency, as the reference), and refuses what they refuse."""
from __future__ import annotations

from decimal import Decimal
from enum import IntEnum, StrEnum
from typing import Any

import pytest
from boto3.dynamodb.types import Binary, TypeDeserializer, TypeSerializer

from chalicelib.adapters.dynamo_types import deserialize, serialize


class Status(StrEnum):
    OPEN = "open"


class Level(IntEnum):
    HIGH = 3


VALUES: list[Any] = [
    "", "text", "ünïcødé ✉", Status.OPEN, 0, 1, -7, 10 ** 37, -(10 ** 38) + 1, Level.HIGH, True, False, None,
    Decimal("1.50"), Decimal("-0.001"), Decimal("1E+2"), Decimal("12345678901234567890123456789012345678"),
    b"\x00bytes", bytearray(b"ba"), {"a", "b"}, {1, 2, Decimal("3.5")}, {b"x", b"y"}, frozenset({"f"}),
    [], [1, "a", None, [True, {"k": Decimal("2")}]], (1, "tuple"), {}, {"nested": {"deeper": [1, {"x": "y"}]}},
    {"ticket": {"number": 1001, "tags": ["vip", "eu"], "sla": {"due": "2026-11-24T13:00:00Z", "paused": False}}},
]


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_serializes_as_boto3_does(value: Any) -> None:
    ours, theirs = serialize(value), TypeSerializer().serialize(value)
    kind = next(iter(theirs))
    if kind in ("SS", "NS", "BS"):  # set order is the set's, in either
        assert next(iter(ours)) == kind and sorted(ours[kind]) == sorted(theirs[kind])
    else:
        assert ours == theirs


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_reads_back_as_boto3_does(value: Any) -> None:
    wire = TypeSerializer().serialize(value)
    ours, theirs = deserialize(wire), TypeDeserializer().deserialize(wire)
    assert ours == theirs
    assert type(ours) is (bytes if isinstance(theirs, Binary) else type(theirs))  # the one difference: bytes


def test_binary_sets_read_back_as_bytes() -> None:
    assert deserialize({"BS": [b"a", b"b"]}) == {b"a", b"b"}
    assert deserialize({"B": b"raw"}) == b"raw"


@pytest.mark.parametrize("value", [1.5, float("nan"), Decimal("NaN"), Decimal("Infinity"), 10 ** 38,
                                   Decimal("1.000000000000000000000000000000000000001"), object(), [1.0], {"x": 2.5}])
def test_refuses_what_dynamodb_cannot_hold(value: Any) -> None:
    from decimal import DecimalException

    with pytest.raises((TypeError, DecimalException)):
        TypeSerializer().serialize(value)
    with pytest.raises((TypeError, DecimalException)):
        serialize(value)


def test_refuses_an_unknown_or_empty_attribute_value() -> None:
    with pytest.raises(TypeError):
        deserialize({})
    with pytest.raises(TypeError):
        deserialize({"X": "?"})
