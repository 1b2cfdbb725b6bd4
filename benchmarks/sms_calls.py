"""AWS API calls per new-ticket SMS and per follow-up SMS (counted with botocore event hooks, moto)."""
from __future__ import annotations

import json
import uuid
from collections import Counter
from dataclasses import replace
from typing import Any

from benchmarks.report import figure

REGION = "eu-central-1"
CUSTOMER = "+14255550182"
STORE_NUMBER = "+12125550101"
SERVICES = ("dynamodb", "s3", "sns")


def _count(run: Any) -> Counter[str]:
    from benchmarks.offline import count_calls

    return count_calls(run, SERVICES)


def _payload(body: str, origination: str = CUSTOMER) -> str:
    return json.dumps({"originationNumber": origination, "destinationNumber": STORE_NUMBER,
                       "messageKeyword": "KEYWORD_123456789012", "messageBody": body,
                       "inboundMessageId": str(uuid.uuid4())})


def main() -> None:
    from benchmarks.offline import offline_aws
    from chalicelib import bootstrap
    from chalicelib.domain.tickets import TicketStatus
    from chalicelib.handlers import handle_inbound_sms
    from chalicelib.ports import TicketChange

    with offline_aws() as config, bootstrap.overridden(settings=replace(config, sms_numbers={STORE_NUMBER: "support"})):
        def text(body: str, origination: str = CUSTOMER) -> dict[str, Any]:
            return handle_inbound_sms(_payload(body, origination))

        created = _count(lambda: text("Where is my parcel?"))
        follow_up = _count(lambda: text("It was order 5512."))
        repository = bootstrap.shop().repository  # an agent closes the conversation; the next text opens a ticket
        ticket = repository.get_ticket(text("One more thing")["ticket_id"])
        repository.apply(TicketChange(ticket=replace(ticket, status=TicketStatus.CLOSED)))
        returning = _count(lambda: text("A new question, weeks later"))
        stop = _count(lambda: text("STOP", origination="+14255550199"))
    # A first text: 4 calls, plus the number's atomic increment and the shop's acknowledgement counter.
    for label, calls, target in (("new-ticket SMS (first contact)", created, 6), ("follow-up SMS", follow_up, 3),
                                 ("new-ticket SMS (returning customer)", returning, None),
                                 ("STOP from a new number", stop, None)):
        detail = ", ".join(f"{name} {n}" for name, n in sorted(calls.items()))
        figure(label, sum(calls.values()), "calls", target=target, note=detail)
