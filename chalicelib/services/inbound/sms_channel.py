"""The SMS channel: a two-way SMS payload becomes one inbound message on the number's conversation, or,
for a keyword (STOP, START, HELP), a change of consent or an answer instead (sms_keywords)."""
from __future__ import annotations

from datetime import datetime

from chalicelib.domain.conversation import ordered_at, sms_reopen_rule
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.privacy import pseudonym
from chalicelib.domain.tickets import Channel
from chalicelib.ports import Lookup
from chalicelib.services.inbound import intake, pipeline, sms_keywords
from chalicelib.services.inbound.message import InboundDeps, InboundMessage, InboundOutcome, SmsRoute
from chalicelib.sms.inbound import InboundSms, parse_inbound_sms
from chalicelib.sms.keywords import keyword
from chalicelib.sms.numbers import normalize_phone, normalize_store_number

SOURCE = "sms"  # delivery records INBOUND#sms#<inboundMessageId>, conversations CONVO#sms#<number>
SUBJECT_CHARS = 60


def ingest_sms(notification: str, deps: InboundDeps, delivered_at: datetime | None = None) -> InboundOutcome:
    """Handles one two-way SMS payload (the SNS message text); `delivered_at` is SNS's timestamp.
    Idempotent; raises only when a retry may succeed."""
    try:
        sms = parse_inbound_sms(notification)
    except InvalidInput as exc:
        reason = f"malformed payload: {exc}"
        return intake.quarantine_payload(notification, reason, source=SOURCE, folder="sms", deps=deps)
    source = (SOURCE, sms.inbound_id)
    phone = ""
    try:
        phone = normalize_phone(sms.origination)
        destination = normalize_store_number(sms.destination)
    except InvalidInput as exc:
        which = "origination" if not phone else "destination"
        return _quarantine_number(sms, notification, f"impossible {which} number: {exc}", deps)
    body = sms.body.strip()
    if phone in deps.settings.sms_numbers:
        return intake.record_outcome(source, "dropped", "text from one of our own numbers", deps)
    if not body:
        return intake.record_outcome(source, "dropped", "empty text", deps)  # an MMS without text
    message = inbound_text(sms, phone, destination, body, deps, delivered_at)
    word = keyword(body)
    if word is not None:
        return sms_keywords.handle(word, message, deps)
    return pipeline.deliver(message, deps)


def inbound_text(sms: InboundSms, phone: str, destination: str, body: str, deps: InboundDeps,
                 delivered_at: datetime | None) -> InboundMessage:
    settings, now = deps.settings, deps.clock.now()
    queue = settings.sms_queue_for(destination)
    # Answer from the number the customer texted when it is ours; otherwise the queue's number.
    origination = destination if destination in settings.sms_numbers else settings.sms_origination_for(queue)
    line = " ".join(body.split())
    return InboundMessage(
        source=SOURCE, source_id=sms.inbound_id, channel=Channel.SMS, received_at=now,
        sent_at=ordered_at(sms.sent_at, delivered_at, now), sender=("phone", phone), queue=queue,
        route=SmsRoute(to=phone, origination=origination, store_number=destination),
        subject=line if len(line) <= SUBJECT_CHARS else line[:SUBJECT_CHARS - 1].rstrip() + "…",
        text=body, visible_text=body, to=(destination,), provider_message_id=sms.inbound_id,
        conversation=(SOURCE, phone), reopen=sms_reopen_rule(settings.sms_reopen_window_days),
    )


def _quarantine_number(sms: InboundSms, notification: str, reason: str, deps: InboundDeps) -> InboundOutcome:
    """An impossible number: the payload is kept for an admin, the delivery marked so a retry stops here."""
    source = (SOURCE, sms.inbound_id)
    found = deps.repository.lookup(Lookup(inbound=source)).inbound
    if found is not None:
        return InboundOutcome("duplicate", found.ticket_id, reason=f"delivery already {found.state}")
    location = deps.blobs.put(f"quarantine/sms/{pseudonym(sms.inbound_id)}.json",
                              notification.encode("utf-8", "surrogateescape"), "application/json")
    return intake.quarantine_delivery(source, reason, location, deps, sender=sms.origination)


def delivered_at_from(timestamp: str | None) -> datetime | None:
    """SNS's `Timestamp` of the notification (ISO-8601), when the handler has one."""
    if not timestamp:
        return None
    try:
        return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return None
