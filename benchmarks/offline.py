"""An offline AWS (moto) with ShopDesk's resources, for benchmarks that measure real AWS API calls."""
from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

REGION = "eu-central-1"


@contextmanager
def offline_aws() -> Iterator[Any]:
    """Yields the Settings of stage `bench`, with its table, bucket, topics and SES identities in moto."""
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION=REGION,
                      AWS_REGION=REGION, SHOPDESK_STAGE="bench")
    os.environ.pop("AWS_ENDPOINT_URL", None)
    import boto3
    from moto import mock_aws

    from chalicelib import bootstrap
    from chalicelib.config import settings
    from chalicelib.local.provision import provision

    bootstrap.reset()
    try:
        with mock_aws():
            config = settings()
            provision(partial(boto3.client, region_name=REGION), config.names, REGION, config.support_addresses)
            yield config
    finally:
        bootstrap.reset()


def count_calls(run: Any, services: tuple[str, ...]) -> Counter[str]:
    """AWS API calls `run()` makes through ShopDesk's clients, by operation name (botocore hooks)."""
    from chalicelib.adapters.aws import client

    names: Counter[str] = Counter()

    def hook(model: Any, **_: Any) -> None:
        names[model.name] += 1

    for service in services:
        client(service, REGION).meta.events.register("before-call.*.*", hook)
    try:
        run()
    finally:
        for service in services:
            client(service, REGION).meta.events.unregister("before-call.*.*", hook)
    return names
