"""Translation between domain objects and table items (plain dicts); shared by the DynamoDB and
in-memory repositories so both store exactly the same shapes."""
from __future__ import annotations

from dataclasses import fields, is_dataclass
from typing import Any

from chalicelib.adapters import keys
from chalicelib.domain.customers import Customer
from chalicelib.domain.macros import Macro
from chalicelib.domain.tickets import (
    AckState,
    Attachment,
    Channel,
    Direction,
    Message,
    Ticket,
    TicketEvent,
    TicketStatus,
    TicketSummary,
    summary_of,
)
from chalicelib.ports import Identity, InboundRecord, MessageIdEntry, QuarantineRecord, SendClaim
from chalicelib.resources import LIST_ROW

Item = dict[str, Any]
INBOUND_TTL_SECONDS = 14 * 24 * 3600
SEND_CLAIM_TTL_SECONDS = INBOUND_TTL_SECONDS  # as long as the delivery that may resume it
REPLY_KEY_TTL_SECONDS = 24 * 3600


def _values(record: Any) -> dict[str, Any]:
    """A dataclass's fields as a dict, converting nested dataclasses (attachments) but sharing plain
    containers: `dataclasses.asdict` deep-copies everything, and was the ingest path's top cost."""
    values = {}
    for spec in fields(record):
        value = getattr(record, spec.name)
        if isinstance(value, list) and value and is_dataclass(value[0]):
            value = [_values(v) for v in value]
        values[spec.name] = value
    return values


def _without_none(values: dict[str, Any]) -> Item:
    return {k: v for k, v in values.items() if v is not None and v != [] and v != {}}


def ticket_item(ticket: Ticket) -> Item:
    item = _without_none(_values(ticket))
    item.update(keys.ticket(ticket.id))
    item["entity"] = "ticket"
    item["status"] = ticket.status.value
    item["channel"] = ticket.channel.value
    item["ack_state"] = ticket.ack_state.value
    item[LIST_ROW] = list_row(summary_of(ticket))
    item.update(keys.ticket_index_keys(
        ticket_id=ticket.id, queue=ticket.queue, lane=ticket.status.lane, status=ticket.status.value,
        customer_id=ticket.customer_id, assignee=ticket.assignee, created_at=ticket.created_at,
        activity_at=ticket.waiting_since, due_at=ticket.sla_due_at,
        action_at=ticket.sla_wake_at or ticket.sla_action_at,
        sla_state=ticket.sla_state,
    ))
    return item


def list_row(summary: TicketSummary) -> Item:
    """The list line a ticket's index entries carry. Only what a list shows, so an agent's reply or an
    acknowledgement that changes none of it writes no index entry (docs/capacity.md)."""
    row = _without_none(_values(summary))
    row["status"] = summary.status.value
    row["channel"] = summary.channel.value
    row["tags"] = list(summary.tags)
    return row


def summary_from_item(item: Item) -> TicketSummary:
    """A list line from an index entry (or from a whole ticket item, which carries the same row)."""
    row = item[LIST_ROW]
    return TicketSummary(
        id=row["id"], number=int(row["number"]), subject=row["subject"], status=TicketStatus(row["status"]),
        priority=row["priority"], queue=row["queue"], channel=Channel(row["channel"]), assignee=row.get("assignee"),
        tags=tuple(row.get("tags", ())), customer_id=row["customer_id"], customer_name=row.get("customer_name", ""),
        customer_email=row.get("customer_email"), customer_phone=row.get("customer_phone"),
        created_at=row["created_at"], last_activity_at=row["last_activity_at"], waiting_since=row["waiting_since"],
        sla_due_at=row.get("sla_due_at"), sla_state=row.get("sla_state"), merged_into=row.get("merged_into"),
    )


def summaries(found: list[Item]) -> list[TicketSummary]:
    """List lines of index entries; an entry without a row (a ticket item written before list rows
    existed, until it is next written or backfilled) is left out rather than failing the page."""
    return [summary_from_item(i) for i in found if LIST_ROW in i]


def tag_entry_items(ticket: Ticket) -> list[Item]:
    """The keys-only entries that put a ticket in its tags' lists (sorted by creation)."""
    return [{**keys.tag_entry(ticket.id, tag), "entity": "tag", "ticket_id": ticket.id,
             **keys.tag_entry_index_keys(ticket.id, tag, ticket.status.lane, ticket.created_at)}
            for tag in ticket.tags]


_TICKET_FIELDS = {f.name for f in fields(Ticket)} - {LIST_ROW}


def ticket_from_item(item: Item) -> Ticket:
    values = {k: v for k, v in item.items() if k in _TICKET_FIELDS}
    values["status"] = TicketStatus(values["status"])
    values["channel"] = Channel(values["channel"])
    values["ack_state"] = AckState(values.get("ack_state", AckState.NONE.value))
    values["number"] = int(values["number"])
    values["version"] = int(values["version"])
    values["tags"] = list(values.get("tags", []))
    return Ticket(**values)


def message_item(message: Message) -> Item:
    item = _without_none(_values(message))
    item.update(keys.message(message.ticket_id, message.created_at, message.id))
    item["entity"] = "message"
    item["direction"] = message.direction.value
    item["channel"] = message.channel.value
    item["internal"] = message.internal
    item["automated"] = message.automated
    return item


