"""Issue 11: what an attacker who can send mail or fill in the contact form could make us do, and can no longer.

Forged bounces, identities attached through the form, acknowledgements as a relay, strangers in a thread."""
from __future__ import annotations

import uuid
from datetime import datetime

import pytest

from chalicelib.adapters import keys
from chalicelib.domain.privacy import pseudonym
from chalicelib.ports import CustomerChange, Identity
from chalicelib.services.inbound.ack_policy import rate_sender
from chalicelib.services.inbound.bounces import is_mail_system
from chalicelib.services.inbound.web_form import ContactForm, submit_contact
from tests.support import CUSTOMER, FakeShop, build_mail

ATTACKER = "mallory@evil.example"
VICTIM = CUSTOMER
VICTIM_PHONE = "+4915123456789"


@pytest.fixture
def shop(fixed_now: datetime) -> FakeShop:
    return FakeShop(now=fixed_now)


def set_ticket(shop: FakeShop, ticket_id: str, **values: object) -> None:
    shop.store.items[(keys.ticket(ticket_id)["pk"], "TICKET")].update(values)


def identity(shop: FakeShop, kind: str, value: str) -> dict[str, object] | None:
    return shop.store.items.get((keys.identity(kind, value)["pk"], "IDENT"))


def report(cited: str, *recipients: str, sender: str = "Mail Delivery System <MAILER-DAEMON@mx.evil.example>",
           reporting_mta: bool = True, action: str = "failed") -> bytes:
    """A multipart/report (RFC 3464) citing `cited`, naming `recipients` as failed."""
    per_message = "Reporting-MTA: dns; mx.evil.example\r\n" if reporting_mta else "Arrival-Date: today\r\n"
    blocks = "".join(f"Final-Recipient: rfc822; {r}\r\nAction: {action}\r\nStatus: 5.1.1\r\n\r\n" for r in recipients)
    return (
        f"From: {sender}\r\nTo: support@shop.example\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@mx.evil.example>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n"
        f"--B\r\nContent-Type: message/delivery-status\r\n\r\n{per_message}\r\n{blocks}"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: support@shop.example\r\nMessage-ID: <{cited}>\r\nSubject: ack\r\n\r\n"
        "--B--\r\n"
    ).encode()


def victim_and_attacker(shop: FakeShop) -> tuple[str, str]:
    """The victim wrote once (their identity is known); the attacker wrote once and holds their own ack."""
    shop.receive(build_mail()[0])
    attacker = shop.receive(build_mail(sender=ATTACKER, subject="hello")[0], source=ATTACKER)
    assert attacker.ticket_id
    ack_id = next(m.message_id for m in shop.mail.sent if m.to == [ATTACKER])
    return attacker.ticket_id, ack_id


# ---- 1. forged bounces --------------------------------------------------------------------------------
def test_forged_bounce_from_any_sender_marks_nothing(shop: FakeShop) -> None:
    """Before: the attacker's report citing their own ack marked the victim undeliverable."""
    attacker_ticket, ack_id = victim_and_attacker(shop)
    outcome = shop.receive(report(ack_id, VICTIM, sender=ATTACKER), source=ATTACKER)
    assert outcome.status == "appended" and outcome.ticket_id == attacker_ticket
    assert outcome.reason == "bounce not trusted: not from a mail system"
    assert "undeliverable" not in (identity(shop, "email", VICTIM) or {})
    [stored] = [m for m in shop.items("message") if m.get("subject") == "Undelivered Mail Returned to Sender"]
    assert stored["automated"] is True and stored["ticket_id"] == attacker_ticket
    [event] = [e for e in shop.items("event") if e["type"] == "bounce_received"]
    assert event["data"]["undeliverable"] == 0 and event["data"]["not_marked"] == "not from a mail system"


