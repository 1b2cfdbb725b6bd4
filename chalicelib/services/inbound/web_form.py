"""The web contact form: a submission becomes one inbound message (channel web) with the email
acknowledgement, behind a honeypot and per-address and per-IP rate limits.

Nothing typed into a form is proven: anyone can give anyone's email address and phone number. The email
is the sender (it gets the acknowledgement, a neutral one that repeats nothing typed); the phone is kept
as unverified text on the ticket and joins only a customer the form creates (neither identity known), so a
form cannot attach a stranger's number to a customer or a stranger's address to the number's owner.
Linking is an agent's act."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from chalicelib.domain.customers import checked_email
from chalicelib.domain.errors import InvalidInput, RateLimited
from chalicelib.domain.ids import iso, new_id
from chalicelib.domain.privacy import pseudonym
from chalicelib.domain.text import single_line
from chalicelib.domain.threading import ReopenRule
from chalicelib.domain.tickets import Channel
from chalicelib.ports import QuarantineRecord
from chalicelib.services.inbound import pipeline
from chalicelib.services.inbound.message import EmailRoute, InboundDeps, InboundMessage
from chalicelib.sms.numbers import normalize_phone

SOURCE = "web"
PER_IP_PER_HOUR = 10
PER_ADDRESS_PER_HOUR = 5
ACK_SUBJECT = "We received your message"  # the acknowledgement's subject: "[#1001] We received your message"


@dataclass(frozen=True)
class ContactForm:
    name: str
    email: str
    phone: str | None
    order_number: str | None
    subject: str
    message: str
    honeypot: str
    source_ip: str


def submit_contact(form: ContactForm, deps: InboundDeps) -> int | None:
    """Returns the new ticket's number; None when the submission was kept aside (spam trap)."""
    # Everything is checked before anything is written: the subject and name go into mail headers.
    email = checked_email(form.email, "email")
    single_line(form.subject, "subject", 200)
    single_line(form.name, "name", 200)
    single_line(form.order_number, "order_number", 64, required=False)
    phone = None
    if form.phone and form.phone.strip():
        try:
            phone = normalize_phone(form.phone, deps.settings.phone_region)
        except InvalidInput as exc:
            raise InvalidInput(f"phone is not a possible phone number: {exc}", "phone") from exc
    now = deps.clock.now()
    hour = now.strftime("%Y%m%d%H")
    repository = deps.repository
    if repository.hit_rate(f"contact#ip#{pseudonym(form.source_ip)}#{hour}") > PER_IP_PER_HOUR:
        raise RateLimited("too many messages from this network; please try again later")
    if repository.hit_rate(f"contact#email#{pseudonym(email)}#{hour}") > PER_ADDRESS_PER_HOUR:
        raise RateLimited("too many messages from this address; please try again later")
    submission_id = new_id()
    raw = json.dumps({**asdict(form), "received_at": iso(now)}).encode()
    location = deps.blobs.put(f"contact/{submission_id}.json", raw, "application/json")
    if form.honeypot.strip():
        # Bots fill every field; people never see this one. Keep it, answer as if all went well.
        repository.quarantine(QuarantineRecord(id=submission_id, at=iso(now), source=SOURCE,
                                               reason="honeypot filled", raw_location=location,
                                               sender_hash=pseudonym(email)))
        return None
    queue = deps.settings.default_queue
    address = deps.settings.address_for(queue)
    text = form.message.strip()
    if form.order_number:
        text = f"{text}\n\nOrder number: {form.order_number.strip()}"
    if phone:
        text = f"{text}\n\nPhone (given in the form, not verified): {phone}"
    header_id = f"contact.{submission_id}@web.shopdesk.invalid"
    subject = form.subject.strip()
    message = InboundMessage(
        source=SOURCE, source_id=submission_id, channel=Channel.WEB, received_at=now, sender=("email", email),
        sender_name=form.name.strip(), queue=queue,
        route=EmailRoute(from_address=address, to=email, subject=ACK_SUBJECT, in_reply_to=header_id,
                         references=(header_id,), echo_subject=False),
        subject=subject, text=text, visible_text=text, to=(address,), header_message_id=header_id,
        raw_location=location, provider_message_id=submission_id,
        reopen=ReopenRule(closed_days=None, resolved_days=None),
        threads=False,  # a form always opens a new conversation: anyone can type any subject into it
        other_identities=(("phone", phone),) if phone else (),  # unproven: see identities.plan_unproven
    )
    return pipeline.deliver(message, deps).ticket_number
