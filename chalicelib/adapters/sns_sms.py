"""SNS implementation of the SmsSender port (`publish(PhoneNumber=…)`), and its recording twin."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from chalicelib.domain.errors import TransientFailure, Unavailable
from chalicelib.ports import OutgoingSms, SentSms

# SNS's answers that no retry changes: a number it will not text, a parameter it refuses.
_REFUSED = frozenset({"InvalidParameter", "InvalidParameterValue", "OptedOut", "AuthorizationError",
                      "EndpointDisabled", "ValidationError"})


class SnsSmsSender:
    """Texts through SNS. The client is built on the first send: most API requests never text."""

    def __init__(self, client: Callable[[], Any]) -> None:
        self._client_factory = client
        self._client: Any = None

    def send(self, sms: OutgoingSms) -> SentSms:
        from botocore.exceptions import BotoCoreError, ClientError

        if self._client is None:
            self._client = self._client_factory()
        attributes = {"AWS.SNS.SMS.SMSType": {"DataType": "String",
                                              "StringValue": "Transactional" if sms.transactional else "Promotional"}}
        if sms.origination:
            attributes["AWS.MM.SMS.OriginationNumber"] = {"DataType": "String", "StringValue": sms.origination}
        try:
            response = self._client.publish(PhoneNumber=sms.to, Message=sms.text, MessageAttributes=attributes)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _REFUSED:
                raise Unavailable(f"the SMS provider refused the message ({code})") from exc
            raise TransientFailure(f"the SMS provider failed ({code or 'unknown error'})") from exc
        except BotoCoreError as exc:
            raise TransientFailure("the SMS provider could not be reached") from exc
        return SentSms(provider_id=str(response["MessageId"]))


class RecordingSmsSender:
    """SmsSender twin: keeps what was sent; `refuse` makes it answer as SNS does for a number it rejects."""

    def __init__(self) -> None:
        self.sent: list[OutgoingSms] = []
        self.refuse: set[str] = set()

    def send(self, sms: OutgoingSms) -> SentSms:
        if sms.to in self.refuse:
            raise Unavailable("the SMS provider refused the message (InvalidParameter)")
        self.sent.append(sms)
        return SentSms(provider_id=str(uuid.uuid4()))
