"""The one definition of ShopDesk's AWS resource names and table layout, shared by app, infra and local stack."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

APP_NAME = "shopdesk"
# SES writes raw mail under this prefix of the raw-mail bucket; the notification names the object.
INBOUND_PREFIX = "inbound/"
# The Cognito groups the API's authorizer reads from `cognito:groups`, highest precedence first.
USER_GROUPS = ("admin", "manager", "agent")

# Attribute names of the single table and its indexes; key builders live in adapters/keys.py.
PK, SK = "pk", "sk"
TTL_ATTRIBUTE = "expires_at"
# Ticket list indexes: each carries the ticket's list row (`row`, one map attribute: a GSI projects at
# most 100 non-key attributes summed over the table, so one map per index, not twenty fields), and
# the hot ones (every new ticket writes them) are sharded `#<n>` by ticket hash (adapters/keys.py).
# Sort keys are `<time>#<ticket>`: "customer activity" (newest first) or "due" (soonest first).
QUEUE_INDEX = "gsi1"  # QUEUE#<queue>#<lane>#<n> -> by customer activity
CUSTOMER_INDEX = "gsi2"  # CUSTOMER#<id> -> by creation (one customer's tickets: not hot, not sharded)
DUE_INDEX = "gsi3"  # sparse: DUE#<n> -> <due-at>#<ticket>, only while an SLA clock runs (inbox "due" view)
ASSIGNEE_INDEX = "gsi4"  # ASSIGNEE#<user|none>#<lane>#<n> -> by customer activity
LANE_INDEX = "gsi5"  # LANE#<lane>#<n> -> every ticket of the lane by customer activity
SLA_INDEX = "gsi6"  # sparse, keys only: SLA#<n> -> <next SLA action at>#<ticket>, the sweep's work queue
STATUS_INDEX = "gsi7"  # STATUS#<status>#<n> -> by customer activity
QUEUE_ASSIGNEE_INDEX = "gsi8"  # QA#<queue>#<user|none>#<lane>#<n> -> by customer activity
TAG_INDEX = "gsi10"  # keys only, tag entry items: TAG#<tag>#<lane>#<n> -> <created>#<ticket>
SLA_STATE_INDEX = "gsi11"  # sparse: SLASTATE#<warned|breached>#<n> -> <due-at>#<ticket>
QUEUE_ASSIGNEE_DUE_INDEX = "gsi12"  # sparse: QADUE#<queue>#<user|none>#<n> -> <due-at>#<ticket>
PENDING_ACK_INDEX = "gsi9"  # sparse: ACKPENDING#<shard> -> <arrived at>#<ticket>, acks waiting for a send
INDEX_KEYS: dict[str, tuple[str, str]] = {
    QUEUE_INDEX: ("gsi1pk", "gsi1sk"),
    CUSTOMER_INDEX: ("gsi2pk", "gsi2sk"),
    DUE_INDEX: ("gsi3pk", "gsi3sk"),
    ASSIGNEE_INDEX: ("gsi4pk", "gsi4sk"),
    LANE_INDEX: ("gsi5pk", "gsi5sk"),
    SLA_INDEX: ("gsi6pk", "gsi6sk"),
    STATUS_INDEX: ("gsi7pk", "gsi7sk"),
    QUEUE_ASSIGNEE_INDEX: ("gsi8pk", "gsi8sk"),
    TAG_INDEX: ("gsi10pk", "gsi10sk"),
    SLA_STATE_INDEX: ("gsi11pk", "gsi11sk"),
    QUEUE_ASSIGNEE_DUE_INDEX: ("gsi12pk", "gsi12sk"),
    PENDING_ACK_INDEX: ("gsi9pk", "gsi9sk"),
}
LIST_ROW = "row"  # the ticket attribute a list index projects: what one line of the inbox shows
KEYS_ONLY_INDEXES = frozenset({SLA_INDEX, TAG_INDEX})


def index_projection(index: str) -> dict[str, Any]:
    """What an index carries besides keys: the list row, or nothing (its reader fetches the items)."""
    if index in KEYS_ONLY_INDEXES:
        return {"ProjectionType": "KEYS_ONLY"}
    if index == PENDING_ACK_INDEX:  # small queue items (not tickets), read whole by the drain
        return {"ProjectionType": "ALL"}
    return {"ProjectionType": "INCLUDE", "NonKeyAttributes": [LIST_ROW]}


@dataclass(frozen=True)
class ResourceNames:
    """Physical names for one stage. Topic names are fixed so the SNS handlers and infra agree."""

    stage: str

    @property
    def prefix(self) -> str:
        return f"{APP_NAME}-{self.stage}"

    @property
    def table(self) -> str:
        return f"{self.prefix}-tickets"

    @property
    def raw_mail_bucket(self) -> str:
        return f"{self.prefix}-raw-mail"

    @property
    def inbound_email_topic(self) -> str:
        return f"{self.prefix}-inbound-email"

    @property
    def inbound_sms_topic(self) -> str:
        return f"{self.prefix}-inbound-sms"

    @property
    def escalations_topic(self) -> str:
        return f"{self.prefix}-escalations"

    @property
    def receipt_rule_set(self) -> str:
        return f"{self.prefix}-inbound"

    @property
    def receipt_rule(self) -> str:
        return f"{self.receipt_rule_set}-store"


def table_definition(table_name: str) -> dict[str, Any]:
    """Arguments for DynamoDB CreateTable (local stack, tests); infra/ builds the same shape in CDK."""
    attributes = [PK, SK] + [name for pair in INDEX_KEYS.values() for name in pair]
    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [{"AttributeName": PK, "KeyType": "HASH"}, {"AttributeName": SK, "KeyType": "RANGE"}],
        "AttributeDefinitions": [{"AttributeName": a, "AttributeType": "S"} for a in attributes],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": index,
                "KeySchema": [
                    {"AttributeName": hash_key, "KeyType": "HASH"},
                    {"AttributeName": range_key, "KeyType": "RANGE"},
                ],
                "Projection": index_projection(index),
            }
            for index, (hash_key, range_key) in INDEX_KEYS.items()
        ],
    }
