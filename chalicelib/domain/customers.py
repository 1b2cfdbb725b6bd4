"""Customers and their identities (email addresses, phone numbers)."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

IDENTITY_KINDS = ("email", "phone")


def checked_email(raw: str, field: str = "email") -> str:
    """The one validation of an email address from outside (a mail's sender, a form, an agent): one
    mailbox, no quoting, no control or line-break characters, a dotted domain; normalized as
    `normalize_email`. InvalidInput (naming `field`) otherwise. Uses email-validator, without DNS."""
    from email_validator import EmailNotValidError, validate_email

    from chalicelib.domain.errors import InvalidInput

    candidate = raw.strip().strip("<>").strip() if isinstance(raw, str) else ""
    if not candidate or len(candidate) > 254 or not candidate.isprintable():
        raise InvalidInput(f"{field} is not an email address", field)
    try:
        validated = validate_email(candidate, check_deliverability=False, allow_quoted_local=False,
                                   allow_domain_literal=False, allow_display_name=False)
    except EmailNotValidError as exc:
        raise InvalidInput(f"{field} is not an email address: {exc}", field) from exc
    return normalize_email(validated.normalized)


def normalize_email(address: str) -> str:
    """Case-insensitive identity of a mailbox: trimmed, lower-cased, IDNA domain kept as ASCII."""
    address = address.strip().strip("<>").strip()
    local, _, domain = address.rpartition("@")
    if not local or not domain:
        return address.lower()
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        pass
    return f"{local.lower()}@{domain.lower()}"


@dataclass
class Customer:
    id: str
    name: str
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    created_at: str = ""
    version: int = 1
    merged_into: str | None = None  # set when an agent merged this customer into another

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.split() else ""

    def identities(self) -> list[tuple[str, str]]:
        return [("email", e) for e in self.emails] + [("phone", p) for p in self.phones]

    def with_identity(self, kind: str, value: str) -> Customer:
        """A copy that also owns `value` (the customer record lists what its identity items say)."""
        emails, phones = list(self.emails), list(self.phones)
        target = emails if kind == "email" else phones
        if value not in target:
            target.append(value)
        return replace(self, emails=emails, phones=phones)

    def without_identity(self, kind: str, value: str) -> Customer:
        emails = [e for e in self.emails if not (kind == "email" and e == value)]
        phones = [p for p in self.phones if not (kind == "phone" and p == value)]
        return replace(self, emails=emails, phones=phones)
