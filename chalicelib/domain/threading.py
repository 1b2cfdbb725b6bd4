"""Pure parts of threading: signed reply addresses, ticket tokens in subjects, and the decision which
ticket an inbound message joins."""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from chalicelib.domain.ids import parse_iso
from chalicelib.domain.tickets import Ticket, TicketStatus

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


def verdicts_prove_sender(verdicts: Mapping[str, str]) -> bool:
    """Whether a mail's authentication verdicts (SES: PASS | FAIL | GRAY | PROCESSING_FAILED) show its
    sender is who it says: SPF or DKIM PASS, and DMARC not FAIL. GRAY (no policy, no signature) proves
    nothing, so a mail with only GRAY verdicts does not."""
    spf, dkim, dmarc = (str(verdicts.get(name, "")).upper() for name in ("spf", "dkim", "dmarc"))
    return dmarc != "FAIL" and "PASS" in (spf, dkim)


# ---- which ticket an inbound message joins ------------------------------------------------------
class ThreadedBy(StrEnum):
    MESSAGE_ID = "message-id"  # In-Reply-To / References name a message of the ticket
    REPLY_ADDRESS = "reply-address"  # written to the ticket's signed reply address
    SUBJECT_TOKEN = "subject-token"  # "[#123]" in the subject, from the ticket's own customer
    CONVERSATION = "sms-conversation"  # the number's current SMS conversation


@dataclass(frozen=True)
class ThreadCandidate:
    """A ticket the message may belong to, and why. `customer_id`: the ticket must be this customer's
    (a subject token is only a hint, so only the ticket's own customer may thread by it)."""

    ticket_id: str
    via: ThreadedBy
    customer_id: str | None = None


@dataclass(frozen=True)
class ReopenRule:
    """How long a finished ticket still takes its customer's next message (else a new, linked ticket).
    None: a closed ticket never takes it / a resolved ticket always does."""

    closed_days: int | None
    resolved_days: int | None


@dataclass(frozen=True)
class ThreadDecision:
    ticket: Ticket | None  # the ticket the message joins; None: it opens a new ticket
    via: ThreadedBy | None = None
    linked_ticket_id: str | None = None  # the new ticket follows up this one (it came too late to reopen it)


@dataclass(frozen=True)
class NeedTicket:
    """The decision needs a ticket the caller has not read yet: read it (None if absent) and decide again."""

    ticket_id: str


MERGE_HOPS = 3  # a merged ticket's thread keys lead to the ticket it was merged into, a few hops deep


def _follow_merges(ticket_id: str, tickets: Mapping[str, Ticket | None]) -> Ticket | NeedTicket | None:
    if ticket_id not in tickets:
        return NeedTicket(ticket_id)
    ticket = tickets[ticket_id]
    for _ in range(MERGE_HOPS):
        if ticket is None or not ticket.merged_into:
            break
        if ticket.merged_into not in tickets:
            return NeedTicket(ticket.merged_into)
        ticket = tickets[ticket.merged_into]
    return ticket


def takes_message(ticket: Ticket, now: datetime, rule: ReopenRule) -> bool:
    """Whether `ticket` takes its customer's new message under `rule` (spam stays spam, but takes it)."""
    if ticket.status is TicketStatus.CLOSED:
        if rule.closed_days is None:
            return False
        return not ticket.closed_at or now - parse_iso(ticket.closed_at) <= timedelta(days=rule.closed_days)
    if ticket.status is TicketStatus.RESOLVED and rule.resolved_days is not None:
        resolved = parse_iso(ticket.resolved_at or ticket.updated_at)
        return now - resolved <= timedelta(days=rule.resolved_days)
    return True


def decide_thread(candidates: Sequence[ThreadCandidate], tickets: Mapping[str, Ticket | None], rule: ReopenRule,
                  now: datetime) -> ThreadDecision | NeedTicket:
    """The first candidate whose ticket exists (after merges) and may take the message wins; a ticket
    that is finished for too long makes the message a new ticket linked to it. Pure: what has not been
    read yet is asked for with NeedTicket."""
    for candidate in candidates:
        found = _follow_merges(candidate.ticket_id, tickets)
        if isinstance(found, NeedTicket):
            return found
        if found is None or (candidate.customer_id is not None and found.customer_id != candidate.customer_id):
            continue
        if found.merged_into or not takes_message(found, now, rule):
            return ThreadDecision(None, linked_ticket_id=found.id)
        return ThreadDecision(found, candidate.via)
    return ThreadDecision(None)
