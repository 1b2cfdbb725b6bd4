"""A mail parsed from a file a chunk at a time, with large attachments spilled to temporary files, reads exactly
as the same mail parsed from bytes with everything in memory; limits bite the same either way."""
from __future__ import annotations

import base64
import io
import os
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import IO

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.mail import raw_limits, spill
from chalicelib.mail.model import MailLimitExceeded, MailLimits, ParsedEmail
from chalicelib.mail.parse import parse_email


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of a few bytes, so every way a chunk boundary can split what the scan looks for is met."""
    monkeypatch.setattr(raw_limits, "CHUNK_BYTES", 7)


@pytest.fixture
def spill_small(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spill, "SPILL_CHARS", 64)


def outcome(raw: bytes | IO[bytes], limits: MailLimits) -> str | None:
    try:
        raw_limits.check_raw(raw, limits)
    except MailLimitExceeded as exc:
        return exc.reason
    return None


PIECES = st.sampled_from([b"\r\n", b"\n", b"\r", b"\x0b", b"\x0c", b"--", b"-", b"--b", b"--b--", b"--c", b"  ",
                          b"\t", b"x", b"b", b"bound", b"ary", b"boundary", b"=", b'"', b"*", b"1", b"boundary=b",
                          b'boundary="c"', b"Boundary = b", b"boundary*=utf-8''b", b"boundary*0=d", b";"])


@settings(max_examples=400, deadline=None)
@given(raw=st.lists(PIECES, max_size=40).map(b"".join), sizes=st.lists(st.integers(1, 9), min_size=1, max_size=8))
def test_the_streamed_scan_finds_what_one_scan_of_the_bytes_finds(raw: bytes, sizes: list[int]) -> None:
    assert_streamed_scan_equal(raw, sizes)


@pytest.mark.parametrize("raw", [b"boundary\r\n=\r\n xyz;", b'x boundary = "a b";', b"boundary*=utf-8''abc\r\n",
                                 b"\r\n--sep--\r\n", b"boundary=\x0b\x0cq;"])
def test_what_a_chunk_boundary_splits_is_found_whole(raw: bytes) -> None:
    for cut in range(1, len(raw)):
        assert_streamed_scan_equal(raw, [cut])


def assert_streamed_scan_equal(raw: bytes, sizes: list[int]) -> None:
    for pattern, unfinished in ((raw_limits._BOUNDARY_PARAM, raw_limits._BOUNDARY_UNFINISHED),
                                (raw_limits._DASH_LINE, raw_limits._DASH_LINE_UNFINISHED)):
        streamed = [m.groups() for m in raw_limits._matches(pattern, unfinished, Pieces(raw, sizes))]
        assert streamed == [m.groups() for m in pattern.finditer(raw)]


class Pieces(io.BytesIO):
    """A file that reads back in pieces of the given sizes, in turn, whatever size is asked for."""

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        super().__init__(data)
        self.sizes, self.reads = sizes, 0

    def read(self, size: int | None = -1) -> bytes:
        piece = self.sizes[self.reads % len(self.sizes)]
        self.reads += 1
        return super().read(piece)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.lists(PIECES, max_size=60).map(b"".join), max_parts=st.integers(0, 4), max_lines=st.integers(0, 8))
def test_the_raw_check_of_a_file_in_chunks_equals_that_of_the_bytes(small_chunks: None, raw: bytes,
                                                                   max_parts: int, max_lines: int) -> None:
    limits = MailLimits(max_parts=max_parts, max_lines=max_lines)
    assert outcome(io.BytesIO(raw), limits) == outcome(raw, limits)


def test_too_many_separators_are_found_across_chunks(small_chunks: None) -> None:
    raw = b"Content-Type: multipart/mixed; boundary=sep\r\n\r\n" + b"--sep\r\nx\r\n" * 5 + b"--sep--\r\n"
    assert outcome(io.BytesIO(raw), MailLimits(max_parts=4)) == outcome(raw, MailLimits(max_parts=4))
    assert "max_parts exceeded" in (outcome(io.BytesIO(raw), MailLimits(max_parts=4)) or "")


def mail_with(*attachments: tuple[str, bytes], forwarded: EmailMessage | None = None) -> bytes:
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = "Anna <anna@customer.example>"
    message["To"] = "support@shop.example"
    message["Subject"] = "Photos"
    message["Message-ID"] = "<photos@customer.example>"
    message.set_content("See the photos.\n")
    for name, data in attachments:
        message.add_attachment(data, maintype="image", subtype="jpeg", filename=name)
    if forwarded is not None:
        message.add_attachment(forwarded)
    return message.as_bytes()


def attachments_of(parsed: ParsedEmail) -> list[tuple[str, str, int, bytes, bytes]]:
    return [(a.filename, a.content_type, a.size, a.open_payload(), a.payload_file().read())
            for a in parsed.attachments]


def test_spilled_attachments_read_as_the_stdlib_decodes_them(spill_small: None) -> None:
    photos = [(f"photo-{n}.jpg", os.urandom(5_000 + n)) for n in range(3)]
    raw = mail_with(*photos)
    from_file = parse_email(io.BytesIO(raw))
    expected = [(name, "image/jpeg", len(data), data, data) for name, data in photos]
    assert attachments_of(from_file) == expected
    assert attachments_of(parse_email(raw)) == expected
    reference = BytesParser(policy=policy.default).parsebytes(raw)
    assert [p.get_content() for p in reference.iter_attachments()] == [data for _, data in photos]


def test_the_text_and_headers_do_not_change_when_attachments_spill(spill_small: None,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    raw = mail_with(("a.jpg", os.urandom(3_000)))
    spilled = parse_email(io.BytesIO(raw))
    monkeypatch.setattr(spill, "SPILL_CHARS", 10**9)
    kept = parse_email(raw)
    assert spilled.attachments[0].open_payload() == kept.attachments[0].open_payload()
    assert (spilled.text, spilled.subject, spilled.headers, spilled.defects) == (
        kept.text, kept.subject, kept.headers, kept.defects)


def test_broken_base64_is_left_to_the_stdlib(spill_small: None) -> None:
    # Given an attachment whose base64 has junk and no padding: the stdlib repairs it in its own way
    body = base64.encodebytes(os.urandom(3_001)).replace(b"A", b"!", 3).rstrip(b"=\n")
    raw = (b"From: a@customer.example\r\nTo: support@shop.example\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
           b"--b\r\nContent-Type: image/png; name=x.png\r\nContent-Transfer-Encoding: base64\r\n\r\n"
           + body + b"\r\n--b--\r\n")
    [attachment] = parse_email(io.BytesIO(raw)).attachments
    reference = BytesParser(policy=policy.default).parsebytes(raw)
    [part] = reference.iter_attachments()
    assert attachment.open_payload() == part.get_payload(decode=True)
    assert attachment.size == len(part.get_payload(decode=True))


def test_a_forwarded_mail_keeps_its_spilled_photo(spill_small: None) -> None:
    photo = os.urandom(4_000)
    inner = EmailMessage(policy=policy.SMTP)
    inner["From"] = "shop@shop.example"
    inner["Subject"] = "Your order"
    inner["Message-ID"] = "<order@shop.example>"
    inner.set_content("Order 42 ships today.\n")
    inner.add_attachment(photo, maintype="image", subtype="jpeg", filename="label.jpg")
    [forwarded] = parse_email(io.BytesIO(mail_with(forwarded=inner))).attachments
    enclosed = BytesParser(policy=policy.default).parsebytes(forwarded.open_payload())
    [label] = enclosed.iter_attachments()
    assert label.get_content() == photo
    assert forwarded.size == len(forwarded.open_payload())


def test_a_parsed_file_needs_nothing_of_it_afterwards(spill_small: None) -> None:
    photo = os.urandom(6_000)
    file = io.BytesIO(mail_with(("p.jpg", photo)))
    parsed = parse_email(file)
    file.close()  # what the email channel does right after the parse
    assert parsed.attachments[0].open_payload() == photo


def test_limits_bite_on_a_file_as_on_bytes() -> None:
    raw = mail_with(("p.jpg", os.urandom(2_000)))
    with pytest.raises(MailLimitExceeded, match="max_bytes exceeded"):
        parse_email(io.BytesIO(raw), MailLimits(max_bytes=len(raw) - 1))
    with pytest.raises(MailLimitExceeded, match="max_lines exceeded"):
        parse_email(io.BytesIO(raw), MailLimits(max_lines=10))


def test_a_spilled_file_closes_when_the_parsed_mail_goes(spill_small: None) -> None:
    parsed = parse_email(io.BytesIO(mail_with(("p.jpg", os.urandom(6_000)))))
    [attachment] = parsed.attachments
    assert attachment.open_file is not None
    file = attachment.open_file()
    assert file is not None and not file.closed
    del parsed, attachment
    assert file.closed
