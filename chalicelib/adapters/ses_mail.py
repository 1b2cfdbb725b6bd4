"""SES implementation of the MailSender port (AWS errors leave as domain errors), and its recording twin."""
from __future__ import annotations

import uuid
from typing import Any

from chalicelib.adapters.aws_errors import translated
from chalicelib.domain.errors import Rejected
from chalicelib.mail.compose import build_mime
from chalicelib.ports import OutgoingEmail, SentEmail

PROVIDER = "the mail provider"


def ses_message_id_domain(region: str) -> str:
    """SES replaces our Message-ID with <id@email.amazonses.com> (us-east-1) or <id@REGION.amazonses.com>."""
    return "email.amazonses.com" if region == "us-east-1" else f"{region}.amazonses.com"


def _recipient(mail: OutgoingEmail) -> str | None:
    """Whom a refusal concerns: the one recipient, when there is one (SES does not say which of several)."""
    return mail.to[0] if len(mail.to) == 1 else None


class SesMailSender:
    """Sends raw MIME through SES. `MessageRejected` (an unverified identity, in the sandbox an unverified
    recipient) is `Rejected` with SES's explanation; a paused account is `ServiceUnavailable`;
    throttling and outages are `TransientFailure`."""

    def __init__(self, client: Any, region: str) -> None:
        self._client = client
        self._domain = ses_message_id_domain(region)

    def send(self, mail: OutgoingEmail) -> SentEmail:
        with translated("ses", "SendRawEmail", provider=PROVIDER, recipient=_recipient(mail), explain=True):
            response = self._client.send_raw_email(
                Source=mail.from_address, Destinations=list(mail.to), RawMessage={"Data": build_mime(mail)}
            )
        provider_id = response["MessageId"]
        return SentEmail(provider_id=provider_id, header_message_id=f"{provider_id}@{self._domain}")


class RecordingMailSender:
    """MailSender twin: keeps what was sent, answers like SES (rewritten Message-ID); a mail from or to
    an address in `refuse` is refused as SES refuses an unverified identity."""

    def __init__(self, region: str = "eu-central-1") -> None:
        self.sent: list[OutgoingEmail] = []
        self.refuse: set[str] = set()
        self._domain = ses_message_id_domain(region)

    def send(self, mail: OutgoingEmail) -> SentEmail:
        refused = [a for a in (mail.from_address, *mail.to) if a.lower() in {r.lower() for r in self.refuse}]
        if refused:
            raise Rejected(f"{PROVIDER} refused the message (MessageRejected): Email address is not verified.",
                           recipient=_recipient(mail))
        self.sent.append(mail)
        provider_id = f"0100{uuid.uuid4().hex}-000000"
        return SentEmail(provider_id=provider_id, header_message_id=f"{provider_id}@{self._domain}")
