"""Large base64 leaves of a parsed mail, decoded to a temporary file as the parser finishes each one.

The stdlib's parser keeps every part's body as one str: a 40 MB mail is 40 MB of str in the tree, and
get_payload(decode=True) then makes four more copies of a part (bytes, lines, joined, decoded) each time
it is called. A part the parser hands us here is decoded once, a megabyte at a time, into a file on /tmp;
the tree keeps an empty body and the file. Only bodies whose decoding is exact and unremarkable are taken
(base64 alphabet and line breaks only, padded, no text or container type): anything the stdlib would
repair or flag keeps the stdlib's own path, so hostile and broken mail is decoded exactly as before."""
from __future__ import annotations

import base64
import binascii
import re
import tempfile
import weakref
from email.message import EmailMessage
from typing import IO, Any

SPILL_CHARS = 1024 * 1024  # encoded bodies from this size on go to a file (about 750 KB decoded)
_DECODE_CHARS = 1024 * 1024  # characters decoded at a time: a multiple of 4 letters is carried over
_CLEAN_BASE64 = re.compile(r"[A-Za-z0-9+/\r\n]*(?:={1,2}[\r\n]*)?")
_KEEP_IN_TREE = ("text", "multipart", "message")


def _decode_to(payload: str, file: IO[bytes]) -> int:
    """Writes the decoding of clean base64 `payload` to `file`; returns the number of bytes written."""
    written, carry = 0, ""
    for start in range(0, len(payload), _DECODE_CHARS):
        letters = carry + payload[start:start + _DECODE_CHARS].replace("\r", "").replace("\n", "")
        whole = len(letters) // 4 * 4
        carry = letters[whole:]
        if whole:
            written += file.write(binascii.a2b_base64(letters[:whole]))
    # The caller checked the length: nothing is left over.
    return written


def _is_clean(payload: str) -> bool:
    if _CLEAN_BASE64.fullmatch(payload) is None:
        return False
    letters = len(payload) - payload.count("\r") - payload.count("\n")
    return letters % 4 == 0


class SpillingMessage(EmailMessage):
    """EmailMessage whose large base64 leaves live in a temporary file (see the module's docstring)."""

    _spilled: IO[bytes] | None = None
    spilled_size: int | None = None  # decoded bytes, when spilled

    def set_payload(self, payload: Any, charset: Any = None) -> None:
        if charset is None and isinstance(payload, str) and len(payload) >= SPILL_CHARS and self._spillable() \
                and _is_clean(payload):
            file = tempfile.TemporaryFile()  # noqa: SIM115 - the part owns it; unlinked from birth, nothing is left behind
            weakref.finalize(self, file.close)  # closed the moment the tree goes, on every path
            self.spilled_size = _decode_to(payload, file)
            self._spilled = file
            super().set_payload("")
            return
        super().set_payload(payload, charset)

    def _spillable(self) -> bool:
        try:
            encoding = str(self.get("content-transfer-encoding", "")).strip().lower()
            maintype = self.get_content_maintype()
        except Exception:  # a header the policy cannot parse: leave the part to the stdlib
            return False
        return encoding == "base64" and maintype not in _KEEP_IN_TREE

    def spilled_file(self) -> IO[bytes] | None:
        """The decoded body, read from its start (one reader at a time); None when the body is in the tree."""
        if self._spilled is None:
            return None
        self._spilled.seek(0)
        return self._spilled

    def get_payload(self, i: Any = None, decode: bool = False) -> Any:
        file = self.spilled_file()
        if file is None or i is not None:
            return super().get_payload(i, decode)  # type: ignore[call-overload]  # the stdlib's own overloads
        data = file.read()
        # Undecoded, a spilled body is base64 again (in lines of 76): what an enclosed message is written with.
        return data if decode else base64.encodebytes(data).decode("ascii")
