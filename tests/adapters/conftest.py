"""Fixtures shared by the adapter tests: one item store per kind, so a contract runs against both."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import botocore.client
import pytest

from chalicelib.adapters.item_store import InMemoryItemStore, ItemStore


@pytest.fixture(params=["memory", "dynamodb"])
def store(request: pytest.FixtureRequest) -> Iterator[ItemStore]:
    if request.param == "memory":
        yield InMemoryItemStore()
        return
    request.getfixturevalue("aws")
    from chalicelib import bootstrap

    yield bootstrap.shop().store


@pytest.fixture
def serialized_aws_calls(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every boto call runs under one lock: moto's backends are not thread-safe, our code must be; the
    interleavings between calls stay real."""
    lock = threading.RLock()
    original = botocore.client.BaseClient._make_api_call

    def atomic(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        with lock:
            return original(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", atomic)
