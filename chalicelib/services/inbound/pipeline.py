"""The inbound pipeline: one message from any channel becomes a message on the right ticket, exactly once.

Read everything the decision needs in one batch; a delivery seen before resumes (only its acknowledgement
may be left); otherwise decide the thread (pure, domain.threading), then write the ticket change, message
and delivery record in one transaction, then acknowledge a new ticket. Every retry converges, because the
delivery record says how far an earlier attempt got. An acknowledgement the provider throttles waits in the
pending-ack queue (acknowledge.py, pending_acks.py): the message is stored and the delivery succeeds."""
from __future__ import annotations

import json
from dataclasses import replace

from chalicelib.domain.customer_messages import after_customer_message
from chalicelib.domain.errors import TransientFailure
from chalicelib.domain.ids import iso, new_id
from chalicelib.domain.privacy import pseudonym
from chalicelib.domain.threading import (
    NeedTicket,
    ThreadCandidate,
    ThreadDecision,
    ThreadedBy,
    decide_thread,
    verdicts_prove_sender,
)
from chalicelib.domain.tickets import (
    AckState,
    Attachment,
    Direction,
    EventType,
    Message,
    Ticket,
    TicketStatus,
    new_event,
)
from chalicelib.ports import (
    ConversationClaim,
    InboundRecord,
    Lookup,
    LookupResult,
    MessageIdEntry,
    NewTicketWrite,
    TicketChange,
)
from chalicelib.services.identities import plan_unproven
from chalicelib.services.inbound import ack_policy, acknowledge, bounces, intake
from chalicelib.services.inbound.message import InboundDeps, InboundMessage, InboundOutcome
from chalicelib.services.sla_rules import SlaRules

INLINE_BODY_BYTES = 100_000  # beyond this (UTF-8) the body goes to the blob store: items stop at 400 KB of bytes
PREVIEW_CHARS = 20_000  # at most 80 KB in UTF-8
_DECISION_READS = 4  # GetItems a thread decision may add to the batch read (a ticket, its merge hops)


def deliver(message: InboundMessage, deps: InboundDeps) -> InboundOutcome:
    """Stores one inbound message (idempotent under concurrent duplicates); raises only when a retry may
    succeed."""
    return intake.with_retries(lambda: _Attempt(message, deps).run(), "a message")


def finished(source: tuple[str, str], deps: InboundDeps) -> InboundOutcome | None:
    """The outcome of a delivery an earlier attempt finished, read with one BatchGetItem before the channel
    downloads or parses anything; None when there is work left (no record yet, or an acknowledgement still
    due: then the full pipeline runs and resumes it). deliver() still decides on its own read, so a twin
    delivery racing past this check stays exactly-once."""
    record = deps.repository.lookup(Lookup(inbound=source)).inbound
    if record is None or _resumable(record):
        return None
    return _already(record)


def _resumable(record: InboundRecord) -> bool:
    return record.state == "stored" and bool(record.ticket_id)


def _already(record: InboundRecord) -> InboundOutcome:
    return InboundOutcome("duplicate", record.ticket_id, reason=f"delivery already {record.state}")


