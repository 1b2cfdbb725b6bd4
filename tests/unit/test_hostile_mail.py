"""Hostile mail (issue 11): work is bounded before the stdlib or the sanitizer does it, and a sender that is
no valid address is quarantined. Scaled-down inputs, each of which took seconds or minutes before."""
from __future__ import annotations

from datetime import datetime

import pytest

from chalicelib.mail.html import DISPLAY_HTML_CHARS, DISPLAY_HTML_TAGS, SHORTENED_NOTE
from chalicelib.mail.model import MailLimitExceeded, MailLimits
from chalicelib.mail.parse import parse_email
from tests.fixtures.mail import hostile
from tests.support import FakeShop


def _html_mail(html: bytes) -> bytes:
    return hostile.HEAD % b"html" + b"Content-Type: text/html; charset=utf-8\r\n\r\n" + html + b"\r\n"


def _with_headers(count: int) -> bytes:
    return hostile.HEAD % b"headers" + b"X-Trace: b\r\n" * count + b"\r\nHello\r\n"


def _to(count: int) -> bytes:
    to = b", ".join(b'"Person %d" <p%d@customer.example>' % (n, n) for n in range(count))
    return (hostile.HEAD % b"to").replace(b"To: support@shop.example", b"To: " + to) + b"\r\nHello\r\n"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        # 40,000 unclosed <div>: 4 s in the sanitizer before (quadratic; 150,000 took 76 s)
        pytest.param(hostile.unclosed_divs(40_000), "max_html_depth", id="unclosed-divs"),
        # formatting elements are cheap to open but every later block looks down past them
        pytest.param(_html_mail(b"<b>" * 20_000 + b"<div></div>" * 20_000), "max_html_depth", id="b-then-divs"),
        # <p><div> repeated: each <div> closes the <p>, the next <p> opens inside the <div>
        pytest.param(_html_mail(b"<p><div>" * 5_000), "max_html_depth", id="p-div-ladder"),
        # one boundary parameter, 100,000 separator lines: the stdlib built every part before counting
        pytest.param(hostile.many_parts(100_000), "max_parts exceeded (more than 200 multipart separators)",
                     id="parts-under-one-boundary"),
        pytest.param(hostile.many_parts(5_000).replace(b"\r\n", b"\r"),
                     "max_parts exceeded (more than 200 multipart separators)", id="parts-cr-only"),
        pytest.param(hostile.many_parameters(10, 20_000), "max_parameters", id="content-type-parameters"),
        pytest.param(hostile.HEAD % b"lines" + b"\r\n" + b"a\n" * 2_000_100, "max_lines", id="short-lines"),
        pytest.param(_with_headers(20_000), "max_headers", id="header-fields"),
    ],
)
def test_over_limit_mail_raises_with_the_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(MailLimitExceeded) as error:
        parse_email(raw)

    assert error.value.reason.startswith(reason)


def test_legal_limits_parse() -> None:
    # Given mail right at each limit
    limits = MailLimits()
    assert parse_email(hostile.many_parameters(10, limits.max_parameters - 1)).text.strip() == "x"
    assert parse_email(_html_mail(b"<div>" * limits.max_html_depth + b"deep")).text == "deep"
    assert parse_email(_with_headers(limits.max_headers - 20)).text.startswith("Hello")
    # misnested markup closes what is open inside it, as a browser does: not deep at all
    assert "x" in parse_email(_html_mail(b"<div><font>x</div>" * 20_000)).text


@pytest.mark.parametrize(
    "markup",
    [
        # Nesting the depth model does not see (the adoption agency, list items): 3-13 s each before
        pytest.param(b"<ul><li><div>" * 20_000, id="list-items-holding-divs"),
        pytest.param(b"<b><div></b>" * 20_000, id="misnested-formatting"),
        pytest.param(b"<td><div>" * 20_000, id="cells-outside-a-table"),
    ],
)
def test_html_is_sanitized_only_up_to_the_tag_budget(markup: bytes) -> None:
    parsed = parse_email(_html_mail(b"<p>Hello</p>" + markup))

    assert parsed.html is not None and parsed.html.endswith(f"<p><em>{SHORTENED_NOTE}</em></p>")
    assert parsed.html.count("<div>") <= DISPLAY_HTML_TAGS


def test_parts_counted_by_separator_not_by_parameter() -> None:
    within = hostile.many_parts(MailLimits().max_parts - 10)
    assert len(parse_email(within).attachments) == 0 and parse_email(within).text.startswith("Hello")


