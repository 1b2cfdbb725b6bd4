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


MACROS_PARTITION = "MACROS"


def macro(macro_id: str) -> Key:
    # All macros in one partition: a store has tens of them and lists them whole.
    return _key(MACROS_PARTITION, f"MACRO#{macro_id}")


def quarantine(at: str, item_id: str) -> Key:
    # One partition: quarantine is rare and read by admins newest first.
    return _key("QUARANTINE", f"{at}#{item_id}")


# ---- index keys --------------------------------------------------------------------------------
def queue_partition(queue: str, lane: str) -> str:
    return f"QUEUE#{queue}#{lane}"


def customer_partition(customer_id: str) -> str:
    return f"CUSTOMER#{customer_id}"


def assignee_partition(assignee: str | None, lane: str) -> str:
    return f"ASSIGNEE#{assignee or 'none'}#{lane}"


def lane_partition(lane: str) -> str:
    return f"LANE#{lane}"


DUE_PARTITION = "DUE"


def ticket_index_keys(
    *, ticket_id: str, queue: str, lane: str, customer_id: str, assignee: str | None,
    created_at: str, last_activity_at: str, due_at: str | None,
) -> dict[str, str]:
    """Every index entry of a ticket; the due entry exists only while its clock runs (sparse)."""
    activity = f"{last_activity_at}#{ticket_id}"
    entries = {
        "gsi1pk": queue_partition(queue, lane), "gsi1sk": activity,
        "gsi2pk": customer_partition(customer_id), "gsi2sk": f"{created_at}#{ticket_id}",
        "gsi4pk": assignee_partition(assignee, lane), "gsi4sk": activity,
        "gsi5pk": lane_partition(lane), "gsi5sk": activity,
    }
    if due_at:
        entries.update(gsi3pk=DUE_PARTITION, gsi3sk=f"{due_at}#{ticket_id}")
    return entries


TICKET_NUMBER_COUNTER = "ticket-number"
FIRST_TICKET_NUMBER = 1001
