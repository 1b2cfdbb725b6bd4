"""The email channel: an SES receipt notification becomes one inbound message.

Unreadable notifications, virus verdicts, oversized or over-limit mail are quarantined with the reason
(the raw mail stays in S3); mail from our own addresses is dropped. Everything else goes through the
inbound pipeline."""
from __future__ import annotations

from typing import IO

from chalicelib.config import Settings
from chalicelib.domain.customers import checked_email, normalize_email
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.privacy import pseudonym
from chalicelib.domain.threading import (
    ReopenRule,
    normalize_message_id,
    subject_ticket_number,
    ticket_from_reply_address,
)
from chalicelib.domain.tickets import Channel
from chalicelib.mail.loops import automated_reason
from chalicelib.mail.model import MailLimitExceeded, MailLimits, ParsedEmail
from chalicelib.mail.parse import parse_email
from chalicelib.mail.ses_notification import SesReceipt, parse_ses_notification
from chalicelib.services.inbound import intake, pipeline
from chalicelib.services.inbound.message import EmailRoute, InboundDeps, InboundMessage, InboundOutcome

SOURCE = "email"
MAX_THREAD_IDS = 20  # References of a long thread: the newest ids are the ones that can match
ACK_REFERENCES = 8


def ingest_email(notification: str, deps: InboundDeps) -> InboundOutcome:
    """Handles one SES receipt notification (the SNS message text). Idempotent; raises only when a
    retry may succeed (the raw mail stays in S3 either way)."""
    try:
        receipt = parse_ses_notification(notification)
    except InvalidInput as exc:
        return intake.quarantine_payload(notification, f"malformed notification: {exc}", source=SOURCE,
                                         folder="notifications", deps=deps, outcome_reason="malformed notification")
    source = (SOURCE, receipt.ses_message_id)
    limit = deps.settings.max_mail_bytes
    if receipt.inline_content is not None:
        # SNS action: the mail is in hand. It is kept like an S3-action mail (nothing a customer sent is
        # lost) and parsed from the bytes we hold, never read back. A duplicate costs its parse, at most
        # SNS's 150 KB, so it goes without the pre-check an S3 download gets.
        raw_location = _store_inline(receipt, deps)
        if receipt.verdicts.virus == "FAIL":
            return intake.quarantine_delivery(source, "virus verdict FAIL", raw_location, deps)
        if len(receipt.inline_content) > limit:
            return intake.quarantine_delivery(source, f"mail larger than {limit} bytes", raw_location, deps)
        return _ingest_parsed(_parsed(receipt.inline_content, source, raw_location, deps), receipt, raw_location,
                              deps)
    assert receipt.location is not None
    raw_location = receipt.location
    if receipt.verdicts.virus == "FAIL":
        return intake.quarantine_delivery(source, "virus verdict FAIL", raw_location, deps)
    # A redelivered mail an earlier attempt finished costs this one read: no download, no parse.
    finished = pipeline.finished(source, deps)
    if finished is not None:
        return finished
    try:
        download = deps.blobs.download(raw_location, limit)
    except InvalidInput:
        return intake.quarantine_delivery(source, f"mail larger than {limit} bytes", raw_location, deps)
    # Parsed from the file a chunk at a time; the tree keeps large attachments in files of their own, so
    # the download is closed (and gone from /tmp) as soon as the parse is done.
    with download as raw:
        parsed = _parsed(raw, source, raw_location, deps)
    return _ingest_parsed(parsed, receipt, raw_location, deps)


def _parsed(raw: bytes | IO[bytes], source: tuple[str, str], raw_location: str,
            deps: InboundDeps) -> ParsedEmail | InboundOutcome:
    try:
        return parse_email(raw, MailLimits(max_bytes=deps.settings.max_mail_bytes))
    except MailLimitExceeded as exc:
        return intake.quarantine_delivery(source, exc.reason, raw_location, deps)


def _ingest_parsed(mail: ParsedEmail | InboundOutcome, receipt: SesReceipt, raw_location: str,
                   deps: InboundDeps) -> InboundOutcome:
    if isinstance(mail, InboundOutcome):
        return mail
    source = (SOURCE, receipt.ses_message_id)
    sender = normalize_email(mail.sender.email if mail.sender else receipt.source)
    if _is_ours(sender, deps.settings):
        return intake.record_outcome(source, "dropped", "mail from our own address", deps)
    if not sender or "@" not in sender:
        return intake.quarantine_delivery(source, "no sender address", raw_location, deps)
    if mail.rejected_sender is not None or not _valid_sender(sender):
        # A From that is no valid address (control or line-break characters, quoting) would break the
        # acknowledgement and every reply; the mail is kept in S3, never answered.
        return intake.quarantine_delivery(source, "invalid sender address", raw_location, deps)
    return pipeline.deliver(inbound_email(mail, receipt, sender, raw_location, deps), deps)


