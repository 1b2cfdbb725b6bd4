"""Fixtures shared by the adapter tests: one item store per kind, so a contract runs against both."""
from __future__ import annotations

from collections.abc import Iterator

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
