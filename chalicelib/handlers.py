"""Event handler bodies: wire the service, run it, log and count the outcome (never personal data)."""
from __future__ import annotations

from dataclasses import asdict
from typing import Any

from chalicelib import wiring
from chalicelib.observability import count, logger


def handle_inbound_email(message: str, context: Any = None) -> dict[str, Any]:
    from chalicelib.services.ingest_email import ingest_email

    log = logger()
    request_id = getattr(context, "aws_request_id", None)
    if request_id:
        log.set_correlation_id(request_id)
    try:
        outcome = ingest_email(message, wiring.email_ingest_deps())
    except Exception:
        log.exception("email ingest failed; Lambda will retry and the raw mail stays stored")
        count("EmailIngestFailures")
        raise
    result = {k: v for k, v in asdict(outcome).items() if v is not None}
    log.info("email ingested", extra={"outcome": result})
    count("EmailsIngested", outcome=outcome.status)
    if outcome.acknowledged:
        count("AcknowledgementsSent", channel="email")
    return result
