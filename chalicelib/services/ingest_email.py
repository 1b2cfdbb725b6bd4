"""Use case: an email SES received becomes a message on the right ticket, acknowledged exactly once.

Order of work, chosen so that every retry converges: read the raw mail, decide, store attachments
(idempotent keys), write the ticket/message/delivery record in one transaction, send the
acknowledgement, then record it. A delivery record in state "stored" tells a retry that only the
acknowledgement is left to do."""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import timedelta

from chalicelib.config import Settings
from chalicelib.domain.calendar import describe_promise
from chalicelib.domain.customers import Customer, normalize_email
from chalicelib.domain.errors import AlreadyExists, InvalidInput, TransientFailure, VersionConflict
from chalicelib.domain.ids import iso, new_id, parse_iso
from chalicelib.domain.privacy import pseudonym
from chalicelib.domain.threading import (
    normalize_message_id,
    numbered_subject,
    reply_address,
    subject_ticket_number,
    ticket_from_reply_address,
)
from chalicelib.domain.tickets import (
    AckState,
    Attachment,
    Channel,
    Direction,
    Message,
    Ticket,
    TicketEvent,
    TicketStatus,
    is_confirmation,
    status_after_customer_message,
)
from chalicelib.mail.compose import AUTO_REPLY_HEADERS
from chalicelib.mail.loops import automated_reason
from chalicelib.mail.model import MailLimitExceeded, MailLimits, ParsedEmail
from chalicelib.mail.parse import parse_email
from chalicelib.mail.ses_notification import SesReceipt, parse_ses_notification
from chalicelib.ports import (
    AckRecord,
    BlobStore,
    Clock,
    Identity,
    InboundRecord,
    Lookup,
    LookupResult,
    MailSender,
    MessageIdEntry,
    NewTicketWrite,
    OutgoingEmail,
    QuarantineRecord,
    TicketChange,
    TicketRepository,
)
from chalicelib.services.acknowledgements import record_sent_acknowledgement
from chalicelib.services.identities import plan_identities
from chalicelib.services.sla_rules import SlaRules, SlaSetup, promise_zone
from chalicelib.templates import render_file

SOURCE = "email"
MAX_THREAD_IDS = 20  # References of a long thread: the newest ids are the ones that can match
INLINE_BODY_CHARS = 100_000  # beyond this the body goes to the blob store (DynamoDB items stop at 400 KB)
PREVIEW_CHARS = 20_000
_DECISION_ATTEMPTS = 4
_RECORD_ATTEMPTS = 3


@dataclass
class EmailIngestDeps:
    repository: TicketRepository
    blobs: BlobStore
    mail: MailSender
    clock: Clock
    settings: Settings
    sla: SlaSetup | None = None  # None: the environment's default SLA policy only


@dataclass(frozen=True)
class IngestOutcome:
    """What happened to one delivery; logged and counted by the handler (no personal data)."""

    status: str  # created | appended | duplicate | dropped | quarantined | resumed
    ticket_id: str | None = None
    ticket_number: int | None = None
    reason: str | None = None
    acknowledged: bool = False
    threaded_by: str | None = None


def ingest_email(notification: str, deps: EmailIngestDeps) -> IngestOutcome:
    """Handles one SES receipt notification (the SNS message text). Idempotent; raises only when a
    retry may succeed (the raw mail stays in S3 either way)."""
    try:
        receipt = parse_ses_notification(notification)
    except InvalidInput as exc:
        return _quarantine_notification(notification, str(exc), deps)
    for _ in range(_DECISION_ATTEMPTS):
        try:
            return _Ingestion(receipt, deps).run()
        except (VersionConflict, AlreadyExists):
            continue  # something changed between our read and our write: read and decide again
    raise TransientFailure("ticket kept changing while an email was being stored")


def _quarantine_notification(notification: str, reason: str, deps: EmailIngestDeps) -> IngestOutcome:
    digest = pseudonym(notification) + pseudonym(notification[::-1])
    location = deps.blobs.put(
        f"quarantine/notifications/{digest}.json",
        notification.encode("utf-8", "surrogateescape"),
        "application/json",
    )
    deps.repository.quarantine(
        QuarantineRecord(id=digest, at=iso(deps.clock.now()), source=SOURCE,
                         reason=f"malformed notification: {reason}", raw_location=location)
    )
    return IngestOutcome("quarantined", reason="malformed notification")


