"""Delivery flags on a customer's identities: what a manager sees (undeliverable after a bounce, a texted
STOP) and the one a manager may clear (undeliverable: a bounce may have been wrong, or the mailbox fixed).
A STOP is the customer's word and only their START clears it, so it is shown, never cleared here."""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from chalicelib.domain.customers import checked_email
from chalicelib.domain.errors import NotFound
from chalicelib.domain.ids import iso, new_id
from chalicelib.domain.principals import Principal
from chalicelib.domain.privacy import pseudonym
from chalicelib.ports import AuditEntry, CustomerChange, Identity, Lookup

if TYPE_CHECKING:
    from chalicelib.services.inbox import InboxDeps

UNDELIVERABLE_CLEARED = "undeliverable_cleared"


def customer_identities(customer_id: str, deps: InboxDeps) -> list[Identity]:
    """The customer's identities with their flags, in the customer's order: one GetItem, one BatchGetItem."""
    customer = deps.repository.get_customer(customer_id)
    if customer is None:
        raise NotFound(f"customer {customer_id} not found")
    wanted = customer.identities()
    found = deps.repository.lookup(Lookup(identities=tuple(wanted))).identities if wanted else {}
    return [found[w] for w in wanted if w in found and found[w].customer_id == customer_id]


def clear_undeliverable(address: str, principal: Principal, deps: InboxDeps) -> Identity:
    """The address may be written to again. Conditional on the identity as read (AlreadyExists when it
    changed meanwhile: read again); recorded with who did it in the same transaction. Clearing an address
    that is not flagged changes nothing."""
    value = checked_email(address, "address")
    identity = deps.repository.get_identity("email", value)
    if identity is None:
        raise NotFound("no customer has that email address")
    if not identity.undeliverable:
        return identity
    cleared = replace(identity, undeliverable=False)
    entry = AuditEntry(id=new_id(), at=iso(deps.clock.now()), actor=principal.user_id, action=UNDELIVERABLE_CLEARED,
                       subject=f"email#{pseudonym(value)}", data={"customer_id": identity.customer_id})
    deps.repository.change_customers(CustomerChange(identities=[(cleared, identity)], audit=[entry]))
    return cleared
