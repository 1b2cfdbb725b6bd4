"""Local stack: time from SMTP DATA accepted to the acknowledgement in the outbox (median, p95)."""
from __future__ import annotations

import math
import smtplib
import statistics
import time
import uuid
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

from benchmarks.report import figure

WAIT_SECONDS = 5  # the console holds each GET /outbox until something new was sent (a long poll)
TIMEOUT_SECONDS = 30.0


def _mail(customer: str, n: int) -> EmailMessage:
    message = EmailMessage()
    message["From"] = f"Bench Customer {n} <{customer}>"
    message["To"] = "support@shop.example"
    message["Subject"] = f"Question {n} about my order"
    message["Message-ID"] = make_msgid(domain="customer.example")
    message.set_content("Hello,\n\nwhere is my order? It has been a week.\n\nThanks")
    return message


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def run(n: int = 50) -> dict[str, Any]:
    """Starts the stack on free ports, sends n mails one after another, returns latencies in ms."""
    from chalicelib.local.harness import stack_process

    accepted_to_ack: list[float] = []
    submit_to_ack: list[float] = []
    with stack_process(api=False) as stack:
        seen = len(stack.get("/outbox"))
        with smtplib.SMTP("127.0.0.1", stack.config.smtp_port, timeout=30) as smtp:
            for i in range(n):
                # A domain of its own per mail: the shop acknowledges at most 20 senders of one domain an hour.
                customer = f"bench@{uuid.uuid4().hex[:10]}.customer.example"
                message = _mail(customer, i)
                submitted = time.perf_counter()
                smtp.send_message(message)
                accepted = time.perf_counter()
                deadline = accepted + TIMEOUT_SECONDS
                while True:
                    fresh = stack.get(f"/outbox?since={seen}&wait={WAIT_SECONDS}")
                    seen += len(fresh)
                    if any(customer in item["to"] for item in fresh):
                        arrived = time.perf_counter()
                        break
                    if time.perf_counter() > deadline:
                        raise RuntimeError(f"no acknowledgement for mail {i} after {TIMEOUT_SECONDS:.0f} s:\n"
                                           f"{stack.output_tail()}")
                accepted_to_ack.append((arrived - accepted) * 1000)
                submit_to_ack.append((arrived - submitted) * 1000)
    return {
        "mails": n,
        "median_ms": round(statistics.median(accepted_to_ack), 1),
        "p95_ms": round(_percentile(accepted_to_ack, 0.95), 1),
        "max_ms": round(max(accepted_to_ack), 1),
        "first_ms": round(accepted_to_ack[0], 1),
        "submit_median_ms": round(statistics.median(submit_to_ack), 1),
    }


def main() -> None:
    figures = run()
    figure("mails sent one after another", figures["mails"])
    figure("DATA accepted -> ack in outbox, median", figures["median_ms"], "ms", digits=1)
    figure("DATA accepted -> ack in outbox, p95", figures["p95_ms"], "ms", digits=1)
    figure("DATA accepted -> ack in outbox, max", figures["max_ms"], "ms", digits=1)
    figure("first mail (cold)", figures["first_ms"], "ms", digits=1)
    figure("from the SMTP MAIL command, median", figures["submit_median_ms"], "ms", digits=1)


if __name__ == "__main__":
    main()
