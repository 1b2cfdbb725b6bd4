"""Structured logs and EMF metrics (Powertools), built lazily so `import app` stays light."""
from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

SERVICE = "shopdesk"
NAMESPACE = "ShopDesk"


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
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    from chalicelib.config import SettingsError, settings

    try:
        if not settings().metrics_enabled:
            return
    except SettingsError:
        pass  # count anyway: a broken configuration is exactly when the numbers matter
    with single_metric(name=name, unit=MetricUnit[unit], value=value, namespace=NAMESPACE,
                       default_dimensions={"service": SERVICE}) as metric:
        for key, dimension in dimensions.items():
            metric.add_dimension(name=key, value=dimension)


def count(name: str, value: float = 1, **dimensions: str) -> None:
    _emit(name, "Count", value, dimensions)


def gauge(name: str, value: float, unit: str = "Seconds") -> None:
    """One measured value (not a count), e.g. how late the SLA sweep ran."""
    _emit(name, unit, value, {})
