"""Which customer a contact belongs to, from the identities it gives (email, phone), and which it brings new.

An agent's record of a call may join what it gives (`plan_identities`: the agent vouches). What a message
gives beyond its own sender is unproven (`plan_unproven`): it never joins an existing customer."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from chalicelib.domain.customers import Customer
from chalicelib.domain.ids import new_id
from chalicelib.ports import Identity


@dataclass
class IdentityPlan:
    customer_id: str
    new_customer: Customer | None = None  # nobody known: a customer is created with every identity
    new_identities: list[Identity] = field(default_factory=list)  # unclaimed identities, now the customer's
    customer_update: Customer | None = None  # the known customer with its lists grown (version as read)
    foreign: list[Identity] = field(default_factory=list)  # given, but another customer's: left to an agent


def plan_identities(
    given: Sequence[tuple[str, str]], known: Mapping[tuple[str, str], Identity], *, name: str, now: str,
    load_customer: Callable[[str], Customer | None],
) -> IdentityPlan:
    """The first known identity decides the customer; the unclaimed ones join that customer. One that
    belongs to a different customer stays theirs: a form or a call can claim anyone's number, so only an
    agent merges two customers."""
    given = list(dict.fromkeys(given))
    owner = next((known[g].customer_id for g in given if g in known), None)
    if owner is None:
        customer = Customer(id=new_id(), name=name, created_at=now,
                            emails=[v for k, v in given if k == "email"], phones=[v for k, v in given if k == "phone"])
        return IdentityPlan(customer.id, new_customer=customer,
                            new_identities=[Identity(k, v, customer.id) for k, v in given])
    plan = IdentityPlan(owner)
    plan.foreign = [known[g] for g in given if g in known and known[g].customer_id != owner]
    unclaimed = [g for g in given if g not in known]
    if unclaimed:
        plan.new_identities = [Identity(k, v, owner) for k, v in unclaimed]
        existing = load_customer(owner)
        if existing is not None:
            updated = existing
            for kind, value in unclaimed:
                updated = updated.with_identity(kind, value)
            plan.customer_update = updated
    return plan


def plan_unproven(
    sender: tuple[str, str], unproven: Sequence[tuple[str, str]], known: Mapping[tuple[str, str], Identity], *,
    name: str, now: str, load_customer: Callable[[str], Customer | None],
) -> IdentityPlan:
    """A message proves only its sender (it came from that address or number). The other identities it
    gives (a contact form's phone) join only a customer this message creates, when none of them is known:
    a known sender is never given a typed-in number, a known number never gains a typed-in address, and
    no other customer's identity is touched. Anything more is an agent's act (link, merge)."""
    given = [sender, *unproven]
    if any(g in known for g in given):
        return plan_identities([sender], known, name=name, now=now, load_customer=load_customer)
    return plan_identities(given, known, name=name, now=now, load_customer=load_customer)
