"""The part of a reply a person wrote: quoted history and signature trimmed (email_reply_parser)."""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

# email_reply_parser is quadratic in the number of fragments; only this much of a mail is trimmed, and
# the customer's own words come first anyway. The full text stays in ParsedEmail.text.
MAX_TRIM_CHARS = 200 * 1024
MAX_TRIM_LINES = 4000

_QUOTE_HEADER_START = re.compile(r"On\s")
_QUOTE_HEADER_END = "wrote:"


def _join_quote_header(text: str) -> str:
    """What email_reply_parser's multi-line quote-header regex does, in linear time.

    Its regex, (?!On.*On\\s.+?wrote:)(On\\s(.+?)wrote:) with DOTALL, backtracks over every "On " in
    the mail: 10 KB of "On a" lines take 40 s. It selects the last "On " that still has a "wrote:"
    after it, up to the first "wrote:" from there, and puts that header on one line.
    """
    last_wrote = text.rfind(_QUOTE_HEADER_END)
    if last_wrote < 0:
        return text
    start = -1
    for match in _QUOTE_HEADER_START.finditer(text, 0, last_wrote):
        if match.start() + 4 <= last_wrote:
            start = match.start()
    if start < 0:
        return text
    end = text.find(_QUOTE_HEADER_END, start + 4) + len(_QUOTE_HEADER_END)
    return text[:start] + text[start:end].replace("\n", "") + text[end:]


@lru_cache(maxsize=1)
def _message_class() -> Any:
    # Imported on first use so that importing chalicelib.mail.parse stays cheap at cold start.
    from email_reply_parser import EmailMessage

    class _LinearQuoteHeaderMessage(EmailMessage):  # type: ignore[misc]  # the library ships no types
        MULTI_QUOTE_HDR_REGEX_MULTILINE = re.compile(r"(?!)")  # never matches; _join_quote_header did it

    return _LinearQuoteHeaderMessage


def visible_text(text: str) -> str:
    """The reply without quoted history or signature; the whole text when trimming leaves nothing."""
    head = text[:MAX_TRIM_CHARS].replace("\r\n", "\n")
    if head.count("\n") > MAX_TRIM_LINES:
        head = "\n".join(head.split("\n", MAX_TRIM_LINES)[:MAX_TRIM_LINES])
    try:
        reply: str = _message_class()(_join_quote_header(head)).read().reply
    except Exception:  # the library's regexes are not ours; a failure must not lose the mail
        reply = ""
    return reply.strip() or text.replace("\r\n", "\n").strip()
