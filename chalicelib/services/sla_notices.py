"""What the SLA sweep sends: warning mails to agents, breach alerts to managers, one closing notice to a customer."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from chalicelib.config import Settings
from chalicelib.domain.calendar import describe_promise
from chalicelib.domain.customers import Customer
from chalicelib.domain.ids import iso, new_id, parse_iso
from chalicelib.domain.threading import numbered_subject, reply_address
from chalicelib.domain.tickets import Channel, Direction, Message, Ticket, TicketEvent
from chalicelib.ports import AlertPublisher, MailSender, MessageIdEntry, OutgoingEmail
from chalicelib.services.sla_rules import promise_zone
from chalicelib.templates import render_file

# Texts name tickets by number and carry no message text; only the closing notice goes to the customer.
# Not a reply to anything a person wrote (RFC 3834): machines must not answer it.
GENERATED_HEADERS = {"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"}
METRIC_NAMES = {"first_response": "First response", "next_response": "Next response", "resolution": "Resolution"}


@dataclass
class Delivered:
    """A notice that went out; a customer notice also joins the ticket's thread."""

    messages: list[Message] = field(default_factory=list)
    claims: list[MessageIdEntry] = field(default_factory=list)
    events: list[TicketEvent] = field(default_factory=list)  # e.g. a notice the provider refused


def warning_recipients(ticket: Ticket, settings: Settings) -> list[str]:
    """The assignee when their address is known, else the queue's agents (settings)."""
    own = settings.sla.agent_emails.get(ticket.assignee or "")
    if own:
        return [own]
    if ticket.assignee and "@" in ticket.assignee:
        return [ticket.assignee.lower()]
    return list(settings.sla.queue_agents.get(ticket.queue, ()))


def send_warning(ticket: Ticket, notice: dict[str, Any], now: datetime, settings: Settings,
                 mail: MailSender) -> Delivered:
    recipients = warning_recipients(ticket, settings)
    if not recipients:
        return Delivered()  # nobody to tell by mail; the event and the inbox's due view still show it
    address = settings.address_for(ticket.queue)
    metric = METRIC_NAMES.get(str(notice["metric"]), str(notice["metric"]))
    due = describe_promise(parse_iso(str(notice["due_at"])), now, promise_zone(ticket, settings.time_zone))
    text = render_file("sla_warning.txt.j2", {
        "ticket": {"number": ticket.number, "queue": ticket.queue, "priority": ticket.priority,
                   "assignee": ticket.assignee},
        "metric": metric, "due": due, "policy": ((ticket.sla or {}).get("terms") or {}).get("policy_id", ""),
    })
    mail.send(OutgoingEmail(
        from_address=address, from_name=f"{settings.store_name} ShopDesk", to=recipients,
        subject=f"[#{ticket.number}] SLA warning: {metric.lower()} due {due}", text=text,
        message_id=f"sla-warning.{notice['id']}@{address.partition('@')[2]}", extra_headers=dict(GENERATED_HEADERS),
    ))
    return Delivered()


def publish_breach(ticket: Ticket, notice: dict[str, Any], now: datetime, alerts: AlertPublisher) -> Delivered:
    metric = METRIC_NAMES.get(str(notice["metric"]), str(notice["metric"]))
    late = now - parse_iso(str(notice["due_at"]))
    lines = [
        f"Ticket #{ticket.number} broke its {metric.lower()} promise (due {notice['due_at']}, "
        f"{max(0, int(late.total_seconds() // 60))} minutes ago).",
        f"Queue: {ticket.queue}. Priority: {ticket.priority}. Assignee: {ticket.assignee or 'nobody'}.",
        f"Ticket id: {ticket.id}",
    ]
    alerts.publish(f"ShopDesk SLA breach: ticket #{ticket.number} ({metric.lower()})", "\n".join(lines))
    return Delivered()


def send_closed_notice(ticket: Ticket, notice: dict[str, Any], now: datetime, days: int, settings: Settings,
                       mail: MailSender) -> Delivered:
    if not ticket.customer_email or ticket.channel is Channel.SMS:
        return Delivered()
    address = settings.address_for(ticket.queue)
    header_id = f"closed.{notice['id']}@{address.partition('@')[2]}"
    customer = Customer(id=ticket.customer_id, name=ticket.customer_name)
    text = render_file("closed_notice.txt.j2", {
        "store": {"name": settings.store_name}, "ticket": {"number": ticket.number}, "days": days,
        "customer": {"name": customer.name, "first_name": customer.first_name},
    })
    outgoing = OutgoingEmail(
        from_address=address, from_name=f"{settings.store_name} Support", to=[ticket.customer_email],
        subject=numbered_subject(ticket.number, ticket.subject), text=text, message_id=header_id,
        reply_to=reply_address(address, ticket.id, settings.reply_secret), extra_headers=dict(GENERATED_HEADERS),
    )
    sent = mail.send(outgoing)
    message = Message(
        id=new_id(), ticket_id=ticket.id, created_at=iso(now + timedelta(microseconds=1)),
        direction=Direction.OUTBOUND, channel=Channel.EMAIL, from_address=address, from_name=outgoing.from_name,
        to=list(outgoing.to), subject=outgoing.subject, body_text=text, visible_text=text, automated=True,
        automated_reason="closed after a quiet period", header_message_id=header_id,
        provider_message_id=sent.provider_id, delivered_message_id=sent.header_message_id,
    )
    claims = [MessageIdEntry.outbound(header_id, ticket.id, outgoing.to),
              MessageIdEntry.outbound(sent.header_message_id, ticket.id, outgoing.to)]
    return Delivered([message], claims)
