"""Use case: a text to one of the store's numbers joins the customer's SMS conversation or opens a ticket,
exactly once; a keyword text (STOP, START, HELP) changes consent or is answered instead.

The order of work is email's, so every retry converges: decide from one BatchGetItem, write the ticket,
message and delivery record in one transaction, send the text, then record it. A delivery record in
state "stored" tells a retry that only the outgoing text (acknowledgement or keyword answer) is left."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from chalicelib.config import Settings
from chalicelib.domain.calendar import describe_promise
from chalicelib.domain.conversation import continues, ordered_at
from chalicelib.domain.errors import AlreadyExists, InvalidInput, TransientFailure, Unavailable, VersionConflict
from chalicelib.domain.ids import iso, new_id, parse_iso
from chalicelib.domain.privacy import pseudonym
from chalicelib.domain.tickets import (
    AckState,
    Channel,
    Direction,
    Message,
    Ticket,
    TicketEvent,
    TicketStatus,
    is_confirmation,
    status_after_customer_message,
)
from chalicelib.ports import (
    AckRecord,
    BlobStore,
    Clock,
    ConversationClaim,
    CustomerChange,
    Identity,
    InboundRecord,
    Lookup,
    LookupResult,
    NewTicketWrite,
    OutgoingSms,
    QuarantineRecord,
    SmsSender,
    TicketChange,
    TicketRepository,
)
from chalicelib.services.acknowledgements import record_sent_acknowledgement
from chalicelib.services.identities import plan_identities
from chalicelib.services.sla_rules import SlaRules, SlaSetup, promise_zone
from chalicelib.sms import compose
from chalicelib.sms.inbound import InboundSms, parse_inbound_sms
from chalicelib.sms.keywords import Keyword, keyword
from chalicelib.sms.numbers import normalize_phone, normalize_store_number

SOURCE = "sms"  # delivery records INBOUND#sms#<inboundMessageId>, conversations CONVO#sms#<number>
SUBJECT_CHARS = 60
_DECISION_ATTEMPTS = 4
_RECORD_ATTEMPTS = 3
_MERGE_HOPS = 3


@dataclass
class SmsIngestDeps:
    repository: TicketRepository
    blobs: BlobStore
    sms: SmsSender
    clock: Clock
    settings: Settings
    sla: SlaSetup | None = None  # None: the environment's default SLA policy only


@dataclass(frozen=True)
class SmsOutcome:
    """What happened to one delivery; logged and counted by the handler (no number, no text)."""

    status: str  # created | appended | keyword | duplicate | dropped | quarantined | resumed
    ticket_id: str | None = None
    ticket_number: int | None = None
    reason: str | None = None
    acknowledged: bool = False
    keyword: str | None = None
    replied: bool = False  # a keyword's answer (confirmation, help) went out


def ingest_sms(notification: str, deps: SmsIngestDeps, delivered_at: datetime | None = None) -> SmsOutcome:
    """Handles one two-way SMS payload (the SNS message text); `delivered_at` is SNS's timestamp.
    Idempotent; raises only when a retry may succeed."""
    try:
        sms = parse_inbound_sms(notification)
    except InvalidInput as exc:
        return _quarantine_payload(notification, f"malformed payload: {exc}", deps)
    for _ in range(_DECISION_ATTEMPTS):
        try:
            return _SmsIngestion(sms, notification, deps, delivered_at).run()
        except (VersionConflict, AlreadyExists):
            continue  # a twin delivery or an agent changed something between our read and write: decide again
    raise TransientFailure("the conversation kept changing while a text was being stored")


def _quarantine_payload(notification: str, reason: str, deps: SmsIngestDeps) -> SmsOutcome:
    digest = pseudonym(notification) + pseudonym(notification[::-1])
    location = deps.blobs.put(f"quarantine/sms/{digest}.json", notification.encode("utf-8", "surrogateescape"),
                              "application/json")
    deps.repository.quarantine(QuarantineRecord(id=digest, at=iso(deps.clock.now()), source=SOURCE, reason=reason,
                                                raw_location=location))
    return SmsOutcome("quarantined", reason=reason)


class _SmsIngestion:
    """One attempt at one delivery; holds what the steps share."""

    def __init__(self, sms: InboundSms, notification: str, deps: SmsIngestDeps,
                 delivered_at: datetime | None) -> None:
        self.sms = sms
        self.notification = notification
        self.deps = deps
        self.settings = deps.settings
        self.now = deps.clock.now()
        self.sent_at = ordered_at(sms.sent_at, delivered_at, self.now)
        self.source = (SOURCE, sms.inbound_id)
        self.body = sms.body.strip()
        self.phone = ""
        self.destination = ""
        self.queue = self.settings.default_queue
        self.pointer: str | None = None  # the conversation's ticket as read (the claim is conditional on it)

    # ---- the flow --------------------------------------------------------------------------
    def run(self) -> SmsOutcome:
        try:
            self.phone = normalize_phone(self.sms.origination)
            self.destination = normalize_store_number(self.sms.destination)
        except InvalidInput as exc:
            which = "origination" if not self.phone else "destination"
            return self._quarantine(f"impossible {which} number: {exc}")
        self.queue = self.settings.sms_queue_for(self.destination)
        lookup = self.deps.repository.lookup(Lookup(
            inbound=self.source, identities=(("phone", self.phone),), rate_keys=(self._rate_key(),),
            next_ticket_number=True, conversations=((SOURCE, self.phone),), sla_config=True,
        ))
        if lookup.inbound is not None:
            return self._resume(lookup.inbound)
        if self.phone in self.settings.sms_numbers:
            return self._finish("dropped", "text from one of our own numbers")
        if not self.body:
            return self._finish("dropped", "empty text")  # an MMS without text: nothing for an agent to read
        identity = lookup.identities.get(("phone", self.phone))
        word = keyword(self.body)
        if word is not None:
            return self._keyword(word, identity, lookup)
        ticket = self._conversation(lookup)
        if ticket is not None and continues(ticket, self.now, self.settings.sms_reopen_window_days):
            return self._append(ticket)
        return self._create(identity, lookup, previous=ticket)

    def _rate_key(self) -> str:
        return f"ack#{pseudonym(self.phone)}#{self.now.strftime('%Y%m%d%H')}"

    def _rate_exhausted(self, lookup: LookupResult) -> bool:
        return lookup.rates.get(self._rate_key(), 0) >= self.settings.acks_per_sender_per_hour

    def _origination(self, queue: str) -> str | None:
        # Answer from the number the customer texted when it is ours; otherwise the queue's number.
        if self.destination in self.settings.sms_numbers:
            return self.destination
        return self.settings.sms_origination_for(queue)

    def _conversation(self, lookup: LookupResult) -> Ticket | None:
        self.pointer = lookup.conversations.get((SOURCE, self.phone))
        ticket = self.deps.repository.get_ticket(self.pointer) if self.pointer else None
        for _ in range(_MERGE_HOPS):  # a merged conversation continues on the ticket it was merged into
            if ticket is None or not ticket.merged_into:
                break
            ticket = self.deps.repository.get_ticket(ticket.merged_into)
        return ticket

    # ---- tickets -----------------------------------------------------------------------------
    def _message(self, ticket_id: str) -> Message:
        return Message(
            id=new_id(), ticket_id=ticket_id, created_at=iso(self.sent_at), direction=Direction.INBOUND,
            channel=Channel.SMS, from_address=self.phone, to=[self.destination], body_text=self.body,
            visible_text=self.body, provider_message_id=self.sms.inbound_id,
        )

    def _event(self, ticket_id: str, kind: str, actor: str = "customer", **data: object) -> TicketEvent:
        return TicketEvent(id=new_id(), ticket_id=ticket_id, at=iso(self.now), type=kind, actor=actor,
                           data={k: v for k, v in data.items() if v is not None})

    def _subject(self) -> str:
        line = " ".join(self.body.split())
        return line if len(line) <= SUBJECT_CHARS else line[:SUBJECT_CHARS - 1].rstrip() + "…"

    def _append(self, ticket: Ticket) -> SmsOutcome:
        message = self._message(ticket.id)
        status = status_after_customer_message(ticket.status, automated=False, confirms=is_confirmation(self.body))
        now = iso(self.now)
        events = [self._event(ticket.id, "message_received", message_id=message.id, via="sms-conversation")]
        # A late text takes its place in the thread (by carrier time) but still counts as activity now.
        updated = replace(ticket, status=status, updated_at=now, last_activity_at=max(ticket.last_activity_at, now),
                          thread_version=ticket.version + 1)
        if status is not ticket.status:
            reason = "customer confirmed" if status is TicketStatus.CLOSED else "customer replied"
            events.append(self._event(ticket.id, "status_changed", **{"from": ticket.status.value},
                                      to=status.value, reason=reason))
            updated.closed_at = now if status is TicketStatus.CLOSED else None
            if status is TicketStatus.OPEN:
                updated.resolved_at = None
        stamp = SlaRules(self.deps.sla, self.settings).advance(updated, events, self.now)
        self.deps.repository.apply(TicketChange(
            ticket=stamp.ticket, messages=[message], events=stamp.events, sla_facts=stamp.facts, inbound_first=True,
            inbound=InboundRecord(*self.source, state="done", ticket_id=ticket.id),
        ))
        return SmsOutcome("appended", ticket.id, ticket.number)

    def _ack_decision(self, identity: Identity | None, lookup: LookupResult) -> tuple[AckState, str | None]:
        if identity is not None and identity.sms_opted_out:
            return AckState.SKIPPED, "number opted out of texts"
        if self._rate_exhausted(lookup):
            return AckState.SKIPPED, "acknowledgement rate limit for this number"
        return AckState.PENDING, None

    def _create(self, identity: Identity | None, lookup: LookupResult, previous: Ticket | None) -> SmsOutcome:
        now = iso(self.now)
        plan = plan_identities([("phone", self.phone)], lookup.identities, name="", now=now,
                               load_customer=self.deps.repository.get_customer)
        ack_state, ack_reason = self._ack_decision(identity, lookup)
        ticket_id = new_id()
        ticket = Ticket(
            id=ticket_id, number=0, subject=self._subject(), status=TicketStatus.NEW, queue=self.queue,
            channel=Channel.SMS, customer_id=plan.customer_id, created_at=now, updated_at=now,
            last_activity_at=now, customer_phone=self.phone, linked_ticket_id=previous.id if previous else None,
            ack_state=ack_state, ack_reason=ack_reason,
        )
        message = self._message(ticket_id)
        events = [self._event(ticket_id, "created", queue=self.queue, channel=Channel.SMS.value,
                              linked_ticket_id=ticket.linked_ticket_id),
                  self._event(ticket_id, "message_received", message_id=message.id)]
        # The promise the acknowledgement makes is the matched SLA policy's, as for email.
        stamp = SlaRules(self.deps.sla, self.settings, lookup.sla_config).start(ticket, events, self.now)
        ticket, events = stamp.ticket, stamp.events
        pending = ack_state is AckState.PENDING
        created = self.deps.repository.create_ticket(NewTicketWrite(
            ticket=ticket, message=message, events=events,
            inbound=InboundRecord(*self.source, state="stored" if pending else "done", ticket_id=ticket_id),
            new_customer=plan.new_customer, new_identities=plan.new_identities, customer_update=plan.customer_update,
            rate_increments=[self._rate_key()] if pending else [], expected_number=lookup.next_ticket_number,
            conversation=ConversationClaim(SOURCE, self.phone, ticket_id, previous=self.pointer),
        ))
        acknowledged = self._acknowledge(created) if pending else False
        return SmsOutcome("created", created.id, created.number, reason=ack_reason, acknowledged=acknowledged)

    # ---- the acknowledgement -------------------------------------------------------------------
    def _acknowledge(self, ticket: Ticket) -> bool:
        settings = self.settings
        due = parse_iso(ticket.first_response_due_at) if ticket.first_response_due_at else self.now
        text = compose.acknowledgement(settings.store_name, ticket.number,
                                       describe_promise(due, self.now, promise_zone(ticket, settings.time_zone)),
                                       settings.sms_max_segments)
        origination = self._origination(ticket.queue)
        try:
            sent = self.deps.sms.send(OutgoingSms(to=self.phone, text=text, origination=origination))
        except Unavailable as exc:
            self._skip_ack(ticket, str(exc))
            return False
        message = Message(
            id=new_id(), ticket_id=ticket.id, created_at=iso(self.now + timedelta(microseconds=1)),
            direction=Direction.OUTBOUND, channel=Channel.SMS, from_address=origination or self.destination,
            from_name=f"{settings.store_name} Support", to=[self.phone], body_text=text, visible_text=text,
            automated=True, automated_reason="acknowledgement", provider_message_id=sent.provider_id,
        )
        record = AckRecord(
            ticket=ticket, message=message,
            event=self._event(ticket.id, "acknowledged", actor="system", message_id=message.id, channel="sms",
                              promise=ticket.first_response_due_at),
            message_ids=[], inbound=InboundRecord(*self.source, state="done", ticket_id=ticket.id),
        )
        record_sent_acknowledgement(self.deps.repository, record)
        return True

    def _skip_ack(self, ticket: Ticket, reason: str) -> None:
        """The provider refused the number for good: the ticket says so, and no retry texts again."""
        for _ in range(_RECORD_ATTEMPTS):
            try:
                self.deps.repository.apply(TicketChange(
                    ticket=replace(ticket, ack_state=AckState.SKIPPED, ack_reason=reason),
                    inbound=InboundRecord(*self.source, state="done", ticket_id=ticket.id, reason=reason),
                ))
                return
            except VersionConflict:
                fresh = self.deps.repository.get_ticket(ticket.id)
                if fresh is None or fresh.ack_state is not AckState.PENDING:
                    return
                ticket = fresh
        raise TransientFailure("could not record a refused acknowledgement")

    # ---- keywords ------------------------------------------------------------------------------
    def _keyword(self, word: Keyword, identity: Identity | None, lookup: LookupResult) -> SmsOutcome:
        opted_out = identity is not None and identity.sms_opted_out
        if word is Keyword.OPT_OUT:
            if opted_out:
                return self._finish("done", "already opted out", word)  # one confirmation, not one per STOP
            return self._change_consent(word, identity, lookup, opted_out=True)
        if word is Keyword.OPT_IN:
            if not opted_out:
                return self._finish("done", "already receiving texts", word)
            return self._change_consent(word, identity, lookup, opted_out=False)
        if opted_out:
            return self._finish("done", "number opted out: HELP not answered", word)
        if self._rate_exhausted(lookup):
            return self._finish("done", "reply rate limit for this number", word)
        self.deps.repository.change_customers(CustomerChange(
            inbound=InboundRecord(*self.source, state="stored", reason=f"{word.value} answer due"),
            rate_increments=[self._rate_key()],
        ))
        return self._answer(word)

    def _change_consent(self, word: Keyword, identity: Identity | None, lookup: LookupResult, *,
                        opted_out: bool) -> SmsOutcome:
        """Consent lives on the phone's identity item; a number we never met gets a customer of its own,
        so that its STOP holds when it writes again."""
        change = CustomerChange()
        if identity is None:
            plan = plan_identities([("phone", self.phone)], {}, name="", now=iso(self.now),
                                   load_customer=self.deps.repository.get_customer)
            assert plan.new_customer is not None
            change.customers.append((plan.new_customer, None))
            change.identities.append((replace(plan.new_identities[0], sms_opted_out=opted_out), None))
        else:
            change.identities.append((replace(identity, sms_opted_out=opted_out), identity))
        # The STOP confirmation is due whatever the rate: it is the last text the number gets from us.
        answer = opted_out or not self._rate_exhausted(lookup)
        change.inbound = InboundRecord(*self.source, state="stored" if answer else "done",
                                       reason=f"{word.value} recorded")
        change.rate_increments = [self._rate_key()] if answer else []
        self.deps.repository.change_customers(change)
        if not answer:
            return SmsOutcome("keyword", reason="reply rate limit for this number", keyword=word.value)
        return self._answer(word)

    def _answer(self, word: Keyword) -> SmsOutcome:
        settings, limit = self.settings, self.settings.sms_max_segments
        text = {
            Keyword.OPT_OUT: lambda: compose.opt_out_confirmation(settings.store_name, limit),
            Keyword.OPT_IN: lambda: compose.opt_in_confirmation(settings.store_name, limit),
            Keyword.HELP: lambda: compose.help_text(settings.store_name, settings.address_for(self.queue), limit),
        }[word]()
        try:
            self.deps.sms.send(OutgoingSms(to=self.phone, text=text, origination=self._origination(self.queue)))
        except Unavailable:
            return self._finish("done", f"{word.value} answer refused by the provider", word)
        self._record_done(f"{word.value} answered")
        return SmsOutcome("keyword", reason=f"{word.value} answered", keyword=word.value, replied=True)

    # ---- delivery records ----------------------------------------------------------------------
    def _finish(self, state: str, reason: str, word: Keyword | None = None) -> SmsOutcome:
        self.deps.repository.record_inbound(InboundRecord(*self.source, state=state, reason=reason), iso(self.now))
        if word is not None:
            return SmsOutcome("keyword", reason=reason, keyword=word.value)
        return SmsOutcome(state, reason=reason)

    def _record_done(self, reason: str) -> None:
        for attempt in range(_RECORD_ATTEMPTS):
            try:
                self.deps.repository.record_inbound(InboundRecord(*self.source, state="done", reason=reason),
                                                    iso(self.now))
                return
            except Exception:
                # The answer is out; a lost record would make Lambda's retry text it again.
                if attempt == _RECORD_ATTEMPTS - 1:
                    raise

    def _resume(self, record: InboundRecord) -> SmsOutcome:
        if record.state != "stored":
            return SmsOutcome("duplicate", record.ticket_id, reason=f"delivery already {record.state}")
        if record.ticket_id is None:
            # A keyword's answer was due when the last attempt stopped: the same text is the same keyword.
            word = keyword(self.body)
            if word is None:
                return self._finish("done", "resumed")
            return self._answer(word)
        ticket = self.deps.repository.get_ticket(record.ticket_id)
        if ticket is None:
            raise TransientFailure("delivery record points at a missing ticket")
        if ticket.ack_state is not AckState.PENDING:
            self.deps.repository.record_inbound(
                InboundRecord(*self.source, state="done", ticket_id=ticket.id, reason="resumed"), iso(self.now))
            return SmsOutcome("resumed", ticket.id, ticket.number)
        return SmsOutcome("resumed", ticket.id, ticket.number, acknowledged=self._acknowledge(ticket))

    def _quarantine(self, reason: str) -> SmsOutcome:
        """An impossible number: the payload is kept for an admin, the delivery marked so a retry stops here."""
        found = self.deps.repository.lookup(Lookup(inbound=self.source)).inbound
        if found is not None:
            return SmsOutcome("duplicate", found.ticket_id, reason=f"delivery already {found.state}")
        key = pseudonym(self.sms.inbound_id)
        raw = self.notification.encode("utf-8", "surrogateescape")
        location = self.deps.blobs.put(f"quarantine/sms/{key}.json", raw, "application/json")
        self.deps.repository.quarantine(QuarantineRecord(
            id=key, at=iso(self.now), source=SOURCE, reason=reason, raw_location=location,
            sender_hash=pseudonym(self.sms.origination)))
        self.deps.repository.record_inbound(InboundRecord(*self.source, state="quarantined", reason=reason),
                                            iso(self.now))
        return SmsOutcome("quarantined", reason=reason)


def delivered_at_from(timestamp: str | None) -> datetime | None:
    """SNS's `Timestamp` of the notification (ISO-8601), when the handler has one."""
    if not timestamp:
        return None
    try:
        return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return None

