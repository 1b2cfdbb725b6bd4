"""Optimistic concurrency, once: run a read-decide-write step again when someone wrote first.

Every read-modify-write in ShopDesk is conditional on the version it read. When the condition fails,
the step is run again from a fresh read, a bounded number of times, with a short random pause so two
writers that collided do not collide again in lockstep."""
from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from chalicelib.domain.errors import DomainError, VersionConflict

T = TypeVar("T")

DEFAULT_ATTEMPTS = 4
JITTER_SECONDS = 0.01  # per attempt already made: 0-10 ms, then 0-20 ms, …


def retry_on_conflict(
    step: Callable[[int], T],
    *,
    exhausted: Callable[[], DomainError],
    attempts: int = DEFAULT_ATTEMPTS,
    retry_on: tuple[type[Exception], ...] = (VersionConflict,),
    pause: Callable[[float], None] = time.sleep,
) -> T:
    """Runs `step(attempt)` (attempt 0, 1, …) until it returns. The step reads what it needs afresh on
    every attempt after the first; one of `retry_on` means "someone wrote first: read and decide again".
    After `attempts` tries, `exhausted()` is raised from the last conflict."""
    last: Exception | None = None
    for attempt in range(attempts):
        if attempt:
            pause(random.uniform(0, JITTER_SECONDS * attempt))
        try:
            return step(attempt)
        except retry_on as exc:
            last = exc
    raise exhausted() from last
