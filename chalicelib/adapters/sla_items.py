"""Translation between SLA objects (calendars, policies, report facts) and table items."""
from __future__ import annotations

from dataclasses import asdict
from typing import Any

from chalicelib.adapters import keys
from chalicelib.domain.sla_clock import SlaFact
from chalicelib.domain.sla_config import CalendarSpec, SlaPolicy

Item = dict[str, Any]


def calendar_item(spec: CalendarSpec) -> Item:
    return {**keys.sla_calendar(spec.name), "entity": "sla_calendar", **spec.to_dict()}


def calendar_from_item(item: Item) -> CalendarSpec:
    return CalendarSpec.from_dict(item)


def policy_item(policy: SlaPolicy) -> Item:
    return {**keys.sla_policy(policy.id), "entity": "sla_policy", **policy.to_dict()}


def policy_from_item(item: Item) -> SlaPolicy:
    return SlaPolicy.from_dict(item)


def snapshot_item(calendars: list[CalendarSpec], policies: list[SlaPolicy], revision: int) -> Item:
    return {**keys.sla_config_snapshot(), "entity": "sla_config", "revision": revision,
            "calendars": [c.to_dict() for c in calendars], "policies": [p.to_dict() for p in policies]}


def snapshot_contents(item: Item) -> tuple[list[CalendarSpec], list[SlaPolicy], int]:
    return ([CalendarSpec.from_dict(c) for c in item.get("calendars", [])],
            [SlaPolicy.from_dict(p) for p in item.get("policies", [])], int(item.get("revision", 0)))


def fact_item(fact: SlaFact) -> Item:
    item = {k: v for k, v in asdict(fact).items() if v is not None}
    item.update(keys.sla_fact(fact.day, fact.queue, fact.metric, fact.ticket_id, fact.cycle))
    item["entity"] = "sla_fact"
    return item


def fact_from_item(item: Item) -> SlaFact:
    target = item.get("target_minutes")
    return SlaFact(
        ticket_id=item["ticket_id"], metric=item["metric"], cycle=int(item["cycle"]), day=item["day"],
        queue=item["queue"], priority=item.get("priority", "normal"), agent=item.get("agent", ""),
        started_at=item["started_at"], completed_at=item["completed_at"],
        business_seconds=int(item["business_seconds"]), target_minutes=None if target is None else int(target),
        attained=item.get("attained"), within_business_day=bool(item.get("within_business_day", False)),
        policy_id=item.get("policy_id", ""), replaces=item.get("replaces"),
    )
