"""One customer across channels: which customer a contact belongs to, and link/unlink/merge on fakes."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest

from chalicelib.adapters.clock import FixedClock
from chalicelib.adapters.item_store import InMemoryItemStore, Put
from chalicelib.adapters.items import identity_item
from chalicelib.adapters.table_repository import TableRepository
from chalicelib.config import load_settings
from chalicelib.domain.customers import Customer
from chalicelib.domain.errors import AlreadyExists, InvalidInput, NotFound, Unavailable, VersionConflict
from chalicelib.domain.principals import Principal, Role
from chalicelib.ports import Identity
from chalicelib.services.customers import customer_view, link_identity, merge_customers, unlink_identity
from chalicelib.services.identities import plan_identities
from chalicelib.services.inbox import InboxDeps
from chalicelib.services.new_tickets import NewTicketRequest, open_ticket

AGENT = Principal("agent-1", "Alex", Role.AGENT)
EMAIL, PHONE = "ann@customer.example", "+4915112345678"


def test_nobody_known_makes_one_customer_with_every_identity() -> None:
    plan = plan_identities([("email", EMAIL), ("phone", PHONE)], {}, name="Ann", now="t", load_customer=lambda _: None)
    assert plan.new_customer is not None and plan.new_customer.emails == [EMAIL] and plan.new_customer.phones == [PHONE]
    assert {(i.kind, i.value, i.customer_id) for i in plan.new_identities} == {
        ("email", EMAIL, plan.customer_id), ("phone", PHONE, plan.customer_id)}


def test_a_known_identity_brings_the_unclaimed_one_to_its_customer() -> None:
    known = {("phone", PHONE): Identity("phone", PHONE, "c-sms")}
    existing = Customer(id="c-sms", name="", phones=[PHONE], version=3)
    plan = plan_identities([("email", EMAIL), ("phone", PHONE)], known, name="Ann", now="t",
                           load_customer=lambda cid: existing if cid == "c-sms" else None)
    assert plan.customer_id == "c-sms" and plan.new_customer is None
    assert plan.new_identities == [Identity("email", EMAIL, "c-sms")]
    assert plan.customer_update is not None and plan.customer_update.emails == [EMAIL]
    assert plan.customer_update.version == 3  # the write is conditional on the version read


def test_identities_of_two_customers_are_not_merged_by_a_contact() -> None:
    known = {("email", EMAIL): Identity("email", EMAIL, "c1"), ("phone", PHONE): Identity("phone", PHONE, "c2")}
    plan = plan_identities([("email", EMAIL), ("phone", PHONE)], known, name="", now="t", load_customer=lambda _: None)
    assert plan.customer_id == "c1" and plan.new_identities == [] and plan.foreign == [known[("phone", PHONE)]]


@pytest.fixture
def deps(fixed_now: datetime) -> InboxDeps:
    clock = FixedClock(fixed_now)
    return InboxDeps(TableRepository(InMemoryItemStore(), clock=clock), mail=None, clock=clock,  # type: ignore[arg-type]
                     settings=load_settings({"SHOPDESK_STAGE": "test"}))


def phone_call(deps: InboxDeps, **fields: str) -> str:
    request = NewTicketRequest(channel="phone", subject="Call", body="Asked about the parcel.", **fields)  # type: ignore[arg-type]
    return open_ticket(request, AGENT, deps).customer_id


def test_a_logged_call_with_both_links_the_new_one_to_the_known_customer(deps: InboxDeps) -> None:
    first = phone_call(deps, customer_phone="0151 12345678")
    second = phone_call(deps, customer_phone="+49 151 12345678", customer_email="Ann@Customer.example")
    assert first == second
    customer, page = customer_view(first, deps)
    assert customer.phones == [PHONE] and customer.emails == [EMAIL] and len(page.tickets) == 2
    assert page.cursor is None
    assert deps.repository.get_identity("email", EMAIL) == Identity("email", EMAIL, first)


def test_link_is_unique_idempotent_and_conditional(deps: InboxDeps) -> None:
    ann, bob = phone_call(deps, customer_phone=PHONE), phone_call(deps, customer_phone="+4915199999999")
    customer, _ = link_identity(ann, "email", "ANN@customer.example", 1, AGENT, deps)
    assert customer.emails == [EMAIL] and customer.version == 2
    assert link_identity(ann, "email", EMAIL, 1, AGENT, deps)[0].version == 2  # again: nothing changes
    with pytest.raises(AlreadyExists, match="merge"):
        link_identity(bob, "email", EMAIL, 1, AGENT, deps)
    with pytest.raises(VersionConflict):
        link_identity(ann, "phone", "+4915100000000", 1, AGENT, deps)
    with pytest.raises(InvalidInput):
        link_identity(ann, "phone", "+49 1", 2, AGENT, deps)
    with pytest.raises(InvalidInput):
        link_identity(ann, "fax", "123", 2, AGENT, deps)


def test_unlink_splits_the_identity_off_and_keeps_its_opt_out(deps: InboxDeps) -> None:
    ann = phone_call(deps, customer_phone=PHONE, customer_email=EMAIL)
    identity = deps.repository.get_identity("phone", PHONE)
    assert identity is not None
    deps.repository.store.transact([Put(identity_item(replace(identity, sms_opted_out=True)))])  # type: ignore[attr-defined]
    customer, page = unlink_identity(ann, "phone", "0151 12345678", AGENT, deps)
    assert customer.phones == [] and customer.emails == [EMAIL] and len(page.tickets) == 1  # tickets stay
    moved = deps.repository.get_identity("phone", PHONE)
    assert moved is not None and moved.customer_id != ann and moved.sms_opted_out
    other = deps.repository.get_customer(moved.customer_id)
    assert other is not None and other.phones == [PHONE]
    with pytest.raises(NotFound):
        unlink_identity(ann, "phone", PHONE, AGENT, deps)


def test_merge_moves_identities_and_tickets_and_is_safe_to_repeat(deps: InboxDeps) -> None:
    by_mail = phone_call(deps, customer_email=EMAIL)
    by_phone = phone_call(deps, customer_phone=PHONE)
    for _ in range(3):
        phone_call(deps, customer_phone=PHONE)
    target, page = merge_customers(by_phone, by_mail, 1, AGENT, deps)
    tickets = page.tickets
    assert target.id == by_mail and set(target.emails) == {EMAIL} and target.phones == [PHONE]
    assert len(tickets) == 5 and {t.customer_id for t in tickets} == {by_mail}
    assert [t.created_at for t in tickets] == sorted((t.created_at for t in tickets), reverse=True)
    identity = deps.repository.get_identity("phone", PHONE)
    assert identity is not None and identity.customer_id == by_mail
    source = deps.repository.get_customer(by_phone)
    assert source is not None and source.merged_into == by_mail and source.phones == []
    assert customer_view(by_phone, deps)[1].tickets == []
    again, page_again = merge_customers(by_phone, by_mail, 1, AGENT, deps)  # a repeat changes nothing
    assert again.version == target.version and len(page_again.tickets) == 5
    moved = [t for t in tickets if any(e.type == "customer_changed" and e.data["to"] == by_mail
                                       for e in deps.repository.list_events(t.id))]
    assert len(moved) == 4  # each moved ticket says so in its history; the target's own ticket did not move
    with pytest.raises(Unavailable):
        link_identity(by_phone, "email", "x@customer.example", source.version, AGENT, deps)


def test_merge_refuses_itself_a_stale_version_and_a_merged_target(deps: InboxDeps) -> None:
    a, b = phone_call(deps, customer_email=EMAIL), phone_call(deps, customer_phone=PHONE)
    with pytest.raises(InvalidInput):
        merge_customers(a, a, 1, AGENT, deps)
    with pytest.raises(VersionConflict):
        merge_customers(a, b, 7, AGENT, deps)
    merge_customers(a, b, 1, AGENT, deps)
    c = phone_call(deps, customer_email="carla@customer.example")
    with pytest.raises(Unavailable):
        merge_customers(c, a, 1, AGENT, deps)


def test_merge_moves_more_tickets_than_one_transaction_holds(deps: InboxDeps) -> None:
    source = phone_call(deps, customer_phone=PHONE)
    for _ in range(60):  # two operations a ticket: 61 tickets need two transactions
        phone_call(deps, customer_phone=PHONE)
    target = phone_call(deps, customer_email=EMAIL)
    store = deps.repository.store  # type: ignore[attr-defined]
    store.calls.clear()
    merge_customers(source, target, 1, AGENT, deps)
    assert len(deps.repository.all_customer_tickets(target)) == 62
    assert store.calls.count("TransactWriteItems") == 3  # identities + customers, then 50 + 11 tickets
