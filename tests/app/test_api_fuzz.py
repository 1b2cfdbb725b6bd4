"""Property test: whatever a client sends to any route in /openapi.json, the API never answers 5xx."""
from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from tests.app.api_support import Api

JUNK = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=50),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=4),
)
SEGMENT = st.one_of(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=30),
                    st.sampled_from(["1001", "0", "-1", "%00", "..", "a" * 70]))


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    from chalicelib.api.openapi import document

    doc = document()
    return [(path, method, op) for path, ops in doc["paths"].items() for method, op in ops.items()]


def resolved(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    text = json.dumps(schema)
    for _ in range(5):  # definitions refer to definitions: inline until none is left
        for name, definition in components.items():
            text = text.replace(json.dumps({"$ref": f"#/components/schemas/{name}"}), json.dumps(definition))
    return json.loads(text)  # type: ignore[no-any-return]


@pytest.mark.parametrize(("path", "method", "operation"), operations(), ids=lambda v: v if isinstance(v, str) else "")
def test_no_input_makes_a_5xx(api: Api, path: str, method: str, operation: dict[str, Any]) -> None:
    from chalicelib.api.openapi import document

    components = document()["components"]["schemas"]
    body_schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    bodies = st.one_of(from_schema(resolved(body_schema, components)), JUNK) if body_schema else JUNK
    query = st.dictionaries(st.sampled_from(["status", "queue", "limit", "next", "sort", "email", "phone",
                                             "assignee", "breached", "tag", "cursor", "part"]),
                            st.text(max_size=20), max_size=3)

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(body=bodies, segment=SEGMENT, params=query, role=st.sampled_from(["agent", "manager", None]))
    def run(body: Any, segment: str, params: dict[str, str], role: str | None) -> None:
        from urllib.parse import urlencode

        concrete = path
        for name in ("ticket_id", "number", "macro_id", "customer_id", "kind", "value", "message_ref"):
            concrete = concrete.replace("{" + name + "}", segment)
        if params:
            concrete += "?" + urlencode(params)
        status, answer = api.call(method.upper(), concrete, body=body, role=role)
        assert status < 500, (method, concrete, body, answer)

    run()