class _Ingestion:
    """One attempt at one delivery; holds what the steps share."""

    def __init__(self, receipt: SesReceipt, deps: EmailIngestDeps, source: str = SOURCE) -> None:
        self.receipt = receipt
        self.deps = deps
        self.settings = deps.settings
        self.now = deps.clock.now()
        self.source = (source, receipt.ses_message_id)

    # ---- the flow --------------------------------------------------------------------------
    def run(self) -> IngestOutcome:
        receipt = self.receipt
        raw_location = self._raw_location()
        if receipt.verdicts.virus == "FAIL":
            return self._quarantine("virus verdict FAIL", raw_location)
        try:
            raw = self.deps.blobs.read(raw_location, self.settings.max_mail_bytes)
        except InvalidInput:
            return self._quarantine(f"mail larger than {self.settings.max_mail_bytes} bytes", raw_location)
        try:
            mail = parse_email(raw, MailLimits(max_bytes=self.settings.max_mail_bytes))
        except MailLimitExceeded as exc:
            return self._quarantine(exc.reason, raw_location)
        del raw  # attachments decode lazily from the parsed tree; the raw copy is not needed again
        return _MailDecision(self, mail, raw_location).run()

    def _raw_location(self) -> str:
        if self.receipt.location:
            return self.receipt.location
        assert self.receipt.inline_content is not None
        # An SNS-action mail exists only inside the notification: keep it like an S3-action mail.
        return self.deps.blobs.put(f"inbound/sns/{pseudonym(self.receipt.ses_message_id)}",
                                   self.receipt.inline_content, "message/rfc822")

    def _quarantine(self, reason: str, raw_location: str, sender: str = "") -> IngestOutcome:
        self.deps.repository.quarantine(
            QuarantineRecord(id=pseudonym(self.receipt.ses_message_id), at=iso(self.now), source=SOURCE,
                             reason=reason, raw_location=raw_location,
                             sender_hash=pseudonym(sender) if sender else "")
        )
        self.deps.repository.record_inbound(InboundRecord(*self.source, state="quarantined", reason=reason),
                                            iso(self.now))
        return IngestOutcome("quarantined", reason=reason)


