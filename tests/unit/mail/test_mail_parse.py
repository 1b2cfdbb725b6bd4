"""parse_email against hand-written mail: charsets, headers, bodies, attachments, bounces, limits."""
from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from chalicelib.mail.model import MailLimitExceeded, MailLimits, ParsedEmail
from chalicelib.mail.parse import parse_email

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "mail"


def fixture(name: str) -> ParsedEmail:
    return parse_email((FIXTURES / name).read_bytes())


def mail(headers: str, body: bytes = b"Body.\n") -> bytes:
    return headers.strip("\n").encode("utf-8", "surrogateescape") + b"\n\n" + body


# ------------------------------------------------------------------------------------------ charsets


def test_iso_8859_1_quoted_printable_body_and_encoded_words() -> None:
    parsed = fixture("latin1_qp.eml")

    assert parsed.subject == "Café crème bestellt"
    assert parsed.sender is not None
    assert parsed.sender.name == "Jürgen Müller"
    assert parsed.sender.email == "juergen.mueller@example.de"
    assert "meine Bestellung für den Café ist nicht angekommen." in parsed.text
    assert parsed.text.endswith("Grüße\nJürgen\n")


def test_windows_1252_smart_quotes_and_euro() -> None:
    assert fixture("windows1252_8bit.eml").text == "“It’s broken” – please refund €49.99.\n"


def test_iso_2022_jp_body_subject_and_name() -> None:
    parsed = fixture("iso2022jp.eml")

    assert parsed.subject == "お問い合わせ"
    assert parsed.sender is not None
    assert parsed.sender.name == "山田"
    assert parsed.text == "お問い合わせありがとうございます。\n注文番号は 1234 です。\n"


def test_iso_2022_jp_from_outlook_keeps_nec_extension_characters() -> None:
    # Given Outlook's ISO-2022-JP: ①, ㈱, Ⅲ and № are NEC row-13 codes that the standard tables leave unassigned
    parsed = fixture("iso2022jp_windows_ext.eml")

    # Then they read as typed in the subject, the display name and the body, with no U+FFFD anywhere
    assert parsed.subject == "【至急】注文①の納期について"
    assert parsed.sender is not None
    assert parsed.sender.name == "山田 太郎（㈱山田商事）"
    assert parsed.text == (
        "お世話になっております。㈱山田商事の山田です。\n注文①と注文②の納期を教えてください。\n"
        "型番：Ⅲ－Ｎｏ．５、数量：１０個\n№１２３４\n"
    )


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (b"\x1b$B-!-j\x1b(B", "①㈱"),  # NEC row 13 inside a plain JIS X 0208 run
        (b"\x1b$By|\x1b(B", "\u5f34"),  # NEC-selected IBM extension row 89
        (b"\x1b$B-!\x1b(B \x1b(I123\x1b(B", "① ｱｲｳ"),  # half-width katakana (JIS X 0201)
        (b"\x1b$B-!\x1b(B \x0e12\x0fab", "① ｱｲab"),  # katakana by SO/SI, as CP50221 writes it
        ("こんにちは ①".encode("iso2022_jp_2004"), "こんにちは ①"),  # JIS X 0213 designation
        (b"\x1b$B$3$s\x1b(B", "こん"),  # standard text keeps the standard mapping
        (b"\x1b$B!A\x1b(B", "〜"),  # ... including the wave dash when nothing says Windows
    ],
)
def test_iso_2022_jp_extensions(data: bytes, text: str) -> None:
    raw = mail("From: a@example.com\nContent-Type: text/plain; charset=iso-2022-jp", data)

    assert parse_email(raw).text == text


def test_koi8_r() -> None:
    parsed = fixture("koi8r_8bit.eml")

    assert parsed.subject == "Заказ"
    assert parsed.text == "Здравствуйте! Заказ не пришёл.\n"


def test_utf8_with_invalid_bytes_keeps_the_rest() -> None:
    text = fixture("utf8_invalid_bytes.eml").text

    assert text.startswith("Café ok, then bad: ")
    assert "\ufffd" in text
    assert text.endswith(" and after.\n")


