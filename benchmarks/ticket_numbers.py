"""Ticket numbers under load: failed invocations at 2-32 concurrent new-ticket mails, numbers allocated per second.

A concurrency model, not AWS: the real pipeline (tests.support.FakeShop, the real TableRepository) runs from N
threads on an in-memory table that behaves as DynamoDB does where it matters here, with injected latencies:
- a transaction holds every item it touches for its duration (10-25 ms); another transaction touching a held
  item is cancelled with reason TransactionConflict, and a plain write (UpdateItem) to a held item fails with
  TransactionConflictException; both are raised as the real adapter translates them;
- UpdateItem (5 ms round trip) serializes on its item: the item is busy 1 ms per update, which is DynamoDB's
  1,000 write units per second per partition for an item of up to 1 KB;
- reads take 3-6 ms and never conflict (GetItem and BatchGetItem read the last committed version);
- outside the table, reading the mail from S3 takes 15-30 ms and SES's send 40-80 ms.
N workers (N Lambda invocations at once) each take mail after mail, their first starting within 20 ms.
An invocation that raises is a failed invocation (Lambda retries it a minute later). The figures need no AWS.
"""
from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from benchmarks.report import figure

SIZES = [int(n) for n in os.environ.get("BENCH_NUMBER_CONCURRENCY", "2,4,8,16,32").split(",")]
MAILS_EACH = int(os.environ.get("BENCH_NUMBER_MAILS", "10"))  # mails each of the N workers takes in turn
ALLOCATORS = 32  # threads allocating numbers back to back for the numbers/s figure
ALLOCATIONS = int(os.environ.get("BENCH_NUMBER_ALLOCATIONS", "1500"))
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # a Monday morning
READ_SECONDS = (0.003, 0.006)
TRANSACTION_SECONDS = (0.010, 0.025)
UPDATE_TRIP_SECONDS = 0.002  # each way; the item is busy only in between
UPDATE_HOLD_SECONDS = 0.001
S3_READ_SECONDS = (0.015, 0.030)
SES_SEND_SECONDS = (0.040, 0.080)
START_SPREAD_SECONDS = 0.020


def _cancelled_by_conflict(reasons: list[str]) -> Exception:
    """What the real adapter raises for TransactWriteItems cancelled with these reasons."""
    from botocore.exceptions import ClientError

    from chalicelib.adapters.dynamo_store import cancelled_transaction_error

    response: Any = {"Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"},
                     "CancellationReasons": [{"Code": r} for r in reasons],
                     "ResponseMetadata": {"HTTPStatusCode": 400}}
    return cancelled_transaction_error(ClientError(response, "TransactWriteItems"))


def _write_conflict() -> Exception:
    """What the real adapter raises for an UpdateItem on an item a transaction holds."""
    from botocore.exceptions import ClientError

    from chalicelib.adapters.aws_errors import domain_error

    response: Any = {"Error": {"Code": "TransactionConflictException", "Message": "conflict"},
                     "ResponseMetadata": {"HTTPStatusCode": 400}}
    return domain_error("dynamodb", "UpdateItem", ClientError(response, "UpdateItem"))


def contended_store() -> Any:
    """An InMemoryItemStore with DynamoDB's latencies and its item-level conflicts (see the module docstring)."""
    from chalicelib.adapters.item_store import InMemoryItemStore, Operation, Put
    from chalicelib.resources import PK, SK

    class ContendedItemStore(InMemoryItemStore):
        def __init__(self) -> None:
            super().__init__()
            self.mutex = threading.RLock()
            self.held: set[tuple[str, str]] = set()
            self.item_locks: dict[tuple[str, str], threading.Lock] = {}
            self.conflicts = 0

        def get(self, key: Any) -> Any:
            time.sleep(random.uniform(*READ_SECONDS))
            with self.mutex:
                return super().get(key)

        def batch_get(self, keys: Sequence[Any]) -> Any:
            time.sleep(random.uniform(*READ_SECONDS))
            with self.mutex:
                return super().batch_get(keys)

        def query(self, partition: str, sk_prefix: str = "", **options: Any) -> Any:
            time.sleep(random.uniform(*READ_SECONDS))
            with self.mutex:
                return super().query(partition, sk_prefix, **options)

        def transact(self, operations: Sequence[Operation]) -> None:
            idents = [(k[PK], k[SK]) for k in (op.item if isinstance(op, Put) else op.key for op in operations)]
            duration = random.uniform(*TRANSACTION_SECONDS)
            with self.mutex:
                taken = [n for n, ident in enumerate(idents) if ident in self.held]
                if not taken:
                    self.held.update(idents)
            if taken:
                self.conflicts += 1
                time.sleep(duration / 3)  # refused at prepare: a shorter round trip
                raise _cancelled_by_conflict(["TransactionConflict" if n in taken else "None"
                                              for n in range(len(idents))])
            try:
                time.sleep(duration)
                with self.mutex:
                    super().transact(operations)
            finally:
                with self.mutex:
                    self.held.difference_update(idents)

        def add(self, key: Any, add: dict[str, int], set_values: dict[str, Any] | None = None,
                **options: Any) -> Any:
            ident = (key[PK], key[SK])
            time.sleep(UPDATE_TRIP_SECONDS)
            with self.mutex:
                if ident in self.held:
                    self.conflicts += 1
                    raise _write_conflict()
                lock = self.item_locks.setdefault(ident, threading.Lock())
            with lock:  # one item's updates serialize
                time.sleep(UPDATE_HOLD_SECONDS)
                with self.mutex:
                    result = super().add(key, add, set_values, **options)
            time.sleep(UPDATE_TRIP_SECONDS)
            return result

    return ContendedItemStore()


