"""Optimistic concurrency and recording what went out, once: run a step again when it may succeed.

Every read-modify-write in ShopDesk is conditional on the version it read. When the condition fails,
the step is run again from a fresh read, a bounded number of times, with a short random pause so two
writers that collided do not collide again in lockstep. A record of something already sent (an
acknowledgement, a reply) retries any storage failure instead, backing off with jitter for as long as the
invocation has time left: giving up there means Lambda's retry, or the agent, would send it again."""
from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

from chalicelib.domain.errors import DomainError, VersionConflict
from chalicelib.ports import Clock

T = TypeVar("T")

DEFAULT_ATTEMPTS = 4
JITTER_SECONDS = 0.01  # per attempt already made: 0-10 ms, then 0-20 ms, …
# Pauses before the 2nd, 3rd, … attempt at recording a sent message: exponential, capped.
SEND_RECORD_BACKOFF = (0.05, 0.2, 0.8, 2.0)
SEND_RECORD_ATTEMPTS = 6
DEFAULT_SECONDS = 5.0  # the time a retry may take when the caller names no deadline (no Lambda context)


def retry_on_conflict(
    step: Callable[[int], T],
    *,
    exhausted: Callable[[], DomainError],
    attempts: int = DEFAULT_ATTEMPTS,
    retry_on: tuple[type[Exception], ...] = (VersionConflict,),
    pause: Callable[[float], None] = time.sleep,
    backoff: Sequence[float] = (),
    seconds_left: Callable[[], float] | None = None,
) -> T:
    """Runs `step(attempt)` (attempt 0, 1, …) until it returns. The step reads what it needs afresh on
    every attempt after the first; one of `retry_on` means "someone wrote first: read and decide again".
    After `attempts` tries, `exhausted()` is raised from the last conflict.

    `backoff` (seconds; its last value repeats) replaces the short jitter with pauses of half to all of
    the scheduled value; `seconds_left` stops early when the next pause would outlast the invocation."""
    last: Exception | None = None
    for attempt in range(attempts):
        if attempt:
            if backoff:
                scheduled = backoff[min(attempt - 1, len(backoff) - 1)]
                delay = random.uniform(scheduled / 2, scheduled)
            else:
                delay = random.uniform(0, JITTER_SECONDS * attempt)
            if seconds_left is not None and seconds_left() <= delay:
                break
            pause(delay)
        try:
            return step(attempt)
        except retry_on as exc:
            last = exc
    raise exhausted() from last


def deadline_or_default(deadline: datetime | None, clock: Clock) -> datetime:
    """The caller's deadline (Lambda's remaining time, from the handler), else a few seconds from now."""
    return deadline if deadline is not None else clock.now() + timedelta(seconds=DEFAULT_SECONDS)


def seconds_until(deadline: datetime, clock: Clock) -> Callable[[], float]:
    return lambda: (deadline - clock.now()).total_seconds()
