"""HTTP routes of identity flags: a customer's identities with their delivery state, and clearing an
address's undeliverable flag (a manager's call: a bounce may have been wrong, or the mailbox fixed)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.api.endpoint import checked_id, endpoint, responds, shop
from chalicelib.domain.principals import Principal, Role

if TYPE_CHECKING:
    from chalicelib.ports import Identity
    from chalicelib.services.inbox import InboxDeps


def _deps() -> InboxDeps:
    return shop().inbox()


def identity_out(identity: Identity) -> dict[str, Any]:
    return {"kind": identity.kind, "value": identity.value, "customer_id": identity.customer_id,
            "undeliverable": identity.undeliverable, "sms_opted_out": identity.sms_opted_out}


@endpoint("/customers/{customer_id}/identities", ["GET"], role=Role.AGENT)
@responds("IdentityListOut")
def list_customer_identities(_principal: Principal, _request: Any, customer_id: str) -> dict[str, Any]:
    """The customer's email addresses and numbers, with their delivery flags"""
    from chalicelib.services.identity_flags import customer_identities

    return {"items": [identity_out(i) for i in customer_identities(checked_id(customer_id, "customer"), _deps())]}


@endpoint("/identities/email/{address}/undeliverable", ["DELETE"], role=Role.MANAGER)
@responds("IdentityOut")
def clear_undeliverable(principal: Principal, _request: Any, address: str) -> dict[str, Any]:
    """Clear an email address's undeliverable flag, so that it gets acknowledgements again"""
    from urllib.parse import unquote

    from chalicelib.services.identity_flags import clear_undeliverable as run

    return identity_out(run(unquote(address)[:254], principal, _deps()))
