"""Use cases on customers: look up by id, email or phone, rename, link and unlink identities, merge."""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from chalicelib.domain.customers import IDENTITY_KINDS, Customer, checked_email, normalize_email
from chalicelib.domain.errors import AlreadyExists, DomainError, InvalidInput, NotFound, Unavailable, VersionConflict
from chalicelib.domain.ids import iso, new_id
from chalicelib.domain.principals import Principal
from chalicelib.domain.tickets import EventType, new_event
from chalicelib.ports import CustomerChange, Identity, Lookup, TicketChange, TicketPage
from chalicelib.services.retry import retry_on_conflict

if TYPE_CHECKING:
    from chalicelib.config import Settings
    from chalicelib.services.inbox import InboxDeps


CUSTOMER_PAGE = 25  # tickets per page of a customer's view unless asked otherwise


def customer_view(customer_id: str, deps: InboxDeps, limit: int = CUSTOMER_PAGE,
                  cursor: dict[str, str] | None = None) -> tuple[Customer, TicketPage]:
    """The customer and a page of their tickets on every channel, newest first (a GetItem and one
    Query); the page's cursor continues it."""
    customer = deps.repository.get_customer(customer_id)
    if customer is None:
        raise NotFound(f"customer {customer_id} not found")
    return customer, deps.repository.customer_ticket_page(customer_id, limit, cursor)


def find_customer(*, email: str | None, phone: str | None, deps: InboxDeps) -> tuple[Customer, TicketPage]:
    if bool(email) == bool(phone):
        raise InvalidInput("give exactly one of email or phone", "email")
    kind = "email" if email else "phone"
    value = _identity_value(kind, email or phone or "", deps.settings, strict=False)
    if len(value) > 254:
        raise InvalidInput("too long", kind)
    identity = deps.repository.get_identity(kind, value)
    if identity is None:
        raise NotFound(f"no customer with that {kind}")
    return customer_view(identity.customer_id, deps)


def rename_customer(customer_id: str, name: str, version: int, principal: Principal,
                    deps: InboxDeps) -> tuple[Customer, TicketPage]:
    customer, tickets = customer_view(customer_id, deps)
    saved = deps.repository.save_customer(replace(customer, name=name.strip()[:200]), version)
    return saved, tickets


# ---- identities: link, unlink, merge ----------------------------------------------------------------
_MERGE_ROUNDS = 5
_IDENTITIES_PER_TRANSACTION = 98  # plus the two customers: DynamoDB's 100


def _identity_value(kind: str, raw: str, settings: Settings, *, strict: bool = True) -> str:
    if kind == "email":
        # Linking takes only one real mailbox (email-validator); finding tolerates what was stored before.
        return checked_email(raw, "value") if strict else normalize_email(raw)
    if kind == "phone":
        from chalicelib.sms.numbers import normalize_phone

        try:
            return normalize_phone(raw, settings.phone_region)
        except InvalidInput as exc:
            if strict:
                raise InvalidInput(f"not a possible phone number: {exc}", "value") from exc
            return raw.strip()  # unlinking finds numbers stored before they were normalized
    raise InvalidInput(f"kind must be one of {', '.join(IDENTITY_KINDS)}", "kind")


def _live_customer(customer_id: str, deps: InboxDeps) -> Customer:
    customer = deps.repository.get_customer(customer_id)
    if customer is None:
        raise NotFound(f"customer {customer_id} not found")
    if customer.merged_into:
        raise Unavailable(f"this customer was merged into {customer.merged_into}; change that one")
    return customer


def link_identity(customer_id: str, kind: str, raw: str, version: int, principal: Principal,
                  deps: InboxDeps) -> tuple[Customer, TicketPage]:
    """The customer also owns this email address or number. Identities are unique: one another customer
    owns is refused (merge the customers instead). Linking what the customer already owns changes nothing."""
    value = _identity_value(kind, raw, deps.settings)
    customer = _live_customer(customer_id, deps)
    existing = deps.repository.get_identity(kind, value)
    if existing is not None and existing.customer_id == customer_id:
        return customer_view(customer_id, deps)
    if existing is not None:
        raise AlreadyExists(f"that {kind} belongs to customer {existing.customer_id}; merge the two customers")
    if customer.version != version:
        raise VersionConflict("the customer changed since you saw it", current=customer)
    deps.repository.change_customers(CustomerChange(
        customers=[(customer.with_identity(kind, value), customer.version)],
        identities=[(Identity(kind, value, customer_id), None)],
    ))
    return customer_view(customer_id, deps)


