"""SMS ingest against in-memory adapters: conversations, keywords, acknowledgements, exactly once."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from chalicelib.adapters import keys
from chalicelib.domain.ids import iso
from chalicelib.domain.tickets import TicketStatus
from chalicelib.sms.segments import count_segments
from tests.sms_support import CUSTOMER_PHONE, EVENTS, STORE_NUMBER, FakeSmsShop


@pytest.fixture
def shop(fixed_now: datetime) -> FakeSmsShop:
    return FakeSmsShop(now=fixed_now)


def set_ticket(shop: FakeSmsShop, ticket_id: str, **values: object) -> None:
    shop.store.items[(keys.ticket(ticket_id)["pk"], "TICKET")].update(values)


def test_documented_payload_opens_a_ticket_and_is_acknowledged_by_sms(shop: FakeSmsShop) -> None:
    outcome = shop.deliver((EVENTS / "two_way_sms.json").read_text())
    assert outcome.status == "created" and outcome.acknowledged and outcome.ticket_number == 1001
    [ticket] = shop.items("ticket")
    assert ticket["channel"] == "sms" and ticket["queue"] == "support" and ticket["customer_phone"] == CUSTOMER_PHONE
    assert ticket["subject"] == "Hi, my order 5512 has not arrived yet. Can you check?"
    assert ticket["ack_state"] == "sent" and ticket["first_response_due_at"]
    [customer] = shop.items("customer")
    assert customer["phones"] == [CUSTOMER_PHONE]
    [ack] = shop.sms.sent
    assert ack.to == CUSTOMER_PHONE and ack.origination == STORE_NUMBER and ack.transactional
    # Tuesday 10:00 in Berlin plus four business hours, the same promise the email acknowledgement makes.
    assert "#1001" in ack.text and "today 14:00 (Europe/Berlin)" in ack.text and "STOP" in ack.text
    assert count_segments(ack.text).segments <= 2
    thread = shop.thread(ticket["id"])
    assert [m["direction"] for m in thread] == ["inbound", "outbound"]
    assert thread[1]["automated"] and thread[1]["automated_reason"] == "acknowledgement"


def test_quick_texts_in_a_row_become_one_ticket_without_more_acks(shop: FakeSmsShop) -> None:
    first = shop.text("Hello?")
    for n in range(3):
        shop.clock.advance(seconds=20)
        assert shop.text(f"Also question {n}").status == "appended"
    assert len(shop.items("ticket")) == 1 and len(shop.sms.sent) == 1
    assert len([m for m in shop.thread(first.ticket_id or "") if m["direction"] == "inbound"]) == 4


def test_destination_number_picks_the_queue_and_the_answering_number(fixed_now: datetime) -> None:
    numbers = {"+12125550101": "support", "+12125550177": "shipping"}
    shop = FakeSmsShop(now=fixed_now, env={"SHOPDESK_STAGE": "test", "SHOPDESK_SMS_NUMBERS": json.dumps(numbers)})
    shop.text("Where is my parcel?", destination="+1 212 555 0177")
    [ticket] = shop.items("ticket")
    assert ticket["queue"] == "shipping" and shop.sms.sent[0].origination == "+12125550177"
    shop.text("Another question", origination="+14255550199", destination="+12125550199")  # not ours: default
    assert {t["queue"] for t in shop.items("ticket")} == {"shipping", "support"}


def test_same_delivery_twice_gives_one_message_and_one_ack(shop: FakeSmsShop) -> None:
    assert shop.text("Hi", inbound_id="in-1").status == "created"
    assert shop.text("Hi", inbound_id="in-1").status == "duplicate"
    shop.text("Follow-up", inbound_id="in-2")
    assert shop.text("Follow-up", inbound_id="in-2").status == "duplicate"
    assert len(shop.items("message")) == 3 and len(shop.sms.sent) == 1


def test_out_of_order_texts_are_ordered_by_carrier_time_and_none_is_lost(shop: FakeSmsShop) -> None:
    now = shop.now
    shop.text("first", inbound_id="a", timestamp=iso(now - timedelta(minutes=5)))
    shop.text("third", inbound_id="c", timestamp=iso(now - timedelta(minutes=1)))
    late = shop.text("second", inbound_id="b", timestamp=int((now - timedelta(minutes=3)).timestamp() * 1000))
    assert late.status == "appended"
    inbound = [m["body_text"] for m in shop.thread(late.ticket_id or "") if m["direction"] == "inbound"]
    assert inbound == ["first", "second", "third"]


def test_sns_timestamp_orders_when_the_payload_has_none(shop: FakeSmsShop) -> None:
    now = shop.now
    created = shop.text("earlier", delivered_at=now - timedelta(seconds=30))
    shop.text("even earlier", delivered_at=now - timedelta(seconds=50))
    bodies = [m["body_text"] for m in shop.thread(created.ticket_id or "") if m["direction"] == "inbound"]
    assert bodies == ["even earlier", "earlier"]


def test_resolved_within_seven_days_reopens_later_starts_a_new_linked_ticket(shop: FakeSmsShop) -> None:
    first = shop.text("Parcel missing")
    assert first.ticket_id is not None
    set_ticket(shop, first.ticket_id, status="resolved", resolved_at=iso(shop.now))
    shop.clock.advance(days=6)
    assert shop.text("Still missing").ticket_id == first.ticket_id
    ticket = shop.repository.get_ticket(first.ticket_id)
    assert ticket is not None and ticket.status is TicketStatus.OPEN
    set_ticket(shop, first.ticket_id, status="resolved", resolved_at=iso(shop.now))
    shop.clock.advance(days=8)
    later = shop.text("New question")
    assert later.status == "created" and later.ticket_id != first.ticket_id
    assert shop.repository.get_ticket(later.ticket_id or "").linked_ticket_id == first.ticket_id  # type: ignore[union-attr]


def test_yes_closes_a_resolved_conversation(shop: FakeSmsShop) -> None:
    first = shop.text("Parcel missing")
    set_ticket(shop, first.ticket_id or "", status="resolved", resolved_at=iso(shop.now))
    shop.clock.advance(hours=1)
    shop.text("Yes")
    assert shop.repository.get_ticket(first.ticket_id or "").status is TicketStatus.CLOSED  # type: ignore[union-attr]


def test_closed_conversation_starts_a_new_ticket(shop: FakeSmsShop) -> None:
    first = shop.text("Parcel missing")
    set_ticket(shop, first.ticket_id or "", status="closed", closed_at=iso(shop.now))
    again = shop.text("Another thing")
    assert again.status == "created" and again.ticket_id != first.ticket_id and again.acknowledged


def test_merged_conversation_continues_on_the_ticket_it_was_merged_into(shop: FakeSmsShop) -> None:
    first = shop.text("one")
    second = shop.text("two", origination="+14255550199")
    set_ticket(shop, first.ticket_id or "", status="closed", merged_into=second.ticket_id)
    assert shop.text("three").ticket_id == second.ticket_id


def test_two_texts_racing_to_open_a_ticket_make_one(shop: FakeSmsShop) -> None:
    """The second text read "no conversation" before the first was written: its conditional claim of
    the conversation fails, it reads again and joins the ticket the first one opened."""
    original = shop.repository.lookup
    twin_sent = False

    def lookup_then_race(request):  # type: ignore[no-untyped-def]
        nonlocal twin_sent
        found = original(request)
        if request.conversations and not twin_sent:
            twin_sent = True
            assert shop.text("I was first", inbound_id="twin").status == "created"
        return found

    shop.repository.lookup = lookup_then_race  # type: ignore[method-assign]
    outcome = shop.text("I lost the race", inbound_id="late")
    assert outcome.status == "appended"
    assert len(shop.items("ticket")) == 1 and len(shop.sms.sent) == 1


def test_stop_records_opt_out_confirms_once_and_blocks_every_further_text(shop: FakeSmsShop) -> None:
    shop.text("Hi")
    outcome = shop.deliver((EVENTS / "two_way_sms_stop.json").read_text())
    assert outcome.status == "keyword" and outcome.keyword == "opt-out" and outcome.replied
    identity = shop.repository.get_identity("phone", CUSTOMER_PHONE)
    assert identity is not None and identity.sms_opted_out
    assert "START" in shop.sms.sent[-1].text
    assert shop.text("stop").reason == "already opted out"  # no second confirmation
    assert shop.text("HELP").replied is False
    shop.text("But where is my parcel?")
    assert len(shop.sms.sent) == 2  # the ack and the one confirmation
    assert len(shop.items("ticket")) == 1  # keyword texts open no ticket; the question joined the ticket


def test_stop_from_an_unknown_number_is_remembered(shop: FakeSmsShop) -> None:
    shop.text("STOP")
    assert shop.items("ticket") == []
    assert shop.repository.get_identity("phone", CUSTOMER_PHONE).sms_opted_out  # type: ignore[union-attr]
    outcome = shop.text("Hello, a question")
    assert outcome.status == "created" and not outcome.acknowledged
    assert outcome.reason == "number opted out of texts" and len(shop.sms.sent) == 1


def test_start_opts_back_in(shop: FakeSmsShop) -> None:
    shop.text("STOP")
    assert shop.text("Start").replied
    assert not shop.repository.get_identity("phone", CUSTOMER_PHONE).sms_opted_out  # type: ignore[union-attr]
    assert shop.text("start").reason == "already receiving texts"
    assert shop.text("Question").acknowledged


def test_help_answers_with_store_and_how_to_reach_support(shop: FakeSmsShop) -> None:
    outcome = shop.text("help")
    assert outcome.replied and outcome.keyword == "help"
    [answer] = shop.sms.sent
    assert "Example Shop" in answer.text and "support@shop.example" in answer.text
    assert shop.items("ticket") == [] and shop.items("customer") == []


def test_acknowledgements_are_rate_limited_per_number(shop: FakeSmsShop) -> None:
    for n in range(5):
        first = shop.text(f"question {n}")
        set_ticket(shop, first.ticket_id or "", status="closed", closed_at=iso(shop.now))
    assert len(shop.sms.sent) == 3
    skipped = [t for t in shop.items("ticket") if t["ack_state"] == "skipped"]
    assert len(skipped) == 2 and skipped[0]["ack_reason"] == "acknowledgement rate limit for this number"


def test_provider_refusal_skips_the_ack_for_good(shop: FakeSmsShop) -> None:
    shop.sms.refuse.add(CUSTOMER_PHONE)
    outcome = shop.text("Hi", inbound_id="refused")
    assert outcome.status == "created" and not outcome.acknowledged
    [ticket] = shop.items("ticket")
    assert ticket["ack_state"] == "skipped" and "refused" in ticket["ack_reason"]
    assert shop.text("Hi", inbound_id="refused").status == "duplicate"


def test_a_crash_after_the_ticket_is_written_sends_the_ack_on_retry(shop: FakeSmsShop) -> None:
    class Down(Exception):
        pass

    def fail(_sms: object) -> None:
        raise Down()

    working = shop.sms.send
    shop.sms.send = fail  # type: ignore[method-assign,assignment]
    with pytest.raises(Down):
        shop.text("Hi", inbound_id="retry")
    shop.sms.send = working  # type: ignore[method-assign]
    outcome = shop.text("Hi", inbound_id="retry")
    assert outcome.status == "resumed" and outcome.acknowledged
    assert len(shop.items("ticket")) == 1 and len(shop.sms.sent) == 1
    assert shop.text("Hi", inbound_id="retry").status == "duplicate"


def test_impossible_numbers_are_quarantined_with_a_reason(shop: FakeSmsShop) -> None:
    outcome = shop.text("hi", origination="+49 1", inbound_id="bad-number")
    assert outcome.status == "quarantined" and outcome.reason == "impossible origination number: too short"
    [record] = shop.items("quarantine")
    assert record["source"] == "sms" and record["raw_location"] in shop.blobs.objects
    assert shop.text("hi", origination="+49 1", inbound_id="bad-number").status == "duplicate"
    assert shop.items("ticket") == [] and shop.sms.sent == []


@pytest.mark.parametrize("payload", ["{not json", "null", "[]", json.dumps({"originationNumber": "+14255550182"}),
                                     json.dumps({"originationNumber": "+1", "destinationNumber": "+1",
                                                 "messageBody": "x" * 6000, "inboundMessageId": "i"})])
def test_malformed_payloads_are_quarantined_without_raising(shop: FakeSmsShop, payload: str) -> None:
    outcome = shop.deliver(payload)
    assert outcome.status == "quarantined" and outcome.reason and outcome.reason.startswith("malformed payload")
    assert "x" * 20 not in outcome.reason  # the reason names the field, never the content
    assert len(shop.items("quarantine")) == 1 and shop.sms.sent == []


def test_our_own_number_and_empty_texts_are_dropped(shop: FakeSmsShop) -> None:
    assert shop.text("loop?", origination=STORE_NUMBER).status == "dropped"
    assert shop.text("   ").status == "dropped"
    assert shop.items("ticket") == [] and shop.sms.sent == []


def test_sms_ingest_takes_the_sla_setup_production_takes(shop: FakeSmsShop) -> None:
    """The SMS fake is built by the composition root like production: the stored SLA configuration applies."""
    outcome = shop.text("My parcel is late")
    [ticket] = shop.items("ticket")
    assert outcome.status == "created" and ticket["sla"]["terms"]["policy_id"] == "default"
    assert shop.deps.sla.repository is not None
