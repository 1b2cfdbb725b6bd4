"""One-line text from outside (subjects, names, order numbers): what may go into a mail header or a
list row. Line breaks and control characters are refused, not folded: a person typing into a form
field cannot enter them, so a request carrying them is crafted (header injection) or broken, and a
400 naming the field says so before anything is written."""
from __future__ import annotations

import unicodedata

from chalicelib.domain.errors import InvalidInput

# Cc: C0/C1 controls (CR, LF, VT, FF, FS, GS, RS, NEL, NUL, ESC, TAB …); Zl/Zp: U+2028/U+2029;
# Cs: lone surrogates (not encodable as UTF-8, so not storable).
_REFUSED_CATEGORIES = frozenset({"Cc", "Zl", "Zp", "Cs"})


def is_single_line(value: str) -> bool:
    return not any(unicodedata.category(c) in _REFUSED_CATEGORIES for c in value)


def single_line(value: str | None, field: str, max_len: int, *, required: bool = True) -> str:
    """`value` without surrounding whitespace; InvalidInput naming `field` when it holds a line break or
    control character, is empty (when `required`) or is longer than `max_len`."""
    text = (value or "").strip()
    if not is_single_line(text):
        raise InvalidInput(f"{field} must be one line, without line breaks or control characters", field)
    if (required and not text) or len(text) > max_len:
        raise InvalidInput(f"{field} is {1 if required else 0} to {max_len} characters", field)
    return text
