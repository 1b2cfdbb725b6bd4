"""GET /tickets query strings: strict parsing into a TicketFilter, and opaque signed cursors."""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from datetime import timedelta
from typing import Any

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.ids import iso
from chalicelib.domain.principals import Principal
from chalicelib.domain.tickets import Channel, TicketStatus
from chalicelib.domain.workflow import PRIORITIES
from chalicelib.ports import TicketFilter

KNOWN = {"status", "queue", "assignee", "priority", "tag", "channel", "customer", "breached", "sla", "sort", "limit",
         "next"}
MAX_LIMIT = 100
SLA_STATES = ("due_soon", "warned", "breached")
DUE_SOON = timedelta(hours=1)  # "due soon": a running promise falls due within the hour


class CursorCodec:
    """Cursors are the store's continuation keys, signed together with the listing's filters, so a
    client can neither forge one nor carry one over to another listing."""

    def __init__(self, secret: str, context: str = "") -> None:
        self._key = hashlib.sha256(f"cursor:{secret}".encode()).digest()
        self._context = context.encode()

    def _sign(self, payload: bytes) -> str:
        digest = hmac.new(self._key, self._context + b"\0" + payload, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:12]).decode()

    def encode(self, key: dict[str, Any] | None) -> str | None:
        if key is None:
            return None
        payload = json.dumps(key, sort_keys=True, separators=(",", ":"), default=str).encode()
        return base64.urlsafe_b64encode(payload).decode().rstrip("=") + "." + self._sign(payload)

    def decode(self, cursor: str) -> dict[str, str]:
        body, _, signature = cursor.partition(".")
        try:
            payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            valid = hmac.compare_digest(signature, self._sign(payload))
            key = json.loads(payload) if valid else None
        except (binascii.Error, ValueError):
            key = None
        if not isinstance(key, dict) or not all(isinstance(v, str) for v in key.values()):
            raise InvalidInput("next is not a cursor this API gave out", "next")
        return key


def parse_listing(query: dict[str, str], statuses: list[str], principal: Principal,
                  deps: Any) -> tuple[TicketFilter, CursorCodec]:
    settings = deps.settings
    context = json.dumps([sorted((k, v) for k, v in query.items() if k != "next"), sorted(statuses)])
    codec = CursorCodec(settings.reply_secret, context)
    unknown = sorted(set(query) - KNOWN)
    if unknown:
        raise InvalidInput(f"unknown query parameter {unknown[0]}", unknown[0])
    parsed: list[TicketStatus] = []
    for value in statuses:
        try:
            parsed.append(TicketStatus(value))
        except ValueError as exc:
            raise InvalidInput(f"unknown status {value[:20]!r}", "status") from exc
    lanes = {s.lane for s in parsed} or {"active"}
    if len(lanes) > 1:
        raise InvalidInput("list open work or the archive (closed, spam), not both at once", "status")
    queue = query.get("queue")
    if queue is not None and queue not in set(settings.support_addresses.values()):
        raise InvalidInput("unknown queue", "queue")
    assignee = query.get("assignee")
    if assignee == "me":
        assignee = principal.user_id
    if assignee is not None and not (0 < len(assignee) <= 128):
        raise InvalidInput("assignee is me, none or a user id", "assignee")
    priority = query.get("priority")
    if priority is not None and priority not in PRIORITIES:
        raise InvalidInput(f"priority is one of {', '.join(PRIORITIES)}", "priority")
    channel = query.get("channel")
    if channel is not None and channel not in {c.value for c in Channel}:
        raise InvalidInput("unknown channel", "channel")
    tag = query.get("tag")
    if tag is not None and not (0 < len(tag) <= 40):
        raise InvalidInput("tag is 1 to 40 characters", "tag")
    customer = query.get("customer")
    if customer is not None and not (customer.isalnum() and len(customer) <= 64):
        raise InvalidInput("customer is a customer id", "customer")
    breached = query.get("breached")
    if breached not in (None, "true", "false"):
        raise InvalidInput("breached is true or false", "breached")
    sla = query.get("sla")
    if sla is not None and sla not in SLA_STATES:
        raise InvalidInput(f"sla is one of {', '.join(SLA_STATES)}", "sla")
    if breached == "true":
        sla = "breached"
    sort = query.get("sort", "activity")
    if sort not in ("activity", "due"):
        raise InvalidInput("sort is activity or due", "sort")
    try:
        limit = int(query.get("limit", "25"))
    except ValueError as exc:
        raise InvalidInput("limit is a whole number", "limit") from exc
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit is 1 to {MAX_LIMIT}", "limit")
    cursor = codec.decode(query["next"]) if query.get("next") else None
    now = deps.clock.now()
    due_from, due_before = {"breached": (None, iso(now)), "due_soon": (iso(now), iso(now + DUE_SOON))}.get(
        sla or "", (None, None))
    return TicketFilter(
        lane=lanes.pop(), statuses=tuple(s.value for s in parsed), queue=queue, assignee=assignee,
        priority=priority, tag=tag, channel=channel, customer_id=customer, due_before=due_before,
        due_from=due_from, sla_state="warned" if sla == "warned" else None, sort=sort, limit=limit, cursor=cursor,
    ), codec
