"""Charset and encoded-word decoding that survives what real mailers send (wrong labels, raw 8-bit, junk)."""
from __future__ import annotations

import base64
import binascii
import codecs
import re
from functools import lru_cache

# Labels that mailers get wrong in a known direction: decode with the superset the sender really used.
_CHARSET_ALIASES = {
    "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "cp936": "gb18030", "euc-cn": "gb18030",
    "iso-8859-1": "cp1252", "iso_8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252",
    "shift_jis": "cp932", "shift-jis": "cp932", "sjis": "cp932", "x-sjis": "cp932",
    "ks_c_5601-1987": "cp949", "euc-kr": "cp949", "iso-2022-jp": "iso2022_jp_ext", "big5": "big5hkscs",
    "windows-874": "cp874", "tis-620": "cp874",
}
# Labels that promise nothing: the bytes are as likely to be UTF-8 as anything else.
_VAGUE_CHARSETS = frozenset({"", "us-ascii", "ascii", "ansi_x3.4-1968", "unknown", "unknown-8bit",
                             "x-unknown", "default", "none", "8bit", "binary"})
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([qQbB])\?([^?]*)\?=")
FOLD = re.compile(r"\r?\n(?=[ \t])")
_NEWLINES = re.compile(r"\r\n?|\n")


@lru_cache(maxsize=256)
def codec_for(charset: str | None) -> str | None:
    if charset is None:
        return None
    label = charset.strip().strip("\"'").lower()
    if label in _VAGUE_CHARSETS:
        return None
    try:
        info = codecs.lookup(_CHARSET_ALIASES.get(label, label))
    except LookupError:
        return None
    # base64, rot13, zlib... are codecs too, but not text encodings.
    return info.name if getattr(info, "_is_text_encoding", True) else None


def _guess_text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Text from bytes in a declared charset; never raises. Unknown or vague labels: UTF-8, then cp1252."""
    codec = codec_for(charset)
    if codec is None:
        return _guess_text(data)
    try:
        return data.decode(codec, "replace")
    except Exception:  # a codec must not turn a customer's mail into a crash
        return _guess_text(data)


def fix_raw(value: str) -> str:
    # The parser keeps 8-bit header bytes as surrogate escapes; real mailers mean UTF-8 or a legacy charset.
    if value.isascii():
        return value
    return _guess_text(value.encode("utf-8", "surrogateescape"))


def unfold(value: str) -> str:
    return _NEWLINES.sub(" ", FOLD.sub("", value))


def _word_bytes(encoding: str, text: str) -> bytes | None:
    try:
        if encoding in "bB":
            data = text.encode("ascii", "ignore")
            return base64.b64decode(data + b"=" * (-len(data) % 4))
        return binascii.a2b_qp(text.encode("utf-8"), header=True)
    except (binascii.Error, ValueError):
        return None


def decode_words(value: str) -> str:
    """Decodes RFC 2047 encoded words; white space between adjacent words goes, as the RFC says.

    Adjacent words in one charset are decoded together because mailers split multi-byte characters
    across them.
    """
    if "=?" not in value:
        return value
    pieces: list[str] = []
    pending = bytearray()
    pending_charset: str | None = None
    position = 0
    for match in _ENCODED_WORD.finditer(value):
        between = value[position:match.start()]
        position = match.end()
        data = _word_bytes(match.group(2), match.group(3))
        adjacent = pending_charset is not None and not between.strip()
        charset = match.group(1).partition("*")[0].lower()  # drop an RFC 2231 language suffix
        if data is not None and adjacent and charset == pending_charset:
            pending += data
            continue
        if pending_charset is not None:
            pieces.append(decode_bytes(bytes(pending), pending_charset))
            pending, pending_charset = bytearray(), None
        if data is None:  # not decodable: keep the word as written
            pieces.append(between + match.group(0))
            continue
        if not adjacent:
            pieces.append(between)
        pending, pending_charset = bytearray(data), charset
    if pending_charset is not None:
        pieces.append(decode_bytes(bytes(pending), pending_charset))
    pieces.append(value[position:])
    return "".join(pieces)


def header_text(raw: str) -> str:
    return decode_words(unfold(fix_raw(raw))).strip()


def normalize_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


@lru_cache(maxsize=256)
def codec_for_stdlib(charset: str | None) -> str | None:
    # The codec get_content() would use; when we alias the label to a superset, we decode ourselves.
    try:
        return codecs.lookup((charset or "").strip()).name
    except LookupError:
        return None
