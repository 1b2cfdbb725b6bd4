"""CPU per message of the in-process email pipeline (parse, thread, decide, build writes; in-memory
adapters) over the corpus, as a ratio to bare stdlib parsing plus get_body() of the same messages."""
from __future__ import annotations

import email
import time
from datetime import UTC, datetime
from email.policy import default
from pathlib import Path

from benchmarks.report import figure

ROOT = Path(__file__).resolve().parents[1]
CORPORA = [ROOT.parent / "shared" / "corpus" / name for name in ("cpython-email", "email-reply-parser", "talon")]
ROUNDS = 5
TARGET_RATIO = 2.5  # issue 10 (was 3x)


def corpus() -> list[bytes]:
    files = [p for folder in CORPORA if folder.exists() for p in sorted(folder.iterdir())
             if p.suffix in (".txt", ".eml")]
    files += sorted((ROOT / "tests" / "fixtures" / "mail").glob("*.eml"))
    return [p.read_bytes() for p in files]


def bare(messages: list[bytes]) -> None:
    for raw in messages:
        message = email.message_from_bytes(raw, policy=default)
        body = message.get_body(preferencelist=("plain", "html"))  # type: ignore[attr-defined]
        if body is not None:
            try:
                body.get_content()
            except (LookupError, ValueError, AssertionError):
                pass


def pipeline(messages: list[bytes]) -> None:
    from tests.support import FakeShop

    shop = FakeShop(now=datetime(2026, 11, 24, 9, 0, tzinfo=UTC), production_like=True)
    for n, raw in enumerate(messages):
        shop.receive(raw, ses_id=f"bench-{n}")


def _cpu(run: object, messages: list[bytes]) -> float:
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.process_time()
        run(messages)  # type: ignore[operator]
        best = min(best, time.process_time() - started)
    return best


def main() -> None:
    messages = corpus()
    pipeline(messages[:3])  # import and warm everything once
    ours, stdlib = _cpu(pipeline, messages), _cpu(bare, messages)
    figure("messages", len(messages))
    figure("stdlib parse", stdlib / len(messages) * 1e6, "us/message", digits=0)
    figure("ShopDesk ingest", ours / len(messages) * 1e6, "us/message", digits=0)
    figure("ratio ShopDesk / stdlib", ours / stdlib, "x", target=TARGET_RATIO)