def _shop(store: Any) -> Any:
    from chalicelib.adapters.s3_blobs import InMemoryBlobStore
    from chalicelib.adapters.ses_mail import RecordingMailSender
    from tests.support import FakeShop

    class SlowBlobs(InMemoryBlobStore):
        def read(self, location: str, max_bytes: int) -> bytes:
            time.sleep(random.uniform(*S3_READ_SECONDS))
            return super().read(location, max_bytes)

    class SlowMail(RecordingMailSender):
        def send(self, mail: Any) -> Any:
            time.sleep(random.uniform(*SES_SEND_SECONDS))
            return super().send(mail)

    # Limits out of the way: every mail of the model is acknowledged, as on a normal morning.
    env = {"SHOPDESK_STAGE": "test", "SHOPDESK_ACKS_PER_HOUR": "1000000",
           "SHOPDESK_ACKS_PER_DOMAIN_PER_HOUR": "1000000"}
    return FakeShop(now=NOW, store=store, env=env, blobs=SlowBlobs("shopdesk-test-raw-mail"), mail=SlowMail())


def _all_at_once(runs: list[Callable[[], Any]]) -> tuple[list[Any], float]:
    """Runs each callable in a thread of its own, all released together; their results (or exceptions)."""
    start = threading.Barrier(len(runs) + 1)
    results: list[Any] = [None] * len(runs)

    def run(n: int) -> None:
        start.wait()
        try:
            results[n] = runs[n]()
        except Exception as exc:
            results[n] = exc

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(runs))]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return results, time.perf_counter() - began


def concurrent_mails(n: int, mails_each: int) -> dict[str, float]:
    """N workers each take `mails_each` new-ticket mails (every one from a new sender of one domain) in turn."""
    from tests.support import build_mail

    store = contended_store()
    shop = _shop(store)

    def worker(w: int) -> list[Any]:
        mails = [build_mail(sender=f"Customer <c{w}-{k}@customer.example>", subject=f"Order {w}-{k}")[0]
                 for k in range(mails_each)]
        time.sleep(random.uniform(0, START_SPREAD_SECONDS))
        outcomes: list[Any] = []
        for k, raw in enumerate(mails):
            try:
                outcomes.append(shop.receive(raw, ses_id=f"w{w}-{k}", source=f"c{w}-{k}@customer.example"))
            except Exception as exc:  # a failed invocation: Lambda would retry it a minute later
                outcomes.append(exc)
        return outcomes

    results, elapsed = _all_at_once([lambda w=w: worker(w) for w in range(n)])
    outcomes = [o for worker_outcomes in results for o in worker_outcomes]
    failed = sum(1 for o in outcomes if isinstance(o, Exception))
    created = sum(1 for o in outcomes if not isinstance(o, Exception) and o.status == "created")
    numbers = [int(t["number"]) for t in shop.items("ticket")]
    return {"failed": failed, "mails": len(outcomes), "created": created, "per_second": created / elapsed,
            "conflicts": store.conflicts, "duplicates": len(numbers) - len(set(numbers)),
            "gaps": (max(numbers) - min(numbers) + 1 - len(numbers)) if numbers else 0}


def allocation_rate(threads: int, total: int) -> tuple[float, int]:
    """Numbers allocated per second by `threads` writers creating tickets back to back through the repository
    (the create path without MIME parsing, whose CPU is each Lambda invocation's own); and how many failed."""
    from chalicelib.adapters.clock import FixedClock
    from chalicelib.adapters.table_repository import TableRepository
    from tests.adapters.test_repository_contract import new_ticket

    repository = TableRepository(contended_store(), clock=FixedClock(NOW))
    writes = [new_ticket(customer=f"c{n}") for n in range(total)]
    per_thread = [writes[n::threads] for n in range(threads)]
    failures = [0]

    def run(batch: list[Any]) -> Callable[[], None]:
        def go() -> None:
            for write in batch:
                try:
                    repository.create_ticket(write)
                except Exception:
                    failures[0] += 1
        return go

    _, seconds = _all_at_once([run(b) for b in per_thread])
    return (total - failures[0]) / seconds, failures[0]


def main() -> None:
    for n in SIZES:
        outcome = concurrent_mails(n, MAILS_EACH)
        share = 100 * outcome["failed"] / outcome["mails"]
        target = 0.0 if n >= 8 else None
        figure(f"failed invocations, {n} new-ticket mails at a time", share, "%", target=target, digits=1,
               note=f"{int(outcome['failed'])} of {int(outcome['mails'])}; {outcome['per_second']:.0f} tickets/s,"
                    f" {int(outcome['conflicts'])} conflicts met, {int(outcome['gaps'])} numbers skipped,"
                    f" {int(outcome['duplicates'])} reused")
    rate, failures = allocation_rate(ALLOCATORS, ALLOCATIONS)
    figure(f"numbers allocated/s, {ALLOCATORS} writers back to back", rate, "/s", target=500, better="higher",
           digits=0, note=f"{failures} creates failed")