def test_unknown_charset_falls_back_to_utf8() -> None:
    assert fixture("bogus_charset.eml").text == "Grüße aus München.\n"


@pytest.mark.parametrize(
    ("charset", "text", "encoding"),
    [
        ("iso-8859-2", "Dzień dobry, zamówienie", "iso-8859-2"),
        ("iso-8859-15", "Preis 10 €", "iso-8859-15"),
        ("windows-1251", "Добрый день", "cp1251"),
        ("windows-1250", "Příliš žluťoučký kůň", "cp1250"),
        ("gb2312", "订单 镕", "gbk"),  # 镕 is GBK, not GB2312: mailers label GBK as gb2312
        ("gbk", "您好，订单", "gbk"),
        ("shift_jis", "注文①", "cp932"),  # ① is a Windows extension sent under the shift_jis label
        ("koi8-r", "Привет", "koi8-r"),
        ("iso-2022-jp", "こんにちは", "iso-2022-jp"),
        ("x-bogus", "plain ascii", "ascii"),
        ("x-bogus", "café in latin-1", "latin-1"),
        ("us-ascii", "mislabelled UTF-8: naïve", "utf-8"),
        ("base64", "a codec that is not a text encoding", "ascii"),
        ('"utf-8"', "quoted label ✓", "utf-8"),
    ],
)
def test_charsets_real_mail_uses(charset: str, text: str, encoding: str) -> None:
    raw = mail(f"From: a@example.com\nContent-Type: text/plain; charset={charset}\n"
               "Content-Transfer-Encoding: 8bit", text.encode(encoding))

    assert parse_email(raw).text == text


def test_no_charset_and_8bit_body_is_read_as_utf8_then_cp1252() -> None:
    utf8 = parse_email(mail("From: a@example.com\nSubject: x", "Grüße".encode()))
    cp1252 = parse_email(mail("From: a@example.com\nSubject: x", "“Grüße”".encode("cp1252")))

    assert utf8.text == "Grüße"
    assert cp1252.text == "“Grüße”"


def test_raw_8bit_headers_become_text() -> None:
    parsed = fixture("raw_8bit_headers.eml")

    assert parsed.subject == "Grüße und €"
    assert parsed.sender is not None
    assert parsed.sender.name == "Jérôme Dupont"  # latin-1 bytes
    assert parsed.to[0].name == "Support Équipe"  # UTF-8 bytes
    assert parsed.headers["subject"] == ["Grüße und €"]


@pytest.mark.parametrize(
    ("name", "subject", "sender_name"),
    [
        # Foxmail: raw GBK headers, the body declares gb2312 (镕 is GBK only)
        ("gbk_raw_headers.eml", "关于订单 20261124-0042 的退款（镕）", "王小明"),
        # a PHP script: raw windows-1250 headers, the body declares windows-1250
        ("cp1250_raw_headers.eml", "Reklamace – zboží přišlo poškozené", "Jiří Dvořák"),
        # a phone gateway: raw Shift_JIS headers, the body is us-ascii and says nothing: the detector decides
        ("sjis_raw_headers_ascii_body.eml", "注文した商品が届きません（注文番号77120）", "山田太郎"),
    ],
)
def test_raw_8bit_headers_in_an_undeclared_legacy_charset(name: str, subject: str, sender_name: str) -> None:
    parsed = fixture(name)

    assert parsed.subject == subject
    assert parsed.sender is not None
    assert parsed.sender.name == sender_name
    assert parsed.headers["subject"] == [subject]


def test_raw_8bit_headers_of_different_mails_are_decided_per_mail() -> None:
    gbk = parse_email(mail("From: a@example.com\nSubject: "
                           + "订单没有收到".encode("gbk").decode("utf-8", "surrogateescape")
                           + "\nContent-Type: text/plain; charset=gbk"))
    cp1251 = parse_email(mail("From: a@example.com\nSubject: "
                              + "Заказ не пришёл".encode("cp1251").decode("utf-8", "surrogateescape")
                              + "\nContent-Type: text/plain; charset=windows-1251"))

    assert (gbk.subject, cp1251.subject) == ("订单没有收到", "Заказ не пришёл")


