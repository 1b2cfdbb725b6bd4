"""Creates ShopDesk's resources in an emulator (moto's server or mock_aws) from chalicelib.resources, the
definitions the deployment uses: the one provisioning code of the local stack, the tests and the benchmarks.
Never imported by `app.py`; infra/ creates the same resources in CDK."""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from chalicelib.resources import INBOUND_PREFIX, ResourceNames, table_definition

log = logging.getLogger("shopdesk_local")


def receipt_rule_name(names: ResourceNames) -> str:
    return names.receipt_rule


@dataclass(frozen=True)
class Provisioned:
    """What exists in the emulator after provisioning (topic name -> ARN), and what it could not do."""

    names: ResourceNames
    topic_arns: dict[str, str]
    bucket: str
    inbound_prefix: str = INBOUND_PREFIX
    skipped: tuple[str, ...] = field(default=())

    @property
    def inbound_email_topic_arn(self) -> str:
        return self.topic_arns[self.names.inbound_email_topic]

    @property
    def inbound_sms_topic_arn(self) -> str:
        return self.topic_arns[self.names.inbound_sms_topic]


def mail_domains(addresses: Iterable[str]) -> list[str]:
    return sorted({address.rsplit("@", 1)[1].lower() for address in addresses if "@" in address})


def provision(make_client: Callable[[str], Any], names: ResourceNames, region: str,
              support_addresses: Iterable[str]) -> Provisioned:
    """Table (with its indexes), raw-mail bucket, topics, verified domains and the SES receipt rule.

    `make_client(service)` builds the boto3 client to create them with: under mock_aws (tests, benchmarks)
    `functools.partial(boto3.client, region_name=...)`; for moto's server, chalicelib.local.aws.client.
    """
    addresses = sorted(a.lower() for a in support_addresses)
    make_client("dynamodb").create_table(**table_definition(names.table))
    s3 = make_client("s3")
    # us-east-1 is the one region that refuses a LocationConstraint naming itself.
    location = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=names.raw_mail_bucket, **location)
    sns = make_client("sns")
    topics = {
        name: sns.create_topic(Name=name)["TopicArn"]
        for name in (names.inbound_email_topic, names.inbound_sms_topic, names.escalations_topic)
    }
    ses = make_client("ses")
    for domain in mail_domains(addresses):
        ses.verify_domain_identity(Domain=domain)
    skipped: list[str] = []
    try:
        ses.create_receipt_rule_set(RuleSetName=names.receipt_rule_set)
        ses.create_receipt_rule(RuleSetName=names.receipt_rule_set, Rule={
            "Name": receipt_rule_name(names), "Enabled": True, "ScanEnabled": True, "TlsPolicy": "Optional",
            "Recipients": addresses,
            "Actions": [{"S3Action": {"BucketName": names.raw_mail_bucket, "ObjectKeyPrefix": INBOUND_PREFIX,
                                      "TopicArn": topics[names.inbound_email_topic]}}],
        })
        ses.set_active_receipt_rule_set(RuleSetName=names.receipt_rule_set)
    except Exception as exc:  # the SMTP server does the rule's work either way
        log.warning("SES receipt rule not created in the emulator (%s); SMTP applies it itself",
                    exc.__class__.__name__)
        skipped.append("ses-receipt-rule")
    return Provisioned(names=names, topic_arns=topics, bucket=names.raw_mail_bucket, skipped=tuple(skipped))
