"""Twin deliveries at the same moment (SNS delivers at least once, sometimes several times at once) against
moto: each AWS call is made atomic (moto is not thread-safe), but the interleavings between calls are real.
Only the claimant of a send sends: one acknowledgement, one keyword answer, whatever the twins do."""
from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from functools import partial
from typing import Any

import boto3
import pytest

from chalicelib import bootstrap
from chalicelib.adapters.aws import client as aws_client
from chalicelib.handlers import handle_inbound_email, handle_inbound_sms
from tests.conftest import REGION, sent_emails, table_items
from tests.sms_support import STORE_NUMBER, sms_payload
from tests.support import build_mail, notification

TRIALS = 20
TWINS = 5


@pytest.fixture
def atomic_aws_calls(serialized_aws_calls: None) -> Iterator[None]:
    with bootstrap.overridden(settings=replace(bootstrap.shop().settings, sms_numbers={STORE_NUMBER: "support"})):
        for service in ("dynamodb", "s3", "ses", "sns"):
            aws_client(service, REGION)  # built once, before the threads (client creation is not thread-safe)
        yield


def all_at_once(deliver: Callable[[], dict[str, Any]]) -> list[dict[str, Any] | BaseException]:
    start = threading.Barrier(TWINS)
    results: list[dict[str, Any] | BaseException] = []

    def run() -> None:
        start.wait()
        try:
            results.append(deliver())
        except BaseException as exc:  # a twin may fail: Lambda would retry it
            results.append(exc)

    threads = [threading.Thread(target=run) for _ in range(TWINS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def sms_sent() -> list[tuple[str, str]]:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    return list(sns_backends[DEFAULT_ACCOUNT_ID][REGION].sms_messages.values())


def test_five_twins_of_one_email_notification_send_one_acknowledgement(atomic_aws_calls: None) -> None:
    counts: list[int] = []
    claimed: list[int] = []
    failed: list[BaseException | dict[str, Any]] = []
    for trial in range(TRIALS):
        # Given one mail (a new sender each trial, under the hourly ack limit) in the raw-mail bucket
        sender = f"twin{trial}@customer.example"
        raw, _ = build_mail(sender=f"Twin <{sender}>")
        document = notification(ses_id=f"twin-{trial}", source=sender)
        action = document["receipt"]["action"]
        boto3.client("s3", region_name=REGION).put_object(Bucket=action["bucketName"], Key=action["objectKey"],
                                                          Body=raw)
        before = len(sent_emails())
        # When SNS delivers its notification five times at once
        message = json.dumps(document)
        results = all_at_once(partial(handle_inbound_email, message))
        # Then one twin created and acknowledged it; none failed; one mail went out
        counts.append(len(sent_emails()) - before)
        failed += [r for r in results if isinstance(r, BaseException)]
        claimed.append(sum(1 for r in results if isinstance(r, dict) and r.get("acknowledged")))
    assert counts == [1] * TRIALS, f"acknowledgements sent per trial: {counts}"
    assert failed == [] and claimed == [1] * TRIALS
    tickets = table_items("ticket")
    assert len(tickets) == TRIALS and all(t["ack_state"] == "sent" for t in tickets)
    acks = [m for m in table_items("message") if m.get("automated_reason") == "acknowledgement"]
    assert len(acks) == TRIALS


@pytest.mark.parametrize("body", ["My parcel is late", "HELP"])
def test_five_twins_of_one_text_send_one_answer(atomic_aws_calls: None, body: str) -> None:
    counts: list[int] = []
    failed: list[BaseException | dict[str, Any]] = []
    for trial in range(TRIALS):
        # Given one text from a new number each trial
        number = f"+1425555{100 + trial:04d}"
        payload = json.dumps(sms_payload(body, inbound_id=f"twin-{body[:4]}-{trial}", origination=number))
        # When SNS delivers it five times at once
        results = all_at_once(partial(handle_inbound_sms, payload))
        # Then exactly one text answers it (the acknowledgement, or the HELP answer)
        counts.append(sum(1 for to, _ in sms_sent() if to == number))
        failed += [r for r in results if isinstance(r, BaseException)]
    assert counts == [1] * TRIALS, f"answers texted per trial: {counts}"
    assert failed == []
