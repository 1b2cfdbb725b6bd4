"""Raw 8-bit header values: the charset chosen for a mail, and that the detector only runs when needed."""
from __future__ import annotations

import pytest

from chalicelib.mail import raw_headers
from chalicelib.mail.raw_headers import MAX_DETECT_BYTES, RawHeaderDecoder, detect_charset


def escaped(text: str, encoding: str) -> str:
    """A header value as the stdlib parser keeps raw bytes: surrogate escapes."""
    return text.encode(encoding).decode("utf-8", "surrogateescape")


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("关于订单12345的退款问题", "gbk"),
        ("王小明", "gbk"),
        ("iPhone手机 订单A123", "gbk"),
        ("注文した商品が届きません", "cp932"),
        ("山田太郎", "cp932"),
        ("Reklamace objednávky – zboží přišlo poškozené", "cp1250"),
        ("Łukasz Wiśniewski", "cp1250"),
        ("Jiří Novák", "cp1250"),
        ("Jérôme Dupont", "latin-1"),
        ("“Grüße” und €", "cp1252"),
        ("Crème brûlée", "cp1252"),
        ("Заказ не пришёл", "koi8-r"),
        ("Иван Петров", "cp1251"),
        ("Παραγγελία", "cp1253"),
    ],
)
def test_detector_reads_short_header_values(text: str, encoding: str) -> None:
    data = text.encode(encoding)

    charset = detect_charset(data)

    assert charset is not None
    assert data.decode(charset) == text


def test_detector_input_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    real = raw_headers.detect_charset

    def recording(sample: bytes) -> str | None:
        seen.append(len(sample))
        return real(sample)

    values = [escaped(f"订单 {n} 没有收到", "gbk") for n in range(2000)]
    decoder = RawHeaderDecoder(lambda: values, list)
    monkeypatch.setattr(raw_headers, "detect_charset", recording)

    texts = [decoder.text(value) for value in values[:3]]

    assert texts == ["订单 0 没有收到", "订单 1 没有收到", "订单 2 没有收到"]
    assert len(seen) == 1  # once per mail, not once per value
    assert seen[0] <= 2 * MAX_DETECT_BYTES


def test_ascii_and_utf8_values_never_reach_the_detector_or_the_declared_charsets() -> None:
    def fail() -> list[str]:
        raise AssertionError("not needed")

    decoder = RawHeaderDecoder(fail, fail)

    assert decoder.text("plain ascii") == "plain ascii"
    assert decoder.text(escaped("Grüße ✓", "utf-8")) == "Grüße ✓"


def test_a_declared_charset_wins_over_the_detector_only_when_it_reads_every_value() -> None:
    values = [escaped("Jiří", "cp1250"), escaped("Dvořák", "cp1250")]

    assert RawHeaderDecoder(lambda: values, lambda: ["utf-8", "windows-1250"]).text(values[0]) == "Jiří"
    # shift_jis cannot read these bytes: the detector decides instead of mojibake from the label
    assert RawHeaderDecoder(lambda: values, lambda: ["shift_jis"]).text(values[1]) == "Dvořák"


def test_no_detector_answer_falls_back_to_cp1252_and_never_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(raw_headers, "detect_charset", lambda sample: None)
    decoder = RawHeaderDecoder(lambda: [], lambda: ["x-bogus\x00", "base64"])

    assert decoder.text(escaped("café \x81", "latin-1")) == "café \ufffd"
