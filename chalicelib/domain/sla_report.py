"""SLA report figures: counts, share attained, nearest-rank percentiles, share within one business day."""
from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from chalicelib.domain.sla_clock import SlaFact
from chalicelib.domain.sla_config import METRICS

PERCENTILES = (50, 75, 90, 100)


def nearest_rank(values: list[float], percent: int) -> float | None:
    """The smallest value with at least `percent` % of values at or below it (no interpolation, so
    every figure is a time that really happened; p100 is the slowest)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(percent / 100 * len(ordered)))
    return ordered[rank - 1]


def summarize(facts: Iterable[SlaFact]) -> dict[str, Any]:
    """Per metric: count, how many had a target and met it, percentiles of business minutes."""
    by_metric: dict[str, list[SlaFact]] = {m: [] for m in METRICS}
    for fact in facts:
        by_metric.setdefault(fact.metric, []).append(fact)
    return {metric: _figures(found) for metric, found in by_metric.items()}


def _figures(facts: list[SlaFact]) -> dict[str, Any]:
    minutes = [f.business_seconds / 60 for f in facts]
    judged = [f for f in facts if f.attained is not None]
    attained = sum(1 for f in judged if f.attained)
    within_day = sum(1 for f in facts if f.within_business_day)
    return {
        "count": len(facts),
        "with_target": len(judged),
        "attained": attained,
        "share_attained": round(attained / len(judged), 4) if judged else None,
        "business_minutes": {f"p{p}": _rounded(nearest_rank(minutes, p)) for p in PERCENTILES},
        "share_within_business_day": round(within_day / len(facts), 4) if facts else None,
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def by_agent(facts: Iterable[SlaFact]) -> dict[str, dict[str, Any]]:
    """The same figures per agent (who sent the answer or resolved the ticket)."""
    groups: dict[str, list[SlaFact]] = {}
    for fact in facts:
        groups.setdefault(fact.agent, []).append(fact)
    return {agent: summarize(found) for agent, found in sorted(groups.items())}
