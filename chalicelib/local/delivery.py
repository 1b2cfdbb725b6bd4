"""Runs the app's event handlers as Lambda would: SNS notifications that moto POSTs to an HTTP
subscription, and schedule ticks; one event at a time per function, failures retried with backoff."""
from __future__ import annotations

import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalicelib.local.httpd import BackgroundHTTPServer, QuietHandler
from chalicelib.local.registry import Schedule

log = logging.getLogger("shopdesk_local")

Handler = Callable[[dict[str, Any], Any], Any]
# Lambda retries a failed asynchronous invocation twice; locally the waits are short.
RETRY_DELAYS = (0.5, 2.0)
ACCOUNT_ID = "123456789012"


class QueueFull(Exception):
    """The function has too many events waiting; the sender should retry later."""


@dataclass
class _Invocation:
    event: dict[str, Any]
    label: str  # an SNS MessageId or a schedule name: never content
    done: Future[Any]


class FunctionWorker:
    """One function with a reserved concurrency of 1: a bounded queue and one worker thread."""

    def __init__(self, name: str, handler: Handler, *, retry_delays: tuple[float, ...] = RETRY_DELAYS,
                 queue_size: int = 1000, timeout_ms: int = 60_000) -> None:
        self.name = name
        self._handler = handler
        self._retry_delays = retry_delays
        self._timeout_ms = timeout_ms
        self._queue: queue.Queue[_Invocation] = queue.Queue(maxsize=queue_size)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"fn-{name}", daemon=True)
        self.invocations = 0
        self.failures = 0

    def start(self) -> None:
        self._thread.start()

    def submit(self, event: dict[str, Any], label: str) -> Future[Any]:
        done: Future[Any] = Future()
        try:
            self._queue.put_nowait(_Invocation(event, label, done))
        except queue.Full as exc:
            raise QueueFull(self.name) from exc
        return done

    def stop(self, timeout: float = 10.0) -> None:
        """Finishes the event in hand (no new attempts), drops the queue, joins the thread."""
        self._stopping.set()
        self._thread.join(timeout=timeout)
        dropped = 0
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            item.done.cancel()
            dropped += 1
        if dropped:
            log.warning("%s: %d queued events dropped at shutdown", self.name, dropped)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                item = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            if item.done.set_running_or_notify_cancel():
                self._invoke(item)

    def _invoke(self, item: _Invocation) -> None:
        from chalice.local import LambdaContext

        attempts = 1 + len(self._retry_delays)
        for attempt in range(attempts):
            self.invocations += 1
            started = time.perf_counter()
            try:
                result = self._handler(item.event, LambdaContext(self.name, memory_size=256,
                                                                 max_runtime_ms=self._timeout_ms))
            except Exception as exc:
                self.failures += 1
                last = attempt == attempts - 1 or self._stopping.is_set()
                log.warning("%s failed on %s (attempt %d of %d): %s", self.name, item.label, attempt + 1,
                            attempts, exc.__class__.__name__)
                if last:
                    log.error("%s gave up on %s after %d attempts", self.name, item.label, attempt + 1)
                    item.done.set_exception(exc)
                    return
                self._stopping.wait(self._retry_delays[attempt])
                continue
            log.debug("%s handled %s in %.0f ms", self.name, item.label, (time.perf_counter() - started) * 1000)
            item.done.set_result(result)
            return


def sns_event(notification: Mapping[str, Any], subscription_arn: str) -> dict[str, Any]:
    """The Lambda event SNS builds from the notification it would POST to an HTTP endpoint."""
    record = {
        "Type": notification.get("Type", "Notification"),
        "MessageId": notification.get("MessageId", ""),
        "TopicArn": notification.get("TopicArn", ""),
        "Subject": notification.get("Subject"),
        "Message": notification.get("Message", ""),
        "Timestamp": notification.get("Timestamp", ""),
        "SignatureVersion": notification.get("SignatureVersion", "2"),
        "Signature": notification.get("Signature", ""),
        "SigningCertUrl": notification.get("SigningCertURL", ""),
        "UnsubscribeUrl": notification.get("UnsubscribeURL", ""),
        "MessageAttributes": notification.get("MessageAttributes") or {},
    }
    return {"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0",
                         "EventSubscriptionArn": subscription_arn, "Sns": record}]}


