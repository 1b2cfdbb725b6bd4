"""Structured logs and EMF metrics (Powertools), built lazily so `import app` stays light."""
from __future__ import annotations

from functools import lru_cache
from typing import Any

SERVICE = "shopdesk"
NAMESPACE = "ShopDesk"


@lru_cache(maxsize=1)
def logger() -> Any:
    from aws_lambda_powertools import Logger

    return Logger(service=SERVICE)


@lru_cache(maxsize=1)
def metrics() -> Any:
    from aws_lambda_powertools import Metrics

    return Metrics(namespace=NAMESPACE, service=SERVICE)


def count(name: str, value: float = 1, **dimensions: str) -> None:
    """Adds one metric and flushes it at once: handlers are short and may run outside a Lambda context."""
    from aws_lambda_powertools.metrics import MetricUnit

    recorder = metrics()
    for key, dimension in dimensions.items():
        recorder.add_dimension(name=key, value=dimension)
    recorder.add_metric(name=name, unit=MetricUnit.Count, value=value)
    recorder.flush_metrics()
