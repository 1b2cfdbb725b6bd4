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
# Hot aggregates (every new ticket writes them) are spread over a fixed number of shards by ticket
# hash: a GSI partition takes ~1,000 write units/s, so one partition would cap the whole shop. A
# reader queries every shard of a partition and merges (TableRepository.list_tickets); the sweep
# works the shards in parallel. docs/capacity.md has the arithmetic.
INDEX_SHARDS = 4


def shard_of(ticket_id: str) -> int:
    """A ticket's shard: stable (crc32, not Python's salted hash) and uniform over ULIDs."""
    return zlib.crc32(ticket_id.encode()) % INDEX_SHARDS


def shards() -> range:
    return range(INDEX_SHARDS)


def sharded(partition: str) -> list[str]:
    """Every shard of a logical partition, in shard order: what a reader queries and merges."""
    return [f"{partition}#{n}" for n in shards()]


def queue_partition(queue: str, lane: str) -> str:
    return f"QUEUE#{queue}#{lane}"


def customer_partition(customer_id: str) -> str:
    return f"CUSTOMER#{customer_id}"


def assignee_partition(assignee: str | None, lane: str) -> str:
    return f"ASSIGNEE#{assignee or 'none'}#{lane}"


def lane_partition(lane: str) -> str:
    return f"LANE#{lane}"


def status_partition(status: str) -> str:
    return f"STATUS#{status}"


def queue_assignee_partition(queue: str, assignee: str | None, lane: str) -> str:
    return f"QA#{queue}#{assignee or 'none'}#{lane}"


def queue_assignee_due_partition(queue: str, assignee: str | None) -> str:
    return f"QADUE#{queue}#{assignee or 'none'}"


def sla_state_partition(state: str) -> str:
    return f"SLASTATE#{state}"


def tag_partition(tag: str, lane: str) -> str:
    return f"TAG#{tag}#{lane}"


DUE_PARTITION = "DUE"
SLA_PARTITION = "SLA"


def due_partition(shard: int) -> str:
    return f"{DUE_PARTITION}#{shard}"


def sla_partition(shard: int) -> str:
    return f"{SLA_PARTITION}#{shard}"


TAG_PREFIX = "ENTRY#TAG#"  # below EVT# and MSG#: a reverse read of the thread never meets it


def tag_entry(ticket_id: str, tag: str) -> Key:
    # One small item per tag of a ticket, in the ticket's partition: a ticket has one value per index
    # key, so a tag index needs items of its own. Keys only; the listing reads the tickets after.
    return _key(f"TICKET#{ticket_id}", f"{TAG_PREFIX}{tag}")


def tag_entry_index_keys(ticket_id: str, tag: str, lane: str, created_at: str) -> dict[str, str]:
    return {"gsi10pk": f"{tag_partition(tag, lane)}#{shard_of(ticket_id)}", "gsi10sk": f"{created_at}#{ticket_id}"}


def ticket_index_keys(
    *, ticket_id: str, queue: str, lane: str, status: str, customer_id: str, assignee: str | None,
    created_at: str, activity_at: str, due_at: str | None, action_at: str | None = None,
    sla_state: str | None = None,
) -> dict[str, str]:
    """Every index entry of a ticket. `activity_at` is the customer's last activity (what the lists
    sort by: an agent's reply does not move a ticket, so it costs a row update, not a key move).
    Sparse: the due entries exist only while an SLA clock runs, the SLA entry only while the sweep
    owes the ticket an action, the SLA-state entry only once a running promise was warned or breached."""
    n = shard_of(ticket_id)
    activity = f"{activity_at}#{ticket_id}"
    entries = {
        "gsi1pk": f"{queue_partition(queue, lane)}#{n}", "gsi1sk": activity,
        "gsi2pk": customer_partition(customer_id), "gsi2sk": f"{created_at}#{ticket_id}",
        "gsi4pk": f"{assignee_partition(assignee, lane)}#{n}", "gsi4sk": activity,
        "gsi5pk": f"{lane_partition(lane)}#{n}", "gsi5sk": activity,
        "gsi7pk": f"{status_partition(status)}#{n}", "gsi7sk": activity,
        "gsi8pk": f"{queue_assignee_partition(queue, assignee, lane)}#{n}", "gsi8sk": activity,
    }
    if due_at:
        due = f"{due_at}#{ticket_id}"
        entries.update(gsi3pk=due_partition(n), gsi3sk=due,
                       gsi12pk=f"{queue_assignee_due_partition(queue, assignee)}#{n}", gsi12sk=due)
        if sla_state in ("warned", "breached"):
            entries.update(gsi11pk=f"{sla_state_partition(sla_state)}#{n}", gsi11sk=due)
    if action_at:
        entries.update(gsi6pk=sla_partition(n), gsi6sk=f"{action_at}#{ticket_id}")
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