class _Attempt:
    """One read-decide-write attempt at one delivery."""

    def __init__(self, message: InboundMessage, deps: InboundDeps) -> None:
        self.message = message
        self.deps = deps
        self.moment = deps.clock.now()  # one instant for every write of the attempt
        self.now = iso(self.moment)
        self.source = (message.source, message.source_id)

    def run(self) -> InboundOutcome:
        message, repository = self.message, self.deps.repository
        lookup = repository.lookup(Lookup(
            inbound=self.source,
            message_ids=tuple(dict.fromkeys(i for i in (message.header_message_id, *message.thread_message_ids,
                                                        message.bounced_message_id) if i)),
            identities=tuple(dict.fromkeys([message.sender, *message.other_identities, *bounces.recipients(message)])),
            rate_keys=ack_policy.rate_keys(message),
            ticket_ids=(message.reply_ticket_id,) if message.reply_ticket_id else (),
            ticket_numbers=(message.subject_number,) if message.subject_number else (),
            conversations=(message.conversation,) if message.conversation else (),
            sla_config=True,
        ))
        if lookup.inbound is not None:
            return self._resume(lookup.inbound)
        claims = []
        if message.header_message_id:
            seen = lookup.message_ids.get(message.header_message_id)
            if seen and seen.kind == "inbound" and seen.sender_hash == pseudonym(message.sender[1]):
                return intake.record_outcome(self.source, "duplicate", "Message-ID already stored", self.deps,
                                             seen.ticket_id)
            if not seen:
                claims = [MessageIdEntry(message.header_message_id, "", "inbound", pseudonym(message.sender[1]))]
        if message.bounce is not None:
            return bounces.attach(message, lookup, claims, self.deps, self._stored_message)
        decision = self._decide(lookup)
        if decision.ticket is not None:
            return self._append(decision.ticket, claims, decision.via, lookup)
        return self._create(lookup, claims, decision.linked_ticket_id)

    # ---- the thread --------------------------------------------------------------------------
    def _candidates(self, lookup: LookupResult) -> list[ThreadCandidate]:
        message = self.message
        if not message.threads:
            return []
        found = [ThreadCandidate(entry.ticket_id, ThreadedBy.MESSAGE_ID) for i in message.thread_message_ids
                 if (entry := lookup.message_ids.get(i)) and entry.ticket_id]
        if message.reply_ticket_id:
            found.append(ThreadCandidate(message.reply_ticket_id, ThreadedBy.REPLY_ADDRESS))
        identity = lookup.identities.get(message.sender)
        # A subject token is only a hint anyone can type: only from the ticket's own customer, and only
        # when the mail's authentication shows the From is not forged (GRAY is no proof).
        if message.subject_number in lookup.numbers and identity is not None and verdicts_prove_sender(message.auth):
            found.append(ThreadCandidate(lookup.numbers[message.subject_number], ThreadedBy.SUBJECT_TOKEN,
                                         customer_id=identity.customer_id))
        if message.conversation and (pointer := lookup.conversations.get(message.conversation)):
            found.append(ThreadCandidate(pointer, ThreadedBy.CONVERSATION))
        return found

    def _decide(self, lookup: LookupResult) -> ThreadDecision:
        candidates = self._candidates(lookup)
        tickets: dict[str, Ticket | None] = dict(lookup.tickets)
        for _ in range(_DECISION_READS):
            decision = decide_thread(candidates, tickets, self.message.reopen, self.moment)
            if not isinstance(decision, NeedTicket):
                return decision
            tickets[decision.ticket_id] = self.deps.repository.get_ticket(decision.ticket_id)
        raise TransientFailure("a thread decision needed more reads than it may make")

    # ---- writes ------------------------------------------------------------------------------
    def _stored_message(self, ticket_id: str) -> Message:
        message, message_id = self.message, new_id()
        text, visible, html = message.text, message.visible_text, message.html
        body_key = None
        if _utf8_size(text) + _utf8_size(visible) + _utf8_size(html or "") > INLINE_BODY_BYTES:
            body = json.dumps({"text": text, "visible_text": visible, "html": html}).encode()
            body_key = self.deps.blobs.put(f"bodies/{ticket_id}/{message_id}.json", body, "application/json")
            text, visible, html = text[:PREVIEW_CHARS], visible[:PREVIEW_CHARS], None
        return Message(
            id=message_id, ticket_id=ticket_id, created_at=iso(message.placed_at), direction=Direction.INBOUND,
            channel=message.channel, from_address=message.sender[1], from_name=message.sender_name[:200],
            to=list(message.to[:50]), cc=list(message.cc[:50]), subject=message.subject[:998], body_text=text,
            visible_text=visible, body_html=html, attachments=self._store_attachments(),
            automated=message.automated is not None, automated_reason=message.automated, auth=dict(message.auth),
            header_message_id=message.header_message_id, provider_message_id=message.provider_message_id,
            delivered_message_id=message.header_message_id, raw_key=message.raw_location, body_key=body_key,
        )

    def _store_attachments(self) -> list[Attachment]:
        stored = []
        for n, part in enumerate(self.message.attachments):
            # Keys derive from the delivery, so a retry overwrites rather than duplicates.
            # Streamed from the file the parser decoded it into: a large attachment is never bytes in memory.
            location = self.deps.blobs.put_file(f"{self.message.attachments_folder}/{n}/{part.filename}",
                                                part.payload_file(), part.content_type)
            stored.append(Attachment(filename=part.filename, content_type=part.content_type, size=part.size,
                                     key=location, disposition=part.disposition, content_id=part.content_id))
        return stored

    def _append(self, ticket: Ticket, claims: list[MessageIdEntry], via: ThreadedBy | None,
                lookup: LookupResult) -> InboundOutcome:
        # Knowing a thread's Message-ID or reply address proves nothing about who writes: a message from
        # anyone but the ticket's customer joins the thread flagged for the agent and never confirms closure.
        identity = lookup.identities.get(self.message.sender)
        stranger = identity is None or identity.customer_id != ticket.customer_id
        stored = replace(self._stored_message(ticket.id), from_stranger=stranger)
        updated, events = after_customer_message(ticket, message_id=stored.id, visible_text=self.message.visible_text,
                                                 at=self.now, automated=self.message.automated,
                                                 via=via.value if via else "", from_stranger=stranger)
        stamp = SlaRules(self.deps.sla, self.deps.settings).advance(updated, events, self.moment)
        self.deps.repository.apply(TicketChange(
            ticket=stamp.ticket, messages=[stored], events=stamp.events, sla_facts=stamp.facts, inbound_first=True,
            inbound=InboundRecord(*self.source, state="done", ticket_id=ticket.id),
            claim_message_ids=[replace(c, ticket_id=ticket.id) for c in claims],
        ))
        return InboundOutcome("appended", ticket.id, ticket.number, threaded_by=via.value if via else None)

    def _create(self, lookup: LookupResult, claims: list[MessageIdEntry], linked: str | None) -> InboundOutcome:
        message, deps = self.message, self.deps
        identity = lookup.identities.get(message.sender)
        # The channel proves the sender; what else a message gives (a form's phone) is unproven and never
        # joins an existing customer (plan_unproven). The ticket shows only identities that are the customer's.
        plan = plan_unproven(message.sender, message.other_identities, lookup.identities,
                             name=message.sender_name[:200], now=self.now, load_customer=deps.repository.get_customer)
        own_rate = ack_policy.rate_key(message.sender[1], message.received_at)
        ack_state, ack_reason = ack_policy.ack_decision(message, identity, lookup.rates, deps.settings)
        owned = {message.sender, *((i.kind, i.value) for i in plan.new_identities)}
        phones = [v for k, v in (message.sender, *message.other_identities) if k == "phone" and (k, v) in owned]
        ticket_id = new_id()
        ticket = Ticket(
            id=ticket_id, number=0, subject=(message.subject or "(no subject)")[:500],
            status=TicketStatus.SPAM if message.spam else TicketStatus.NEW, queue=message.queue,
            channel=message.channel, customer_id=plan.customer_id, created_at=self.now, updated_at=self.now,
            last_activity_at=self.now, customer_activity_at=self.now,
            customer_email=message.sender[1] if message.sender[0] == "email" else None,
            customer_phone=phones[0] if phones else None, customer_name=message.sender_name[:200],
            linked_ticket_id=linked, ack_state=ack_state, ack_reason=ack_reason,
        )
        stored = self._stored_message(ticket_id)
        events = [new_event(ticket_id, self.now, EventType.CREATED, "customer", queue=message.queue,
                            channel=message.channel.value, linked_ticket_id=linked, spam=message.spam or None),
                  new_event(ticket_id, self.now, EventType.MESSAGE_RECEIVED, "customer", message_id=stored.id,
                            automated=message.automated)]
        # The promise the acknowledgement makes is the matched policy's, on that policy's calendar.
        stamp = SlaRules(deps.sla, deps.settings, lookup.sla_config).start(ticket, events, self.moment)
        pending = ack_state is AckState.PENDING
        conversation = None
        if message.conversation:
            conversation = ConversationClaim(*message.conversation, ticket_id,
                                             previous=lookup.conversations.get(message.conversation))
        held = acknowledge.new_claim(ticket_id, deps) if pending else None  # the send is ours from birth
        created = deps.repository.create_ticket(NewTicketWrite(
            ticket=stamp.ticket, message=stored, events=stamp.events,
            inbound=InboundRecord(*self.source, state="stored" if pending else "done", ticket_id=ticket_id),
            new_customer=plan.new_customer, new_identities=plan.new_identities, customer_update=plan.customer_update,
            claim_message_ids=[replace(c, ticket_id=ticket_id) for c in claims],
            rate_increments=[own_rate] if pending else [], conversation=conversation, send_claim=held,
        ))
        result = acknowledge.acknowledge(created, acknowledge.AckJob.of(message), deps, held) if pending else None
        if pending:
            # The sender's counter is counted in the create transaction; the sender domain's and the shop's are
            # items every new ticket would touch, so they count outside it (atomic increments never conflict),
            # after the acknowledgement: a failure here leaves the delivery done, and costs one count at most.
            for shared in ack_policy.rate_increments(message):  # its domain's, and one shard of the shop's
                if shared != own_rate:
                    deps.repository.hit_rate(shared)
        return InboundOutcome("created", created.id, created.number, reason=ack_reason,
                              acknowledged=result is acknowledge.AckResult.SENT,
                              ack_deferred=result is acknowledge.AckResult.DEFERRED or None)

    def _resume(self, record: InboundRecord) -> InboundOutcome:
        """A delivery seen before: nothing to do, or only the acknowledgement an earlier attempt left."""
        if not _resumable(record) or record.ticket_id is None:
            return _already(record)
        ticket = self.deps.repository.get_ticket(record.ticket_id)
        if ticket is None:
            raise TransientFailure("delivery record points at a missing ticket")
        if ticket.ack_state is not AckState.PENDING:
            intake.record_outcome(self.source, "done", "resumed", self.deps, ticket.id)
            return InboundOutcome("resumed", ticket.id, ticket.number)
        result = acknowledge.acknowledge(ticket, acknowledge.AckJob.of(self.message), self.deps)
        return InboundOutcome("resumed", ticket.id, ticket.number, acknowledged=result is acknowledge.AckResult.SENT,
                              ack_deferred=result is acknowledge.AckResult.DEFERRED or None)


def _utf8_size(text: str) -> int:
    """Bytes as DynamoDB counts them, without encoding a large text just to measure it."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-8", "surrogatepass"))