def test_an_address_header_is_read_up_to_its_limit() -> None:
    # 5,000 mailboxes in To took the stdlib's address parser 1.5 s (15,000: 13 s)
    parsed = parse_email(_to(5_000))

    assert len(parsed.to) == MailLimits().max_addresses
    assert parsed.to[0].email == "p0@customer.example" and parsed.to[0].name == "Person 0"


def test_unclosed_comments_do_not_make_the_word_count_quadratic() -> None:
    # 50,000 "<!--" took the old regex count ~40 s; a plain part makes parse_email compare the two
    raw = (hostile.HEAD % b"alt" + b'Content-Type: multipart/alternative; boundary="a"\r\n\r\n'
           b"--a\r\nContent-Type: text/plain\r\n\r\nHi there\r\n"
           b"--a\r\nContent-Type: text/html\r\n\r\n<p>Hi there</p>" + b"<!--" * 50_000 + b"\r\n--a--\r\n")
    assert parse_email(raw).text.strip() == "Hi there"


@pytest.mark.parametrize("encoding", ["8bit", "base64", "quoted-printable"])
def test_large_html_is_shortened_for_display_and_says_so(encoding: str) -> None:
    # Given 6 MB of legal HTML (10 MB of it peaked at 562 MB in the sanitizer before)
    parsed = parse_email(hostile.big_html(6 * 1024 * 1024, encoding))

    # Then only its head is sanitized and converted, and both say the display is shortened
    assert parsed.html is not None and len(parsed.html) < DISPLAY_HTML_CHARS + 4096
    assert parsed.html.endswith(f"<p><em>{SHORTENED_NOTE}</em></p>")
    assert parsed.text.startswith("Order 5512 has not arrived") and parsed.text.endswith(f"[{SHORTENED_NOTE}]")
    assert "Grüße" in parsed.text and "\ufffd" not in parsed.text[:-200]
    assert len(parsed.text) > 150_000  # the tag budget's worth of paragraphs, none lost to decoding


@pytest.mark.parametrize("encoding", ["8bit", "base64", "quoted-printable"])
def test_html_within_the_budget_is_not_shortened(encoding: str) -> None:
    # Given HTML of about 18,000 tags in 310 KB (of a few hundred in most mail)
    parsed = parse_email(hostile.big_html(310_000, encoding))

    assert parsed.html is not None and SHORTENED_NOTE not in parsed.html and SHORTENED_NOTE not in parsed.text
    assert parsed.html.rstrip().endswith("</table>")


# ------------------------------------------------------------------------------------------ poison senders


@pytest.mark.parametrize("address", list(hostile.POISON_FROM.values()), ids=list(hostile.POISON_FROM))
def test_poison_sender_is_rejected_by_the_parser(address: str) -> None:
    parsed = parse_email(hostile.poison_sender(address))

    assert parsed.sender is None
    assert parsed.rejected_sender is not None and "evil.example" in parsed.rejected_sender


@pytest.mark.parametrize("address", list(hostile.POISON_FROM.values()), ids=list(hostile.POISON_FROM))
def test_poison_sender_is_quarantined_not_acknowledged(fixed_now: datetime, address: str) -> None:
    # Given a mail whose From is no valid address (the envelope sender is a fine one)
    shop = FakeShop(now=fixed_now)

    # When it arrives
    outcome = shop.receive(hostile.poison_sender(address))

    # Then it is quarantined with the reason, nothing is sent, no ticket waits for an ack
    assert outcome.status == "quarantined" and outcome.reason == "invalid sender address"
    assert shop.mail.sent == [] and shop.items("ticket") == []
    [record] = shop.items("quarantine")
    assert record["reason"] == "invalid sender address"


def test_poison_envelope_sender_without_from_is_quarantined(fixed_now: datetime) -> None:
    shop = FakeShop(now=fixed_now)
    raw = hostile.poison_sender("x@y.example").replace(b"From: x@y.example\r\n", b"")

    outcome = shop.receive(raw, source='"a\x0bb"@evil.example')

    assert outcome.status == "quarantined" and outcome.reason == "invalid sender address"
    assert shop.mail.sent == []


def test_invalid_recipients_are_dropped_valid_ones_kept() -> None:
    raw = hostile.poison_sender("anna@customer.example").replace(
        b"To: support@shop.example", b'To: support@shop.example, "a\x0bb"@evil.example\r\nCc: "a,b"@evil.example')

    parsed = parse_email(raw)

    assert [a.email for a in parsed.to] == ["support@shop.example"] and parsed.cc == []
    assert parsed.sender is not None and parsed.sender.email == "anna@customer.example"