def test_encoded_words_split_across_a_character_and_folded() -> None:
    parsed = fixture("encoded_subject.eml")

    assert parsed.subject == "Re: Grüße von München (Bestellung 42)"
    assert parsed.sender is not None
    assert parsed.sender.name == "Anna Schmidt"


@pytest.mark.parametrize(
    ("header", "subject"),
    [
        ("=?utf-8?q?Hello_World?=", "Hello World"),
        ("=?utf-8?b?SGVsbG8?= =?utf-8?b?IFdvcmxk?=", "Hello World"),  # padding missing, space between dropped
        ("Re: =?utf-8?q?caf=C3=A9?= au lait", "Re: café au lait"),
        ("=?x-unknown?q?caf=C3=A9?=", "café"),
        ("=?utf-8?b?!!!not base64?=", "=?utf-8?b?!!!not base64?="),
        ("=?utf-8*de?q?Stra=C3=9Fe?=", "Straße"),
        ("=?iso-8859-1?q?a?= =?utf-8?q?=C3=A9?=", "aé"),
        ("Tabs\tand\n  folds", "Tabs and folds"),
    ],
)
def test_subject_decoding(header: str, subject: str) -> None:
    assert parse_email(mail(f"From: a@example.com\nSubject: {header}")).subject == subject


# ------------------------------------------------------------------------------------------ headers


def test_malformed_address_headers_do_not_crash_and_keep_what_is_usable() -> None:
    parsed = fixture("malformed_from.eml")

    assert parsed.sender is not None
    assert parsed.sender.email == "real.sender@example.com"  # From is garbage: Sender is used
    assert [a.email for a in parsed.to] == ["ok@example.com"]  # no-at-sign and the empty group dropped
    assert parsed.cc == []
    assert [a.email for a in parsed.reply_to] == ["reply@example.com"]
    assert parsed.date is None
    assert parsed.message_id is None
    assert parsed.in_reply_to == ["a@x", "b@y"]
    assert parsed.references == ["d@w", "a@x"]
    assert parsed.text == "Body survives.\n"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('"Doe, Jane" <Jane.Doe@Example.COM >', [("jane.doe@example.com", "Doe, Jane")]),
        ("a@example.com, B <b@example.com>", [("a@example.com", ""), ("b@example.com", "B")]),
        ("=?utf-8?q?J=C3=BCrgen?= <j@example.de>", [("j@example.de", "Jürgen")]),
        ("Team: x@example.com, y@example.com;", [("x@example.com", ""), ("y@example.com", "")]),
        ("not an address", []),
        ("<>", []),
        ("", []),
    ],
)
def test_address_lists(header: str, expected: list[tuple[str, str]]) -> None:
    parsed = parse_email(mail(f"From: s@example.com\nTo: {header}"))

    assert [(a.email, a.name) for a in parsed.to] == expected


