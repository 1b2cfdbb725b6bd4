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
