"""SNS implementation of the SmsSender port (`publish(PhoneNumber=…)`), and its recording twin."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from chalicelib.adapters.aws_errors import translated
from chalicelib.domain.errors import Rejected
from chalicelib.ports import OutgoingSms, SentSms

PROVIDER = "the SMS provider"


class SnsSmsSender:
    """Texts through SNS. The client is built on the first send: most API requests never text.
    A number SNS refuses (InvalidParameter, OptedOut, …) is `Rejected`; throttling and outages are
    `TransientFailure`; denied access is `ServiceUnavailable` (aws_errors decides, by error code)."""

    def __init__(self, client: Callable[[], Any]) -> None:
        self._client_factory = client
        self._client: Any = None

    def send(self, sms: OutgoingSms) -> SentSms:
        if self._client is None:
            self._client = self._client_factory()
        attributes = {"AWS.SNS.SMS.SMSType": {"DataType": "String",
                                              "StringValue": "Transactional" if sms.transactional else "Promotional"}}
        if sms.origination:
            attributes["AWS.MM.SMS.OriginationNumber"] = {"DataType": "String", "StringValue": sms.origination}
        # SNS's own explanation may quote the number; the refusal's text is stored on the ticket and logged.
        with translated("sns", "Publish", provider=PROVIDER, recipient=sms.to):
            response = self._client.publish(PhoneNumber=sms.to, Message=sms.text, MessageAttributes=attributes)
        return SentSms(provider_id=str(response["MessageId"]))


class RecordingSmsSender:
    """SmsSender twin: keeps what was sent; `refuse` makes it answer as SNS does for a number it rejects."""

    def __init__(self) -> None:
        self.sent: list[OutgoingSms] = []
        self.refuse: set[str] = set()

    def send(self, sms: OutgoingSms) -> SentSms:
        if sms.to in self.refuse:
            raise Rejected(f"{PROVIDER} refused the message (InvalidParameter)", recipient=sms.to)
        self.sent.append(sms)
        return SentSms(provider_id=str(uuid.uuid4()))
