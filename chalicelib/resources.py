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
QUEUE_INDEX = "gsi1"  # QUEUE#<queue>#<lane> -> tickets by last activity
CUSTOMER_INDEX = "gsi2"  # CUSTOMER#<id> -> tickets by creation
DUE_INDEX = "gsi3"  # sparse: DUE -> <due-at>#<ticket>, only tickets whose SLA clock runs (inbox "due" view)
ASSIGNEE_INDEX = "gsi4"  # ASSIGNEE#<user|none>#<lane> -> tickets by last activity
LANE_INDEX = "gsi5"  # LANE#<lane> -> every ticket of the lane by last activity
SLA_INDEX = "gsi6"  # sparse: SLA -> <next SLA action at>#<ticket>, the sweep's work queue
PENDING_ACK_INDEX = "gsi9"  # sparse: ACKPENDING#<shard> -> <arrived at>#<ticket>, acks waiting for a send
INDEX_KEYS: dict[str, tuple[str, str]] = {
    QUEUE_INDEX: ("gsi1pk", "gsi1sk"),
    CUSTOMER_INDEX: ("gsi2pk", "gsi2sk"),
    DUE_INDEX: ("gsi3pk", "gsi3sk"),
    ASSIGNEE_INDEX: ("gsi4pk", "gsi4sk"),
    LANE_INDEX: ("gsi5pk", "gsi5sk"),
    SLA_INDEX: ("gsi6pk", "gsi6sk"),
    PENDING_ACK_INDEX: ("gsi9pk", "gsi9sk"),
}


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
                "Projection": {"ProjectionType": "ALL"},
            }
            for index, (hash_key, range_key) in INDEX_KEYS.items()
        ],
    }
