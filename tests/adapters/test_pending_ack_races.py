"""Racing the pending-ack drain against moto (each AWS call atomic, the interleavings between calls real):
two drains at once and SNS redelivering the mails at the same moment send each queued ack exactly once."""
from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import boto3

from chalicelib import bootstrap
from chalicelib.adapters.aws import client as aws_client
from chalicelib.handlers import handle_inbound_email, handle_pending_acks
from tests.adapters.test_concurrent_deliveries import atomic_aws_calls  # noqa: F401 - the fixture
from tests.conftest import REGION, sent_emails, table_items
from tests.support import build_mail, notification

MAILS = 8


def throttling(**_: Any) -> None:
    from botocore.exceptions import ClientError

    raise ClientError({"Error": {"Code": "Throttling", "Message": "Maximum sending rate exceeded."},
                       "ResponseMetadata": {"HTTPStatusCode": 400}}, "SendRawEmail")


def at_once(*runs: Callable[[], Any]) -> list[Any]:
    start = threading.Barrier(len(runs))
    results: list[Any] = [None] * len(runs)

    def run(n: int) -> None:
        start.wait()
        try:
            results[n] = runs[n]()
        except BaseException as exc:  # a run may fail: Lambda would retry it
            results[n] = exc

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(runs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_two_drains_and_redeliveries_at_once_send_each_queued_ack_once(atomic_aws_calls: None) -> None:  # noqa: F811
    ses = aws_client("ses", REGION)
    messages = []
    # Given eight new mails whose acks SES throttled
    ses.meta.events.register("before-call.ses.SendRawEmail", throttling)
    try:
        for n in range(MAILS):
            sender = f"race{n}@customer.example"
            raw, _ = build_mail(sender=f"Race {n} <{sender}>", subject=f"Race {n}")
            document = notification(ses_id=f"race-{n}", source=sender)
            action = document["receipt"]["action"]
            boto3.client("s3", region_name=REGION).put_object(Bucket=action["bucketName"], Key=action["objectKey"],
                                                              Body=raw)
            messages.append(json.dumps(document))
            assert handle_inbound_email(messages[-1])["ack_deferred"] is True
    finally:
        ses.meta.events.unregister("before-call.ses.SendRawEmail", throttling)
    assert sent_emails() == [] and len(table_items("pending_ack")) == MAILS
    # When two drain runs and a redelivery of every mail run at the same moment
    fast = replace(bootstrap.shop().settings, ses_max_send_rate=1000.0)
    with bootstrap.overridden(settings=fast):
        results = at_once(handle_pending_acks, handle_pending_acks,
                          *(lambda m=m: handle_inbound_email(m) for m in messages))
    # Then every ack went out exactly once, and every ticket says so
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert len(sent_emails()) == MAILS
    assert {t["ack_state"] for t in table_items("ticket")} == {"sent"}
    acks = [m for m in table_items("message") if m.get("automated_reason") == "acknowledgement"]
    assert len(acks) == MAILS and table_items("pending_ack") == []
