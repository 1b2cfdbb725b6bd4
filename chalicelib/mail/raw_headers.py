"""Header values sent as raw 8-bit bytes (no RFC 2047): which charset they are in, decided once per mail."""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from chalicelib.mail.charsets import codec_for

# The detector only ever sees this much: header values are short, and its work grows with its input.
MAX_DETECT_BYTES = 2048
# Legacy charsets that mailers put raw into headers, most common first; ties between equally good
# readings go to the earlier one (three GBK hanzi read as well in Big5, and GBK is far more common).
_MAIL_CHARSETS = ("cp1252", "gb18030", "cp932", "cp1251", "cp1250", "cp949", "big5", "koi8_r", "euc_jp",
                  "cp1253", "cp1254", "cp1257", "cp1255", "cp1256", "cp874")
_FALLBACK = "cp1252"
# Bytes of one script read in another glue letters of two scripts into one word: "Mьller", "Jιrτme", and
# for double-byte charsets ideographs inside a Latin word, "J廨獽e" (each high byte takes the next letter as
# its second byte). People write "iPhone手机" but not that.
_ALPHABETS = "\u0370-\u07ff\u0e00-\u0e7f"  # Greek, Cyrillic, Armenian, Hebrew, Arabic ... Thai
_CJK = "\u1100-\u11ff\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uf900-\ufaff"
_GLUED = re.compile(f"[A-Za-z][{_ALPHABETS}]|[{_ALPHABETS}][A-Za-z]|[A-Za-z][{_CJK}]+[A-Za-z]")
# Half-width katakana is what Cyrillic or Latin bytes look like through Shift_JIS, and nobody types
# private-use or C1 control characters; a reading with them is the wrong charset.
_HALF_WIDTH_KANA = re.compile("[\uff61-\uff9f\ue000-\uf8ff\x80-\x9f]")
# A symbol inside a word ("£ukasz", "Wi¶ni") is a letter of another Latin code page.
_SYMBOL_IN_WORD = re.compile(r"[\u00a1-\u00bf\u00d7\u00f7][a-z]|[A-Za-z][\u00a1-\u00bf\u00d7\u00f7][A-Za-z]")
# The accented letters of the languages written in the Latin code pages: cp1250 and cp1252 read each
# other's bytes without an error ("přišlo" / "pøišlo"), but only one reading is any language's alphabet.
_LATIN_ALPHABETS = tuple(frozenset(letters) for letters in (
    "áčďéěíňóřšťúůýž",  # Czech, Slovak (with äĺľôŕ)
    "áäčďéíĺľňóôŕšťúýž",
    "ąćęłńóśźż",  # Polish
    "áéíóöőúüű",  # Hungarian
    "ăâîșțşţ",  # Romanian
    "čćđšž",  # Croatian, Bosnian, Serbian (Latin), Slovenian
    "àâæçéèêëîïôœùûüÿ",  # French
    "äöüß",  # German
    "áéíñóúü",  # Spanish
    "áâãàçéêíóôõú",  # Portuguese
    "àèéìíîòóùú",  # Italian, Catalan
    "àçèéíïòóúü",
    "æøåéó",  # Danish, Norwegian
    "åäöé",  # Swedish, Finnish
    "áéíóúýþæöð",  # Icelandic
    "çğıİöşüâî",  # Turkish
    "āčēģīķļņōŗšūž",  # Latvian, Lithuanian, Estonian
    "ąčęėįšųūžõäöü",
))


def _foreign_letters(text: str) -> bool:
    letters = {ch for ch in text.lower() if ch.isalpha() and "\u00c0" <= ch <= "\u024f"}
    return bool(letters) and not any(letters <= alphabet for alphabet in _LATIN_ALPHABETS)


def _implausible(text: str) -> bool:
    return (_GLUED.search(text) is not None or _HALF_WIDTH_KANA.search(text) is not None
            or _SYMBOL_IN_WORD.search(text) is not None or _foreign_letters(text))


def _strictly(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def detect_charset(sample: bytes) -> str | None:
    """The legacy charset a short sample of header bytes most plausibly is in; None when nothing fits.

    charset-normalizer proposes readings ranked by how messy they look; on a few dozen bytes many
    look clean, so readings no language writes (scripts glued together, a letter set no alphabet has)
    go last and ties go to the commoner charset.
    """
    from charset_normalizer import from_bytes  # imported on first use: cold starts do not pay for it

    sample = sample[:MAX_DETECT_BYTES]
    try:
        matches = from_bytes(sample, cp_isolation=list(_MAIL_CHARSETS), threshold=0.5)
    except Exception:  # a detector of last resort must not fail the mail
        return None
    best: tuple[bool, float, float, int, str] | None = None
    for match in matches:
        implausible = _implausible(str(match))
        for charset in match.could_be_from_charset:
            if charset not in _MAIL_CHARSETS:
                continue
            key = (implausible, round(match.chaos, 2), -round(match.coherence, 2), _MAIL_CHARSETS.index(charset),
                   charset)
            if best is None or key < best:
                best = key
    return best[4] if best is not None else None


class RawHeaderDecoder:
    """Turns header values as the stdlib keeps them (8-bit bytes as surrogate escapes) into text.

    UTF-8 when the bytes are UTF-8; otherwise one legacy charset for the whole mail: the first charset
    its body parts declare that reads every such value as some language, else the detector's choice
    over all of them, else cp1252. ASCII values, most mail, cost one isascii() call; the rest is worked
    out once per mail, lazily.
    """

    def __init__(self, values: Callable[[], Iterable[str]], declared: Callable[[], list[str]]) -> None:
        self._values = values
        self._declared = declared
        self._legacy: str | None = None

    def text(self, value: str) -> str:
        if value.isascii():
            return value
        data = value.encode("utf-8", "surrogateescape")
        decoded = _strictly(data, "utf-8")
        if decoded is not None:
            return decoded
        return data.decode(self._legacy_codec(data), "replace")

    def _legacy_codec(self, data: bytes) -> str:
        if self._legacy is None:
            self._legacy = self._choose([data, *self._undecodable()])
        return self._legacy

    def _undecodable(self) -> list[bytes]:
        found: list[bytes] = []
        size = 0
        for value in self._values():
            if value.isascii():
                continue
            data = value.encode("utf-8", "surrogateescape")
            if _strictly(data, "utf-8") is None and data not in found:
                found.append(data)
                size += len(data)
                if size > MAX_DETECT_BYTES:
                    break
        return found

    def _choose(self, samples: list[bytes]) -> str:
        for charset in self._declared():
            codec = codec_for(charset)
            if codec is None or codec == "utf-8":
                continue
            readings = [_strictly(sample, codec) for sample in samples]
            if all(text is not None and not _implausible(text) for text in readings):
                return codec
        # Only the 8-bit bytes carry signal; their ASCII neighbours give the detector context.
        return detect_charset(b"\n".join(samples)) or _FALLBACK
