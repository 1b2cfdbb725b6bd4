"""Policy matching and validation, warning leads, and report percentiles checked by hand."""
from __future__ import annotations

import pytest

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.sla_clock import SlaFact
from chalicelib.domain.sla_config import (
    CalendarSpec,
    Escalation,
    SlaPolicy,
    match_policy,
    terms_of,
    validate_policy,
)
from chalicelib.domain.sla_report import by_agent, nearest_rank, summarize

DEFAULT = SlaPolicy("default", "Default", first_response_minutes=240)
URGENT = SlaPolicy("urgent", "Urgent", position=10, priorities=("urgent",), first_response_minutes=30)
SHIPPING = SlaPolicy("shipping", "Shipping", position=20, queues=("shipping",), first_response_minutes=120)
CALENDAR = CalendarSpec("default", "Europe/Berlin", None)


def test_first_match_wins_and_the_default_catches_the_rest() -> None:
    policies = [DEFAULT, SHIPPING, URGENT]
    assert match_policy(policies, "shipping", "urgent").id == "urgent"
    assert match_policy(policies, "shipping", "normal").id == "shipping"
    assert match_policy(policies, "support", "high").id == "default"
    # Even a default placed first is tried last.
    assert match_policy([SlaPolicy("default", "D", position=0, first_response_minutes=1), URGENT],
                        "x", "urgent").id == "urgent"


def test_warning_lead_as_minutes_before_or_as_a_share() -> None:
    before = terms_of(SlaPolicy("a", "A", first_response_minutes=240, warn_minutes_before=30), CALENDAR)
    share = terms_of(SlaPolicy("b", "B", first_response_minutes=240, warn_percent=80), CALENDAR)
    assert before.warn_threshold_seconds("first_response") == 210 * 60
    assert share.warn_threshold_seconds("first_response") == 192 * 60
    assert share.warn_threshold_seconds("resolution") is None


@pytest.mark.parametrize(("policy", "field"), [
    (SlaPolicy("Bad", "x", first_response_minutes=1), "id"),
    (SlaPolicy("a", "", first_response_minutes=1), "name"),
    (SlaPolicy("default", "D", queues=("support",), first_response_minutes=1), "queues"),
    (SlaPolicy("a", "A", priorities=("asap",), first_response_minutes=1), "priorities"),
    (SlaPolicy("a", "A", first_response_minutes=0), "first_response_minutes"),
    (SlaPolicy("a", "A", first_response_minutes=10, warn_minutes_before=5, warn_percent=50), "warning"),
    (SlaPolicy("a", "A", first_response_minutes=10, warn_percent=100), "warning"),
    (SlaPolicy("a", "A", first_response_minutes=10, escalation=Escalation(queue="nowhere")), "escalation.queue"),
    (SlaPolicy("a", "A", first_response_minutes=10, auto_close_days=0), "auto_close_days"),
])
def test_invalid_policies_name_the_field(policy: SlaPolicy, field: str) -> None:
    with pytest.raises(InvalidInput) as failure:
        validate_policy(policy, queues={"support", "shipping"}, calendars={"default"})
    assert failure.value.field == field


def test_policies_survive_storage() -> None:
    policy = SlaPolicy("vip", "VIP", position=5, queues=("support",), priorities=("high", "urgent"),
                       first_response_minutes=30, resolution_minutes=600, warn_percent=75,
                       escalation=Escalation(queue="support", assignee="on_duty"), version=3)
    assert SlaPolicy.from_dict(policy.to_dict()) == policy


def fact(minutes: float, *, target: int | None = 240, agent: str = "agent-1", metric: str = "first_response",
         within: bool = True) -> SlaFact:
    seconds = int(minutes * 60)
    return SlaFact(ticket_id=f"t{minutes}", metric=metric, cycle=1, day="2026-11-24", queue="support",
                   priority="normal", agent=agent, started_at="s", completed_at="c", business_seconds=seconds,
                   target_minutes=target, attained=None if target is None else seconds <= target * 60,
                   within_business_day=within, policy_id="default")


def test_nearest_rank_percentiles_by_hand() -> None:
    values = [10.0, 20.0, 30.0, 40.0, 300.0, 600.0]
    # n = 6: p50 → rank ceil(3.0) = 3 → 30; p75 → ceil(4.5) = 5 → 300; p90 → ceil(5.4) = 6 → 600.
    assert [nearest_rank(values, p) for p in (50, 75, 90, 100)] == [30.0, 300.0, 600.0, 600.0]
    assert nearest_rank([7.0], 50) == 7.0 and nearest_rank([], 50) is None


def test_summary_per_target_and_per_agent() -> None:
    facts = [fact(10), fact(20), fact(30, agent="agent-2"), fact(40), fact(300), fact(600, within=False),
             fact(90, metric="resolution", target=None)]
    figures = summarize(facts)
    first = figures["first_response"]
    assert (first["count"], first["with_target"], first["attained"]) == (6, 6, 4)
    assert first["share_attained"] == 0.6667 and first["share_within_business_day"] == 0.8333
    assert first["business_minutes"] == {"p50": 30.0, "p75": 300.0, "p90": 600.0, "p100": 600.0}
    assert figures["resolution"]["share_attained"] is None and figures["resolution"]["count"] == 1
    assert figures["next_response"]["count"] == 0
    agents = by_agent(facts)
    assert agents["agent-2"]["first_response"]["count"] == 1 and agents["agent-1"]["first_response"]["count"] == 5
