"""Work-queue dispatch: parse each record into a message model and run its capability."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.core.observability import count, logger

if TYPE_CHECKING:
    from chalicelib.deps import Deps


class PoisonMessage(Exception):
    """A record that can never be processed; it belongs in the DLQ, not in a retry loop."""


def handle(deps: Deps, body: str) -> None:
    """Run the work one message body asks for."""
    from pydantic import ValidationError

    from chalicelib import deploys
    from chalicelib.domain.messages import WORK_MESSAGE, AlarmRetry, DeployStart, DeployTimeout

    try:
        message = WORK_MESSAGE.validate_json(body)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        raise PoisonMessage(problems) from None
    if isinstance(message, DeployStart):
        logger().set_correlation_id(message.deployment_id)
        deploys.start_deploy(deps, message.deployment_id)
    elif isinstance(message, DeployTimeout):
        logger().set_correlation_id(message.deployment_id)
        deploys.on_deploy_timeout(deps, message)
    elif isinstance(message, AlarmRetry):
        from chalicelib import alarms

        alarms.retry(
            deps, rule_name=message.rule, notification=message.notification, attempt=message.attempt
        )


def _dead_letter(deps: Deps, record: dict[str, Any], reason: str) -> None:
    sqs = deps.queue._sqs
    url = sqs.get_queue_url(QueueName=deps.settings.work_dlq_name)["QueueUrl"]
    sqs.send_message(
        QueueUrl=url,
        MessageBody=record.get("body", ""),
        MessageAttributes={
            "opsbot-reason": {"DataType": "String", "StringValue": reason[:1000]},
            "opsbot-source-message-id": {"DataType": "String", "StringValue": record["messageId"]},
        },
    )


def process_batch(deps: Deps, event: dict[str, Any]) -> dict[str, Any]:
    """Process an SQS batch; ``{"batchItemFailures": [...]}`` lists only what must be retried."""
    from aws_lambda_powertools.utilities.batch import (
        BatchProcessor,
        EventType,
        process_partial_response,
    )
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    def record_handler(record: SQSRecord) -> None:
        try:
            handle(deps, record.body)
        except PoisonMessage as exc:
            logger().error(
                "poison message sent to the DLQ",
                extra={"message_id": record.message_id, "reason": str(exc)},
            )
            count("PoisonMessages")
            _dead_letter(deps, record.raw_event, str(exc))
        except Exception:
            logger().exception(
                "work failed; SQS will redeliver", extra={"message_id": record.message_id}
            )
            raise

    processor = BatchProcessor(event_type=EventType.SQS)
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=None
    )
    return dict(response)
