"""ShopDesk's Chalice app: declares handlers; each parses its event, calls one service, returns."""
from __future__ import annotations

from typing import Any

from chalice.app import Chalice, Rate

from chalicelib.api import identity_routes, routes, sla_routes  # noqa: F401 - each declares its routes on the blueprint
from chalicelib.api.endpoint import api
from chalicelib.config import stage_from_env
from chalicelib.resources import APP_NAME, ResourceNames

# Our structured logger (chalicelib.observability) replaces Chalice's plain-text handler.
app = Chalice(app_name=APP_NAME, configure_logs=False)
app.register_blueprint(api)
_names = ResourceNames(stage_from_env())


@app.on_sns_message(topic=_names.inbound_email_topic, name="ingest_email")
def ingest_email(event: Any) -> dict[str, Any]:
    from chalicelib.handlers import handle_inbound_email

    return handle_inbound_email(event.message, event.context)


@app.on_sns_message(topic=_names.inbound_sms_topic, name="ingest_sms")
def ingest_sms(event: Any) -> dict[str, Any]:
    from chalicelib.handlers import handle_inbound_sms

    # SNS's Timestamp orders a text in its thread when the payload carries no carrier time.
    records = event.to_dict().get("Records") or [{}]
    return handle_inbound_sms(event.message, event.context, (records[0].get("Sns") or {}).get("Timestamp"))


@app.schedule(Rate(1, unit=Rate.MINUTES), name="sla_sweep")
def sla_sweep(event: Any) -> dict[str, Any]:
    from chalicelib.handlers import handle_sla_sweep

    return handle_sla_sweep(event.context)


@app.schedule(Rate(1, unit=Rate.MINUTES), name="drain_pending_acks")
def drain_pending_acks(event: Any) -> dict[str, Any]:
    from chalicelib.handlers import handle_pending_acks

    return handle_pending_acks(event.context)
