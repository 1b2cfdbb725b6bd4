"""E.164 normalization: every form a customer or carrier uses becomes one key; impossible numbers say why."""
from __future__ import annotations

import pytest

from chalicelib.domain.errors import InvalidInput
from chalicelib.sms.numbers import normalize_phone, normalize_store_number


@pytest.mark.parametrize(("raw", "region", "expected"), [
    ("+4915112345678", None, "+4915112345678"),
    ("+49 151 1234 5678", None, "+4915112345678"),
    ("0151 12345678", "DE", "+4915112345678"),
    ("0049 (151) 123-456-78", "DE", "+4915112345678"),
    ("+1 (425) 555-0182", None, "+14255550182"),
    ("425.555.0182", "US", "+14255550182"),
    ("+447700900123", None, "+447700900123"),
])
def test_forms_of_one_number_normalize_to_e164(raw: str, region: str | None, expected: str) -> None:
    assert normalize_phone(raw, region) == expected


@pytest.mark.parametrize(("raw", "region", "reason"), [
    ("+49 1", None, "too short"),
    ("+4915112345678901234", None, "too long"),
    ("+999 12345678", None, "country code"),
    ("0151 12345678", None, "country code"),  # a national form without a region to read it in
    ("call me", None, "not a phone number"),
    ("", None, "not a phone number"),
    ("+" + "1" * 60, None, "not a phone number"),
])
def test_impossible_numbers_are_refused_with_a_reason_not_the_number(raw: str, region: str | None,
                                                                     reason: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        normalize_phone(raw, region)
    assert reason in str(refused.value)
    assert refused.value.field == "phone"
    digits = "".join(c for c in raw if c.isdigit())
    assert not digits or digits not in str(refused.value)  # reasons reach logs; numbers must not


def test_store_numbers_may_be_short_codes() -> None:
    assert normalize_store_number("12345") == "12345"
    assert normalize_store_number("+1 212 555 0101") == "+12125550101"
    with pytest.raises(InvalidInput):
        normalize_store_number("12")
