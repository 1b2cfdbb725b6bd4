"""Use cases on customers: look up by id, email or phone, and rename."""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from chalicelib.domain.customers import Customer, normalize_email
from chalicelib.domain.errors import InvalidInput, NotFound
from chalicelib.domain.principals import Principal
from chalicelib.domain.tickets import Ticket


def customer_view(customer_id: str, deps: Any) -> tuple[Customer, list[Ticket]]:
    """The customer and all their tickets on every channel, newest first (one Query)."""
    customer = deps.repository.get_customer(customer_id)
    if customer is None:
        raise NotFound(f"customer {customer_id} not found")
    return customer, deps.repository.customer_tickets(customer_id)


def find_customer(*, email: str | None, phone: str | None, deps: Any) -> tuple[Customer, list[Ticket]]:
    if bool(email) == bool(phone):
        raise InvalidInput("give exactly one of email or phone", "email")
    kind, value = ("email", normalize_email(email or "")) if email else ("phone", (phone or "").strip())
    if len(value) > 254:
        raise InvalidInput("too long", kind)
    identity = deps.repository.get_identity(kind, value)
    if identity is None:
        raise NotFound(f"no customer with that {kind}")
    return customer_view(identity.customer_id, deps)


def rename_customer(customer_id: str, name: str, version: int, principal: Principal,
                    deps: Any) -> tuple[Customer, list[Ticket]]:
    customer, tickets = customer_view(customer_id, deps)
    saved = deps.repository.save_customer(replace(customer, name=name.strip()[:200]), version)
    return saved, tickets
