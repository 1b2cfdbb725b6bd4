"""The services guard one-line fields themselves, so a caller other than the API (a script, the local
stack, a future channel) cannot store a subject that breaks a mail header either."""
from __future__ import annotations

from datetime import datetime

import pytest

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.principals import Principal, Role
from chalicelib.domain.text import single_line
from chalicelib.services.inbound.web_form import ContactForm, submit_contact
from chalicelib.services.new_tickets import NewTicketRequest, open_ticket
from tests.support import FakeShop

AGENT = Principal("agent-1", "Alex Agent", Role.AGENT)
LINE_BREAKS = ["\r", "\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


@pytest.mark.parametrize("brk", LINE_BREAKS, ids=repr)
def test_single_line_refuses_every_line_break_and_names_the_field(brk: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        single_line(f"Wrong{brk}size", "subject", 200)
    assert refused.value.field == "subject"
    assert single_line(f"  Wrong size{brk}", "subject", 200) == "Wrong size"  # surrounding whitespace goes


def test_single_line_limits_length_and_emptiness() -> None:
    assert single_line(None, "order_number", 64, required=False) == ""
    with pytest.raises(InvalidInput):
        single_line("  ", "subject", 200)
    with pytest.raises(InvalidInput):
        single_line("x" * 201, "subject", 200)


@pytest.mark.parametrize("brk", LINE_BREAKS, ids=repr)
def test_services_refuse_line_breaks_before_writing(fixed_now: datetime, brk: str) -> None:
    shop = FakeShop(fixed_now)
    form = ContactForm(name="Dana", email="dana@customer.example", phone=None, order_number=None,
                       subject=f"Hi{brk}Bcc: x@evil.example", message="Hello", honeypot="", source_ip="192.0.2.1")
    with pytest.raises(InvalidInput) as refused:
        submit_contact(form, shop.deps)
    assert refused.value.field == "subject"
    with pytest.raises(InvalidInput) as refused:
        open_ticket(NewTicketRequest(channel="email", subject=f"Hi{brk}there", body="Hello",
                                     customer_email="dana@customer.example"), AGENT, shop.shop.inbox())
    assert refused.value.field == "subject"
    assert list(shop.store.all_items()) == [] and shop.mail.sent == []
