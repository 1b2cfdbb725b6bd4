"""The AWS emulator (moto's server in a thread of this process), clients that reach it, and what it recorded."""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from chalicelib.local.env import ACCESS_KEY, HOST, REGION


class MotoServer:
    """moto's WSGI app on a threaded werkzeug server; binding happens in the constructor, so a busy
    port fails at once instead of leaving a thread that never serves (ThreadedMotoServer's behaviour)."""

    def __init__(self, port: int, host: str = HOST) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        from chalicelib.local.moto_patches import install

        install()
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per AWS call otherwise
        try:
            self._server = make_server(host, port, DomainDispatcherApplication(create_backend_app), threaded=True,
                                       request_handler=MotoRequestHandler)
        except SystemExit as exc:  # werkzeug exits the process when the port is taken
            raise OSError(f"port {port} is in use") from exc
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def client(service: str, endpoint_url: str, region: str = REGION) -> Any:
    """A boto3 client for moto, independent of the process environment."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=3, read_timeout=30)
    session = boto3.session.Session(aws_access_key_id=ACCESS_KEY, aws_secret_access_key=ACCESS_KEY,
                                    region_name=region)
    return session.client(service, endpoint_url=endpoint_url, config=config)


@dataclass(frozen=True)
class SentRecord:
    """One message moto's SES or SNS accepted for sending."""

    channel: str  # "email" | "sms"
    provider_id: str
    source: str | None
    destinations: tuple[str, ...]
    raw: str  # the raw MIME for email, the text for SMS


def sent_records(region: str = REGION) -> list[SentRecord]:
    """What moto recorded as sent, read from its backends in this process. moto's /moto-api/data.json
    would serve the same over HTTP, but it serialises every tracked object of every service (each
    DynamoDB item version, each S3 object) on every call, so polling it grows with history."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends
    from moto.sns.models import sns_backends

    records: list[SentRecord] = []
    for message in list(ses_backends[DEFAULT_ACCOUNT_ID][region].sent_messages):
        raw = getattr(message, "raw_data", None)
        if raw is None:  # SendEmail/SendTemplatedEmail: ShopDesk sends raw MIME only
            continue
        records.append(SentRecord("email", message.id, message.source, tuple(message.destinations),
                                  raw if isinstance(raw, str) else raw.decode("utf-8", "replace")))
    for message_id, (phone, text) in list(sns_backends[DEFAULT_ACCOUNT_ID][region].sms_messages.items()):
        records.append(SentRecord("sms", message_id, None, (phone,), text))
    return records
