"""Customers and their identities (email addresses, phone numbers)."""
from __future__ import annotations

from dataclasses import dataclass, field


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

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.split() else ""
