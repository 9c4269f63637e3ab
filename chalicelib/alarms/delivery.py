"""SNS deliveries of alarm notifications, each processed once.

SNS delivers at least once, and Lambda retries a failed asynchronous invocation: the same state
change of an alarm can arrive more than once. Each notification is processed once per (alarm
ARN, new state, state-change time), with Powertools idempotency on the state table; a duplicate
is logged, counted and answered with the first delivery's results, and acts on nothing (also
for rules without a cooldown).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.alarms.notification import AlarmNotification, parse_notification
from chalicelib.alarms.react import handle_notification
from chalicelib.core.observability import count, logger

if TYPE_CHECKING:
    from chalicelib.deps import Deps

SCOPE = "alarm"


def handle_sns_event(deps: Deps, event: dict[str, Any], *, context: Any = None) -> dict[str, Any]:
    """Every record of an SNS Lambda event: react once per state change, or log why the
    message was not an alarm."""
    results: list[dict[str, Any]] = []
    for record in event.get("Records", []):
        sns = record.get("Sns") or {}
        message_id = sns.get("MessageId", "?")
        try:
            alarm = parse_notification(sns.get("Message", ""))
        except ValueError as exc:
            logger().error(
                "malformed alarm notification skipped",
                extra={"sns_message_id": message_id, "reason": str(exc)},
            )
            count("MalformedAlarmNotifications")
            results.append({"message_id": message_id, "result": "malformed", "reason": str(exc)})
            continue
        results.append(_once(deps, alarm, message_id, context))
    return {"records": results}


def _once(deps: Deps, alarm: AlarmNotification, message_id: str, context: Any) -> dict[str, Any]:
    key = alarm.delivery_key
    done = deps.store.once(
        SCOPE,
        key,
        lambda: [str(o.result) for o in handle_notification(deps, alarm)],
        context=context,
    )
    result: dict[str, Any] = {
        "message_id": message_id,
        "alarm": alarm.AlarmName,
        "results": done.value,
    }
    if done.duplicate:
        logger().info(
            "duplicate alarm notification: already processed, nothing done",
            extra={"sns_message_id": message_id, **key},
        )
        count("DuplicateDeliveries", source="alarm")
        result["duplicate"] = True
    return result