@pytest.mark.parametrize(
    ("headers", "message_id", "in_reply_to", "references"),
    [
        ("Message-ID: <abc@x>\nIn-Reply-To: <p@x>\nReferences: <r1@x> <r2@x>\n <p@x>",
         "abc@x", ["p@x"], ["r1@x", "r2@x", "p@x"]),
        ("Message-ID: abc@x\nIn-Reply-To: p@x", "abc@x", ["p@x"], []),
        ("Message-ID: 1234.ABCD\nReferences: <r1@x>,<r2@x>", "1234.ABCD", [], ["r1@x", "r2@x"]),
        ("Message-ID: <<x@y>>\nIn-Reply-To: Your message of Tue <q@x>", "x@y", ["q@x"], []),
        ("In-Reply-To: garbage\nReferences: more garbage", None, [], []),
        ("References: <dup@x> <dup@x> <other@x>", None, [], ["dup@x", "other@x"]),
    ],
)
def test_message_ids(
    headers: str, message_id: str | None, in_reply_to: list[str], references: list[str]
) -> None:
    parsed = parse_email(mail(f"From: a@example.com\n{headers}"))

    assert (parsed.message_id, parsed.in_reply_to, parsed.references) == (message_id, in_reply_to, references)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Tue, 24 Nov 2026 10:00:00 +0100", datetime(2026, 11, 24, 10, tzinfo=timezone(timedelta(hours=1)))),
        ("Tue, 24 Nov 2026 10:00:00 -0000", datetime(2026, 11, 24, 10, tzinfo=UTC)),
        ("24 Nov 2026 10:00 GMT", datetime(2026, 11, 24, 10, tzinfo=UTC)),
        ("not a date", None),
        ("Tue, 99 Foo 99999 99:99:99 +9999", None),
    ],
)
def test_date(header: str, expected: datetime | None) -> None:
    parsed = parse_email(mail(f"From: a@example.com\nDate: {header}"))

    assert parsed.date == expected
    assert parsed.date is None or parsed.date.tzinfo is not None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Return-Path: <>", ""),
        ("Return-Path: < >", ""),
        ("Return-Path: <Bounce+x@Example.com>", "bounce+x@example.com"),
        ("X-Other: 1", None),
    ],
)
def test_return_path(header: str, expected: str | None) -> None:
    assert parse_email(mail(f"From: a@example.com\n{header}")).return_path == expected


def test_headers_are_lower_cased_decoded_and_keep_every_value() -> None:
    parsed = parse_email(mail("Received: from a\n by b\nRECEIVED: from c\nFrom: a@example.com\n"
                              "X-Note: =?utf-8?q?caf=C3=A9?="))

    assert parsed.headers["received"] == ["from a by b", "from c"]
    assert parsed.headers["x-note"] == ["café"]


def test_missing_headers_entirely_is_a_bare_body() -> None:
    parsed = fixture("missing_headers.eml")

    assert parsed.sender is None
    assert parsed.subject == ""
    assert parsed.text == "Hi team,\n\nmy parcel never arrived. Can you check?\n\nThanks\n"


def test_bare_body_whose_first_line_looks_like_a_header_keeps_it() -> None:
    parsed = parse_email(b"Note: the parcel is late.\n\nThanks\n")

    assert parsed.text == "Note: the parcel is late.\n\nThanks\n"


@pytest.mark.parametrize("name", ["banner_before_headers.eml", "banner_after_ses_headers.eml"])
def test_a_gateway_banner_before_the_headers_does_not_hide_them(name: str) -> None:
    # Given a gateway's "---- Original email message ----" line above the headers (or below SES's own)
    parsed = fixture(name)

    # Then the sender, subject and body are the mail's, and the banner is recorded, not shown
    assert parsed.sender is not None
    assert (parsed.sender.email, parsed.sender.name) == ("maria.rossi@example.it", "Maria Rossi")
    assert parsed.subject == "Ordine 88123 non ricevuto"
    assert parsed.message_id is not None and parsed.message_id.endswith("@mail.example.it")
    assert parsed.text.startswith("Buongiorno,")
    assert "Original email message" not in parsed.text
    assert "BannerBeforeHeadersDefect" in parsed.defects


def test_banner_after_ses_headers_keeps_the_ses_headers() -> None:
    parsed = fixture("banner_after_ses_headers.eml")

    assert parsed.return_path == "maria.rossi@example.it"
    assert parsed.headers["x-ses-spam-verdict"] == ["PASS"]


