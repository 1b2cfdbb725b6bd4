"""Use case: the public contact form becomes a web ticket through the email ingest decisions,
with the email acknowledgement, behind a honeypot and per-address and per-IP rate limits."""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass

from chalicelib.domain.customers import normalize_email
from chalicelib.domain.errors import InvalidInput, RateLimited
from chalicelib.domain.ids import iso, new_id
from chalicelib.domain.privacy import pseudonym
from chalicelib.domain.tickets import Channel
from chalicelib.mail.model import Address, ParsedEmail
from chalicelib.mail.ses_notification import SesReceipt, Verdicts
from chalicelib.ports import QuarantineRecord
from chalicelib.services.ingest_email import EmailIngestDeps, ingest_parsed
from chalicelib.sms.numbers import normalize_phone

PER_IP_PER_HOUR = 10
PER_ADDRESS_PER_HOUR = 5
_EMAIL = re.compile(r"^[^@\s<>()\[\],;:\"]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z0-9-]{2,63}$")


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


def submit_contact(form: ContactForm, deps: EmailIngestDeps) -> int | None:
    """Returns the new ticket's number; None when the submission was kept aside (spam trap)."""
    email = normalize_email(form.email)
    if not _EMAIL.match(email):
        raise InvalidInput("email is not an email address", "email")
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
        repository.quarantine(QuarantineRecord(id=submission_id, at=iso(now), source="web", reason="honeypot filled",
                                               raw_location=location, sender_hash=pseudonym(email)))
        return None
    address = next(a for a, q in deps.settings.support_addresses.items() if q == deps.settings.default_queue)
    text = form.message.strip()
    if form.order_number:
        text = f"{text}\n\nOrder number: {form.order_number.strip()}"
    mail = ParsedEmail(
        message_id=f"contact.{submission_id}@web.shopdesk.invalid", in_reply_to=[], references=[],
        sender=Address(email, form.name.strip()), reply_to=[], to=[Address(address)], cc=[],
        subject=form.subject.strip(), date=now, text=text, visible_text=text, html=None, attachments=[],
        headers={}, return_path=email, bounce=None, defects=[],
    )
    receipt = SesReceipt(ses_message_id=submission_id, timestamp=iso(now), source=email, destination=(address,),
                         recipients=(), verdicts=Verdicts(spam="PASS", virus="PASS"), action_type="WEB")
    outcome = ingest_parsed(mail, receipt, location, deps, channel=Channel.WEB, phone=phone)
    return outcome.ticket_number
