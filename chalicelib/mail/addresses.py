"""Mailboxes from address headers: parsed leniently, kept only when valid (checked once, here, at the edge)."""
from __future__ import annotations

import re
from collections.abc import Iterable
from email.utils import getaddresses
from functools import lru_cache
from typing import Any

from chalicelib.domain.customers import checked_email, normalize_email
from chalicelib.domain.errors import InvalidInput
from chalicelib.mail.charsets import decode_words, fix_raw, unfold
from chalicelib.mail.header_policy import HeaderClasses
from chalicelib.mail.model import Address, MailLimits

_HEADERS = HeaderClasses()
_DEFAULT_LIMIT = MailLimits().max_addresses

# local@domain after the parsers are done: no spaces or brackets left over from a broken header.
_MAILBOX = re.compile(r'(?:"[^"\r\n]+"|[^\s<>()\[\]@,;:\\"]+)@(?:[^\s<>()\[\]@,;:\\"]+|\[[^\]\s]+\])')


@lru_cache(maxsize=512)  # the same few addresses recur in From, Sender, To and Cc of one mail and its replies
def _valid_email(addr_spec: str) -> str | None:
    """checked_email's address (no quoting, control or line-break characters, a dotted domain), or None.

    A reserved domain (.local, .test, as in the stdlib's own test mail) passes when the address would
    pass under a public one: the mail is read like any other, and ingest, which checks the sender with
    checked_email itself, does not answer it."""
    try:
        return checked_email(addr_spec)
    except InvalidInput:
        pass
    from email_validator import SPECIAL_USE_DOMAIN_NAMES

    local, _, domain = addr_spec.strip().strip("<>").strip().rpartition("@")
    domain = domain.lower()
    for reserved in SPECIAL_USE_DOMAIN_NAMES:
        if domain == reserved or domain.endswith("." + reserved):
            try:
                checked_email(f"{local}@{domain[: -len(reserved)] or 'reserved.'}example")
            except InvalidInput:
                return None
            return normalize_email(f"{local}@{domain}")
    return None


def _mailbox(name: str, addr_spec: str) -> Address | None:
    """The mailbox when its address is valid (`_valid_email`); None otherwise. Checked here, at the edge,
    so no service sees another."""
    if not _MAILBOX.fullmatch(addr_spec.strip().lower()):
        return None
    email = _valid_email(addr_spec)
    if email is None:
        return None
    return Address(email=email, name=" ".join(decode_words(name).split()).strip('"').strip())


def _pairs(value: str) -> list[tuple[str, str]]:
    try:
        header: Any = _HEADERS("to", value)  # an AddressHeader
        pairs = [(mailbox.display_name, mailbox.addr_spec) for mailbox in header.addresses]
    except Exception:  # the structured parser raises on some garbage; the old one copes
        pairs = []
    if any(_MAILBOX.fullmatch(addr_spec.strip()) for _, addr_spec in pairs):
        return pairs
    try:
        # A second opinion for what the strict parser gave up on ("<<a@b>", unbalanced quotes).
        return pairs + getaddresses([value])
    except Exception:
        return pairs


def _first_mailboxes(value: str, limit: int) -> str:
    """The header up to its `limit`-th mailbox: cut at the comma before the next "@" (linear, unlike the
    parsers, and a display name with a comma in it loses at most the mailbox at the cut)."""
    position = -1
    for _ in range(limit):
        position = value.find("@", position + 1)
        if position < 0:
            return value
    following = value.find("@", position + 1)
    if following < 0:
        return value
    cut = value.rfind(",", position, following)
    return value[:cut] if cut > position else value[:following]


def addresses(values: Iterable[str], limit: int = _DEFAULT_LIMIT) -> list[Address]:
    """The valid mailboxes of address headers, in order, deduplicated, at most `limit` per header; invalid
    ones are left out (the header as written stays in ParsedEmail.headers)."""
    found: list[Address] = []
    for value in values:
        for name, addr_spec in _pairs(_first_mailboxes(value, limit)):
            address = _mailbox(fix_raw(name), fix_raw(addr_spec))
            if address is not None and address not in found:
                found.append(address)
    return found


def rejected(values: list[str]) -> str | None:
    """The header as written when it names a mailbox (something with an "@") and none of it is valid."""
    written = [value for value in values if "@" in value]
    return unfold(fix_raw(written[0])).strip() if written and not addresses(written) else None
