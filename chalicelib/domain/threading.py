"""Pure parts of threading: signed reply addresses and ticket tokens in subjects."""
from __future__ import annotations

import base64
import hashlib
import hmac
import re

_SUBJECT_TOKEN = re.compile(r"\[#(\d{1,9})\]")
_SIGNATURE_CHARS = 10


def _signature(secret: str, ticket_id: str) -> str:
    digest = hmac.new(secret.encode(), ticket_id.encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode("ascii").lower()[:_SIGNATURE_CHARS]


def reply_address(queue_address: str, ticket_id: str, secret: str) -> str:
    """`support+<ticket>.<hmac>@shop.example`: replies prove which ticket they belong to."""
    local, _, domain = queue_address.partition("@")
    return f"{local}+{ticket_id}.{_signature(secret, ticket_id)}@{domain}"


def ticket_from_reply_address(address: str, secret: str) -> tuple[str, str] | None:
    """(ticket id, base address) when `address` is a reply address we signed; None otherwise."""
    local, _, domain = address.lower().partition("@")
    base, plus, tag = local.partition("+")
    if not plus or not domain:
        return None
    ticket_id, dot, signature = tag.rpartition(".")
    if not dot or not ticket_id or not hmac.compare_digest(signature, _signature(secret, ticket_id)):
        return None
    return ticket_id, f"{base}@{domain}"


def subject_ticket_number(subject: str) -> int | None:
    match = _SUBJECT_TOKEN.search(subject)
    return int(match.group(1)) if match else None


def numbered_subject(number: int, subject: str) -> str:
    subject = subject.strip() or "(no subject)"
    if subject_ticket_number(subject) == number:
        return subject
    return f"[#{number}] {subject}"


def normalize_message_id(value: str) -> str:
    """Message-IDs compared without brackets and surrounding space; they are case-sensitive by RFC."""
    return value.strip().strip("<>").strip()
