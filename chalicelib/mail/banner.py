"""Gateway banners above a mail's headers ("---- Original email message ----"): found and cut, never guessed."""
from __future__ import annotations

import re

# A real mail has at least one of these; a text without any is a bare body.
MAIL_HEADERS = frozenset({
    "from", "sender", "to", "cc", "subject", "date", "message-id", "in-reply-to", "references", "reply-to",
    "received", "return-path", "mime-version", "content-type", "content-transfer-encoding",
})

# A header line as the stdlib's feedparser reads one (a field name, optional blanks, a colon).
_HEADER_LINE = re.compile(rb"[\041-\071\073-\176]+[ \t]*:")
_MAIL_HEADER_LINE = re.compile(rb"(" + b"|".join(name.encode() for name in sorted(MAIL_HEADERS)) + rb")[ \t]*:",
                               re.IGNORECASE)
_MAX_BANNER_LINES = 3  # "---- Original email message ----" and the like, at most this many lines
_MAX_HEADER_SCAN = 200  # lines looked at in all: SES's own headers, many Received, then the banner
_BANNER_SCAN_BYTES = 64 * 1024
# Headers only software writes. A reply above a quoted Outlook block ("From: / Sent: / To: / Subject:")
# has none of them; the original headers under a gateway's banner always have some.
_MACHINE_HEADERS = frozenset({b"message-id", b"mime-version", b"content-type", b"content-transfer-encoding",
                              b"received", b"return-path"})
BANNER_DEFECT = "BannerBeforeHeadersDefect"


def without_banner(raw: bytes) -> bytes | None:
    """The mail without a gateway's banner line before or among its headers; None when there is none.

    Some gateways forward with a line such as "---- Original email message ----" above the original
    headers (below SES's own, once it stored the mail); the stdlib ends the headers there and the
    sender and subject end up in the body. A banner is up to three non-blank lines that are not
    headers, followed by a header block naming at least two mail headers, one of them only software
    writes. A blank line always ends the headers, so a body that starts with a quoted
    "From: / Subject:" block is never read as one.
    """
    lines = raw[:_BANNER_SCAN_BYTES].splitlines(keepends=True)[:_MAX_HEADER_SCAN]
    position = index = 0
    while index < len(lines):
        line = lines[index]
        if not line.strip():
            return None  # the separator came first: no banner
        if not (_HEADER_LINE.match(line) or (index and line[:1] in b" \t")
                or (index == 0 and line.startswith(b"From "))):
            break
        position += len(line)
        index += 1
    else:
        return None
    start, banner = position, 0
    while index < len(lines) and banner < _MAX_BANNER_LINES and lines[index].strip() \
            and not _HEADER_LINE.match(lines[index]):
        position += len(lines[index])
        index += 1
        banner += 1
    known: set[bytes] = set()
    for line in lines[index:]:  # bounded: lines holds at most _MAX_HEADER_SCAN of them
        if not line.strip():
            break
        if line[:1] in b" \t":
            continue
        if not _HEADER_LINE.match(line):
            return None
        match = _MAIL_HEADER_LINE.match(line)
        if match:
            known.add(match.group(1).lower())
    if len(known) < 2 or not known & _MACHINE_HEADERS:
        return None
    return raw[:start] + raw[position:]