_MESSAGE_FIELDS = {f.name for f in fields(Message)}


def message_from_item(item: Item) -> Message:
    values = {k: v for k, v in item.items() if k in _MESSAGE_FIELDS}
    values["direction"] = Direction(values["direction"])
    values["channel"] = Channel(values["channel"])
    values["attachments"] = [
        Attachment(**{**a, "size": int(a["size"])}) for a in values.get("attachments", [])
    ]
    return Message(**values)


def event_item(event: TicketEvent) -> Item:
    item = _without_none(_values(event))
    item.update(keys.event(event.ticket_id, event.at, event.id))
    item["entity"] = "event"
    return item


def event_from_item(item: Item) -> TicketEvent:
    return TicketEvent(
        id=item["id"], ticket_id=item["ticket_id"], at=item["at"], type=item["type"],
        actor=item["actor"], data=dict(item.get("data", {})),
    )


def customer_item(customer: Customer) -> Item:
    item = _without_none(_values(customer))
    item.update(keys.customer(customer.id))
    item["entity"] = "customer"
    item["name"] = customer.name
    return item


def customer_from_item(item: Item) -> Customer:
    return Customer(
        id=item["id"], name=item.get("name", ""), emails=list(item.get("emails", [])),
        phones=list(item.get("phones", [])), created_at=item.get("created_at", ""),
        version=int(item.get("version", 1)), merged_into=item.get("merged_into"),
    )


def identity_item(identity: Identity) -> Item:
    item: Item = {**keys.identity(identity.kind, identity.value), "entity": "identity"}
    item.update(kind=identity.kind, value=identity.value, customer_id=identity.customer_id)
    if identity.undeliverable:
        item["undeliverable"] = True
    if identity.sms_opted_out:
        item["sms_opted_out"] = True
    return item


def identity_from_item(item: Item) -> Identity:
    return Identity(
        kind=item["kind"], value=item["value"], customer_id=item["customer_id"],
        undeliverable=bool(item.get("undeliverable", False)), sms_opted_out=bool(item.get("sms_opted_out", False)),
    )


def conversation_item(channel: str, number: str, ticket_id: str) -> Item:
    return {**keys.conversation(channel, number), "entity": "conversation", "channel": channel, "number": number,
            "ticket_id": ticket_id}


def message_id_item(entry: MessageIdEntry) -> Item:
    item: Item = {**keys.message_id(entry.message_id), "entity": "message_id"}
    item.update(message_id=entry.message_id, ticket_id=entry.ticket_id, kind=entry.kind)
    if entry.sender_hash:
        item["sender_hash"] = entry.sender_hash
    if entry.recipients:
        item["recipients"] = list(entry.recipients)
    return item


def message_id_from_item(item: Item) -> MessageIdEntry:
    return MessageIdEntry(
        message_id=item["message_id"], ticket_id=item["ticket_id"], kind=item["kind"],
        sender_hash=item.get("sender_hash", ""), recipients=tuple(item.get("recipients", ())),
    )


def inbound_item(record: InboundRecord, at: str, expires_at: int) -> Item:
    item: Item = {**keys.inbound(record.source, record.source_id), "entity": "inbound"}
    item.update(_without_none(_values(record)))
    item.update(at=at, expires_at=expires_at)
    return item


def inbound_from_item(item: Item) -> InboundRecord:
    return InboundRecord(
        source=item["source"], source_id=item["source_id"], state=item["state"],
        ticket_id=item.get("ticket_id"), reason=item.get("reason"),
    )


def quarantine_item(record: QuarantineRecord) -> Item:
    item: Item = {**keys.quarantine(record.at, record.id), "entity": "quarantine"}
    item.update(_without_none(_values(record)))
    return item


def macro_item(macro: Macro) -> Item:
    item = _without_none(_values(macro))
    item.update(keys.macro(macro.id))
    item["entity"] = "macro"
    return item


def macro_from_item(item: Item) -> Macro:
    return Macro(
        id=item["id"], name=item["name"], body=item["body"], status=item.get("status"),
        add_tags=list(item.get("add_tags", [])), version=int(item.get("version", 1)),
        updated_by=item.get("updated_by", ""), updated_at=item.get("updated_at", ""),
    )


def send_claim_item(claim: SendClaim, expires_at: int) -> Item:
    item: Item = {**keys.send_claim(claim.key), "entity": "send_claim"}
    item.update(_without_none(_values(claim)))
    item["expires_at"] = expires_at
    return item


def send_claim_from_item(item: Item) -> SendClaim:
    return SendClaim(
        key=item["key"], owner=item["owner"], lease_until=item["lease_until"], state=item["state"],
        provider_id=item.get("provider_id"), header_message_id=item.get("header_message_id"),
        version=int(item["version"]),
    )


def reply_key_item(ticket_id: str, idempotency_key: str, message: Message, expires_at: int) -> Item:
    return {**keys.reply_key(ticket_id, idempotency_key), "entity": "reply_key", "ticket_id": ticket_id,
            "message_id": message.id, "created_at": message.created_at, "expires_at": expires_at}
