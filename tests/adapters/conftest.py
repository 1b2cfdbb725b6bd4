"""Fixtures shared by the adapter tests: one item store per kind, so a contract runs against both."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import botocore.client
import pytest

from chalicelib.adapters.clock import SystemClock
from chalicelib.adapters.item_store import InMemoryItemStore, ItemStore
from chalicelib.adapters.table_repository import TableRepository


@pytest.fixture(params=["memory", "dynamodb"])
def store(request: pytest.FixtureRequest) -> Iterator[ItemStore]:
    if request.param == "memory":
        yield InMemoryItemStore()
        return
    request.getfixturevalue("aws")
    from chalicelib import bootstrap

    yield bootstrap.shop().store


@pytest.fixture(params=["memory", "dynamodb"])
def repository(request: pytest.FixtureRequest) -> Iterator[TableRepository]:
    """The repository over the in-memory store and over DynamoDB (moto): a contract runs against both."""
    if request.param == "memory":
        yield TableRepository(InMemoryItemStore(), clock=SystemClock())
        return
    request.getfixturevalue("aws")
    from chalicelib import bootstrap

    yield bootstrap.shop().repository


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
