"""Logs and metrics of a real ingest contain no addresses or message text."""
from __future__ import annotations

import io
import json
import logging

import boto3
import pytest

from chalicelib.handlers import handle_inbound_email
from chalicelib.observability import logger
from tests.conftest import REGION
from tests.support import CUSTOMER, build_mail, notification


def test_ingest_logs_no_personal_data(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    log = logger()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(log.registered_formatter)  # the same JSON Lambda writes
    log.addHandler(handler)
    body = "My secret order text 98765"
    raw, _ = build_mail(body=body, subject="Private subject line")
    document = notification()
    action = document["receipt"]["action"]
    boto3.client("s3", region_name=REGION).put_object(Bucket=action["bucketName"], Key=action["objectKey"], Body=raw)
    try:
        handle_inbound_email(json.dumps(document))
    finally:
        log.removeHandler(handler)
    output = capsys.readouterr()
    logged = stream.getvalue() + output.out + output.err
    assert "email ingested" in logged  # the structured log line is there ...
    for secret in (CUSTOMER, "98765", "Private subject line", "Anna Schmidt"):
        assert secret not in logged  # ... and none of the customer's data
    assert any(json.loads(line).get("_aws") for line in output.out.splitlines() if line.startswith("{\"_aws"))