@pytest.mark.parametrize(
    "raw",
    [
        # a reply typed right above a quoted Outlook block: people's headers, not a mail's
        b"Thanks, that works\n____\nFrom: Shop [support@shop.example]\nSent: Monday\nTo: Anna\n"
        b"Subject: Re: order\n\nold text\n",
        # a body that starts with a forwarded header block after the blank line
        b"From: a@example.com\nSubject: Fwd: x\n\nFrom: b@example.com\nMessage-ID: <1@b>\n"
        b"Subject: x\n\nhello\n",
        # more than three lines before anything that looks like a header
        b"one\ntwo\nthree\nfour\nFrom: a@example.com\nMessage-ID: <1@a>\nSubject: s\n\nbody\n",
    ],
)
def test_text_that_only_looks_like_a_banner_is_left_alone(raw: bytes) -> None:
    parsed = parse_email(raw)

    assert "BannerBeforeHeadersDefect" not in parsed.defects


def test_a_forwarded_block_after_the_blank_line_stays_body() -> None:
    parsed = parse_email(b"From: a@example.com\nSubject: Fwd: x\n\nFrom: b@example.com\nMessage-ID: <1@b>\n"
                         b"Subject: x\n\nhello\n")

    assert parsed.sender is not None and parsed.sender.email == "a@example.com"
    assert parsed.subject == "Fwd: x"
    assert parsed.text.startswith("From: b@example.com\n")


# ------------------------------------------------------------------------------------------ bodies


def test_html_only_mail_is_sanitized_and_converted_to_text() -> None:
    parsed = fixture("html_only.eml")

    assert parsed.html is not None
    for unsafe in ("<script", "document.cookie", "onclick", "tracker.example", "javascript:", "<form",
                   "password", "<iframe", "<style", "<title"):
        assert unsafe not in parsed.html
    assert '<img src="cid:logo@example.com" alt="logo">' in parsed.html
    assert 'href="https://shop.example/orders/42" rel="noopener noreferrer nofollow"' in parsed.html
    assert parsed.text == "Hello support,\n\nmy order & invoice:\n\nclick or order 42"
    assert "steal" not in parsed.text


def test_multipart_alternative_prefers_plain_text_and_keeps_html() -> None:
    parsed = fixture("attachments.eml")

    assert parsed.text == "See the invoice attached and the photo below.\n"
    assert parsed.html is not None
    assert '<img src="cid:photo1@example.com">' in parsed.html


def test_html_alternative_with_the_real_text_wins_over_a_signature_only_plain_part() -> None:
    # Given an iPhone mail whose plain alternative holds only "Sent from my iPhone"
    parsed = fixture("iphone_plain_signature_only.eml")

    # Then the customer's words come from the HTML alternative
    assert parsed.text.startswith("Hallo, das Paket ist heute angekommen, aber die Tasse darin ist zerbrochen.")
    assert parsed.visible_text == (
        "Hallo, das Paket ist heute angekommen, aber die Tasse darin ist zerbrochen. Können Sie mir bitte "
        "eine neue schicken? Die Bestellnummer ist 40418.\n\nDanke, Lena")


def test_apple_mail_html_in_pieces_around_an_inline_image_is_one_body() -> None:
    # Given Apple Mail's multipart/mixed of text/html, image, text/html, with a plain part of the first piece only
    parsed = fixture("apple_mail_html_fragments.eml")

    # Then the text and the HTML hold both pieces, and only the image is an attachment
    assert parsed.text == (
        "Hello, the parcel arrived damaged, photo below:\n\nThe box was crushed on two sides and the mug "
        "inside is broken. Please send a replacement to the same address.\n\nThanks,\nTom")
    assert parsed.html is not None
    assert "photo below" in parsed.html and "crushed on two sides" in parsed.html
    assert [a.filename for a in parsed.attachments] == ["box.png"]


