"""Whether a new ticket is acknowledged, and why not: the policy, apart from the sending (acknowledge.py)."""
from __future__ import annotations

from datetime import datetime

from chalicelib.domain.privacy import pseudonym
from chalicelib.domain.tickets import AckState
from chalicelib.ports import Identity
from chalicelib.services.inbound.message import InboundMessage, SmsRoute


def rate_key(sender: str, at: datetime) -> str:
    """Acknowledgements (and SMS keyword answers) are counted per sender (address or number) and hour."""
    return f"ack#{pseudonym(sender)}#{at.strftime('%Y%m%d%H')}"


def ack_decision(message: InboundMessage, identity: Identity | None, sent_this_hour: int,
                 per_hour: int) -> tuple[AckState, str | None]:
    """Whether the new ticket gets an acknowledgement, and why not: machines and spam never do; an address
    that bounces, a number that said STOP and a sender over the hourly limit are skipped, with the reason."""
    if message.automated:
        return AckState.NONE, f"automated: {message.automated}"
    if message.spam:
        return AckState.NONE, "spam verdict FAIL"
    if identity is not None and identity.undeliverable:
        return AckState.SKIPPED, "address undeliverable"
    if identity is not None and identity.sms_opted_out and isinstance(message.route, SmsRoute):
        return AckState.SKIPPED, "number opted out of texts"
    if sent_this_hour >= per_hour:
        who = "number" if isinstance(message.route, SmsRoute) else "sender"
        return AckState.SKIPPED, f"acknowledgement rate limit for this {who}"
    return AckState.PENDING, None
