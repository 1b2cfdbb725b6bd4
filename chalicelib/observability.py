"""Structured logs and EMF metrics (Powertools), built lazily so `import app` stays light."""
from __future__ import annotations

import json
import logging
from collections.abc import Callable
from functools import lru_cache
from typing import Any

SERVICE = "shopdesk"
NAMESPACE = "ShopDesk"
# Where EMF records go: None is stdout (Lambda's log stream, which CloudWatch reads the metrics from); the
# local stack sends them to its log file instead of the console a person reads.
_metrics_sink: Callable[[str], None] | None = None


def send_metrics_to(sink: Callable[[str], None] | None) -> None:
    """Routes every EMF record (one JSON line) to `sink`; None restores stdout."""
    global _metrics_sink
    _metrics_sink = sink


@lru_cache(maxsize=1)
def _powertools_logger() -> Any:
    from aws_lambda_powertools import Logger

    return Logger(service=SERVICE)


def logger() -> Any:
    """The structured logger. Chalice names its own logger after the app ("shopdesk", our service
    name too) and sets it to ERROR whenever an app object is built, so the level is asserted here."""
    from chalicelib.config import SettingsError, settings

    log = _powertools_logger()
    try:
        level = settings().log_level
    except SettingsError:
        level = "INFO"  # a broken configuration must still be able to log why it is broken
    wanted = logging.getLevelName(level.upper())
    if isinstance(wanted, int) and log.log_level != wanted:
        log.setLevel(wanted)
    return log


def _emit(name: str, unit: str, value: float, dimensions: dict[str, str]) -> None:
    """One EMF record per metric: each carries exactly its own dimensions (a shared Metrics object
    would carry one call's dimensions into the next), and handlers may run outside a Lambda context."""
    from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

    from chalicelib.config import SettingsError, settings

    try:
        if not settings().metrics_enabled:
            return
    except SettingsError:
        pass  # count anyway: a broken configuration is exactly when the numbers matter
    # EphemeralMetrics rather than single_metric, which can only print(): the record is serialized here
    # and written to the sink. `service` first keeps the dimension order single_metric gave.
    metric = EphemeralMetrics(namespace=NAMESPACE, service=SERVICE)
    metric.add_dimension(name="service", value=SERVICE)
    for key, dimension in dimensions.items():
        metric.add_dimension(name=key, value=dimension)
    metric.add_metric(name=name, unit=MetricUnit[unit], value=value)
    line = json.dumps(metric.serialize_metric_set(), separators=(",", ":"))
    sink = _metrics_sink
    if sink is None:
        print(line)
    else:
        sink(line)


def count(name: str, value: float = 1, **dimensions: str) -> None:
    _emit(name, "Count", value, dimensions)


def gauge(name: str, value: float, unit: str = "Seconds") -> None:
    """One measured value (not a count), e.g. how late the SLA sweep ran."""
    _emit(name, unit, value, {})
