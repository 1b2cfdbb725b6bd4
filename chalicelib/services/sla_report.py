"""Use case: the SLA report for a date range, from report facts read by one Query per day."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.config import Settings
from chalicelib.domain.errors import Forbidden, InvalidInput
from chalicelib.domain.principals import Principal, Role
from chalicelib.domain.sla_clock import SlaFact
from chalicelib.domain.sla_report import PERCENTILES, by_agent, summarize
from chalicelib.ports import SlaRepository

MAX_DAYS = 92
DEFAULT_DAYS = 7


@dataclass(frozen=True)
class ReportQuery:
    first_day: date
    last_day: date
    queue: str | None = None
    agent: str | None = None


def _day(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput(f"{name} is a date, YYYY-MM-DD", name) from exc


def parse_report_query(params: dict[str, str], principal: Principal, settings: Settings,
                       now: datetime) -> ReportQuery:
    unknown = sorted(set(params) - {"from", "to", "queue", "agent"})
    if unknown:
        raise InvalidInput(f"unknown query parameter {unknown[0][:40]}", unknown[0][:40])
    today = now.astimezone(ZoneInfo(settings.time_zone)).date()
    last = _day(params["to"], "to") if params.get("to") else today
    first = _day(params["from"], "from") if params.get("from") else last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise InvalidInput("from is after to", "from")
    if (last - first).days >= MAX_DAYS:
        raise InvalidInput(f"a report covers at most {MAX_DAYS} days", "from")
    queue = params.get("queue") or None
    if queue is not None and queue not in set(settings.support_addresses.values()):
        raise InvalidInput("unknown queue", "queue")
    agent = params.get("agent") or None
    if agent is not None:
        if not principal.can(Role.MANAGER):
            raise Forbidden("figures per agent are for managers")
        if len(agent) > 128:
            raise InvalidInput("agent is a user id", "agent")
    return ReportQuery(first, last, queue, agent)


def sla_report(query: ReportQuery, principal: Principal, repository: SlaRepository) -> dict[str, Any]:
    facts: list[SlaFact] = []
    day = query.first_day
    while day <= query.last_day:
        facts += repository.sla_facts(day.isoformat(), query.queue)
        day += timedelta(days=1)
    if query.agent is not None:
        facts = [f for f in facts if f.agent == query.agent]
    report: dict[str, Any] = {
        "from": query.first_day.isoformat(), "to": query.last_day.isoformat(), "queue": query.queue,
        "agent": query.agent, "percentiles": [f"p{p}" for p in PERCENTILES], "targets": summarize(facts),
    }
    if principal.can(Role.MANAGER):
        report["agents"] = by_agent(facts)
    return report
