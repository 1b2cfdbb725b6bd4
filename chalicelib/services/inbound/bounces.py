"""Delivery reports: a bounce joins the ticket of the mail it concerns and marks failed addresses.

Anyone can send a `multipart/report` citing a Message-ID they received from us (their own
acknowledgement) and name someone else as the failed recipient. So a report marks an address
undeliverable only when it comes from a mail system (null or mailer-daemon/postmaster sender, with the
Reporting-MTA field RFC 3464 requires) and only for addresses the cited mail was actually sent to (the
outbound Message-ID entry remembers them). Any other report is kept on the ticket, marking nothing."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from chalicelib.domain.customers import normalize_email
from chalicelib.domain.ids import iso
from chalicelib.domain.privacy import pseudonym
from chalicelib.domain.threading import MERGE_HOPS
from chalicelib.domain.tickets import EventType, Message, Ticket, new_event
from chalicelib.ports import InboundRecord, LookupResult, MessageIdEntry, TicketChange, recipient_hashes
from chalicelib.services.inbound import intake
from chalicelib.services.inbound.message import InboundDeps, InboundMessage, InboundOutcome

# A report may name any number of addresses; each mark is one operation of the change's transaction
# (DynamoDB: at most 100). Only the cited mail's recipients count, and never more than this.
MAX_MARKED = 50
_MAIL_SYSTEM_MAILBOXES = frozenset({"mailer-daemon", "postmaster"})


def recipients(message: InboundMessage) -> list[tuple[str, str]]:
    """The identities a delivery report says could not be reached (read in the pipeline's batch), bounded."""
    if message.bounce is None:
        return []
    found = dict.fromkeys(("email", normalize_email(a)) for a in message.bounce.failed_recipients)
    return list(found)[:MAX_MARKED]


def is_mail_system(address: str | None) -> bool:
    """The null sender `<>` or a mail system's own mailbox (MAILER-DAEMON@, postmaster@)."""
    if address is None:
        return False
    address = address.strip()
    if address in ("", "<>"):
        return True
    local = normalize_email(address).partition("@")[0]
    return local.split("+", 1)[0] in _MAIL_SYSTEM_MAILBOXES


def distrust_reason(message: InboundMessage) -> str | None:
    """Why this report may not mark anything (None: it reads as a mail system's report)."""
    bounce = message.bounce
    if bounce is None:
        return "not a delivery report"
    if not (is_mail_system(message.envelope_sender) or is_mail_system(message.sender[1])):
        return "not from a mail system"
    if not bounce.reporting_mta.strip():
        return "no Reporting-MTA"
    if bounce.action.lower() != "failed":
        return f"action {bounce.action.lower() or 'missing'}"
    return None


def _sent_to(entry: MessageIdEntry, ticket: Ticket) -> frozenset[str]:
    """Pseudonyms of who the cited mail went to; an entry from before we kept them: the ticket's customer."""
    if entry.recipients:
        return frozenset(entry.recipients)
    return frozenset(recipient_hashes([ticket.customer_email] if ticket.customer_email else []))


def attach(message: InboundMessage, lookup: LookupResult, claims: list[MessageIdEntry], deps: InboundDeps,
           stored_message: Callable[[str], Message]) -> InboundOutcome:
    source = (message.source, message.source_id)
    entry = lookup.message_ids.get(message.bounced_message_id) if message.bounced_message_id else None
    if entry is not None and entry.kind != "outbound":
        entry = None  # a report about mail we received is not about anything we sent
    ticket = _ticket(entry.ticket_id, lookup, deps) if entry and entry.ticket_id else None
    if entry is None or ticket is None or message.bounce is None:
        return intake.quarantine_delivery(source, "bounce for a message we did not send",
                                          message.raw_location or "", deps, message.sender[1])
    bounce = message.bounce
    reason = distrust_reason(message)
    undeliverable: list[tuple[str, str]] = []
    if reason is None:
        sent_to = _sent_to(entry, ticket)
        undeliverable = [(identity.kind, identity.value) for wanted in recipients(message)
                         if pseudonym(wanted[1]) in sent_to and (identity := lookup.identities.get(wanted))]
        if not undeliverable and bounce.failed_recipients:
            reason = "names no recipient of the cited mail"
    now = iso(deps.clock.now())
    stored = stored_message(ticket.id)
    stored = replace(stored, automated=True, automated_reason=stored.automated_reason or "delivery report")
    events = [new_event(ticket.id, now, EventType.BOUNCE_RECEIVED, "system", message_id=stored.id,
                        status=bounce.status, undeliverable=len(undeliverable), not_marked=reason)]
    deps.repository.apply(TicketChange(
        ticket=replace(ticket, updated_at=now), messages=[stored], events=events,
        inbound=InboundRecord(*source, state="done", ticket_id=ticket.id),
        claim_message_ids=[replace(c, ticket_id=ticket.id) for c in claims], undeliverable=undeliverable,
    ))
    return InboundOutcome("appended", ticket.id, ticket.number, reason="bounce" if reason is None else
                          f"bounce not trusted: {reason}", threaded_by="bounce")


def _ticket(ticket_id: str, lookup: LookupResult, deps: InboundDeps) -> Ticket | None:
    ticket = lookup.tickets.get(ticket_id) or deps.repository.get_ticket(ticket_id)
    for _ in range(MERGE_HOPS):  # a merged ticket's bounces belong to the ticket it was merged into
        if ticket is None or not ticket.merged_into:
            break
        ticket = deps.repository.get_ticket(ticket.merged_into)
    return ticket