@pytest.mark.parametrize(
    ("plain", "html", "expected"),
    [
        # the same words in both: the plain part, as written
        ("Please cancel order 42.\n", "<p>Please <b>cancel</b> order 42.</p>", "Please cancel order 42.\n"),
        # a little more in the HTML (a link text, a footer) is not "clearly more"
        ("Please cancel order 42.\n", "<p>Please cancel order 42.</p><p><a href='https://x'>My shop</a></p>",
         "Please cancel order 42.\n"),
        # style and script content are not words
        ("Please cancel order 42.\n", "<style>" + "p { color: red } " * 50 + "</style><p>Please cancel order 42.</p>",
         "Please cancel order 42.\n"),
        # an empty plain part
        ("\n", "<p>Please cancel order 42.</p>", "Please cancel order 42."),
    ],
)
def test_html_alternative_only_wins_with_clearly_more_words(plain: str, html: str, expected: str) -> None:
    raw = (b"From: a@example.com\nContent-Type: multipart/alternative; boundary=b\n\n--b\n"
           b"Content-Type: text/plain; charset=utf-8\n\n" + plain.encode() + b"\n--b\n"
           b"Content-Type: text/html; charset=utf-8\n\n" + html.encode() + b"\n--b--\n")

    assert parse_email(raw).text.rstrip(" ") == expected


def test_plain_only_mail_has_no_html() -> None:
    assert fixture("latin1_qp.eml").html is None


def test_crlf_is_normalized_to_lf() -> None:
    parsed = parse_email(b"From: a@example.com\r\nSubject: x\r\n\r\nline 1\r\nline 2\r\n")

    assert parsed.text == "line 1\nline 2\n"


def test_visible_text_trims_the_quoted_history() -> None:
    body = b"Yes, please cancel it.\n\nOn Tue, 24 Nov 2026, Shop <s@shop.example> wrote:\n> Cancel?\n"

    assert parse_email(mail("From: a@example.com", body)).visible_text == "Yes, please cancel it."


# ------------------------------------------------------------------------------------------ attachments


def test_pdf_attachment_and_inline_image() -> None:
    image, pdf = fixture("attachments.eml").attachments

    assert (image.filename, image.content_type, image.disposition, image.content_id) == (
        "attachment-1.png", "image/png", "inline", "photo1@example.com")
    assert image.open_payload().startswith(b"\x89PNG")
    assert image.size == len(image.open_payload())
    # RFC 2231 name with a path in it: only the last component is kept
    assert (pdf.filename, pdf.content_type, pdf.disposition, pdf.content_id) == (
        "Rechnung März.pdf", "application/pdf", "attachment", "")
    assert pdf.open_payload().startswith(b"%PDF-1.4")
    assert pdf.size == len(pdf.open_payload()) == 1540


def test_forwarded_message_is_one_attachment_with_its_bytes() -> None:
    parsed = fixture("forwarded.eml")

    assert parsed.text == "It never arrived, see below.\n"
    (forwarded,) = parsed.attachments
    assert forwarded.filename == "Your order has shipped ✓.eml"
    assert forwarded.content_type == "message/rfc822"
    payload = forwarded.open_payload()
    assert forwarded.size == len(payload)
    enclosed = message_from_bytes(payload, policy=policy.default)
    assert enclosed["Message-ID"] == "<shipping-42@shop.example>"
    assert "Order 42 is on its way." in payload.decode()


def test_open_payload_decodes_lazily_each_time() -> None:
    (forwarded,) = fixture("forwarded.eml").attachments

    assert forwarded.open_payload() == forwarded.open_payload()
    assert forwarded.open_payload() is not forwarded.open_payload()