def unlink_identity(customer_id: str, kind: str, raw: str, principal: Principal,
                    deps: InboxDeps) -> tuple[Customer, TicketPage]:
    """The address or number is no longer this customer's: it becomes a contact of its own. Its item is
    kept, with its opt-out and bounce state: an unlink must never make a STOP forgotten."""
    value = _identity_value(kind, raw, deps.settings, strict=False)
    customer = _live_customer(customer_id, deps)
    identity = deps.repository.get_identity(kind, value)
    if identity is None or identity.customer_id != customer_id:
        raise NotFound(f"the customer has no such {kind}")
    split = Customer(id=new_id(), name="", created_at=iso(deps.clock.now())).with_identity(kind, value)
    deps.repository.change_customers(CustomerChange(
        customers=[(customer.without_identity(kind, value), customer.version), (split, None)],
        identities=[(replace(identity, customer_id=split.id), identity)],
    ))
    return customer_view(customer_id, deps)


def merge_customers(source_id: str, target_id: str, version: int, principal: Principal,
                    deps: InboxDeps) -> tuple[Customer, TicketPage]:
    """Moves the source customer's identities and tickets to the target; the source remains, empty,
    pointing at the target. Bounded transactions (at most 100 operations each); safe to repeat: a
    repeat finishes what an interrupted merge left."""
    if source_id == target_id:
        raise InvalidInput("a customer cannot be merged into itself", "target_id")
    source = deps.repository.get_customer(source_id)
    if source is None:
        raise NotFound(f"customer {source_id} not found")
    target = _live_customer(target_id, deps)
    if source.merged_into and source.merged_into != target_id:
        raise Unavailable(f"this customer was already merged into {source.merged_into}")
    if not source.merged_into:
        if source.version != version:
            raise VersionConflict("the customer changed since you saw it", current=source)
        _move_identities(source, target, deps)
    _move_tickets(source_id, target_id, principal, deps)
    return customer_view(target_id, deps)


def _move_identities(source: Customer, target: Customer, deps: InboxDeps) -> None:
    """Identities first, so that new messages land on the target while tickets move. Each transaction
    carries both customers (conditional on their versions); the last one marks the source merged."""
    wanted = source.identities()
    found = deps.repository.lookup(Lookup(identities=tuple(wanted))).identities if wanted else {}
    moving = [found[w] for w in wanted if w in found and found[w].customer_id == source.id]
    chunks = [moving[i:i + _IDENTITIES_PER_TRANSACTION] for i in range(0, len(moving), _IDENTITIES_PER_TRANSACTION)]
    for n, chunk in enumerate(chunks or [[]]):
        last = n == len(chunks or [[]]) - 1
        grown = target
        for identity in chunk:
            grown = grown.with_identity(identity.kind, identity.value)
        customers: list[tuple[Customer, int | None]] = [(grown, target.version)]
        if last:
            for kind, value in wanted:  # an item-less entry of the source's list is kept, on the target
                if (kind, value) not in found:
                    grown = grown.with_identity(kind, value)
            customers = [(grown, target.version),
                         (replace(source, emails=[], phones=[], merged_into=target.id), source.version)]
        deps.repository.change_customers(CustomerChange(
            customers=customers, identities=[(replace(i, customer_id=target.id), i) for i in chunk]))
        target = replace(grown, version=target.version + 1)


def _move_tickets(source_id: str, target_id: str, principal: Principal, deps: InboxDeps) -> None:
    """Re-homes every ticket still on the source (its customer index entry moves with it). The index is
    eventually consistent, so each round re-reads the tickets it lists before writing them."""
    def move_round(_attempt: int) -> None:
        listed = [t.id for t in deps.repository.all_customer_tickets(source_id)]
        fresh = deps.repository.lookup(Lookup(ticket_ids=tuple(listed))).tickets if listed else {}
        moving = [t for t in fresh.values() if t.customer_id == source_id]
        if not moving:
            return
        now = iso(deps.clock.now())
        changes = [TicketChange(
            ticket=replace(t, customer_id=target_id, updated_at=now),
            events=[new_event(t.id, now, EventType.CUSTOMER_CHANGED, principal.user_id,
                              **{"from": source_id}, to=target_id, reason="customers merged")],
        ) for t in moving]
        deps.repository.apply_all(changes)  # a ticket that changed under us: the next round reads it again
        raise _MoreToMove()  # the index may have listed only part: a round that finds none is the last

    retry_on_conflict(move_round, attempts=_MERGE_ROUNDS, retry_on=(VersionConflict, _MoreToMove),
                      exhausted=lambda: VersionConflict(
                          "tickets kept changing while the customers were merged; repeat the merge"))


class _MoreToMove(DomainError):
    """A round moved tickets; another round checks whether the index lists more."""
