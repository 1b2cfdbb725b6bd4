"""Key builders for the single table: every item's pk/sk and index keys are spelled here and only here."""
from __future__ import annotations

import zlib

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


def conversation(channel: str, number: str) -> Key:
    # One per customer number: the ticket its next text continues on, read with the delivery record.
    return _key(f"CONVO#{channel}#{number}", "CONVO")


def send_claim(key: str) -> Key:
    # One per outbound message that must go once (an acknowledgement, a keyword answer): who sends it.
    return _key(f"SEND#{key}", "SEND")


def reply_key(ticket_id: str, idempotency_key: str) -> Key:
    # An agent's Idempotency-Key, per ticket: a resend with the same key returns the first reply.
    return _key(f"REPLYKEY#{ticket_id}#{idempotency_key}", "REPLYKEY")


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


# Hot aggregates (every new ticket writes them) are spread over a fixed number of shards by ticket
# hash: a GSI partition takes ~1,000 write units/s, so one partition caps the whole shop. Readers
# query every shard and merge (docs/capacity.md has the arithmetic).
INDEX_SHARDS = 4


def shard_of(ticket_id: str) -> int:
    """A ticket's shard: stable (crc32, not Python's salted hash) and uniform over ULIDs."""
    return zlib.crc32(ticket_id.encode()) % INDEX_SHARDS


def shards() -> range:
    return range(INDEX_SHARDS)


DUE_PARTITION = "DUE"
SLA_PARTITION = "SLA"


def due_partition(shard: int) -> str:
    return f"{DUE_PARTITION}#{shard}"


def sla_partition(shard: int) -> str:
    return f"{SLA_PARTITION}#{shard}"


def ticket_index_keys(
    *, ticket_id: str, queue: str, lane: str, customer_id: str, assignee: str | None,
    created_at: str, last_activity_at: str, due_at: str | None, action_at: str | None = None,
) -> dict[str, str]:
    """Every index entry of a ticket. Sparse: the due entry exists only while an SLA clock runs
    (`due_at`, what the inbox sorts by), the SLA entry only while the sweep owes it an action."""
    activity = f"{last_activity_at}#{ticket_id}"
    entries = {
        "gsi1pk": queue_partition(queue, lane), "gsi1sk": activity,
        "gsi2pk": customer_partition(customer_id), "gsi2sk": f"{created_at}#{ticket_id}",
        "gsi4pk": assignee_partition(assignee, lane), "gsi4sk": activity,
        "gsi5pk": lane_partition(lane), "gsi5sk": activity,
    }
    if due_at:
        entries.update(gsi3pk=DUE_PARTITION, gsi3sk=f"{due_at}#{ticket_id}")
    if action_at:
        entries.update(gsi6pk=SLA_PARTITION, gsi6sk=f"{action_at}#{ticket_id}")
    return entries


# ---- acknowledgements waiting for a send (the pending-ack queue) ---------------------------------
PENDING_ACK_PARTITION = "ACKPENDING"


def pending_ack(ticket_id: str) -> Key:
    # One per ticket whose acknowledgement could not go at ingest (SES throttled): what the drain sends.
    return _key(f"ACKQ#{ticket_id}", "ACKQ")


def pending_ack_partition(shard: int) -> str:
    return f"{PENDING_ACK_PARTITION}#{shard}"


def pending_ack_index_keys(ticket_id: str, arrived_at: str) -> dict[str, str]:
    """The queue entry's gsi9 keys: sharded by ticket (a throttled burst writes every shard evenly),
    sorted by the original arrival time, so the oldest acknowledgement drains first."""
    return {"gsi9pk": pending_ack_partition(shard_of(ticket_id)), "gsi9sk": f"{arrived_at}#{ticket_id}"}


# ---- SLA configuration and report facts ----------------------------------------------------------
SLA_CONFIG_PARTITION = "CONFIG#SLA"  # a store has a handful of calendars and policies: read in one Query
CALENDAR_PREFIX = "CALENDAR#"
POLICY_PREFIX = "POLICY#"


def sla_config_snapshot() -> Key:
    # The whole configuration in one item as well, so message paths read it in their one BatchGetItem.
    return _key(SLA_CONFIG_PARTITION, "SNAPSHOT")


def sla_calendar(name: str) -> Key:
    return _key(SLA_CONFIG_PARTITION, f"{CALENDAR_PREFIX}{name}")


def sla_policy(policy_id: str) -> Key:
    return _key(SLA_CONFIG_PARTITION, f"{POLICY_PREFIX}{policy_id}")


def sla_fact_partition(day: str) -> str:
    # One partition per day: a report over a range is one Query per day, a queue narrows by prefix.
    return f"SLAFACT#{day}"


def sla_fact(day: str, queue: str, metric: str, ticket_id: str, cycle: int) -> Key:
    return _key(sla_fact_partition(day), f"{queue}#{metric}#{ticket_id}#{cycle:05d}")


TICKET_NUMBER_COUNTER = "ticket-number"
FIRST_TICKET_NUMBER = 1001
