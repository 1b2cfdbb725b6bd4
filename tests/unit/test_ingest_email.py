"""Email ingest against in-memory adapters: threading, acknowledgements, loop safety, exactly once."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from chalicelib.adapters import keys
from chalicelib.domain.ids import iso
from chalicelib.domain.threading import ticket_from_reply_address
from tests.support import CUSTOMER, FakeShop, build_mail


@pytest.fixture
def shop(fixed_now: datetime) -> FakeShop:
    return FakeShop(now=fixed_now)


def set_ticket(shop: FakeShop, ticket_id: str, **values: object) -> None:
    item = shop.store.items[(keys.ticket(ticket_id)["pk"], "TICKET")]
    item.update(values)


def test_new_mail_becomes_ticket_with_acknowledgement(shop: FakeShop) -> None:
    raw, message_id = build_mail()
    outcome = shop.receive(raw)

    assert outcome.status == "created" and outcome.acknowledged
    assert outcome.ticket_number == 1001
    [ticket] = shop.items("ticket")
    assert ticket["status"] == "new" and ticket["queue"] == "support" and ticket["customer_email"] == CUSTOMER
    [customer] = shop.items("customer")
    assert customer["name"] == "Anna Schmidt"
    messages = shop.items("message")
    assert {m["direction"] for m in messages} == {"inbound", "outbound"}
    [ack] = shop.mail.sent
    assert ack.from_address == "support@shop.example" and ack.to == [CUSTOMER]
    assert ack.subject == "[#1001] Where is my order?"
    assert ack.in_reply_to == message_id and ack.references[-1] == message_id
    assert ack.extra_headers == {"Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All"}
    assert ticket_from_reply_address(ack.reply_to or "", shop.settings.reply_secret) == (
        ticket["id"], "support@shop.example")
    # Tuesday 10:00 in Berlin plus four business hours.
    assert "by today 14:00 (Europe/Berlin)" in ack.text
    assert "Anna" in ack.text and "#1001" in ack.text and "Example Shop" in ack.text


def test_queue_follows_the_address_written_to(shop: FakeShop) -> None:
    raw, _ = build_mail(to="shipping@shop.example")
    shop.receive(raw, destination=["shipping@shop.example"])
    [ticket] = shop.items("ticket")
    assert ticket["queue"] == "shipping"
    assert shop.mail.sent[0].from_address == "shipping@shop.example"


def test_same_delivery_twice_gives_one_ticket_and_one_ack(shop: FakeShop) -> None:
    raw, _ = build_mail()
    first = shop.receive(raw, ses_id="ses-1")
    second = shop.receive(raw, ses_id="ses-1")
    assert first.status == "created" and second.status == "duplicate"
    assert len(shop.items("ticket")) == 1 and len(shop.mail.sent) == 1


def test_one_mail_to_two_addresses_delivered_separately_is_one_ticket(shop: FakeShop) -> None:
    raw, _ = build_mail(to="support@shop.example, shipping@shop.example")
    shop.receive(raw, ses_id="ses-a", destination=["support@shop.example"])
    again = shop.receive(raw, ses_id="ses-b", destination=["shipping@shop.example"])
    assert again.status == "duplicate"
    assert len(shop.items("ticket")) == 1 and len(shop.mail.sent) == 1
    assert len([m for m in shop.items("message") if m["direction"] == "inbound"]) == 1


def test_reply_to_the_ses_rewritten_ack_id_threads(shop: FakeShop) -> None:
    raw, first_id = build_mail()
    created = shop.receive(raw)
    ack_entries = [i for i in shop.items("message_id") if i["message_id"].endswith("amazonses.com")]
    assert len(ack_entries) == 1
    ses_id = ack_entries[0]["message_id"]
    reply, _ = build_mail(subject="Re: [#1001] Where is my order?", in_reply_to=f"<{ses_id}>",
                          references=f"<{first_id}> <{ses_id}>", body="Any news?")
    outcome = shop.receive(reply)
    assert outcome.status == "appended" and outcome.ticket_id == created.ticket_id
    assert outcome.threaded_by == "message-id"
    assert len(shop.mail.sent) == 1  # no acknowledgement for a follow-up


def test_reply_to_the_signed_reply_address_threads(shop: FakeShop) -> None:
    created = shop.receive(build_mail()[0])
    reply_to = shop.mail.sent[0].reply_to
    assert reply_to
    reply, _ = build_mail(to=reply_to, subject="no headers kept")
    outcome = shop.receive(reply, destination=[reply_to])
    assert outcome.ticket_id == created.ticket_id and outcome.threaded_by == "reply-address"


def test_forged_reply_address_does_not_thread(shop: FakeShop) -> None:
    created = shop.receive(build_mail()[0])
    forged = f"support+{created.ticket_id}.aaaaaaaaaa@shop.example"
    outcome = shop.receive(build_mail(to=forged, subject="hello")[0], destination=[forged])
    assert outcome.status == "created" and outcome.ticket_id != created.ticket_id


def test_subject_token_threads_only_for_the_tickets_customer(shop: FakeShop) -> None:
    created = shop.receive(build_mail()[0])
    own = shop.receive(build_mail(subject="Re: [#1001] order")[0])
    assert own.ticket_id == created.ticket_id and own.threaded_by == "subject-token"
    stranger = shop.receive(build_mail(sender="mallory@evil.example", subject="[#1001] hi")[0],
                            source="mallory@evil.example")
    assert stranger.status == "created" and stranger.ticket_id != created.ticket_id


def test_failed_authentication_may_not_thread_by_subject(shop: FakeShop) -> None:
    created = shop.receive(build_mail()[0])
    spoofed = shop.receive(build_mail(subject="Re: [#1001] order")[0], verdicts={"dmarc": "FAIL"})
    assert spoofed.status == "created" and spoofed.ticket_id != created.ticket_id
    stored = [m for m in shop.items("message") if m["ticket_id"] == spoofed.ticket_id]
    assert stored[0]["auth"]["dmarc"] == "FAIL"


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto-Submitted": "auto-replied"},
        {"Precedence": "bulk"},
        {"X-Auto-Response-Suppress": "All"},
        {"List-Id": "<news.shop.example>"},
        {"X-Autoreply": "yes"},
    ],
)
def test_machines_get_no_acknowledgement(shop: FakeShop, headers: dict[str, str]) -> None:
    outcome = shop.receive(build_mail(headers=headers)[0])
    assert outcome.status == "created" and not outcome.acknowledged
    assert shop.mail.sent == []
    [ticket] = shop.items("ticket")
    assert ticket["ack_state"] == "none"


def test_noreply_sender_gets_no_acknowledgement(shop: FakeShop) -> None:
    shop.receive(build_mail(sender="Shop System <noreply@marketplace.example>")[0])
    assert shop.mail.sent == []


def test_out_of_office_does_not_reopen(shop: FakeShop) -> None:
    created = shop.receive(build_mail()[0])
    assert created.ticket_id
    set_ticket(shop, created.ticket_id, status="resolved")
    ack_id = shop.mail.sent[0].message_id
    auto = shop.receive(build_mail(in_reply_to=f"<{ack_id}>", headers={"Auto-Submitted": "auto-replied"})[0])
    assert auto.status == "appended"
    assert shop.repository.get_ticket(created.ticket_id).status.value == "resolved"  # type: ignore[union-attr]


def test_acknowledgements_per_sender_are_limited(shop: FakeShop) -> None:
    for n in range(5):
        shop.receive(build_mail(subject=f"question {n}")[0])
    assert len(shop.items("ticket")) == 5
    assert len(shop.mail.sent) == shop.settings.acks_per_sender_per_hour
    skipped = [t for t in shop.items("ticket") if t["ack_state"] == "skipped"]
    assert len(skipped) == 2


def test_mail_from_our_own_address_is_dropped(shop: FakeShop) -> None:
    outcome = shop.receive(build_mail(sender="support@shop.example")[0], source="support@shop.example")
    assert outcome.status == "dropped"
    assert shop.items("ticket") == [] and shop.mail.sent == []


def test_virus_is_quarantined_without_ticket(shop: FakeShop) -> None:
    outcome = shop.receive(build_mail()[0], verdicts={"virus": "FAIL"})
    assert outcome.status == "quarantined" and outcome.reason == "virus verdict FAIL"
    assert shop.items("ticket") == [] and shop.mail.sent == []
    [record] = shop.items("quarantine")
    assert record["raw_location"].startswith("s3://")


def test_spam_becomes_spam_ticket_without_ack(shop: FakeShop) -> None:
    outcome = shop.receive(build_mail()[0], verdicts={"spam": "FAIL"})
    assert outcome.status == "created" and not outcome.acknowledged
    [ticket] = shop.items("ticket")
    assert ticket["status"] == "spam"


def test_resolved_ticket_closes_on_yes_and_reopens_otherwise(shop: FakeShop) -> None:
    first = shop.receive(build_mail()[0])
    assert first.ticket_id
    set_ticket(shop, first.ticket_id, status="resolved")
    shop.receive(build_mail(subject="Re: [#1001] Where is my order?", body="Yes, thanks!")[0])
    assert shop.repository.get_ticket(first.ticket_id).status.value == "closed"  # type: ignore[union-attr]

    second = shop.receive(build_mail(subject="parcel")[0])
    assert second.ticket_id
    set_ticket(shop, second.ticket_id, status="resolved")
    shop.receive(build_mail(subject="Re: [#1002] parcel", body="No, it is still missing.")[0])
    assert shop.repository.get_ticket(second.ticket_id).status.value == "open"  # type: ignore[union-attr]


def test_reply_to_long_closed_ticket_opens_linked_ticket(shop: FakeShop) -> None:
    first = shop.receive(build_mail()[0])
    assert first.ticket_id
    set_ticket(shop, first.ticket_id, status="closed", closed_at=iso(shop.now - timedelta(days=31)))
    later = shop.receive(build_mail(subject="Re: [#1001] Where is my order?")[0])
    assert later.status == "created" and later.ticket_id != first.ticket_id
    assert shop.repository.get_ticket(later.ticket_id).linked_ticket_id == first.ticket_id  # type: ignore[union-attr,arg-type]


def test_reply_to_recently_closed_ticket_reopens_it(shop: FakeShop) -> None:
    first = shop.receive(build_mail()[0])
    assert first.ticket_id
    set_ticket(shop, first.ticket_id, status="closed", closed_at=iso(shop.now - timedelta(days=3)))
    again = shop.receive(build_mail(subject="Re: [#1001] Where is my order?", body="It broke again")[0])
    assert again.ticket_id == first.ticket_id
    assert shop.repository.get_ticket(first.ticket_id).status.value == "open"  # type: ignore[union-attr]


def test_attachments_are_stored_with_name_type_and_size(shop: FakeShop) -> None:
    pdf = b"%PDF-1.4 " + b"x" * 5000
    raw, _ = build_mail(attachments=[("invoice.pdf", "application/pdf", pdf)])
    shop.receive(raw)
    [inbound] = [m for m in shop.items("message") if m["direction"] == "inbound"]
    [attachment] = inbound["attachments"]
    assert attachment["filename"] == "invoice.pdf" and attachment["content_type"] == "application/pdf"
    assert attachment["size"] == len(pdf)
    assert shop.blobs.objects[attachment["key"]] == pdf


def test_sns_action_mail_is_kept_in_the_blob_store(shop: FakeShop) -> None:
    raw, _ = build_mail()
    outcome = shop.receive(raw, inline=raw)
    assert outcome.status == "created"
    [inbound] = [m for m in shop.items("message") if m["direction"] == "inbound"]
    assert shop.blobs.objects[inbound["raw_key"]] == raw


@pytest.mark.parametrize("text", ["", "not json", "[]", '{"notificationType": "Bounce"}',
                                  '{"notificationType": "Received", "mail": {}, "receipt": {}}'])
def test_malformed_notification_is_quarantined_not_raised(shop: FakeShop, text: str) -> None:
    from chalicelib.services.inbound.email_channel import ingest_email

    outcome = ingest_email(text, shop.deps)
    assert outcome.status == "quarantined"
    assert len(shop.items("quarantine")) == 1


def test_bounce_is_attached_and_address_marked_undeliverable(shop: FakeShop) -> None:
    created = shop.receive(build_mail()[0])
    ack_id = shop.mail.sent[0].message_id
    bounce = (
        "From: Mail Delivery System <MAILER-DAEMON@mx.customer.example>\r\n"
        "To: support@shop.example\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <bounce-1@mx.customer.example>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.customer.example\r\n\r\n"
        f"Final-Recipient: rfc822; {CUSTOMER}\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: support@shop.example\r\nTo: {CUSTOMER}\r\nMessage-ID: <{ack_id}>\r\nSubject: ack\r\n\r\n"
        "--B--\r\n"
    ).encode()
    outcome = shop.receive(bounce, source="")
    assert outcome.status == "appended" and outcome.ticket_id == created.ticket_id
    [identity] = shop.items("identity")
    assert identity["undeliverable"] is True
    shop.receive(build_mail(subject="new question")[0])
    assert len(shop.mail.sent) == 1  # nothing more to an address that bounces


def test_ack_send_failure_then_retry_sends_exactly_once(shop: FakeShop) -> None:
    class FlakySender:
        def __init__(self, inner: object) -> None:
            self.inner, self.failures = inner, 1

        def send(self, mail: object) -> object:
            if self.failures:
                self.failures -= 1
                raise ConnectionError("SES unreachable")
            return self.inner.send(mail)  # type: ignore[attr-defined]

    recorder = shop.mail
    shop.mail = FlakySender(recorder)  # type: ignore[assignment]
    raw, _ = build_mail()
    with pytest.raises(ConnectionError):
        shop.receive(raw, ses_id="ses-flaky")
    assert len(shop.items("ticket")) == 1 and recorder.sent == []
    retried = shop.receive(raw, ses_id="ses-flaky")
    assert retried.status == "resumed" and retried.acknowledged
    assert len(shop.items("ticket")) == 1 and len(recorder.sent) == 1
    assert shop.receive(raw, ses_id="ses-flaky").status == "duplicate"
    assert len(recorder.sent) == 1


def test_outcome_is_json_serialisable_without_personal_data(shop: FakeShop) -> None:
    from dataclasses import asdict

    outcome = shop.receive(build_mail()[0])
    text = json.dumps(asdict(outcome))
    assert CUSTOMER not in text and "order" not in text.lower()


def test_an_acknowledgement_ses_rejects_is_recorded_on_the_ticket_and_never_retried(shop: FakeShop) -> None:
    """Given SES refuses the acknowledgement for good (MessageRejected), when the mail is ingested, then the
    ticket says why no acknowledgement went, the delivery is done (no Lambda retry storm), and a redelivery
    sends nothing."""
    shop.mail.refuse.add(CUSTOMER)
    raw, _ = build_mail()
    outcome = shop.receive(raw, ses_id="rejected-ack")
    assert outcome.status == "created" and outcome.acknowledged is False
    [ticket] = shop.items("ticket")
    assert ticket["ack_state"] == "skipped" and "MessageRejected" in ticket["ack_reason"]
    [delivery] = shop.items("inbound")
    assert delivery["state"] == "done"
    assert shop.receive(raw, ses_id="rejected-ack").status == "duplicate"
    assert shop.mail.sent == []


def test_a_body_large_in_bytes_but_not_in_characters_goes_to_the_blob_store(shop: FakeShop) -> None:
    """DynamoDB's 400 KB counts bytes: 30,000 emoji are 60,000 characters in text and visible text but
    240 KB of UTF-8, so the body goes to S3 by its encoded size (a bigger one could never be stored)."""
    raw, _ = build_mail(body="😀" * 30_000)
    assert shop.receive(raw).status == "created"
    [message] = [m for m in shop.items("message") if m["direction"] == "inbound"]
    assert message["body_key"] and len(message["body_text"].encode()) <= 80_000
