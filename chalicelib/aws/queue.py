"""The work queue: typed messages in, optional delay."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from pydantic import BaseModel


class QueueLimits(NamedTuple):
    """How SQS redelivers: after ``visibility_timeout`` seconds, at most ``max_receive_count``
    times before the redrive policy dead-letters a message (None: no redrive policy)."""

    visibility_timeout: int
    max_receive_count: int | None


class WorkQueue:
    """The work queue: typed messages in, optional delay."""

    def __init__(self, *, sqs: Any, queue_name: str) -> None:
        self._sqs = sqs
        self._name = queue_name
        self._url: str | None = None
        self._limits: QueueLimits | None = None

    @property
    def limits(self) -> QueueLimits:
        """The queue's visibility timeout and maxReceiveCount, looked up once."""
        if self._limits is None:
            attrs = self._sqs.get_queue_attributes(
                QueueUrl=self.url, AttributeNames=["VisibilityTimeout", "RedrivePolicy"]
            )["Attributes"]
            redrive = json.loads(attrs.get("RedrivePolicy") or "{}")
            most = redrive.get("maxReceiveCount")
            self._limits = QueueLimits(
                int(attrs.get("VisibilityTimeout", 30)), int(most) if most else None
            )
        return self._limits

    @property
    def url(self) -> str:
        """The queue URL, looked up once."""
        if self._url is None:
            self._url = self._sqs.get_queue_url(QueueName=self._name)["QueueUrl"]
        return self._url

    def send(self, message: BaseModel, *, delay_seconds: int = 0) -> None:
        """Enqueue a pydantic message; delay is capped at SQS's 900 s."""
        self._sqs.send_message(
            QueueUrl=self.url,
            MessageBody=message.model_dump_json(),
            DelaySeconds=max(0, min(900, delay_seconds)),
        )

    def dead_letter(self, body: str, *, dlq_name: str, reason: str, source_message_id: str) -> None:
        """Put a message body that can never be processed on the dead-letter queue ``dlq_name``,
        with why (``opsbot-reason``) and which message it was (``opsbot-source-message-id``)."""
        url = self._sqs.get_queue_url(QueueName=dlq_name)["QueueUrl"]
        self._sqs.send_message(
            QueueUrl=url,
            MessageBody=body,
            MessageAttributes={
                "opsbot-reason": {"DataType": "String", "StringValue": reason[:1000]},
                "opsbot-source-message-id": {
                    "DataType": "String",
                    "StringValue": source_message_id,
                },
            },
        )

    def ping(self) -> None:
        """Cheapest call that proves the queue answers."""
        self._sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])
