"""Canned responses: a body with placeholders and optional actions a reply applies."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Macro:
    id: str
    name: str
    body: str
    status: str | None = None  # status the ticket takes after a reply with this macro
    add_tags: list[str] = field(default_factory=list)
    version: int = 1
    updated_by: str = ""
    updated_at: str = ""


def placeholder_context(
    *, customer_name: str, ticket_number: int, ticket_subject: str, agent_name: str, store_name: str
) -> dict[str, Any]:
    """The names a macro may use: {{ customer.first_name }}, {{ ticket.number }}, {{ agent.name }} …"""
    parts = customer_name.split()
    return {
        "customer": {"name": customer_name, "first_name": parts[0] if parts else ""},
        "ticket": {"number": ticket_number, "subject": ticket_subject},
        "agent": {"name": agent_name, "first_name": agent_name.split()[0] if agent_name.split() else ""},
        "store": {"name": store_name},
    }
