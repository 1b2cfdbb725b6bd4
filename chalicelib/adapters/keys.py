"""Key builders for the single table: every item's pk/sk and index keys are spelled here and only here."""
from __future__ import annotations

from chalicelib.resources import PK, SK

Key = dict[str, str]


def _key(pk: str, sk: str) -> Key:
    return {PK: pk, SK: sk}


def ticket(ticket_id: str) -> Key:
    return _key(f"TICKET#{ticket_id}", "TICKET")


def message(ticket_id: str, created_at: str, message_id: str) -> Key:
    return _key(f"TICKET#{ticket_id}", f"MSG#{created_at}#{message_id}")


def event(ticket_id: str, at: str, event_id: str) -> Key:
    return _key(f"TICKET#{ticket_id}", f"EVT#{at}#{event_id}")


def ticket_partition(ticket_id: str) -> str:
    return f"TICKET#{ticket_id}"


MESSAGE_PREFIX = "MSG#"
EVENT_PREFIX = "EVT#"


def customer(customer_id: str) -> Key:
    return _key(f"CUSTOMER#{customer_id}", "CUSTOMER")


def identity(kind: str, value: str) -> Key:
    return _key(f"IDENT#{kind}#{value}", "IDENT")


def message_id(header_id: str) -> Key:
    return _key(f"MSGID#{header_id}", "MSGID")


def inbound(source: str, source_id: str) -> Key:
    return _key(f"INBOUND#{source}#{source_id}", "INBOUND")


def ticket_number(number: int) -> Key:
    return _key(f"NUMBER#{number}", "NUMBER")


def counter(name: str) -> Key:
    return _key(f"COUNTER#{name}", "COUNTER")


def rate(name: str) -> Key:
    return _key(f"RATE#{name}", "RATE")


def quarantine(at: str, item_id: str) -> Key:
    # One partition: quarantine is rare and read by admins newest first.
    return _key("QUARANTINE", f"{at}#{item_id}")


# ---- index keys --------------------------------------------------------------------------------
def inbox_index(queue: str, status: str, last_activity_at: str, ticket_id: str) -> Key:
    return {"gsi1pk": f"QUEUE#{queue}#{status}", "gsi1sk": f"{last_activity_at}#{ticket_id}"}


def customer_index(customer_id: str, created_at: str, ticket_id: str) -> Key:
    return {"gsi2pk": f"CUSTOMER#{customer_id}", "gsi2sk": f"{created_at}#{ticket_id}"}


TICKET_NUMBER_COUNTER = "ticket-number"
FIRST_TICKET_NUMBER = 1001
