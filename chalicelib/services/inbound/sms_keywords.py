"""SMS keywords: STOP and the carriers' other opt-out words change consent, START/UNSTOP restore it, HELP
is answered. A keyword never becomes a ticket message; its answer goes out once (the delivery record says
"stored" while an answer is due, so a retry resumes with the answer)."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from chalicelib.domain.errors import DomainError, TransientFailure, Unavailable
from chalicelib.domain.ids import iso
from chalicelib.ports import SENT, CustomerChange, Identity, InboundRecord, Lookup, LookupResult, OutgoingSms
from chalicelib.services.identities import plan_identities
from chalicelib.services.inbound import claimed_sends, intake
from chalicelib.services.inbound.ack_policy import rate_key
from chalicelib.services.inbound.message import InboundDeps, InboundMessage, InboundOutcome, SmsRoute
from chalicelib.services.retry import (
    SEND_RECORD_ATTEMPTS,
    SEND_RECORD_BACKOFF,
    deadline_or_default,
    retry_on_conflict,
    seconds_until,
)
from chalicelib.sms import compose
from chalicelib.sms.keywords import Keyword


def handle(word: Keyword, message: InboundMessage, deps: InboundDeps) -> InboundOutcome:
    return intake.with_retries(lambda: _KeywordText(word, message, deps).run(), "a keyword text")


class _KeywordText:
    def __init__(self, word: Keyword, message: InboundMessage, deps: InboundDeps) -> None:
        assert isinstance(message.route, SmsRoute)
        self.word, self.message, self.deps, self.route = word, message, deps, message.route
        self.source = (message.source, message.source_id)
        self.rate_key = rate_key(message.sender[1], message.received_at)

    def run(self) -> InboundOutcome:
        lookup = self.deps.repository.lookup(Lookup(inbound=self.source, identities=(self.message.sender,),
                                                    rate_keys=(self.rate_key,)))
        if lookup.inbound is not None:
            if lookup.inbound.state != "stored":
                return InboundOutcome("duplicate", lookup.inbound.ticket_id,
                                      reason=f"delivery already {lookup.inbound.state}")
            return self._answer()  # the answer was due when the last attempt stopped
        word, identity = self.word, lookup.identities.get(self.message.sender)
        opted_out = identity is not None and identity.sms_opted_out
        if word is Keyword.OPT_OUT:
            if opted_out:
                return self._finish("done", "already opted out")  # one confirmation, not one per STOP
            return self._change_consent(identity, lookup, opted_out=True)
        if word is Keyword.OPT_IN:
            if not opted_out:
                return self._finish("done", "already receiving texts")
            return self._change_consent(identity, lookup, opted_out=False)
        if opted_out:
            return self._finish("done", "number opted out: HELP not answered")
        if self._rate_exhausted(lookup):
            return self._finish("done", "reply rate limit for this number")
        self.deps.repository.change_customers(CustomerChange(
            inbound=InboundRecord(*self.source, state="stored", reason=f"{word.value} answer due"),
            rate_increments=[self.rate_key],
        ))
        return self._answer()

    def _rate_exhausted(self, lookup: LookupResult) -> bool:
        return lookup.rates.get(self.rate_key, 0) >= self.deps.settings.acks_per_sender_per_hour

    def _change_consent(self, identity: Identity | None, lookup: LookupResult, *, opted_out: bool) -> InboundOutcome:
        """Consent lives on the phone's identity item; a number we never met gets a customer of its own,
        so that its STOP holds when it writes again."""
        change = CustomerChange()
        if identity is None:
            plan = plan_identities([self.message.sender], {}, name="", now=iso(self.message.received_at),
                                   load_customer=self.deps.repository.get_customer)
            assert plan.new_customer is not None
            change.customers.append((plan.new_customer, None))
            change.identities.append((replace(plan.new_identities[0], sms_opted_out=opted_out), None))
        else:
            change.identities.append((replace(identity, sms_opted_out=opted_out), identity))
        # The STOP confirmation is due whatever the rate: it is the last text the number gets from us.
        answer = opted_out or not self._rate_exhausted(lookup)
        change.inbound = InboundRecord(*self.source, state="stored" if answer else "done",
                                       reason=f"{self.word.value} recorded")
        change.rate_increments = [self.rate_key] if answer else []
        self.deps.repository.change_customers(change)
        if not answer:
            return InboundOutcome("keyword", reason="reply rate limit for this number", keyword=self.word.value)
        return self._answer()

    def _answer(self) -> InboundOutcome:
        """Texts the keyword's answer once: only the claimant of the send texts, and a claim found sent (its
        sender died before recording it) is recorded, not texted again."""
        settings, limit, word, deps = self.deps.settings, self.deps.settings.sms_max_segments, self.word, self.deps
        deadline = deadline_or_default(deps.deadline, deps.clock)
        claim, mine = claimed_sends.take(f"answer#{self.source[0]}#{self.source[1]}", deps)
        if not mine:
            if claim.state != SENT:
                return InboundOutcome("duplicate", reason=f"{word.value} answer being sent by a twin delivery",
                                      keyword=word.value)
            self._record_answered(deadline)
            return InboundOutcome("keyword", reason=f"{word.value} answered", keyword=word.value)
        if word is Keyword.OPT_OUT:
            text = compose.opt_out_confirmation(settings.store_name, limit)
        elif word is Keyword.OPT_IN:
            text = compose.opt_in_confirmation(settings.store_name, limit)
        else:
            text = compose.help_text(settings.store_name, settings.address_for(self.message.queue), limit)
        outgoing = OutgoingSms(to=self.route.to, text=text, origination=self.route.origination)
        try:
            sent = claimed_sends.send_claimed(claim, lambda: deps.sms.send(outgoing), deps)
        except Unavailable:
            return self._finish("done", f"{word.value} answer refused by the provider")
        try:  # the provider's id on the claim first: a lost record below is then recorded, not re-texted
            deps.repository.mark_sent(claim, sent.provider_id)
        except DomainError:
            pass
        self._record_answered(deadline)
        return InboundOutcome("keyword", reason=f"{word.value} answered", keyword=word.value, replied=True)

    def _record_answered(self, deadline: datetime) -> None:
        # The answer is out; a lost record would make Lambda's retry text it again: retry any failure here.
        retry_on_conflict(lambda _: self._record("done", f"{self.word.value} answered"),
                          attempts=SEND_RECORD_ATTEMPTS, retry_on=(Exception,), backoff=SEND_RECORD_BACKOFF,
                          seconds_left=seconds_until(deadline, self.deps.clock),
                          exhausted=lambda: TransientFailure("could not record an SMS keyword answer"))

    def _record(self, state: str, reason: str) -> None:
        self.deps.repository.record_inbound(InboundRecord(*self.source, state=state, reason=reason),
                                            iso(self.deps.clock.now()))

    def _finish(self, state: str, reason: str) -> InboundOutcome:
        self._record(state, reason)
        return InboundOutcome("keyword", reason=reason, keyword=self.word.value)
