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
    except (LookupError, ValueError):  # ValueError: a NUL in a damaged label
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


# ISO-2022-JP escape sequences (RFC 1468, plus what Windows sends: JIS X 0201 katakana, SO/SI shifts).
_ISO2022JP_SWITCH = re.compile(rb"(\x1b\$[@B]|\x1b\$\(D|\x1b\([BJI]|\x1b&@|[\x0e\x0f])")
_JIS_X0208 = (b"\x1b$@", b"\x1b$B")
_KATAKANA = (b"\x1b(I", b"\x0e")


def _jis_to_sjis(pair: bytes) -> bytes:
    """One JIS X 0208 code (two bytes 0x21-0x7e) as Shift_JIS, where cp932 keeps the NEC and IBM rows."""
    first, second = pair[0] & 0x7F, pair[1] & 0x7F
    lead = (first + 1) // 2 + 0x70
    if lead >= 0xA0:
        lead += 0x40
    trail = second + 0x1F + (second >= 0x60) if first % 2 else second + 0x7E
    return bytes((lead, trail))


def _iso2022jp_windows(data: bytes) -> str:
    """ISO-2022-JP as Outlook and other Windows mailers write it (CP50220/CP50221): JIS X 0208 rows
    that only Microsoft's table fills (NEC row 13: ①, ㈱, №; IBM rows 89-92) and half-width katakana.

    Python's iso2022_jp codecs follow the standards, where those codes are unassigned, and turn each
    into U+FFFD. Each JIS X 0208 run is rewritten to Shift_JIS and decoded as cp932, which maps them.
    """
    pieces: list[str] = []
    mode = b"\x1b(B"
    shifted_from = mode
    for chunk in _ISO2022JP_SWITCH.split(data):
        if _ISO2022JP_SWITCH.fullmatch(chunk):
            if chunk == b"\x0e":
                shifted_from, mode = mode, chunk
            elif chunk == b"\x0f":
                mode = shifted_from
            elif chunk != b"\x1b&@":  # announces a JIS X 0208 revision; the next escape switches
                mode = chunk
            continue
        if not chunk:
            continue
        if mode in _JIS_X0208:
            body = chunk.translate(None, b"\r\n")  # a mailer may wrap a run; the pairs go on
            sjis = b"".join(_jis_to_sjis(body[i:i + 2]) for i in range(0, len(body) - 1, 2))
            pieces.append(sjis.decode("cp932", "replace") + ("\ufffd" if len(body) % 2 else ""))
        elif mode in _KATAKANA:
            pieces.append(bytes(b | 0x80 if 0x21 <= b <= 0x5F else b for b in chunk).decode("cp932", "replace"))
        elif mode == b"\x1b$(D":
            pieces.append((b"\x1b$(D" + chunk).decode("iso2022_jp_ext", "replace"))
        else:
            pieces.append(chunk.decode("cp932", "replace"))  # ASCII and JIS-Roman; 8-bit junk as Windows would
    return "".join(pieces)


def _iso2022jp_extended(data: bytes) -> str:
    if b"\x1b$(Q" in data or b"\x1b$(O" in data or b"\x1b$(P" in data:
        try:  # JIS X 0213 designations (iso-2022-jp-2004/-3), which the Windows table does not know
            return data.decode("iso2022_jp_2004")
        except UnicodeDecodeError:
            pass
    return _iso2022jp_windows(data)


# Labels whose bytes may hold Microsoft's extensions of JIS X 0208.
_ISO2022JP_CODECS = frozenset({"iso2022_jp", "iso2022_jp_ext", "iso2022_jp_1", "iso2022_jp_2", "iso2022_jp_3",
                               "iso2022_jp_2004"})


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Text from bytes in a declared charset; never raises. Unknown or vague labels: UTF-8, then cp1252."""
    codec = codec_for(charset)
    if codec is None:
        return _guess_text(data)
    try:
        if codec in _ISO2022JP_CODECS:
            try:
                return data.decode(codec)
            except UnicodeDecodeError:  # only mail with extension characters pays for the rewrite
                return _iso2022jp_extended(data)
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
    except (LookupError, ValueError):  # ValueError: a NUL in a damaged label
        return None
