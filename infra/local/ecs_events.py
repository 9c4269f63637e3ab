"""ECS deployment state change events, exactly as EventBridge delivers them to a target.

Wording from "Amazon ECS service deployment state change events" (AWS documentation).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from moto.core.utils import utcnow
from moto.utilities.utils import get_partition

DETAIL_TYPE = "ECS Deployment State Change"
IN_PROGRESS = "SERVICE_DEPLOYMENT_IN_PROGRESS"
COMPLETED = "SERVICE_DEPLOYMENT_COMPLETED"
FAILED = "SERVICE_DEPLOYMENT_FAILED"
# The FAILED event's reason as the event documentation gives it (singular "task") ...
FAILED_EVENT_REASON = "ECS deployment circuit breaker: task failed to start."
# ... and the deployment's rolloutStateReason as DescribeServices reports it (plural "tasks").
FAILED_ROLLOUT_REASON = "ECS deployment circuit breaker: tasks failed to start."


def iso(moment: datetime, *, millis: bool) -> str:
    """Format a naive-UTC datetime (moto's convention) as ISO-8601 with a ``Z`` suffix."""
    if millis:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def deployment_event(
    *,
    account_id: str,
    region: str,
    cluster: str,
    service: str,
    event_type: str,
    event_name: str,
    deployment: dict[str, Any],
    reason: str | None = None,
) -> dict[str, Any]:
    """The "ECS Deployment State Change" event for one deployment transition."""
    arn = f"arn:{get_partition(region)}:ecs:{region}:{account_id}:service/{cluster}/{service}"
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": DETAIL_TYPE,
        "source": "aws.ecs",
        "account": account_id,
        "time": iso(utcnow(), millis=False),
        "region": region,
        "resources": [arn],
        "detail": {
            "eventType": event_type,
            "eventName": event_name,
            "deploymentId": deployment["id"],
            "updatedAt": iso(deployment["updatedAt"], millis=True),
            "reason": reason or deployment["rolloutStateReason"],
        },
    }
