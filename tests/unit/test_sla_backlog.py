"""The sweep's capacity: a Monday-morning backlog, sized runs, Lambda's deadline, twin runs (simulated clock)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.domain.ids import iso
from chalicelib.domain.sla_clock import Measure, SlaClock, due_now
from chalicelib.services.sla_sweep import INTERVAL, Budget, share_of_work
from tests.sla_backlog import DUE, LAMBDA_TIMEOUT, RESERVE, WARN, weekend_backlog

NOW = datetime(2026, 11, 30, 11, 0, 17, tzinfo=UTC)


def test_ten_thousand_weekend_tickets_are_all_warned_before_their_warning_time() -> None:
    """Given 10,000 tickets that arrived over the weekend, all due Monday 13:00 (warned 12:30), when the
    sweep runs every minute with Lambda's budget on a simulated clock, then every warning goes out once,
    before 12:30, and no run outlasts its budget."""
    morning = weekend_backlog(10_000, last_run=WARN + timedelta(minutes=1))
    assert len(morning.warned_at) == 10_000  # each once: the harness refuses a second warning
    assert morning.on_time == 10_000
    assert morning.latest <= timedelta(0)
    assert morning.earliest >= -timedelta(minutes=30)  # ahead of time, but within the hour before the due time
    assert morning.longest_run <= LAMBDA_TIMEOUT - RESERVE
    assert all(outcome.warnings <= 500 for _, outcome, _ in morning.outcomes)  # no run above its cap


def test_breaches_and_closes_are_never_marked_before_their_time() -> None:
    """Given a backlog whose warnings went out, when runs read the breaches ahead of time, then each breach
    is marked by a run at or after 13:00 and by none before."""
    morning = weekend_backlog(600, last_run=DUE + timedelta(minutes=3))
    assert morning.on_time == 600
    early = [(at, outcome.breaches) for at, outcome, _ in morning.outcomes if at < DUE and outcome.breaches]
    assert early == []
    assert sum(outcome.breaches for _, outcome, _ in morning.outcomes) == 600
    assert any(outcome.not_yet for at, outcome, _ in morning.outcomes if at < DUE)  # read ahead, left alone


def test_when_aws_is_slow_the_deadline_stops_each_run_and_the_next_continues() -> None:
    """Given AWS 20 times slower than usual, when a run cannot finish what it planned, then it stops claiming
    before Lambda's timeout (never mid-ticket: the harness would see a warning twice or missing), flags the
    backlog, and the following runs finish it."""
    morning = weekend_backlog(250, slowdown=20, first_run=WARN - timedelta(minutes=8),
                              last_run=WARN + timedelta(minutes=6))
    one_ticket = 0.150 * 20 / 4  # claim + send + record, at this slowdown, over the model's overlap
    assert morning.longest_run <= LAMBDA_TIMEOUT - RESERVE + one_ticket
    assert any(outcome.backlog for _, outcome, _ in morning.outcomes)
    assert len(morning.warned_at) == 250  # late (a run of ~64, not the 500 the plan assumed), but each once
    assert sum(1 for _, outcome, _ in morning.outcomes if outcome.warnings) >= 4


def test_twin_runs_warn_each_ticket_once() -> None:
    """Given the schedule delivers every run twice, at once, then each warning and breach still happens once."""
    morning = weekend_backlog(300, first_run=WARN - timedelta(minutes=4), last_run=DUE + timedelta(minutes=1),
                              twin_runs=True)
    assert len(morning.warned_at) == 300 and morning.on_time == 300
    assert sum(outcome.breaches for _, outcome, _ in morning.outcomes) == 300


def test_a_run_takes_what_falls_due_before_the_run_after_next() -> None:
    soon, later = NOW + INTERVAL + timedelta(seconds=50), NOW + 2 * INTERVAL + timedelta(seconds=1)
    assert share_of_work([NOW - timedelta(minutes=5), soon], NOW, 500) == 2
    assert share_of_work([later], NOW, 500) == 0  # the next run has a whole interval for it
    assert share_of_work([], NOW, 500) == 0


def test_a_burst_ahead_is_started_early_enough_for_the_runs_cap() -> None:
    burst = [NOW + timedelta(minutes=15)] * 10_000  # 10,000 at 11:15; runs of 500 need 20 minutes
    assert share_of_work(burst, NOW, 500) == 10_000 - 14 * 500  # the runs until 11:14 can do 14 × 500
    assert share_of_work([NOW + timedelta(minutes=30)] * 10_000, NOW, 500) == 0  # later runs can still do it all


def test_warnings_may_be_taken_ahead_but_breaches_never() -> None:
    measure = Measure(metric="first_response", cycle=1, started_at=iso(NOW - timedelta(hours=3)),
                      since=iso(NOW - timedelta(hours=3)), target=240,
                      due_at=iso(NOW + timedelta(minutes=20)), warn_at=iso(NOW + timedelta(minutes=1)))
    clock = SlaClock(measures={"first_response": measure})
    assert due_now(clock, NOW) == ([], False)
    [warning], _ = due_now(clock, NOW, NOW + timedelta(minutes=2))
    assert warning.kind == "warning"
    assert due_now(clock, NOW, NOW + timedelta(minutes=30))[0][0].kind == "warning"  # never a breach ahead


def test_the_budget_leaves_a_margin_for_the_ticket_in_hand() -> None:
    moment = [0.0]
    budget = Budget.starting_now(58.0, lambda: moment[0])
    moment[0] = 47.9
    assert budget.may_claim()
    moment[0] = 48.1
    assert not budget.may_claim()
    short = Budget.starting_now(1.0, lambda: moment[0])  # chalice's local 3-second context, less the reserve
    assert short.may_claim()