def test_bounce_looking_like_a_mail_system_marks_only_who_the_cited_mail_went_to(shop: FakeShop) -> None:
    """Null sender, MAILER-DAEMON From and a Reporting-MTA are easy to forge: the recipients check is the guard."""
    _, ack_id = victim_and_attacker(shop)
    outcome = shop.receive(report(ack_id, VICTIM), source="")
    assert outcome.reason == "bounce not trusted: names no recipient of the cited mail"
    assert "undeliverable" not in (identity(shop, "email", VICTIM) or {})
    # The same report about the attacker's own address is believed: the ack did go there.
    shop.receive(report(ack_id, ATTACKER, VICTIM), source="", ses_id="second-report")
    assert (identity(shop, "email", ATTACKER) or {}).get("undeliverable") is True
    assert "undeliverable" not in (identity(shop, "email", VICTIM) or {})


def test_outbound_message_ids_remember_their_recipients(shop: FakeShop) -> None:
    shop.receive(build_mail()[0])
    entries = [i for i in shop.items("message_id") if i["kind"] == "outbound"]
    assert len(entries) == 2 and all(e["recipients"] == [pseudonym(VICTIM)] for e in entries)


def test_report_without_reporting_mta_or_from_a_person_marks_nothing(shop: FakeShop) -> None:
    shop.receive(build_mail()[0])
    ack_id = shop.mail.sent[0].message_id
    outcome = shop.receive(report(ack_id, VICTIM, reporting_mta=False), source="")
    assert outcome.reason == "bounce not trusted: no Reporting-MTA"
    outcome = shop.receive(report(ack_id, VICTIM, action="delayed"), source="", ses_id="delayed")
    assert outcome.reason == "bounce not trusted: action delayed"
    assert "undeliverable" not in (identity(shop, "email", VICTIM) or {})


def test_report_citing_a_customer_mail_or_nothing_we_sent_is_quarantined(shop: FakeShop) -> None:
    raw, customer_id = build_mail()
    shop.receive(raw)
    outcome = shop.receive(report(customer_id, VICTIM), source="", ses_id="cites-inbound")
    assert outcome.status == "quarantined" and outcome.reason == "bounce for a message we did not send"
    assert "undeliverable" not in (identity(shop, "email", VICTIM) or {})


def test_report_naming_many_known_addresses_fits_one_transaction(shop: FakeShop) -> None:
    """Before: 120 known addresses made a 126-operation transaction that failed on every retry."""
    _, ack_id = victim_and_attacker(shop)
    many = [f"user{n}@customer.example" for n in range(120)]
    for start in (0, 60):  # seeded in two transactions: one holds at most 100 operations
        shop.repository.change_customers(CustomerChange(identities=[
            (Identity("email", a, f"c{n}"), None) for n, a in enumerate(many[start:start + 60])]))
    outcome = shop.receive(report(ack_id, *many, ATTACKER), source="")
    assert outcome.status == "appended"
    marked = [i["value"] for i in shop.items("identity") if i.get("undeliverable")]
    assert marked == []  # the attacker's address is the 121st: past the bound, and the 120 were never sent to
    outcome = shop.receive(report(ack_id, ATTACKER, *many), source="", ses_id="attacker-first")
    assert [i["value"] for i in shop.items("identity") if i.get("undeliverable")] == [ATTACKER]


def test_mail_system_senders() -> None:
    assert is_mail_system("") and is_mail_system("<>") and is_mail_system("MAILER-DAEMON@mx.example")
    assert is_mail_system("postmaster@mx.example") and not is_mail_system("anna@customer.example")
    assert not is_mail_system(None)


# ---- 2. the contact form ------------------------------------------------------------------------------
def form(shop: FakeShop, email: str, phone: str | None, *, name: str = "Mallory", subject: str = "Hi",
         message: str = "Please call me.") -> int | None:
    return submit_contact(ContactForm(name=name, email=email, phone=phone, order_number=None, subject=subject,
                                      message=message, honeypot="", source_ip="203.0.113.9"), shop.deps)