def scheduled_event(rule: str, region: str, now: datetime | None = None) -> dict[str, Any]:
    """The EventBridge event a schedule rule sends its target."""
    moment = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
            "account": ACCOUNT_ID, "time": moment, "region": region,
            "resources": [f"arn:aws:events:{region}:{ACCOUNT_ID}:rule/{rule}"], "detail": {}}


class SnsReceiver:
    """The HTTP endpoint moto delivers to: POST /sns/<function> queues the notification for that function."""

    def __init__(self, port: int, workers: Mapping[str, FunctionWorker],
                 confirm: Callable[[str, str], None]) -> None:
        self.workers = workers
        self.confirm = confirm
        receiver = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                receiver.handle(self)

        self.http = BackgroundHTTPServer(port, Handler, name="sns-delivery")

    def handle(self, request: QuietHandler) -> None:
        function = request.path.rstrip("/").rsplit("/", 1)[-1] if request.path.startswith("/sns/") else ""
        worker = self.workers.get(function)
        body = request.read_body()
        if body is None:
            return
        if worker is None:
            request.send_json(404, {"error": "no such function"})
            return
        try:
            notification = json.loads(body)
            kind = notification["Type"]
        except (ValueError, KeyError, TypeError):
            request.send_json(400, {"error": "not an SNS notification"})
            return
        if kind == "SubscriptionConfirmation":
            self.confirm(str(notification.get("TopicArn", "")), str(notification.get("Token", "")))
            request.send_json(200, {"confirmed": True})
            return
        if kind != "Notification":
            request.send_json(200, {"ignored": kind})
            return
        arn = f"{notification.get('TopicArn', '')}:local-{function}"
        try:
            worker.submit(sns_event(notification, arn), f"SNS {notification.get('MessageId', '?')}")
        except QueueFull:
            request.send_json(503, {"error": "function busy"})
            return
        request.send_json(200, {"queued": True})

    def endpoint(self, base_url: str, function: str) -> str:
        return f"{base_url}/sns/{function}"

    def start(self) -> None:
        self.http.start()

    def stop(self) -> None:
        self.http.stop()


class Scheduler:
    """Fires each rate schedule every period / speed-up; a tick is skipped while the last one still runs."""

    def __init__(self, schedules: Iterable[Schedule], workers: Mapping[str, FunctionWorker], *, region: str,
                 rule_prefix: str, speedup: float = 1.0) -> None:
        self.schedules = {s.name: s for s in schedules}
        self._workers = workers
        self._region = region
        self._rule_prefix = rule_prefix
        self._speedup = speedup
        self._in_flight: dict[str, Future[Any]] = {}
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)

    def run_now(self, name: str) -> Future[Any]:
        """Queues one tick of the schedule now; KeyError when no such schedule exists."""
        schedule = self.schedules[name]
        done = self._workers[schedule.name].submit(
            scheduled_event(f"{self._rule_prefix}-{schedule.name}-event", self._region), f"schedule {name}")
        self._in_flight[name] = done
        return done

    def periods(self) -> dict[str, float]:
        return {n: s.every_seconds / self._speedup for n, s in self.schedules.items() if s.every_seconds}

    def start(self) -> None:
        if self.periods():
            self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        periods = self.periods()
        due = {name: time.monotonic() + period for name, period in periods.items()}
        while not self._stopping.wait(max(0.0, min(1.0, min(due.values()) - time.monotonic()))):
            now = time.monotonic()
            for name, at in due.items():
                if at > now:
                    continue
                following = at + periods[name]
                due[name] = following if following > now else now + periods[name]
                previous = self._in_flight.get(name)
                if previous is not None and not previous.done():
                    continue
                try:
                    self.run_now(name)
                except QueueFull:
                    log.warning("schedule %s skipped: its function is busy", name)