@pytest.mark.parametrize(
    ("disposition", "content_type", "expected"),
    [
        ('attachment; filename="=?utf-8?q?R=C3=A9sum=C3=A9.pdf?="', "application/pdf", "Résumé.pdf"),
        ('attachment; filename="..\\\\..\\\\windows\\\\evil.exe"', "application/octet-stream", "evil.exe"),
        ('attachment; filename="invoice\u202egpj.exe"', "application/octet-stream", "invoicegpj.exe"),
        ('attachment; filename="a\x01b\tc.txt"', "text/plain", "abc.txt"),  # tab is a control char too
        ("attachment", "application/pdf", "attachment-1.pdf"),
        ("attachment", "image/jpeg", "attachment-1.jpg"),
        ('attachment; filename="..."', "text/csv", "attachment-1.csv"),
        ("attachment; filename=" + "x" * 300 + ".pdf", "application/pdf", "x" * 196 + ".pdf"),
    ],
)
def test_attachment_filenames(disposition: str, content_type: str, expected: str) -> None:
    raw = mail('From: a@example.com\nContent-Type: multipart/mixed; boundary="b"',
               f"--b\nContent-Type: text/plain\n\nhi\n--b\nContent-Type: {content_type}\n"
               f"Content-Disposition: {disposition}\n\ndata\n--b--\n".encode("utf-8", "surrogateescape"))

    (attachment,) = parse_email(raw).attachments

    assert attachment.filename == expected
    assert len(attachment.filename) <= 200


def test_text_parts_without_a_name_are_body_not_attachments() -> None:
    raw = mail('From: a@example.com\nContent-Type: multipart/mixed; boundary="b"',
               b"--b\nContent-Type: text/plain\n\nhi\n"
               b"--b\nContent-Type: text/plain\nContent-Disposition: inline\n\n"
               b"-- list footer\n--b\nContent-Type: text/calendar\n\nBEGIN:VCALENDAR\n--b--\n")

    parsed = parse_email(raw)

    assert parsed.text == "hi"
    assert [(a.filename, a.content_type) for a in parsed.attachments] == [
        ("attachment-1.ics", "text/calendar")]


# ------------------------------------------------------------------------------------------ bounces


def test_delivery_status_report() -> None:
    parsed = fixture("bounce_dsn.eml")

    assert parsed.bounce is not None
    assert parsed.bounce.failed_recipients == ["gone.customer@example.org"]  # the delivered one is left out
    assert parsed.bounce.original_message_id == "ack-1042@shop.example"
    assert (parsed.bounce.action, parsed.bounce.status) == ("failed", "5.1.1")
    assert parsed.return_path == ""
    assert [a.content_type for a in parsed.attachments] == ["message/rfc822"]


def test_delivery_status_report_with_returned_headers_only() -> None:
    raw = mail('From: postmaster@mx.example\nContent-Type: multipart/report; report-type=delivery-status; '
               'boundary="r"',
               b"--r\nContent-Type: text/plain\n\nDelayed.\n--r\nContent-Type: message/delivery-status\n\n"
               b"Reporting-MTA: dns; mx\n\nOriginal-Recipient: rfc822;Late@Example.org\nAction: delayed\n"
               b"Status: 4.4.7 (timeout)\n\n--r\nContent-Type: text/rfc822-headers\n\n"
               b"Message-ID:\n <orig-7@shop.example>\nSubject: hi\n\n--r--\n")

    bounce = parse_email(raw).bounce

    assert bounce is not None
    assert (bounce.failed_recipients, bounce.original_message_id, bounce.action, bounce.status) == (
        ["late@example.org"], "orig-7@shop.example", "delayed", "4.4.7")


def test_other_reports_are_not_bounces() -> None:
    raw = mail('From: a@example.com\nContent-Type: multipart/report; report-type=disposition-notification; '
               'boundary="r"', b"--r\nContent-Type: text/plain\n\nRead.\n--r--\n")

    assert parse_email(raw).bounce is None


# ------------------------------------------------------------------------------------------ limits


def _multipart(parts: int) -> bytes:
    body = b"".join(b"--b\nContent-Type: text/plain\n\npart\n" for _ in range(parts)) + b"--b--\n"
    return mail('From: a@example.com\nContent-Type: multipart/mixed; boundary="b"', body)


def _nested(depth: int) -> bytes:
    level = b'Content-Type: multipart/mixed; boundary="b%d"\n\n--b%d\n'
    head = b"".join(level % (i, i) for i in range(depth))
    tail = b"".join(b"--b%d--\n" % i for i in reversed(range(depth)))
    return b"From: a@example.com\n" + head + b"Content-Type: text/plain\n\nhi\n" + tail