def victim_customer(shop: FakeShop) -> str:
    """The victim is known by email and phone (one customer), as after a form they filled in themselves."""
    assert form(shop, VICTIM, VICTIM_PHONE, name="Anna Schmidt") == 1001
    owner = identity(shop, "phone", VICTIM_PHONE)
    assert owner is not None and owner["customer_id"] == (identity(shop, "email", VICTIM) or {})["customer_id"]
    return str(owner["customer_id"])


def test_form_with_own_email_and_victims_phone_does_not_join_the_victim(shop: FakeShop) -> None:
    """Before: the first known identity (the victim's phone) picked the customer: the attacker's address
    was linked to the victim's customer and their ticket filed under the victim."""
    victim = victim_customer(shop)
    form(shop, ATTACKER, VICTIM_PHONE)
    attacker_identity = identity(shop, "email", ATTACKER)
    assert attacker_identity is not None and attacker_identity["customer_id"] != victim
    customer = shop.repository.get_customer(victim)
    assert customer is not None and customer.emails == [VICTIM] and customer.phones == [VICTIM_PHONE]
    assert (identity(shop, "phone", VICTIM_PHONE) or {})["customer_id"] == victim
    [ticket] = [t for t in shop.items("ticket") if t["number"] == 1002]
    assert ticket["customer_id"] == attacker_identity["customer_id"] and ticket.get("customer_phone") is None
    assert shop.mail.sent[-1].to == [ATTACKER]  # the email is the sender: it gets the acknowledgement
    [message] = [m for m in shop.items("message") if m["ticket_id"] == ticket["id"] and m["direction"] == "inbound"]
    assert f"Phone (given in the form, not verified): {VICTIM_PHONE}" in message["body_text"]


def test_form_with_victims_email_and_own_phone_adds_nothing_to_the_victim(shop: FakeShop) -> None:
    """Before: the attacker's number joined the victim's customer (unclaimed identities joined the first known)."""
    victim = victim_customer(shop)
    form(shop, VICTIM, "+4915199999999")
    customer = shop.repository.get_customer(victim)
    assert customer is not None and customer.phones == [VICTIM_PHONE]
    assert identity(shop, "phone", "+4915199999999") is None
    [ticket] = [t for t in shop.items("ticket") if t["number"] == 1002]
    assert ticket["customer_id"] == victim and ticket.get("customer_phone") is None


# ---- 9. acknowledgements as a relay -------------------------------------------------------------------
def test_mail_failing_authentication_is_not_acknowledged(shop: FakeShop) -> None:
    """Before: a forged sender (SPF, DKIM and DMARC FAIL) got an acknowledgement: backscatter."""
    outcome = shop.receive(build_mail()[0], verdicts={"spf": "FAIL", "dkim": "FAIL", "dmarc": "FAIL"})
    assert outcome.status == "created" and not outcome.acknowledged and shop.mail.sent == []
    [ticket] = shop.items("ticket")
    assert ticket["ack_state"] == "skipped" and "authentication failed" in ticket["ack_reason"]


def test_form_acknowledgement_repeats_nothing_typed(shop: FakeShop) -> None:
    """Before: subject and name came back in our mail to whatever address was typed in."""
    form(shop, VICTIM, None, name="Visit evil.example", subject="Cheap pills at evil.example",
         message="evil.example")
    [ack] = shop.mail.sent
    assert ack.subject == "[#1001] We received your message"
    assert "evil.example" not in ack.text and "#1001" in ack.text and "Hello there" in ack.text


def test_plus_tags_and_case_count_as_one_sender(shop: FakeShop) -> None:
    """Before: dana+1@ … dana+20@ got 20 acknowledgements of 20."""
    for n in range(20):
        shop.receive(build_mail(sender=f"Dana+{n}@customer.example", subject=f"q {n}")[0])
    assert len(shop.items("ticket")) == 20
    assert len(shop.mail.sent) == shop.settings.acks_per_sender_per_hour
    assert rate_sender("Dana+7@Customer.Example") == "dana@customer.example"


