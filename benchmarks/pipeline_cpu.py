"""CPU per message of email ingest over the corpus, as a ratio to bare stdlib parsing plus get_body() of the
same messages: through the real handler with real botocore clients (moto in a process of its own, so
its CPU is not counted; DynamoDB serialization, HTTP, the acknowledgement built and sent), and through the
in-memory adapters (parse, thread, decide, build writes)."""
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
REAL_ROUNDS = 3
TARGET_RATIO = 2.5  # issue 10 (was 3x): the in-memory pipeline, ShopDesk's own code
# The real path adds ~5 AWS calls per new-ticket mail (GetObject, BatchGetItem, TransactWriteItems,
# SendRawEmail, the acknowledgement's record): botocore spends ~1 ms CPU building, signing, sending and
# parsing each even with parameter validation off (~70 % of the path), so ~5 ms on top of ShopDesk's own
# ~2 ms: ~7 ms, ~9x the stdlib's ~0.8 ms parse of an average corpus mail. Issue 12 measured 13.6-14.2x
# (~10 ms). Fewer calls per mail (the pipeline's design), not a faster botocore, is what would go lower.
TARGET_REAL_RATIO = 10.0
TARGET_REAL_MS = 7.0


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


def real_path(messages: list[bytes]) -> tuple[float, float, dict[str, int]]:
    """(ingest CPU, stdlib CPU, outcomes) of the best of REAL_ROUNDS fresh handler processes, each warmed by
    two mails first (a container's first email is benchmarks/cold_import.py's figure, not this one's)."""
    from collections import Counter

    from benchmarks.real_ingest import customer_mails, real_stack

    best: tuple[float, float, dict[str, int]] | None = None
    with real_stack() as stack:
        for _ in range(REAL_ROUNDS):
            stack.reset()  # each round a new store, as each in-memory round is
            notifications = stack.put_mails(customer_mails(2) + messages)
            run = stack.run(notifications, stdlib_raws=messages)
            ours, stdlib = sum(run.email_cpu[2:]), run.stdlib_cpu or float("nan")
            if best is None or ours / stdlib < best[0] / best[1]:
                best = (ours, stdlib, dict(Counter(run.statuses[2:])))
    assert best is not None
    return best


def main() -> None:
    messages = corpus()
    figure("messages", len(messages))
    real, real_stdlib, outcomes = real_path(messages)
    figure("stdlib parse (in the handler's process)", real_stdlib / len(messages) * 1e6, "us/message", digits=0)
    figure("real path: ingest through app.ingest_email", real / len(messages) * 1e3, "ms/message",
           target=TARGET_REAL_MS, digits=2,
           note="(botocore vs moto in another process; " + ", ".join(f"{n} {k}" for k, n in sorted(outcomes.items()))
           + ")")
    figure("real path: ratio ShopDesk / stdlib", real / real_stdlib, "x", target=TARGET_REAL_RATIO)
    pipeline(messages[:3])  # import and warm everything once
    ours, stdlib = _cpu(pipeline, messages), _cpu(bare, messages)
    figure("stdlib parse", stdlib / len(messages) * 1e6, "us/message", digits=0)
    figure("in-memory adapters: ShopDesk ingest", ours / len(messages) * 1e6, "us/message", digits=0)
    figure("in-memory adapters: ratio ShopDesk / stdlib", ours / stdlib, "x", target=TARGET_RATIO)
