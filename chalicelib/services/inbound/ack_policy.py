"""Whether a new ticket is acknowledged, and why not: the policy, apart from the sending (acknowledge.py).

An acknowledgement goes to whatever address a mail claims to come from, so it must not become a relay:
mail that failed authentication is never answered, and acknowledgements are counted per sender (plus
tags and case folded, so `dana+1@`, `Dana+2@` are one sender), per sender domain (rotating VERP or
throwaway local parts) and for the whole shop, per hour. The counters are read in the pipeline's one
batch read and counted in the create transaction."""
from __future__ import annotations

import zlib
from collections.abc import Mapping
from datetime import datetime

from chalicelib.config import Settings
from chalicelib.domain.privacy import pseudonym
from chalicelib.domain.tickets import AckState
from chalicelib.ports import Identity
from chalicelib.services.inbound.message import InboundMessage, SmsRoute


def _hour(at: datetime) -> str:
    return at.strftime("%Y%m%d%H")


def rate_sender(sender: str) -> str:
    """The sender as the limit counts it: an address without its plus tag, case folded; a number as is."""
    local, at, domain = sender.strip().lower().rpartition("@")
    if not at:
        return sender.strip().lower()
    return f"{local.split('+', 1)[0]}@{domain}"


def rate_key(sender: str, at: datetime) -> str:
    """Acknowledgements (and SMS keyword answers) are counted per sender (address or number) and hour."""
    return f"ack#{pseudonym(rate_sender(sender))}#{_hour(at)}"


def domain_rate_key(domain: str, at: datetime) -> str:
    return f"ack#domain#{pseudonym(domain)}#{_hour(at)}"


# The shop-wide counter is spread over shards: every acknowledged new ticket adds to it inside its
# create transaction, and one item would make concurrent creations conflict (and cap them at ~500/s).
GLOBAL_RATE_SHARDS = 4


def global_rate_keys(at: datetime) -> tuple[str, ...]:
    return tuple(f"ack#all#{_hour(at)}#{n}" for n in range(GLOBAL_RATE_SHARDS))


def _global_share(message: InboundMessage) -> str:
    """The shard of the shop-wide counter this message adds to (stable, so a retry adds to the same)."""
    return global_rate_keys(message.received_at)[zlib.crc32(message.source_id.encode()) % GLOBAL_RATE_SHARDS]


def _sender_domain_key(message: InboundMessage) -> str | None:
    kind, sender = message.sender
    if kind != "email" or "@" not in sender:
        return None
    return domain_rate_key(rate_sender(sender).rpartition("@")[2], message.received_at)


def rate_keys(message: InboundMessage) -> tuple[str, ...]:
    """Every counter an acknowledgement of `message` counts against: sender, sender domain (email), all
    (every shard of the shop's, read in the same BatchGetItem)."""
    domain = _sender_domain_key(message)
    return (rate_key(message.sender[1], message.received_at), *([domain] if domain else []),
            *global_rate_keys(message.received_at))


def rate_increments(message: InboundMessage) -> tuple[str, ...]:
    """The counters an acknowledgement of `message` adds one to: its sender's, its domain's, and one
    shard of the shop's."""
    domain = _sender_domain_key(message)
    return (rate_key(message.sender[1], message.received_at), *([domain] if domain else []),
            _global_share(message))


def ack_decision(message: InboundMessage, identity: Identity | None, rates: Mapping[str, int],
                 settings: Settings) -> tuple[AckState, str | None]:
    """Whether the new ticket gets an acknowledgement, and why not: machines and spam never do; mail that
    failed authentication (its sender may be forged), an address that bounces, a number that said STOP
    and a sender, domain or shop over its hourly limit are skipped, with the reason."""
    if message.automated:
        return AckState.NONE, f"automated: {message.automated}"
    if message.spam:
        return AckState.NONE, "spam verdict FAIL"
    if message.auth_failed:
        return AckState.SKIPPED, "sender authentication failed (SPF, DKIM or DMARC)"
    if identity is not None and identity.undeliverable:
        return AckState.SKIPPED, "address undeliverable"
    if identity is not None and identity.sms_opted_out and isinstance(message.route, SmsRoute):
        return AckState.SKIPPED, "number opted out of texts"
    at = message.received_at
    who = "number" if isinstance(message.route, SmsRoute) else "sender"
    if rates.get(rate_key(message.sender[1], at), 0) >= settings.acks_per_sender_per_hour:
        return AckState.SKIPPED, f"acknowledgement rate limit for this {who}"
    domain = _sender_domain_key(message)
    if domain is not None and rates.get(domain, 0) >= settings.acks_per_domain_per_hour:
        return AckState.SKIPPED, "acknowledgement rate limit for this sender domain"
    if sum(rates.get(key, 0) for key in global_rate_keys(at)) >= settings.acks_per_hour:
        return AckState.SKIPPED, "acknowledgement rate limit for the shop"
    return AckState.PENDING, None