def test_rotating_senders_of_one_domain_are_limited(shop: FakeShop) -> None:
    for n in range(25):
        shop.receive(build_mail(sender=f"bounce-{n}-x=y.example@lists.example", subject=f"q {n}")[0])
    assert len(shop.mail.sent) == shop.settings.acks_per_domain_per_hour == 20


def test_acknowledgements_are_limited_for_the_whole_shop(fixed_now: datetime) -> None:
    shop = FakeShop(now=fixed_now, env={"SHOPDESK_STAGE": "test", "SHOPDESK_ACKS_PER_HOUR": "4"})
    for n in range(6):
        shop.receive(build_mail(sender=f"someone@domain{n}.example", subject=f"q {n}")[0])
    assert len(shop.mail.sent) == 4
    assert shop.items("ticket")[-1]["ack_reason"] == "acknowledgement rate limit for the shop"
    # The shop's counter is sharded (no hot item in every create transaction); the limit is their sum.
    shards = [i for i in shop.store.all_items() if str(i["pk"]).startswith("RATE#ack#all#")]
    assert sum(int(i["count"]) for i in shards) == 4 and len(shards) > 1


# ---- 15. strangers in a thread ------------------------------------------------------------------------
def test_strangers_yes_in_a_thread_reopens_and_is_flagged(shop: FakeShop) -> None:
    """Before: anyone citing the thread's Message-ID closed the resolved ticket with "yes"."""
    created = shop.receive(build_mail()[0])
    assert created.ticket_id
    set_ticket(shop, created.ticket_id, status="resolved")
    ack_id = shop.mail.sent[0].message_id
    outcome = shop.receive(build_mail(sender=ATTACKER, body="Yes, thanks!", in_reply_to=f"<{ack_id}>")[0],
                           source=ATTACKER)
    assert outcome.status == "appended" and outcome.ticket_id == created.ticket_id
    ticket = shop.repository.get_ticket(created.ticket_id)
    assert ticket is not None and ticket.status.value == "open"
    [message] = [m for m in shop.items("message") if m["from_address"] == ATTACKER]
    assert message["from_stranger"] is True
    received = [e for e in shop.items("event") if e["type"] == "message_received"]
    assert [e["data"].get("from_stranger") for e in received] == [None, True]


def test_the_customers_own_yes_still_closes(shop: FakeShop) -> None:
    created = shop.receive(build_mail()[0])
    assert created.ticket_id
    set_ticket(shop, created.ticket_id, status="resolved")
    ack_id = shop.mail.sent[0].message_id
    shop.receive(build_mail(body="Yes, thanks!", in_reply_to=f"<{ack_id}>")[0])
    ticket = shop.repository.get_ticket(created.ticket_id)
    assert ticket is not None and ticket.status.value == "closed"
    assert not any(m.get("from_stranger") for m in shop.items("message"))


@pytest.mark.parametrize("verdicts", [
    {"spf": "GRAY", "dkim": "GRAY", "dmarc": "GRAY"},
    {"spf": "PASS", "dkim": "GRAY", "dmarc": "FAIL"},
    {"spf": "PROCESSING_FAILED", "dkim": "PROCESSING_FAILED", "dmarc": "PROCESSING_FAILED"},
])
def test_subject_token_needs_authenticated_sender(shop: FakeShop, verdicts: dict[str, str]) -> None:
    """Before: a mail forging the customer's From with GRAY verdicts threaded (and closed) by "[#1001]"."""
    created = shop.receive(build_mail()[0])
    assert created.ticket_id
    set_ticket(shop, created.ticket_id, status="resolved")
    outcome = shop.receive(build_mail(subject="Re: [#1001] Where is my order?", body="Yes, thanks!")[0],
                           verdicts=verdicts)
    assert outcome.status == "created" and outcome.ticket_id != created.ticket_id
    ticket = shop.repository.get_ticket(created.ticket_id)
    assert ticket is not None and ticket.status.value == "resolved"
