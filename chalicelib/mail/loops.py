"""Recognising mail sent by machines (RFC 3834 and common practice), so that we never answer it."""
from __future__ import annotations

import re

from chalicelib.mail.model import ParsedEmail

_AUTOMATED_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply"})
_SUPPRESSED = frozenset({"all", "autoreply"})
_LIST_HEADERS = ("list-id", "list-unsubscribe")
_AUTOREPLY_HEADERS = ("x-autoreply", "x-autorespond")
_ROBOT_LOCAL_PARTS = frozenset({
    "mailer-daemon", "postmaster", "noreply", "no-reply", "do-not-reply", "donotreply",
})
# noreply-billing@, no-reply.eu@...: the common prefixes; other robot names vary too much to guess.
_ROBOT_PREFIXES = ("noreply", "no-reply")
_COMMENTS = re.compile(r"\([^()]*\)")
_TOKENS = re.compile(r"[\s,;]+")


def _first(mail: ParsedEmail, name: str) -> str | None:
    """The header's keyword, lower-cased: parameters after ';' and (comments) dropped."""
    values = mail.headers.get(name)
    if not values:
        return None
    return _COMMENTS.sub(" ", values[0].split(";")[0]).strip().lower()


def automated_reason(mail: ParsedEmail) -> str | None:
    """Why a mail is automated ("auto-submitted", "precedence:bulk", "bounce", ...), or None for a person."""
    if mail.bounce is not None:
        return "bounce"
    auto_submitted = _first(mail, "auto-submitted")
    if auto_submitted is not None and auto_submitted != "no":
        return "auto-submitted"
    precedence = _first(mail, "precedence") or ""
    if precedence in _AUTOMATED_PRECEDENCE:
        return f"precedence:{precedence}"
    for value in mail.headers.get("x-auto-response-suppress", []):
        if _SUPPRESSED & {token.lower() for token in _TOKENS.split(value)}:
            return "x-auto-response-suppress"
    for name in _LIST_HEADERS + _AUTOREPLY_HEADERS:
        if name in mail.headers:
            return name
    if mail.return_path == "":
        return "null-return-path"
    if mail.sender is not None:
        local_part = mail.sender.email.rpartition("@")[0].lower()
        if local_part in _ROBOT_LOCAL_PARTS:
            return f"sender:{local_part}"
        for prefix in _ROBOT_PREFIXES:
            if local_part.startswith(prefix):
                return f"sender:{prefix}"
    return None