def _valid_sender(sender: str) -> bool:
    try:
        checked_email(sender, "sender")
    except InvalidInput:
        return False
    return True


def _store_inline(receipt: SesReceipt, deps: InboundDeps) -> str:
    assert receipt.inline_content is not None
    # An SNS-action mail exists only inside the notification: keep it like an S3-action mail.
    return deps.blobs.put(f"inbound/sns/{pseudonym(receipt.ses_message_id)}", receipt.inline_content,
                          "message/rfc822")


def _is_ours(sender: str, settings: Settings) -> bool:
    own = settings.support_addresses
    local, _, domain = sender.partition("@")
    return sender in own or f"{local.split('+', 1)[0]}@{domain}" in own


def _addressing(mail: ParsedEmail, receipt: SesReceipt, settings: Settings) -> tuple[str, str | None]:
    """The store address written to (it picks the queue and answers) and a signed ticket, if any."""
    ours = settings.support_addresses
    candidates = [*receipt.destination, *receipt.recipients, *(a.email for a in mail.to), *(a.email for a in mail.cc)]
    queue_address, reply_ticket = "", None
    for address in candidates:
        address = normalize_email(address)
        signed = ticket_from_reply_address(address, settings.reply_secret)
        if signed and signed[1] in ours:
            reply_ticket = reply_ticket or signed[0]
            queue_address = queue_address or signed[1]
        elif address in ours:
            queue_address = queue_address or address
    return queue_address or settings.address_for(settings.default_queue), reply_ticket


def inbound_email(mail: ParsedEmail, receipt: SesReceipt, sender: str, raw_location: str,
                  deps: InboundDeps) -> InboundMessage:
    settings = deps.settings
    header_id = normalize_message_id(mail.message_id or "") or f"{receipt.ses_message_id}@inbound.shopdesk.invalid"
    queue_address, reply_ticket = _addressing(mail, receipt, settings)
    cleaned = (normalize_message_id(i) for i in [*mail.in_reply_to, *reversed(mail.references)])
    thread_ids = tuple(dict.fromkeys(i for i in cleaned if i and i != header_id))[:MAX_THREAD_IDS]
    spam = receipt.verdicts.spam == "FAIL"
    trusted = not spam and not receipt.verdicts.authentication_failed
    own_id = bool(mail.message_id)  # a mail without one got a synthetic id its sender never saw: never cite it
    return InboundMessage(
        source=SOURCE, source_id=receipt.ses_message_id, channel=Channel.EMAIL, received_at=deps.clock.now(),
        sender=("email", sender), sender_name=mail.sender.name if mail.sender else "",
        queue=settings.queue_for(queue_address) or settings.default_queue,
        route=EmailRoute(from_address=queue_address, to=sender, subject=mail.subject,
                         in_reply_to=header_id if own_id else None,
                         references=(*mail.references[-ACK_REFERENCES:], *([header_id] if own_id else []))),
        subject=mail.subject, text=mail.text, visible_text=mail.visible_text, html=mail.html,
        to=tuple(a.email for a in mail.to), cc=tuple(a.email for a in mail.cc), attachments=tuple(mail.attachments),
        attachments_folder=f"attachments/{pseudonym(receipt.ses_message_id)}", auth=receipt.verdicts.as_dict(),
        automated=automated_reason(mail), spam=spam, header_message_id=header_id, raw_location=raw_location,
        provider_message_id=receipt.ses_message_id, bounce=mail.bounce,
        bounced_message_id=normalize_message_id(mail.bounce.original_message_id or "") if mail.bounce else "",
        envelope_sender=receipt.source, auth_failed=receipt.verdicts.authentication_failed,
        thread_message_ids=thread_ids, reply_ticket_id=reply_ticket,
        subject_number=subject_ticket_number(mail.subject) if trusted else None,
        reopen=ReopenRule(closed_days=settings.reopen_window_days, resolved_days=None), threads=not spam,
    )
