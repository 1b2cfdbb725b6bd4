"""Ticket numbers against moto when DynamoDB reports conflicts (botocore event hooks raise what DynamoDB
raises: a transaction cancelled with reason TransactionConflict, an UpdateItem refused with
TransactionConflictException) and when writers race: a delivery retries in-process, makes one ticket, and a
number is never given twice."""
from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from chalicelib import bootstrap
from chalicelib.adapters import keys
from chalicelib.adapters.aws import client as aws_client
from chalicelib.domain.errors import TransactionConflict, TransientFailure
from chalicelib.handlers import handle_inbound_email
from tests.adapters.test_repository_contract import new_ticket
from tests.conftest import REGION, sent_emails, table_items
from tests.support import build_mail, notification


class Conflicts:
    """Fails the first `times` calls of `operation` (None: every one) as DynamoDB does under contention."""

    def __init__(self, operation: str, times: int | None) -> None:
        self.operation, self.times, self.raised = operation, times, 0
        self.dynamodb = aws_client("dynamodb", REGION)

    def __call__(self, model: Any, **_: Any) -> None:
        if model.name != self.operation or (self.times is not None and self.raised >= self.times):
            return
        self.raised += 1
        if self.operation == "TransactWriteItems":
            error = {"Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled, please "
                               "refer cancellation reasons for specific reasons [None, TransactionConflict]"},
                     "CancellationReasons": [{"Code": "None"}, {"Code": "TransactionConflict"}]}
            raise self.dynamodb.exceptions.TransactionCanceledException(error, self.operation)
        error = {"Error": {"Code": "TransactionConflictException", "Message": "Transaction is ongoing for the item"}}
        raise self.dynamodb.exceptions.TransactionConflictException(error, self.operation)

    def __enter__(self) -> Conflicts:
        self.dynamodb.meta.events.register("before-call.dynamodb.*", self)
        return self

    def __exit__(self, *_: object) -> None:
        self.dynamodb.meta.events.unregister("before-call.dynamodb.*", self)


def deliver(ses_id: str, sender: str = "dana@customer.example") -> dict[str, Any]:
    raw, _ = build_mail(sender=f"Dana <{sender}>")
    document = notification(ses_id=ses_id, source=sender)
    action = document["receipt"]["action"]
    boto3.client("s3", region_name=REGION).put_object(Bucket=action["bucketName"], Key=action["objectKey"], Body=raw)
    return handle_inbound_email(json.dumps(document))


def numbers() -> list[int]:
    return sorted(int(t["number"]) for t in table_items("ticket"))


@pytest.mark.parametrize("times", [1, 2])
def test_a_create_transaction_that_meets_a_conflict_is_retried_in_process(aws: None, times: int) -> None:
    # Given DynamoDB cancels the create transaction `times` times for a conflict with another transaction
    with Conflicts("TransactWriteItems", times) as conflicts:
        # When a new-ticket mail arrives
        outcome = deliver("conflicted")
    # Then the invocation succeeds with one acknowledged ticket; the numbers the failed attempts took are
    # skipped, never handed out again
    assert conflicts.raised == times
    assert outcome["status"] == "created" and outcome["ticket_number"] == 1001 + times
    assert numbers() == [1001 + times] and len(sent_emails()) == 1
    assert deliver("next", sender="ben@customer.example")["ticket_number"] == 1002 + times


def test_a_counter_increment_refused_for_a_conflict_is_retried(aws: None) -> None:
    # Given an earlier release's create transaction holds the counter when ours increments it
    with Conflicts("UpdateItem", 1) as conflicts:
        outcome = deliver("counter-held")
    assert conflicts.raised == 1 and outcome["ticket_number"] == 1001 and numbers() == [1001]


def test_conflicts_that_persist_fail_the_invocation_for_lambdas_retry_without_a_ticket(aws: None) -> None:
    # Given every create transaction is cancelled for a conflict
    with Conflicts("TransactWriteItems", None), pytest.raises(TransientFailure) as failure:
        deliver("always")
    # Then the invocation fails as transient (Lambda retries it), having written no ticket
    assert isinstance(failure.value.__cause__, TransactionConflict)
    assert numbers() == [] and sent_emails() == []
    # When Lambda's retry finds DynamoDB calm again, one ticket is made, under a number never used before
    outcome = deliver("always")
    assert outcome["status"] == "created" and numbers() == [outcome["ticket_number"]]
    assert outcome["ticket_number"] > 1001
    assert len(sent_emails()) == 1
    assert deliver("always")["status"] == "duplicate" and len(table_items("ticket")) == 1


@pytest.fixture
def atomic_aws_calls(serialized_aws_calls: None) -> Iterator[None]:
    aws_client("dynamodb", REGION)  # built once, before the threads
    yield


def test_writers_racing_for_numbers_never_share_one(atomic_aws_calls: None) -> None:
    # Given 8 writers creating 5 tickets each at the same moment
    repository = bootstrap.shop().repository
    start = threading.Barrier(8)
    made: list[int] = []
    failed: list[BaseException] = []

    def write() -> None:
        start.wait()
        for _ in range(5):
            try:
                made.append(repository.create_ticket(new_ticket()).number)
            except BaseException as exc:  # recorded, asserted below
                failed.append(exc)

    threads = [threading.Thread(target=write) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then every ticket has a number of its own, and nothing was lost to the race
    assert failed == []
    assert sorted(made) == list(range(1001, 1041)) == numbers()
    counter = bootstrap.shop().store.get(keys.counter(keys.TICKET_NUMBER_COUNTER))
    assert counter is not None and int(counter["value"]) == 1040
