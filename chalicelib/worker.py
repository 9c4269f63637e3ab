"""Work-queue dispatch: parse each record into a message model and run its capability, looked
up in a table by message type."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chalicelib import deploys
from chalicelib.core.observability import begin, count, logger
from chalicelib.domain.messages import (
    WORK_MESSAGE,
    AlarmRetry,
    ApprovalExpiry,
    CapApply,
    CapSummary,
    DeployStart,
    DeployTimeout,
    SlackReply,
)

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from chalicelib.deps import Deps


class PoisonMessage(Exception):
    """A record that can never be processed; it belongs in the DLQ, not in a retry loop."""


def _deploy_start(deps: Deps, message: DeployStart, receive_count: int) -> None:
    logger().set_correlation_id(message.deployment_id)
    most = deps.queue.limits.max_receive_count
    last = most is not None and receive_count >= most  # SQS would dead-letter it next
    deploys.start_deploy(deps, message.deployment_id, last_attempt=last)


def _deploy_timeout(deps: Deps, message: DeployTimeout, receive_count: int) -> None:
    logger().set_correlation_id(message.deployment_id)
    deploys.on_deploy_timeout(deps, message)


def _approval_expiry(deps: Deps, message: ApprovalExpiry, receive_count: int) -> None:
    logger().set_correlation_id(message.deployment_id)
    deploys.on_approval_expiry(deps, message)


def _alarm_retry(deps: Deps, message: AlarmRetry, receive_count: int) -> None:
    from chalicelib import alarms  # on first use: a deploy start needs none of it (cold start)

    alarms.retry(
        deps, rule_name=message.rule, notification=message.notification, attempt=message.attempt
    )


def _slack_reply(deps: Deps, message: SlackReply, receive_count: int) -> None:
    # The notifier checks the URL again and logs a post Slack refused; a response_url lives
    # for 30 minutes and five posts, so a failed one is not retried.
    deps.notifier.post_slack(message.payload, url=message.url)


def _cap_summary(deps: Deps, message: CapSummary, receive_count: int) -> None:
    from chalicelib.alarms import held

    held.post_summary(deps, message.environment, message.bucket)


def _cap_apply(deps: Deps, message: CapApply, receive_count: int) -> None:
    from chalicelib.alarms import held

    held.apply_held(
        deps, environment=message.environment, bucket=message.bucket, actor=message.actor
    )


# One handler per member of the work-message union (a test checks none is missing).
# Each gets the message and its SQS receive count (1 on the first delivery).
HANDLERS: dict[type[Any], Callable[[Deps, Any, int], None]] = {
    DeployStart: _deploy_start,
    DeployTimeout: _deploy_timeout,
    ApprovalExpiry: _approval_expiry,
    AlarmRetry: _alarm_retry,
    SlackReply: _slack_reply,
    CapSummary: _cap_summary,
    CapApply: _cap_apply,
}


def handle(deps: Deps, body: str, receive_count: int = 1) -> None:
    """Run the work one message body asks for (delivered for the ``receive_count``-th time)."""
    from pydantic import ValidationError

    try:
        message = WORK_MESSAGE.validate_json(body)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        raise PoisonMessage(problems) from None
    HANDLERS[type(message)](deps, message, receive_count)


def _receive_count(record: SQSRecord) -> int:
    try:
        return int(record.attributes.approximate_receive_count)
    except (TypeError, ValueError, KeyError):
        return 1


def _dead_letter(deps: Deps, record: SQSRecord, reason: str) -> None:
    deps.queue.dead_letter(
        record.body,
        dlq_name=deps.settings.work_dlq_name,
        reason=reason,
        source_message_id=record.message_id,
    )


def process_batch(deps: Deps, event: dict[str, Any]) -> dict[str, Any]:
    """Process an SQS batch; ``{"batchItemFailures": [...]}`` lists only what must be retried."""
    from aws_lambda_powertools.utilities.batch import (
        BatchProcessor,
        EventType,
        process_partial_response,
    )

    def record_handler(record: SQSRecord) -> None:
        begin(record.message_id)  # the work's own id replaces it once known
        try:
            handle(deps, record.body, _receive_count(record))
        except PoisonMessage as exc:
            logger().error(
                "poison message sent to the DLQ",
                extra={"message_id": record.message_id, "reason": str(exc)},
            )
            count("PoisonMessages")
            _dead_letter(deps, record, str(exc))
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
