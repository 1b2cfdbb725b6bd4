"""DynamoDB implementation of the ItemStore port, on the low-level client; AWS errors leave as domain errors."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chalicelib.adapters.aws_errors import translated
from chalicelib.adapters.item_store import ABSENT, ConditionFailed, Delete, Filter, Item, Key, Operation, Put
from chalicelib.domain.errors import DomainError, TransactionConflict, TransientFailure
from chalicelib.resources import INDEX_KEYS, PK, SK

_BATCH_LIMIT = 100
_MAX_BATCH_ROUNDS = 8


def cancelled_transaction_error(exc: Any) -> ConditionFailed | DomainError:
    """What a TransactionCanceledException means, from its per-operation reasons: failed conditions are the
    caller's to decide (`ConditionFailed`); only conflicts with other transactions, `TransactionConflict`
    (retry at once); anything else (throttling, a validation error on one item), `TransientFailure`."""
    reasons = [str(r.get("Code")) for r in exc.response.get("CancellationReasons", [])]
    failed = [n for n, code in enumerate(reasons) if code == "ConditionalCheckFailed"]
    if failed:
        return ConditionFailed(failed)
    causes = {code for code in reasons if code != "None"}
    if causes == {"TransactionConflict"}:
        return TransactionConflict("DynamoDB cancelled the transaction: another transaction held one of its items")
    return TransientFailure("DynamoDB cancelled the transaction: " + ",".join(reasons))


class DynamoItemStore:
    def __init__(self, client: Any, table_name: str) -> None:
        from chalicelib.adapters.dynamo_types import TypeDeserializer, TypeSerializer  # boto3's, without boto3

        self._client = client
        self._table = table_name
        self._serializer = TypeSerializer()
        self._deserializer = TypeDeserializer()

    def _dump(self, item: dict[str, Any]) -> dict[str, Any]:
        return {k: self._serializer.serialize(v) for k, v in item.items()}

    def _load(self, item: dict[str, Any]) -> Item:
        return {k: self._deserializer.deserialize(v) for k, v in item.items()}

    def get(self, key: Key) -> Item | None:
        with translated("dynamodb", "GetItem"):
            response = self._client.get_item(TableName=self._table, Key=self._dump(key), ConsistentRead=True)
        return self._load(response["Item"]) if "Item" in response else None

    def batch_get(self, keys: Sequence[Key]) -> list[Item]:
        unique = list({(k[PK], k[SK]): k for k in keys}.values())
        found: list[Item] = []
        for start in range(0, len(unique), _BATCH_LIMIT):
            request: dict[str, Any] = {
                self._table: {"Keys": [self._dump(k) for k in unique[start:start + _BATCH_LIMIT]],
                              "ConsistentRead": True}
            }
            for _ in range(_MAX_BATCH_ROUNDS):
                with translated("dynamodb", "BatchGetItem"):
                    response = self._client.batch_get_item(RequestItems=request)
                found.extend(self._load(i) for i in response.get("Responses", {}).get(self._table, []))
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
            else:
                raise TransientFailure("DynamoDB left keys unprocessed after several rounds")
        return found

    def query(
        self,
        partition: str,
        sk_prefix: str = "",
        *,
        index: str | None = None,
        forward: bool = True,
        limit: int | None = None,
        start_after: Key | None = None,
        filters: Sequence[Filter] = (),
        sk_before: str | None = None,
        sk_from: str | None = None,
    ) -> tuple[list[Item], Key | None]:
        pk_attr, sk_attr = INDEX_KEYS[index] if index else (PK, SK)
        names = {"#pk": pk_attr}
        values: dict[str, Any] = {":pk": {"S": partition}}
        condition = "#pk = :pk"
        if sk_prefix and (sk_before is not None or sk_from is not None):
            raise ValueError("a query takes a prefix or bounds, not both")
        if sk_prefix:
            names["#sk"] = sk_attr
            values[":prefix"] = {"S": sk_prefix}
            condition += " AND begins_with(#sk, :prefix)"
        if sk_from is not None and sk_before is not None:
            # One condition per sort key: BETWEEN is inclusive, and `<time>#<id>` keys sort after
            # the bare `<time>` bound, so nothing exactly at `sk_before` is included.
            names["#sk"] = sk_attr
            values[":from"], values[":before"] = {"S": sk_from}, {"S": sk_before}
            condition += " AND #sk BETWEEN :from AND :before"
        elif sk_from is not None:
            names["#sk"] = sk_attr
            values[":from"] = {"S": sk_from}
            condition += " AND #sk >= :from"
        elif sk_before is not None:
            names["#sk"] = sk_attr
            values[":before"] = {"S": sk_before}
            condition += " AND #sk < :before"
        arguments: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": forward,
        }
        if filters:
            arguments["FilterExpression"] = self._filter_expression(filters, names, values)
        if index:
            arguments["IndexName"] = index
        else:
            arguments["ConsistentRead"] = True
        if limit:
            arguments["Limit"] = limit
        if start_after:
            arguments["ExclusiveStartKey"] = self._dump(start_after)
        with translated("dynamodb", "Query"):
            response = self._client.query(**arguments)
        last = response.get("LastEvaluatedKey")
        return [self._load(i) for i in response.get("Items", [])], (self._load(last) if last else None)

    def _filter_expression(self, filters: Sequence[Filter], names: dict[str, str], values: dict[str, Any]) -> str:
        parts = []
        for n, condition in enumerate(filters):
            steps = condition.attribute.split(".")
            for m, step in enumerate(steps):
                names[f"#f{n}_{m}"] = step
            name = ".".join(f"#f{n}_{m}" for m in range(len(steps)))
            if condition.op == "absent":
                parts.append(f"attribute_not_exists({name})")
            elif condition.op == "in":
                options = []
                for m, option in enumerate(condition.value):
                    values[f":f{n}_{m}"] = self._serializer.serialize(option)
                    options.append(f":f{n}_{m}")
                parts.append(f"{name} IN ({', '.join(options)})")
            else:
                values[f":f{n}"] = self._serializer.serialize(condition.value)
                expression = {"eq": "{a} = {v}", "contains": "contains({a}, {v})", "lt": "{a} < {v}",
                              "ge": "{a} >= {v}"}[condition.op]
                parts.append(expression.format(a=name, v=f":f{n}"))
        return " AND ".join(parts)

    def _condition(self, expect: dict[str, Any]) -> dict[str, Any]:
        if not expect:
            return {}
        parts, names, values = [], {}, {}
        for n, (attribute, wanted) in enumerate(expect.items()):
            names[f"#c{n}"] = attribute
            if wanted is ABSENT:
                parts.append(f"attribute_not_exists(#c{n})")
            else:
                values[f":c{n}"] = self._serializer.serialize(wanted)
                parts.append(f"#c{n} = :c{n}")
        condition: dict[str, Any] = {"ConditionExpression": " AND ".join(parts), "ExpressionAttributeNames": names}
        if values:
            condition["ExpressionAttributeValues"] = values
        return condition

    def _update_arguments(self, key: Key, add: dict[str, int], set_values: dict[str, Any],
                          base: dict[str, int] | None = None) -> dict[str, Any]:
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        adds, sets = [], []
        for n, (attribute, amount) in enumerate(add.items()):
            names[f"#a{n}"] = attribute
            values[f":a{n}"] = self._serializer.serialize(amount)
            if base and attribute in base:  # an absent attribute counts from its base, in the same atomic update
                values[f":b{n}"] = self._serializer.serialize(base[attribute])
                sets.append(f"#a{n} = if_not_exists(#a{n}, :b{n}) + :a{n}")
            else:
                adds.append(f"#a{n} :a{n}")
        for n, (attribute, value) in enumerate(set_values.items()):
            names[f"#s{n}"] = attribute
            values[f":s{n}"] = self._serializer.serialize(value)
            sets.append(f"#s{n} = :s{n}")
        expression = ("ADD " + ", ".join(adds)) if adds else ""
        if sets:
            expression += " SET " + ", ".join(sets)
        return {
            "TableName": self._table,
            "Key": self._dump(key),
            "UpdateExpression": expression.strip(),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }

    def transact(self, operations: Sequence[Operation]) -> None:
        requests: list[dict[str, Any]] = []
        for op in operations:
            if isinstance(op, Put):
                requests.append({"Put": {"TableName": self._table, "Item": self._dump(op.item),
                                         **self._condition(op.expect)}})
            elif isinstance(op, Delete):
                requests.append({"Delete": {"TableName": self._table, "Key": self._dump(op.key)}})
            else:
                requests.append({"Update": self._update_arguments(op.key, op.add, op.set)})
        with translated("dynamodb", "TransactWriteItems"):
            try:
                self._client.transact_write_items(TransactItems=requests)
            except self._client.exceptions.TransactionCanceledException as exc:
                raise cancelled_transaction_error(exc) from exc

    def add(self, key: Key, add: dict[str, int], set_values: dict[str, Any] | None = None, *,
            base: dict[str, int] | None = None) -> Item:
        with translated("dynamodb", "UpdateItem"):
            response = self._client.update_item(
                **self._update_arguments(key, add, set_values or {}, base), ReturnValues="ALL_NEW"
            )
        return self._load(response["Attributes"])