class _MailDecision:
    def __init__(self, ingestion: _Ingestion, mail: ParsedEmail, raw_location: str,
                 channel: Channel = Channel.EMAIL, phone: str | None = None) -> None:
        self.channel = channel
        self.phone = phone  # a web form may give one; it joins the customer's identities
        self.ingestion = ingestion
        self.deps = ingestion.deps
        self.settings = ingestion.settings
        self.receipt = ingestion.receipt
        self.now = ingestion.now
        self.mail = mail
        self.raw_location = raw_location
        self.sender = normalize_email(mail.sender.email if mail.sender else self.receipt.source)
        self.sender_name = mail.sender.name if mail.sender else ""
        self.header_id = normalize_message_id(mail.message_id or "") or (
            f"{self.receipt.ses_message_id}@inbound.shopdesk.invalid"
        )
        self.automated = automated_reason(mail)
        self.spam = self.receipt.verdicts.spam == "FAIL"

    def run(self) -> IngestOutcome:
        if self._is_from_us():
            return self._finish_without_ticket("dropped", "mail from our own address")
        if not self.sender or "@" not in self.sender:
            return self.ingestion._quarantine("no sender address", self.raw_location)
        queue_address, reply_ticket = self._addressing()
        queue = self.settings.queue_for(queue_address) or self.settings.default_queue
        thread_ids = self._thread_ids()
        bounce_id = normalize_message_id(self.mail.bounce.original_message_id or "") if self.mail.bounce else ""
        subject_number = None
        if not self.spam and not self.receipt.verdicts.authentication_failed:
            subject_number = subject_ticket_number(self.mail.subject)
        failed_recipients = self.mail.bounce.failed_recipients if self.mail.bounce else []
        lookup = self.deps.repository.lookup(
            Lookup(
                inbound=self.ingestion.source,
                message_ids=tuple(dict.fromkeys(i for i in (self.header_id, *thread_ids, bounce_id) if i)),
                identities=tuple(("email", normalize_email(a)) for a in [self.sender, *failed_recipients])
                + ((("phone", self.phone),) if self.phone else ()),
                rate_keys=(self._rate_key(),),
                ticket_ids=(reply_ticket,) if reply_ticket else (),
                ticket_numbers=(subject_number,) if subject_number else (),
                next_ticket_number=True, sla_config=True,
            )
        )
        if lookup.inbound is not None:
            return self._resume(lookup.inbound, queue_address)
        seen = lookup.message_ids.get(self.header_id)
        if seen and seen.kind == "inbound" and seen.sender_hash == pseudonym(self.sender):
            return self._finish_without_ticket("duplicate", "Message-ID already stored", seen.ticket_id)
        claims = [] if seen else [MessageIdEntry(self.header_id, "", "inbound", pseudonym(self.sender))]
        if self.mail.bounce is not None:
            return self._attach_bounce(lookup, bounce_id, claims)
        ticket, threaded_by = None, None
        if self.channel is Channel.EMAIL:  # a web form always opens a new conversation
            ticket, threaded_by = self._find_ticket(lookup, thread_ids, reply_ticket, subject_number)
        linked: str | None = None
        if ticket is not None and self._closed_too_long(ticket):
            linked, ticket, threaded_by = ticket.id, None, None
        if ticket is not None:
            return self._append(ticket, claims, threaded_by or "")
        return self._create(lookup, queue, queue_address, claims, linked)

    # ---- decisions -------------------------------------------------------------------------
    def _is_from_us(self) -> bool:
        own = self.settings.support_addresses
        local, _, domain = self.sender.partition("@")
        return self.sender in own or f"{local.split('+', 1)[0]}@{domain}" in own

    def _addressing(self) -> tuple[str, str | None]:
        """The store address written to (it picks the queue and answers) and a signed ticket, if any."""
        ours = self.settings.support_addresses
        candidates = [*self.receipt.destination, *self.receipt.recipients,
                      *(a.email for a in self.mail.to), *(a.email for a in self.mail.cc)]
        queue_address, reply_ticket = "", None
        for address in candidates:
            address = normalize_email(address)
            signed = ticket_from_reply_address(address, self.settings.reply_secret)
            if signed and signed[1] in ours:
                reply_ticket = reply_ticket or signed[0]
                queue_address = queue_address or signed[1]
            elif address in ours:
                queue_address = queue_address or address
        return queue_address or next(iter(ours)), reply_ticket

    def _thread_ids(self) -> list[str]:
        ids = [*self.mail.in_reply_to, *reversed(self.mail.references)]
        cleaned = (normalize_message_id(i) for i in ids)
        return list(dict.fromkeys(i for i in cleaned if i and i != self.header_id))[:MAX_THREAD_IDS]

    def _rate_key(self) -> str:
        return f"ack#{pseudonym(self.sender)}#{self.now.strftime('%Y%m%d%H')}"

    def _find_ticket(
        self, lookup: LookupResult, thread_ids: list[str], reply_ticket: str | None, number: int | None
    ) -> tuple[Ticket | None, str | None]:
        if self.spam:
            return None, None  # spam never joins a customer's conversation
        for message_id in thread_ids:
            entry = lookup.message_ids.get(message_id)
            if entry and entry.ticket_id:
                found = self._ticket(lookup, entry.ticket_id)
                if found:
                    return found, "message-id"
        if reply_ticket:
            found = self._ticket(lookup, reply_ticket)
            if found:
                return found, "reply-address"
        if number is not None and number in lookup.numbers:
            found = self._ticket(lookup, lookup.numbers[number])
            identity = lookup.identities.get(("email", self.sender))
            # Only the ticket's own customer may thread by subject: a stranger cannot write into it.
            if found and identity and identity.customer_id == found.customer_id:
                return found, "subject-token"
        return None, None

    def _ticket(self, lookup: LookupResult, ticket_id: str) -> Ticket | None:
        ticket = lookup.tickets.get(ticket_id) or self.deps.repository.get_ticket(ticket_id)
        for _ in range(3):  # a merged ticket's thread keys lead to the ticket it was merged into
            if ticket is None or not ticket.merged_into:
                break
            ticket = self.deps.repository.get_ticket(ticket.merged_into)
        return ticket

    def _closed_too_long(self, ticket: Ticket) -> bool:
        if ticket.status is not TicketStatus.CLOSED or not ticket.closed_at:
            return False
        return self.now - parse_iso(ticket.closed_at) > timedelta(days=self.settings.reopen_window_days)

    # ---- writes ----------------------------------------------------------------------------
    def _message(self, ticket_id: str) -> Message:
        mail, message_id = self.mail, new_id()
        text, visible, html = mail.text, mail.visible_text, mail.html
        body_key = None
        if len(text) + len(visible) + len(html or "") > INLINE_BODY_CHARS:
            body = json.dumps({"text": text, "visible_text": visible, "html": html}).encode()
            body_key = self.deps.blobs.put(f"bodies/{ticket_id}/{message_id}.json", body, "application/json")
            text, visible, html = text[:PREVIEW_CHARS], visible[:PREVIEW_CHARS], None
        return Message(
            id=message_id, ticket_id=ticket_id, created_at=iso(self.now), direction=Direction.INBOUND,
            channel=self.channel, from_address=self.sender, from_name=self.sender_name[:200],
            to=[a.email for a in mail.to][:50], cc=[a.email for a in mail.cc][:50],
            subject=mail.subject[:998], body_text=text, visible_text=visible, body_html=html,
            attachments=self._store_attachments(), automated=self.automated is not None,
            automated_reason=self.automated, auth=self.receipt.verdicts.as_dict(),
            header_message_id=self.header_id, provider_message_id=self.receipt.ses_message_id,
            delivered_message_id=self.header_id, raw_key=self.raw_location, body_key=body_key,
        )

    def _store_attachments(self) -> list[Attachment]:
        stored = []
        folder = f"attachments/{pseudonym(self.receipt.ses_message_id)}"
        for n, part in enumerate(self.mail.attachments):
            # Keys derive from the delivery, so a retry overwrites rather than duplicates.
            location = self.deps.blobs.put(f"{folder}/{n}/{part.filename}", part.open_payload(),
                                           part.content_type)
            stored.append(Attachment(filename=part.filename, content_type=part.content_type, size=part.size,
                                     key=location, disposition=part.disposition, content_id=part.content_id))
        return stored

    def _event(self, ticket_id: str, kind: str, actor: str = "customer", **data: object) -> TicketEvent:
        return TicketEvent(id=new_id(), ticket_id=ticket_id, at=iso(self.now), type=kind, actor=actor,
                           data={k: v for k, v in data.items() if v is not None})

    def _append(self, ticket: Ticket, claims: list[MessageIdEntry], threaded_by: str) -> IngestOutcome:
        message = self._message(ticket.id)
        automated = self.automated is not None
        status = status_after_customer_message(
            ticket.status, automated=automated, confirms=is_confirmation(self.mail.visible_text)
        )
        events = [self._event(ticket.id, "message_received", message_id=message.id, via=threaded_by,
                              automated=self.automated)]
        updated = replace(ticket, status=status, updated_at=iso(self.now))
        if not automated:
            updated.last_activity_at = iso(self.now)
            updated.thread_version = ticket.version + 1
        if status is not ticket.status:
            reason = "customer confirmed" if status is TicketStatus.CLOSED else "customer replied"
            events.append(self._event(ticket.id, "status_changed", **{"from": ticket.status.value},
                                      to=status.value, reason=reason))
            updated.closed_at = iso(self.now) if status is TicketStatus.CLOSED else None
            if status is TicketStatus.OPEN:
                updated.resolved_at = None
        stamp = SlaRules(self.deps.sla, self.settings).advance(updated, events, self.now)
        self.deps.repository.apply(
            TicketChange(
                ticket=stamp.ticket, messages=[message], events=stamp.events, sla_facts=stamp.facts,
                inbound=InboundRecord(*self.ingestion.source, state="done", ticket_id=ticket.id),
                claim_message_ids=[replace(c, ticket_id=ticket.id) for c in claims],
            )
        )
        return IngestOutcome("appended", ticket.id, ticket.number, threaded_by=threaded_by)

    def _attach_bounce(self, lookup: LookupResult, bounce_id: str, claims: list[MessageIdEntry]) -> IngestOutcome:
        entry = lookup.message_ids.get(bounce_id) if bounce_id else None
        ticket = self._ticket(lookup, entry.ticket_id) if entry and entry.ticket_id else None
        if ticket is None:
            return self.ingestion._quarantine("bounce for a message we did not send", self.raw_location,
                                              self.sender)
        bounce = self.mail.bounce
        assert bounce is not None
        undeliverable = []
        if bounce.action.lower() == "failed":
            undeliverable = [
                (identity.kind, identity.value)
                for recipient in bounce.failed_recipients
                if (identity := lookup.identities.get(("email", normalize_email(recipient))))
            ]
        message = self._message(ticket.id)
        events = [self._event(ticket.id, "bounce_received", actor="system", message_id=message.id,
                              status=bounce.status, undeliverable=len(undeliverable))]
        self.deps.repository.apply(
            TicketChange(
                ticket=replace(ticket, updated_at=iso(self.now)), messages=[message], events=events,
                inbound=InboundRecord(*self.ingestion.source, state="done", ticket_id=ticket.id),
                claim_message_ids=[replace(c, ticket_id=ticket.id) for c in claims],
                undeliverable=undeliverable,
            )
        )
        return IngestOutcome("appended", ticket.id, ticket.number, reason="bounce", threaded_by="bounce")

    def _ack_decision(self, identity: Identity | None, lookup: LookupResult) -> tuple[AckState, str | None]:
        if self.automated:
            return AckState.NONE, f"automated: {self.automated}"
        if self.spam:
            return AckState.NONE, "spam verdict FAIL"
        if identity and identity.undeliverable:
            return AckState.SKIPPED, "address undeliverable"
        if lookup.rates.get(self._rate_key(), 0) >= self.settings.acks_per_sender_per_hour:
            return AckState.SKIPPED, "acknowledgement rate limit for this sender"
        return AckState.PENDING, None

    def _create(
        self, lookup: LookupResult, queue: str, queue_address: str, claims: list[MessageIdEntry],
        linked: str | None,
    ) -> IngestOutcome:
        identity = lookup.identities.get(("email", self.sender))
        # A web form that gives a phone as well links both to one customer (services/identities.py).
        given = [("email", self.sender)] + ([("phone", self.phone)] if self.phone else [])
        plan = plan_identities(given, lookup.identities, name=self.sender_name[:200], now=iso(self.now),
                               load_customer=self.deps.repository.get_customer)
        customer = plan.new_customer
        ack_state, ack_reason = self._ack_decision(identity, lookup)
        ticket_id = new_id()
        ticket = Ticket(
            id=ticket_id, number=0, subject=(self.mail.subject or "(no subject)")[:500],
            status=TicketStatus.SPAM if self.spam else TicketStatus.NEW, queue=queue, channel=self.channel,
            customer_id=plan.customer_id, created_at=iso(self.now), updated_at=iso(self.now),
            last_activity_at=iso(self.now), customer_email=self.sender, customer_phone=self.phone,
            customer_name=customer.name if customer else self.sender_name[:200], linked_ticket_id=linked,
            ack_state=ack_state, ack_reason=ack_reason,
        )
        message = self._message(ticket_id)
        events = [self._event(ticket_id, "created", queue=queue, channel=self.channel.value, linked_ticket_id=linked,
                              spam=self.spam or None),
                  self._event(ticket_id, "message_received", message_id=message.id, automated=self.automated)]
        # The promise the acknowledgement makes is the matched policy's, on that policy's calendar.
        stamp = SlaRules(self.deps.sla, self.settings, lookup.sla_config).start(ticket, events, self.now)
        ticket, events = stamp.ticket, stamp.events
        pending = ack_state is AckState.PENDING
        created = self.deps.repository.create_ticket(
            NewTicketWrite(
                ticket=ticket, message=message, events=events,
                inbound=InboundRecord(*self.ingestion.source, state="stored" if pending else "done",
                                      ticket_id=ticket_id),
                new_customer=customer, new_identities=plan.new_identities, customer_update=plan.customer_update,
                claim_message_ids=[replace(c, ticket_id=ticket_id) for c in claims],
                rate_increments=[self._rate_key()] if pending else [],
                expected_number=lookup.next_ticket_number,
            )
        )
        acknowledged = self._acknowledge(created, queue_address) if pending else False
        return IngestOutcome("created", created.id, created.number, reason=ack_reason, acknowledged=acknowledged)

    def _finish_without_ticket(self, state: str, reason: str, ticket_id: str | None = None) -> IngestOutcome:
        self.deps.repository.record_inbound(
            InboundRecord(*self.ingestion.source, state=state, ticket_id=ticket_id, reason=reason), iso(self.now)
        )
        return IngestOutcome(state, ticket_id, reason=reason)

    def _resume(self, record: InboundRecord, queue_address: str) -> IngestOutcome:
        if record.state != "stored" or not record.ticket_id:
            return IngestOutcome("duplicate", record.ticket_id, reason=f"delivery already {record.state}")
        ticket = self.deps.repository.get_ticket(record.ticket_id)
        if ticket is None:
            raise TransientFailure("delivery record points at a missing ticket")
        if ticket.ack_state is not AckState.PENDING:
            self._finish_without_ticket("done", "resumed", ticket.id)
            return IngestOutcome("resumed", ticket.id, ticket.number)
        acknowledged = self._acknowledge(ticket, queue_address)
        return IngestOutcome("resumed", ticket.id, ticket.number, acknowledged=acknowledged)

    # ---- the acknowledgement -----------------------------------------------------------------
    def _acknowledge(self, ticket: Ticket, queue_address: str) -> bool:
        settings = self.settings
        domain = queue_address.partition("@")[2]
        ack_id = f"ack.{ticket.id}@{domain}"
        due = parse_iso(ticket.first_response_due_at) if ticket.first_response_due_at else self.now
        customer = Customer(id=ticket.customer_id, name=ticket.customer_name)
        text = render_file("ack_email.txt.j2", {
            "store": {"name": settings.store_name},
            "customer": {"name": customer.name, "first_name": customer.first_name},
            "ticket": {"number": ticket.number, "subject": ticket.subject},
            "promise": describe_promise(due, self.now, promise_zone(ticket, settings.time_zone)),
        })
        outgoing = OutgoingEmail(
            from_address=queue_address, from_name=f"{settings.store_name} Support",
            to=[ticket.customer_email or self.sender], subject=numbered_subject(ticket.number, self.mail.subject),
            text=text, message_id=ack_id,
            reply_to=reply_address(queue_address, ticket.id, settings.reply_secret),
            # A mail without a Message-ID got a synthetic one; its sender never saw it, so don't cite it.
            in_reply_to=self.header_id if self.mail.message_id else None,
            references=[*(normalize_message_id(r) for r in self.mail.references[-8:]),
                        *([self.header_id] if self.mail.message_id else [])],
            extra_headers=dict(AUTO_REPLY_HEADERS),
        )
        sent = self.deps.mail.send(outgoing)
        message = Message(
            id=new_id(), ticket_id=ticket.id, created_at=iso(self.now + timedelta(microseconds=1)),
            direction=Direction.OUTBOUND, channel=Channel.EMAIL, from_address=queue_address,
            from_name=outgoing.from_name, to=list(outgoing.to), subject=outgoing.subject, body_text=text,
            visible_text=text, automated=True, automated_reason="acknowledgement",
            header_message_id=ack_id, provider_message_id=sent.provider_id,
            delivered_message_id=sent.header_message_id,
        )
        record = AckRecord(
            ticket=ticket, message=message,
            event=self._event(ticket.id, "acknowledged", actor="system", message_id=message.id,
                              promise=ticket.first_response_due_at),
            message_ids=[MessageIdEntry(ack_id, ticket.id, "outbound"),
                         MessageIdEntry(sent.header_message_id, ticket.id, "outbound")],
            inbound=InboundRecord(*self.ingestion.source, state="done", ticket_id=ticket.id),
        )
        record_sent_acknowledgement(self.deps.repository, record)
        return True



def ingest_parsed(
    mail: ParsedEmail, receipt: SesReceipt, raw_location: str, deps: EmailIngestDeps, *,
    channel: Channel, phone: str | None = None,
) -> IngestOutcome:
    """The same decisions for a message that did not come through SES (the web contact form):
    the caller has already stored the raw submission at `raw_location`."""
    for _ in range(_DECISION_ATTEMPTS):
        try:
            ingestion = _Ingestion(receipt, deps, source=channel.value)
            return _MailDecision(ingestion, mail, raw_location, channel=channel, phone=phone).run()
        except (VersionConflict, AlreadyExists):
            continue
    raise TransientFailure("ticket kept changing while a message was being stored")
