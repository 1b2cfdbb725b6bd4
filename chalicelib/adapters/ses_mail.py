"""SES implementation of the MailSender port, and its recording twin."""
from __future__ import annotations

import uuid
from typing import Any

from chalicelib.mail.compose import build_mime
from chalicelib.ports import OutgoingEmail, SentEmail


def ses_message_id_domain(region: str) -> str:
    """SES replaces our Message-ID with <id@email.amazonses.com> (us-east-1) or <id@REGION.amazonses.com>."""
    return "email.amazonses.com" if region == "us-east-1" else f"{region}.amazonses.com"


class SesMailSender:
    def __init__(self, client: Any, region: str) -> None:
        self._client = client
        self._domain = ses_message_id_domain(region)

    def send(self, mail: OutgoingEmail) -> SentEmail:
        response = self._client.send_raw_email(
            Source=mail.from_address, Destinations=list(mail.to), RawMessage={"Data": build_mime(mail)}
        )
        provider_id = response["MessageId"]
        return SentEmail(provider_id=provider_id, header_message_id=f"{provider_id}@{self._domain}")


class RecordingMailSender:
    """MailSender twin: keeps what was sent, answers like SES (rewritten Message-ID)."""

    def __init__(self, region: str = "eu-central-1") -> None:
        self.sent: list[OutgoingEmail] = []
        self._domain = ses_message_id_domain(region)

    def send(self, mail: OutgoingEmail) -> SentEmail:
        self.sent.append(mail)
        provider_id = f"0100{uuid.uuid4().hex}-000000"
        return SentEmail(provider_id=provider_id, header_message_id=f"{provider_id}@{self._domain}")
