"""visible_text: email_reply_parser's trimming, with line endings normalized and hostile input bounded."""
from __future__ import annotations

import time

import pytest
from email_reply_parser import EmailReplyParser

from chalicelib.mail.reply_trim import MAX_TRIM_CHARS, _join_quote_header, visible_text


def test_quoted_history_and_signature_are_trimmed() -> None:
    text = ("Thanks, that fixed it.\n\n-- \nAnna\n\nOn Tue, Nov 24, 2026 at 10:00 AM Shop <s@shop.example>\n"
            "wrote:\n> Please restart the router.\n> \n")

    assert visible_text(text) == "Thanks, that fixed it."


def test_crlf_is_normalized_before_trimming() -> None:
    text = "Yes please.\r\n\r\nOn Mon, Nov 23, 2026, Shop wrote:\r\n> Shall we refund?\r\n"

    assert visible_text(text) == "Yes please."


def test_outlook_header_block_is_trimmed() -> None:
    text = ("Outlook reply\n\nFrom: Shop [mailto:s@shop.example]\nSent: Monday, 23 November 2026 10:00\n"
            "To: Anna\nSubject: Your order\n\nOriginal text\n")

    assert visible_text(text) == "Outlook reply"


def test_a_mail_that_is_only_quotes_keeps_its_text() -> None:
    text = "> just a quote\n> nothing else\n"

    assert visible_text(text) == text.strip()


def test_empty_text() -> None:
    assert visible_text("") == ""


def test_backslashes_in_a_quote_header_do_not_crash() -> None:
    # the library substitutes the header back with re.sub, which reads "\U" as a bad escape
    text = "Done.\n\nOn Mon, C:\\Users\\anna\nwrote:\n> hi\n"

    with pytest.raises(Exception):  # noqa: B017 - documents why the library is not called directly
        EmailReplyParser.parse_reply(text)
    assert visible_text(text) == "Done."


@pytest.mark.parametrize(
    "text",
    [
        "On a\n" * 40_000,  # the library's multi-line header regex backtracks for minutes on this
        "> On a b\n" * 40_000,
        "From: x y\n\n" * 40_000,  # header fragments: the library hides earlier ones in a quadratic loop
        "On " + "x" * 500_000 + " wrote:",
        ("word " * 20 + "\n") * 40_000,
    ],
    ids=["on-lines", "quoted-on-lines", "header-fragments", "one-long-line", "long-text"],
)
def test_hostile_texts_finish_fast(text: str) -> None:
    started = time.process_time()

    visible_text(text)

    assert time.process_time() - started < 1.0


def test_only_the_head_of_a_huge_text_is_trimmed() -> None:
    reply = "x" * (MAX_TRIM_CHARS + 10)

    assert len(visible_text(reply)) <= MAX_TRIM_CHARS


@pytest.mark.parametrize(
    "text",
    [
        "Reply\n\nOn Tue, Anna\n<a@example.com>\nwrote:\n> q\n",
        "On x On y wrote: z wrote:\n> q\n",
        "Once upon On\ta time wrote:\nOn b wrote:\n",
        "No header here\n> q\n",
        "On\nwrote:",
        "A\nOn 1 wrote:\nB\nOn 2\nwrote:\n> c\n",
    ],
)
def test_linear_quote_header_join_matches_the_library(text: str) -> None:
    expected = EmailReplyParser.parse_reply(text)

    assert visible_text(text) == (expected.strip() or text.strip())
    assert "\n" not in _join_quote_header("x On a\nb wrote: y").split("x ")[1].split(" y")[0]
