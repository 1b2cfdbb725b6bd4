"""Use case: an agent's reply on an SMS ticket goes out as a text, within the segment limit and never
to a number that opted out (the refusal suggests email when the customer has an address)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.domain.errors import InvalidInput, Unavailable
from chalicelib.domain.ids import iso, new_id
from chalicelib.domain.principals import Principal
from chalicelib.domain.tickets import Channel, Direction, EventType, Message, Ticket, TicketEvent, new_event
from chalicelib.ports import OutgoingSms
from chalicelib.sms.segments import count_segments

if TYPE_CHECKING:
    from chalicelib.services.inbox import InboxDeps

RESOLVE_QUESTION = "\n\nSolved? Reply YES and we close the ticket."


def _email_on_file(ticket: Ticket, deps: InboxDeps) -> str | None:
    if ticket.customer_email:
        return ticket.customer_email
    customer = deps.repository.get_customer(ticket.customer_id)
    return customer.emails[0] if customer is not None and customer.emails else None


def check_can_text(ticket: Ticket, deps: InboxDeps) -> str:
    """The number to text for `ticket`; Unavailable when there is none or it opted out."""
    if deps.sms is None:
        raise Unavailable("texting is not set up for this installation; reply by email")
    phone = ticket.customer_phone
    if not phone:
        raise Unavailable("the ticket has no phone number to text; reply by email")
    identity = deps.repository.get_identity("phone", phone)
    if identity is not None and identity.sms_opted_out:
        email = _email_on_file(ticket, deps)
        hint = (f"reply by email to {email} instead" if email
                else "the customer has no email address on file; call them, or wait until they text START")
        raise Unavailable(f"the customer opted out of texts (they sent STOP): {hint}")
    return phone


def prepare_sms_reply(ticket: Ticket, body: str, ask_to_confirm: bool, principal: Principal,
                      deps: InboxDeps) -> tuple[OutgoingSms, Message, list[TicketEvent]]:
    """The text of `body` to the ticket's number, and the message and event that record it (no Message-IDs);
    the caller sends it (after writing the message as "sending")."""
    phone = check_can_text(ticket, deps)
    settings = deps.settings
    if ask_to_confirm:
        body += RESOLVE_QUESTION
    count = count_segments(body)
    if count.segments > settings.sms_max_segments:
        raise InvalidInput(
            f"a text may use at most {settings.sms_max_segments} segments and this one needs {count.describe()}; "
            "shorten it or reply by email", "body")
    origination = settings.sms_origination_for(ticket.queue)
    now = iso(deps.clock.now())
    message = Message(
        id=new_id(), ticket_id=ticket.id, created_at=now, direction=Direction.OUTBOUND, channel=Channel.SMS,
        from_address=origination or "", from_name=f"{principal.name} ({settings.store_name})", to=[phone],
        body_text=body, visible_text=body, author_id=principal.user_id,
    )
    event = new_event(ticket.id, now, EventType.REPLY_SENT, principal.user_id, message_id=message.id, channel="sms",
                      segments=count.segments)
    return OutgoingSms(to=phone, text=body, origination=origination), message, [event]
