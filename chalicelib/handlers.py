"""Event handler bodies: wire the service, run it, log and count the outcome (never personal data)."""
from __future__ import annotations

from dataclasses import asdict, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from chalicelib import bootstrap
from chalicelib.observability import count, gauge, logger

if TYPE_CHECKING:
    from chalicelib.services.inbound.message import InboundDeps

# Kept back from Lambda's remaining time: logging, metrics and returning still need a moment.
_DEADLINE_RESERVE_SECONDS = 2.0


def _inbound_deps(context: Any) -> InboundDeps:
    """The inbound ports, with this invocation's deadline: records of sent messages back off until then
    (never past Lambda's timeout), and a send claim's lease outlives it only by a margin."""
    deps = bootstrap.shop().inbound()
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        return deps
    seconds = max(0.0, remaining() / 1000 - _DEADLINE_RESERVE_SECONDS)
    return replace(deps, deadline=deps.clock.now() + timedelta(seconds=seconds))


def handle_inbound_email(message: str, context: Any = None) -> dict[str, Any]:
    from chalicelib.services.inbound.email_channel import ingest_email

    log = logger()
    request_id = getattr(context, "aws_request_id", None)
    if request_id:
        log.set_correlation_id(request_id)
    try:
        outcome = ingest_email(message, _inbound_deps(context))
    except Exception:
        log.exception("email ingest failed; Lambda will retry and the raw mail stays stored")
        count("EmailIngestFailures")
        raise
    result = {k: v for k, v in asdict(outcome).items() if v is not None}
    log.info("email ingested", extra={"outcome": result})
    count("EmailsIngested", outcome=outcome.status)
    if outcome.acknowledged:
        count("AcknowledgementsSent", channel="email")
    if outcome.ack_deferred:
        count("AcknowledgementsDeferred", channel="email")
    return result


def handle_inbound_sms(message: str, context: Any = None, delivered_at: str | None = None) -> dict[str, Any]:
    """One two-way SMS notification; `delivered_at` is the SNS record's Timestamp."""
    from chalicelib.services.inbound.sms_channel import delivered_at_from, ingest_sms

    log = logger()
    request_id = getattr(context, "aws_request_id", None)
    if request_id:
        log.set_correlation_id(request_id)
    try:
        outcome = ingest_sms(message, _inbound_deps(context), delivered_at_from(delivered_at))
    except Exception:
        log.exception("sms ingest failed; Lambda will retry (the delivery record keeps it exactly once)")
        count("SmsIngestFailures")
        raise
    result = {k: v for k, v in asdict(outcome).items() if v is not None}
    if outcome.status == "quarantined":
        log.warning("sms quarantined", extra={"outcome": result})  # the reason, never the number or text
    else:
        log.info("sms ingested", extra={"outcome": result})
    count("SmsIngested", outcome=outcome.status)
    if outcome.acknowledged:
        count("AcknowledgementsSent", channel="sms")
    if outcome.ack_deferred:
        count("AcknowledgementsDeferred", channel="sms")
    return result


def handle_sla_sweep(context: Any = None) -> dict[str, Any]:
    """One SLA sweep run: warnings, breaches and escalations, auto-closes; counts only, no ticket data."""
    from chalicelib.services.sla_sweep import Budget, sweep_sla

    log = logger()
    request_id = getattr(context, "aws_request_id", None)
    if request_id:
        log.set_correlation_id(request_id)
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    # Lambda's remaining time is the run's budget: the sweep claims no new ticket in its last
    # MARGIN_SECONDS and finishes the one in hand; what is left is the next run's.
    budget = (Budget.starting_now(remaining() / 1000 - _DEADLINE_RESERVE_SECONDS) if callable(remaining)
              else None)
    try:
        outcome = sweep_sla(bootstrap.shop().sweep(), budget=budget)
    except Exception:
        log.exception("sla sweep failed; the next run (or Lambda's retry) picks up where it stopped")
        count("SlaSweepFailures")
        raise
    result = asdict(outcome)
    if outcome.failed:
        log.warning("sla sweep could not handle some tickets; they stay due", extra={"outcome": result})
        count("SlaSweepFailures", len(outcome.failed))
    else:
        log.info("sla sweep done", extra={"outcome": result})
    # No extra dimensions on SlaBreaches: infra's alarm matches namespace, name and service only.
    for name, value in (("SlaWarnings", outcome.warnings), ("SlaBreaches", outcome.breaches),
                        ("SlaEscalations", outcome.escalations), ("TicketsAutoClosed", outcome.auto_closed),
                        ("SlaNoticesFailed", outcome.notices_failed)):
        if value:
            count(name, value)
    count("SlaSweepTickets", outcome.examined)
    gauge("SlaSweepLagSeconds", outcome.lag_seconds)
    return result


def handle_pending_acks(context: Any = None) -> dict[str, Any]:
    """One drain of the pending-acknowledgement queue; counts only, no ticket data."""
    from chalicelib.services.inbound.pending_acks import drain_pending_acks

    log = logger()
    request_id = getattr(context, "aws_request_id", None)
    if request_id:
        log.set_correlation_id(request_id)
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    # Sends stop this early: the send in hand and its record still fit in the invocation.
    seconds = max(1.0, remaining() / 1000 - 10) if callable(remaining) else None
    try:
        outcome = drain_pending_acks(bootstrap.shop().ack_drain(), seconds=seconds)
    except Exception:
        log.exception("pending-ack drain failed; the queue keeps every ack for the next run")
        count("AckDrainFailures")
        raise
    result = asdict(outcome)
    log.info("pending-ack drain done", extra={"outcome": result})
    if outcome.sent:
        count("AcknowledgementsSent", outcome.sent, channel="drain")
    if outcome.withheld:
        count("AcknowledgementsWithheld", outcome.withheld)
    if outcome.throttled:
        count("AckDrainThrottled", len(outcome.throttled))
    if outcome.failed:
        count("AckDrainFailures", outcome.failed)
    count("PendingAcksExamined", outcome.examined)
    gauge("PendingAckLagSeconds", outcome.lag_seconds)  # alarm on this: acks waiting longer than minutes
    return result
