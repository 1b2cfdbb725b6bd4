"""What agents may do to a ticket: allowed field values and status moves, by role."""
from __future__ import annotations

import re

from chalicelib.domain.errors import Forbidden, InvalidInput
from chalicelib.domain.principals import Principal, Role
from chalicelib.domain.tickets import TicketStatus

PRIORITIES = ("low", "normal", "high", "urgent")
MAX_TAGS = 20
_TAG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
# Closing skips the customer's confirmation, so it is a manager's call; agents resolve.
_STATUS_ROLE = {
    TicketStatus.OPEN: Role.AGENT,
    TicketStatus.PENDING: Role.AGENT,
    TicketStatus.RESOLVED: Role.AGENT,
    TicketStatus.SPAM: Role.AGENT,
    TicketStatus.CLOSED: Role.MANAGER,
}


def check_status_change(target: str, principal: Principal) -> TicketStatus:
    try:
        status = TicketStatus(target)
    except ValueError as exc:
        raise InvalidInput(f"status must be one of {', '.join(s.value for s in _STATUS_ROLE)}", "status") from exc
    required = _STATUS_ROLE.get(status)
    if required is None:
        raise InvalidInput(f"a ticket cannot be set to {status.value}", "status")
    if not principal.can(required):
        raise Forbidden(f"only a {required.name.lower()} may set status {status.value}")
    return status


def check_priority(value: str) -> str:
    if value not in PRIORITIES:
        raise InvalidInput(f"priority must be one of {', '.join(PRIORITIES)}", "priority")
    return value


def check_tags(tags: list[str]) -> list[str]:
    cleaned = list(dict.fromkeys(t.strip().lower() for t in tags))
    if len(cleaned) > MAX_TAGS:
        raise InvalidInput(f"at most {MAX_TAGS} tags", "tags")
    for tag in cleaned:
        if not _TAG.match(tag):
            raise InvalidInput("tags are 1-40 characters of a-z, 0-9, '-' and '_'", "tags")
    return cleaned
