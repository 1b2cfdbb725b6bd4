"""Shared fixtures: an offline AWS (moto) with ShopDesk's resources, and a fixed clock."""
from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest

# Before anything builds a client: no real credentials, no real endpoints.
os.environ.update(
    AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_SECURITY_TOKEN="testing",
    AWS_SESSION_TOKEN="testing", AWS_DEFAULT_REGION="eu-central-1", AWS_REGION="eu-central-1",
    SHOPDESK_STAGE="test", POWERTOOLS_METRICS_NAMESPACE="ShopDesk", POWERTOOLS_SERVICE_NAME="shopdesk",
)
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("AWS_PROFILE", None)

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "tests" / "events"
SHARED_CORPUS = ROOT.parent / "shared" / "corpus"
REGION = "eu-central-1"
STORE_DOMAIN = "shop.example"  # the domain SES verifies in provisioning: the support addresses' domain


def provision(region: str = REGION) -> None:
    """Creates ShopDesk's resources (as the local stack does) in whatever AWS the clients reach (moto here)."""
    import boto3

    from chalicelib.config import settings
    from chalicelib.local.provision import provision as provision_resources

    config = settings()
    provision_resources(partial(boto3.client, region_name=region), config.names, region, config.support_addresses)


@pytest.fixture
def aws() -> Iterator[None]:
    from moto import mock_aws

    from chalicelib import bootstrap

    bootstrap.reset()
    with mock_aws():
        provision()
        yield
    bootstrap.reset()


@pytest.fixture
def fixed_now() -> datetime:
    # A Tuesday, 10:00 in Berlin.
    return datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def sent_emails(region: str = REGION) -> list[Any]:
    """What moto's SES recorded as sent (raw messages)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    return list(ses_backends[DEFAULT_ACCOUNT_ID][region].sent_messages)


def sent_mime(index: int = -1) -> Any:
    """A message moto's SES sent, parsed as its recipient's client would (email.message.EmailMessage)."""
    import email
    from email.policy import default

    raw = sent_emails()[index].raw_data
    message = email.message_from_bytes(raw.encode() if isinstance(raw, str) else raw, policy=default)
    assert isinstance(message, email.message.EmailMessage)
    return message


def table_items(entity: str) -> list[dict[str, Any]]:
    """Every stored item of one kind. Test-only inspection: application code never scans."""
    import boto3

    from chalicelib.config import settings

    table = boto3.resource("dynamodb", region_name=REGION).Table(settings().table_name)
    return [i for i in table.scan()["Items"] if i.get("entity") == entity]
