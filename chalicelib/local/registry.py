"""Which handler each SNS topic and schedule reaches, read from the Chalice app itself, so a handler
declared in app.py (`@app.on_sns_message`, `@app.schedule`) is served locally with no line added here."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


@dataclass(frozen=True)
class Schedule:
    """A scheduled handler; `every_seconds` is None for cron expressions (run only on request)."""

    name: str
    expression: str
    every_seconds: float | None


@dataclass(frozen=True)
class Registry:
    subscriptions: dict[str, str]  # topic name -> function name
    schedules: dict[str, Schedule]  # function name -> schedule


def rate_seconds(expression: str) -> float | None:
    match = _RATE.match(expression.strip().lower())
    if not match:
        return None
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2).rstrip("s")]


def discover(app: Any) -> Registry:
    """Reads the app's event sources: SNS subscriptions and schedules (other kinds are not served locally)."""
    from chalice.app import ScheduledEventConfig, ScheduleExpression, SNSEventConfig

    subscriptions: dict[str, str] = {}
    schedules: dict[str, Schedule] = {}
    for source in getattr(app, "event_sources", []):
        if isinstance(source, SNSEventConfig):
            subscriptions[source.topic.rsplit(":", 1)[-1]] = source.name
        elif isinstance(source, ScheduledEventConfig):
            raw = source.schedule_expression
            expression = raw.to_string() if isinstance(raw, ScheduleExpression) else str(raw)
            schedules[source.name] = Schedule(source.name, expression, rate_seconds(expression))
    return Registry(subscriptions=subscriptions, schedules=schedules)
