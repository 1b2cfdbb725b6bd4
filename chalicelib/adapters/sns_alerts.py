"""SNS implementation of the AlertPublisher port (the escalations topic), and its recording twin."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from chalicelib.adapters.aws_errors import translated
from chalicelib.domain.errors import TransientFailure

SUBJECT_LIMIT = 100  # SNS refuses longer subjects (and email subscriptions show them as the mail's subject)


class SnsAlertPublisher:
    """Publishes to one topic. The ARN comes from settings when deployed; otherwise (local stack,
    tests) it is looked up once by the topic's fixed name. Throttling and outages are `TransientFailure`;
    a missing topic or denied access `ServiceUnavailable` (aws_errors decides, by error code)."""

    def __init__(self, client: Any, topic_arn: str | None, topic_name: str) -> None:
        self._client = client
        self._topic_arn = topic_arn
        self._topic_name = topic_name

    def _arn(self) -> str:
        if self._topic_arn is None:
            # CreateTopic is idempotent and returns the existing topic's ARN; no ListTopics paging.
            with translated("sns", "CreateTopic"):
                self._topic_arn = str(self._client.create_topic(Name=self._topic_name)["TopicArn"])
        return self._topic_arn

    def publish(self, subject: str, message: str) -> str:
        arn = self._arn()
        with translated("sns", "Publish", provider="the escalations topic"):
            response = self._client.publish(TopicArn=arn, Subject=subject[:SUBJECT_LIMIT], Message=message)
        return str(response["MessageId"])


@dataclass(frozen=True)
class PublishedAlert:
    subject: str
    message: str


class RecordingAlertPublisher:
    """AlertPublisher twin: keeps what was published; `fail_next` simulates an outage."""

    def __init__(self) -> None:
        self.published: list[PublishedAlert] = []
        self.fail_next = 0

    def publish(self, subject: str, message: str) -> str:
        if self.fail_next:
            self.fail_next -= 1
            raise TransientFailure("simulated SNS outage")
        self.published.append(PublishedAlert(subject[:SUBJECT_LIMIT], message))
        return uuid.uuid4().hex
