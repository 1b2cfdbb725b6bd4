"""DynamoDB's attribute-value format (`{"S": ...}`, `{"N": ...}`) to and from Python values, as boto3's
`boto3.dynamodb.types` does it, without importing boto3 (which pulls s3transfer and ~25 ms of CPU into
every cold start) and without its per-value `getattr` dispatch (the serializer runs for every attribute
of every item read or written).

The same rules as boto3's TypeSerializer/TypeDeserializer (tests/adapters/test_dynamo_types.py compares
them value by value): numbers are int or Decimal (floats are refused), at most 38 significant digits, read
back as Decimal; sets become SS/NS/BS; one difference: binary values are read back as `bytes` (boto3 wraps
them in its `Binary`), as the in-memory store keeps them."""
from __future__ import annotations

from collections.abc import Mapping, Set
from decimal import Clamped, Context, Decimal, Inexact, Overflow, Rounded, Underflow
from typing import Any

DYNAMODB_CONTEXT = Context(Emin=-128, Emax=126, prec=38, traps=[Clamped, Overflow, Inexact, Rounded, Underflow])
_INT_LIMIT = 10 ** 38  # ints below it have at most 38 digits: str(value) is exactly what the context gives


def _number(value: int | Decimal) -> str:
    if type(value) is int and -_INT_LIMIT < value < _INT_LIMIT:
        return str(value)
    number = str(DYNAMODB_CONTEXT.create_decimal(value))
    if number in ("Infinity", "-Infinity", "NaN", "sNaN"):
        raise TypeError("Infinity and NaN not supported")
    return number


def _is_number(value: object) -> bool:
    if isinstance(value, int | Decimal):  # bools too, as boto3 (a top-level bool is BOOL before this)
        return True
    if isinstance(value, float):
        raise TypeError("Float types are not supported. Use Decimal types instead.")
    return False


def serialize(value: Any) -> dict[str, Any]:
    """`value` as a DynamoDB attribute value; TypeError for what DynamoDB cannot hold (floats, NaN, ...)."""
    kind = type(value)
    if kind is str:
        return {"S": value}
    if kind is int or kind is Decimal:
        return {"N": _number(value)}
    if kind is bool:
        return {"BOOL": value}
    if value is None:
        return {"NULL": True}
    if kind is dict:
        return {"M": {k: serialize(v) for k, v in value.items()}}
    if kind is list or kind is tuple:
        return {"L": [serialize(v) for v in value]}
    return _serialize_other(value)


def _serialize_other(value: Any) -> dict[str, Any]:
    """Subclasses (str enums, int enums), binary values, sets and other mappings, in boto3's order."""
    if isinstance(value, bool):
        return {"BOOL": value}
    if _is_number(value):
        return {"N": _number(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bytes | bytearray):
        return {"B": value}
    if isinstance(value, Set):
        if all(_is_number(v) for v in value):
            return {"NS": [_number(v) for v in value]}
        if all(isinstance(v, str) for v in value):
            return {"SS": list(value)}
        if all(isinstance(v, bytes | bytearray) for v in value):
            return {"BS": list(value)}
    if isinstance(value, Mapping):
        return {"M": {k: serialize(v) for k, v in value.items()}}
    if isinstance(value, list | tuple):
        return {"L": [serialize(v) for v in value]}
    raise TypeError(f'Unsupported type "{type(value)}" for value "{value}"')


def deserialize(value: Mapping[str, Any]) -> Any:
    """The Python value of a DynamoDB attribute value (numbers as Decimal, sets as set)."""
    if not value:
        raise TypeError("Value must be a nonempty dictionary whose key is a valid dynamodb type.")
    kind, data = next(iter(value.items()))
    if kind == "S":
        return data
    if kind == "N":
        return DYNAMODB_CONTEXT.create_decimal(data)
    if kind == "M":
        return {k: deserialize(v) for k, v in data.items()}
    if kind == "L":
        return [deserialize(v) for v in data]
    if kind == "BOOL":
        return data
    if kind == "NULL":
        return None
    if kind == "SS":
        return set(data)
    if kind == "NS":
        return {DYNAMODB_CONTEXT.create_decimal(n) for n in data}
    if kind == "B":
        return bytes(data)
    if kind == "BS":
        return {bytes(b) for b in data}
    raise TypeError(f"Dynamodb type {kind} is not supported")


class TypeSerializer:
    """boto3's TypeSerializer interface over `serialize`."""

    def serialize(self, value: Any) -> dict[str, Any]:
        return serialize(value)


class TypeDeserializer:
    """boto3's TypeDeserializer interface over `deserialize`."""

    def deserialize(self, value: Mapping[str, Any]) -> Any:
        return deserialize(value)
