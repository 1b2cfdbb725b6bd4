"""Macros that fail or grow: every render error is a 400 on the body (InvalidInput "body"), output is
capped and work is bounded by construction, on save, on preview and in a reply."""
from __future__ import annotations

import time
from datetime import datetime

import pytest

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.principals import Principal, Role
from chalicelib.services.macros import MacroDraft, apply_macro, render_macro, save_macro
from chalicelib.services.new_tickets import NewTicketRequest, open_ticket
from chalicelib.services.replies import ReplyRequest
from chalicelib.templates.bounded import MAX_OUTPUT
from tests.support import FakeShop

MANAGER = Principal("manager-1", "Mia Manager", Role.MANAGER)
HOSTILE = [
    "{{ 1/0 }}", "{{ 1 // 0 }}", "{{ 10**5000 }}", "{{ 10 ** (10 ** 9) }}", "{{ 2.0 ** 100000 }}",
    "{{ range(100001) | list }}", "{% for i in range(100001) %}{% endfor %}",
    "{{ '{0}{1}'.format(1) }}", "{{ '{:>99999999}'.format('x') }}", "{{ '%99999999s' % 'x' }}",
    "{{ 'x' * 50000000 }}", "{{ ['x'] * 50000000 }}", "{% for i in range(99999) %}xxxxxxxxxx{% endfor %}",
    "{% for i in range(9999) %}{% for j in range(9999) %}{% endfor %}{% endfor %}",
    "{% set a = 'x' * 20000 %}{% set b = a ~ a %}{{ b }}",
    "{% set a = 'x' * 20000 %}{% set b %}{{ a }}{{ a }}{{ a }}{{ a }}{{ a }}{{ a }}{% endset %}",
    "{{ (['x' * 20000] * 1000) | join }}", "{{ ('x' * 20000).replace('x', 'yy') }}",
    "{{ 'x' | replace('x', 'y' * 20001) }}", "{{ 'x' | center(100000000) }}", "{{ 'x'.center(100000000) }}",
    "{{ 'x'.ljust(100000000) }}", "{{ 'x' | indent(100000000) }}", "{{ lipsum(100000) }}",
    "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
    "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(40) }}",
    "{{ [1, 2][5] }}", "{{ 'a' + 1 }}", "{{ ''.__class__ }}",
]


@pytest.fixture
def shop(fixed_now: datetime) -> FakeShop:
    return FakeShop(fixed_now)


@pytest.mark.parametrize("body", HOSTILE)
def test_a_hostile_macro_is_refused_on_save_quickly_and_names_the_body(shop: FakeShop, body: str) -> None:
    started = time.perf_counter()
    with pytest.raises(InvalidInput) as refused:
        save_macro(None, MacroDraft(name="evil", body=body), MANAGER, shop.shop.inbox())
    assert refused.value.field == "body"
    assert time.perf_counter() - started < 2  # bounded work, not a wall clock
    assert shop.repository.list_macros() == []


def test_a_macro_that_only_fails_for_some_tickets_is_a_400_on_preview_and_reply(shop: FakeShop) -> None:
    deps = shop.shop.inbox()
    macro = save_macro(None, MacroDraft(name="trap", body="{{ 1 // (ticket.number - 1002) }}"), MANAGER, deps)
    first = open_ticket(NewTicketRequest(channel="phone", subject="one", body="x", customer_phone="+4915112345678"),
                        MANAGER, deps)
    second = open_ticket(NewTicketRequest(channel="phone", subject="two", body="y", customer_phone="+4915112345678"),
                         MANAGER, deps)
    assert (first.number, second.number) == (1001, 1002)
    assert render_macro(macro.id, first.id, MANAGER, deps) == "-1"
    with pytest.raises(InvalidInput) as refused:
        render_macro(macro.id, second.id, MANAGER, deps)
    assert refused.value.field == "body" and "ZeroDivisionError" in str(refused.value)
    with pytest.raises(InvalidInput):
        apply_macro(macro.id, ReplyRequest(body="", version=second.version), second.id, MANAGER, deps)
    assert shop.mail.sent == []


def test_output_is_capped_and_ordinary_macros_still_render(shop: FakeShop) -> None:
    deps = shop.shop.inbox()
    body = ("Hi {{ customer.first_name | default('there') }}, "
            "{% for tag in ['a', 'b'] %}{{ loop.index }}{{ tag | upper }}{% endfor %}"
            " {{ ticket.subject | truncate(20) }} {{ agent.name ~ ' @ ' ~ store.name }}")
    macro = save_macro(None, MacroDraft(name="fine", body=body), MANAGER, deps)
    ticket = open_ticket(NewTicketRequest(channel="phone", subject="Where is my parcel", body="x",
                                          customer_phone="+4915112345678", customer_name="Ada Lovelace"), MANAGER, deps)
    assert render_macro(macro.id, ticket.id, MANAGER, deps) == (
        "Hi Ada, 1A2B Where is my parcel Mia Manager @ " + deps.settings.store_name)
    near = save_macro(None, MacroDraft(name="long", body="{{ 'x' * 20000 }}"), MANAGER, deps)
    assert len(render_macro(near.id, ticket.id, MANAGER, deps)) == MAX_OUTPUT
    with pytest.raises(InvalidInput) as refused:
        save_macro(None, MacroDraft(name="longer", body="{{ 'x' * 20000 }}!"), MANAGER, deps)
    assert "20000" in str(refused.value)
