"""Phone numbers in E.164, the one form ShopDesk stores, keys and sends to; impossible numbers are refused."""
from __future__ import annotations

import re

from chalicelib.domain.errors import InvalidInput

# Carriers' short codes (3 to 8 digits) are store numbers too; they have no country and no E.164 form.
_SHORT_CODE = re.compile(r"^\d{3,8}$")
_MAX_INPUT_CHARS = 40
_REASONS = {
    "INVALID_COUNTRY_CODE": "unknown country code",
    "TOO_SHORT": "too short for its country",
    "TOO_LONG": "too long for its country",
    "INVALID_LENGTH": "impossible length for its country",
    "IS_POSSIBLE_LOCAL_ONLY": "a local number without its area code",
}


def normalize_phone(raw: str, default_region: str | None = None) -> str:
    """`raw` in E.164 (`+4915112345678`); `default_region` (ISO country) reads national forms such as
    `0151 12345678`. Raises InvalidInput with the reason, never with the number (reasons reach logs)."""
    import phonenumbers  # deferred: only SMS and forms with a phone pay for the metadata

    text = raw.strip() if isinstance(raw, str) else ""
    if not text or len(text) > _MAX_INPUT_CHARS:
        raise InvalidInput("not a phone number", "phone")
    try:
        parsed = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as exc:
        reason = {
            phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "no or unknown country code",
            phonenumbers.NumberParseException.TOO_SHORT_NSN: "too short",
            phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
            phonenumbers.NumberParseException.TOO_LONG: "too long",
        }.get(exc.error_type, "not a phone number")
        raise InvalidInput(reason, "phone") from exc
    verdict = phonenumbers.is_possible_number_with_reason(parsed)
    if verdict != phonenumbers.ValidationResult.IS_POSSIBLE:
        names = {getattr(phonenumbers.ValidationResult, name): name for name in _REASONS}
        raise InvalidInput(_REASONS.get(names.get(verdict, ""), "impossible number"), "phone")
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def normalize_store_number(raw: str) -> str:
    """One of the store's own numbers: a short code as it is, anything else in E.164."""
    text = raw.strip() if isinstance(raw, str) else ""
    if _SHORT_CODE.match(text):
        return text
    return normalize_phone(text)

