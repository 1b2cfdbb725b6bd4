"""The one place boto3 clients are built: lazily, once per process, after moto (in tests) is active."""
from __future__ import annotations

from functools import cache
from typing import Any


@cache
def client(service: str, region: str) -> Any:
    import boto3  # deferred: boto3 costs ~130 ms to import and most cold paths need one service
    from botocore.config import Config

    config = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=3, read_timeout=10)
    return boto3.session.Session().client(service, region_name=region, config=config)


def reset_clients() -> None:
    """Forget built clients (tests start a fresh moto backend per test)."""
    client.cache_clear()


class LazyClient:
    """A boto3 client built on its first use: a Shop holds every adapter, most invocations use one or two.
    Attribute access (`get_object`, `exceptions`, `meta`) goes to the real client."""

    def __init__(self, service: str, region: str) -> None:
        self._service, self._region = service, region

    def __getattr__(self, name: str) -> Any:
        return getattr(client(self._service, self._region), name)


def lazy_client(service: str, region: str) -> Any:
    return LazyClient(service, region)
