"""Logs and metrics of a real ingest contain no addresses or message text."""
from __future__ import annotations

import json

import boto3
import pytest

from chalicelib.handlers import handle_inbound_email
from tests.conftest import REGION
from tests.support import CUSTOMER, build_mail, notification


def test_ingest_logs_no_personal_data(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    body = "My secret order text 98765"
    raw, _ = build_mail(body=body, subject="Private subject line")
    document = notification()
    action = document["receipt"]["action"]
    boto3.client("s3", region_name=REGION).put_object(Bucket=action["bucketName"], Key=action["objectKey"], Body=raw)
    handle_inbound_email(json.dumps(document))
    output = capsys.readouterr()
    logged = output.out + output.err
    assert "email ingested" in logged  # the structured log line is there ...
    for secret in (CUSTOMER, "98765", "Private subject line", "Anna Schmidt"):
        assert secret not in logged  # ... and none of the customer's data
    assert any(json.loads(line).get("_aws") for line in output.out.splitlines() if line.startswith("{\"_aws"))
