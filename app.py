"""ShopDesk's Chalice app: declares handlers; each parses its event, calls one service, returns."""
from __future__ import annotations

from typing import Any

from chalice import Chalice

from chalicelib.api.routes import api
from chalicelib.config import stage_from_env
from chalicelib.resources import APP_NAME, ResourceNames

app = Chalice(app_name=APP_NAME)
app.register_blueprint(api)
_names = ResourceNames(stage_from_env())


@app.on_sns_message(topic=_names.inbound_email_topic, name="ingest_email")
def ingest_email(event: Any) -> dict[str, Any]:
    from chalicelib.handlers import handle_inbound_email

    return handle_inbound_email(event.message, event.context)