def _attachments(count: int) -> bytes:
    body = b"".join(b"--b\nContent-Type: application/pdf\nContent-Disposition: attachment\n\nx\n"
                    for _ in range(count)) + b"--b--\n"
    return mail('From: a@example.com\nContent-Type: multipart/mixed; boundary="b"', body)


@pytest.mark.parametrize(
    ("raw", "limits", "reason"),
    [
        pytest.param(mail("From: a@example.com", b"x" * 2000), MailLimits(max_bytes=1000), "max_bytes",
                     id="bytes"),
        pytest.param(_multipart(20), MailLimits(max_parts=10), "max_parts", id="parts"),
        pytest.param(_nested(6), MailLimits(max_depth=4), "max_depth", id="depth"),
        # the stdlib parser would recurse until RecursionError
        pytest.param(_nested(3000), MailLimits(max_parts=5000), "max_depth", id="recursion"),
        # refused before the parser spends seconds on it
        pytest.param(_nested(300), MailLimits(), "max_parts", id="boundaries"),
        pytest.param(_attachments(5), MailLimits(max_attachments=4), "max_attachments", id="attachments"),
        pytest.param(mail("From: a@example.com\nX-Big: " + "y" * 5000), MailLimits(max_header_bytes=4096),
                     "max_header_bytes", id="headers"),
    ],
)
def test_limits(raw: bytes, limits: MailLimits, reason: str) -> None:
    with pytest.raises(MailLimitExceeded) as error:
        parse_email(raw, limits)

    assert error.value.reason.startswith(reason)


def test_within_limits_parses() -> None:
    assert len(parse_email(_attachments(4), MailLimits(max_attachments=4)).attachments) == 4
    assert parse_email(_nested(4), MailLimits(max_depth=4)).text == "hi"


# ------------------------------------------------------------------------------------------ robustness


def test_garbage_bytes_do_not_crash() -> None:
    parsed = fixture("garbage.eml")

    assert parsed.sender is None
    assert isinstance(parsed.text, str)


def test_defects_are_recorded_not_fatal() -> None:
    raw = mail('From: a@example.com\nContent-Type: multipart/mixed; boundary="never-used"', b"just text\n")

    parsed = parse_email(raw)

    assert "StartBoundaryNotFoundDefect" in parsed.defects
    assert parsed.text == "just text\n"


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.eml")))
def test_damaged_fixtures_never_raise_anything_but_limits(name: str) -> None:
    raw = (FIXTURES / name).read_bytes()
    rng = random.Random(name)
    for _ in range(25):
        damaged = bytearray(raw)
        for _ in range(rng.randrange(1, 12)):
            position = rng.randrange(len(damaged))
            damaged[position:position + rng.randrange(1, 4)] = bytes([rng.choice(b"\x00\xff<>\"=?;:\n\r-")])
        cut = damaged[: rng.randrange(len(damaged) + 1)]
        for candidate in (bytes(damaged), bytes(cut)):
            try:
                parsed = parse_email(candidate)
            except MailLimitExceeded:
                continue
            assert isinstance(parsed.text, str) and isinstance(parsed.subject, str)
            for attachment in parsed.attachments:
                assert attachment.size == len(attachment.open_payload())


def test_message_ids_folded_into_encoded_words_still_thread() -> None:
    long_id = "gjnyhaugovvoyfqf-aaltdiuc-zmym-ivsc-uozk-qnetworauigq-mfuztr@eu-central-1.amazonses.com"
    raw = (
        b"From: a@customer.example\r\nTo: support@shop.example\r\nSubject: Re: x\r\n"
        b"In-Reply-To: =?utf-8?q?=3Cgjnyhaugovvoyfqf-aaltdiuc-zmym-ivsc-uozk-qnetworau?=\r\n"
        b" =?utf-8?q?igq-mfuztr=40eu-central-1=2Eamazonses=2Ecom=3E?=\r\n\r\nbody\r\n"
    )
    assert parse_email(raw).in_reply_to == [long_id]
