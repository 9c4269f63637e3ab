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


TASK_DETAIL_TYPE = "ECS Task State Change"


def task_event(*, account_id: str, region: str, task: Any) -> dict[str, Any]:
    """The "ECS Task State Change" event of a moto ``Task`` (its DescribeTasks fields), as
    "Amazon ECS task state change events" documents it."""
    now = utcnow()
    stopped = getattr(task, "stopped_at", None)
    started = getattr(task, "started_at", None)
    containers = []
    for container in task.containers:
        item: dict[str, Any] = {
            "containerArn": container.container_arn,
            "lastStatus": container.last_status,
            "name": container.name,
            "image": container.image,
            "taskArn": task.task_arn,
            "networkInterfaces": [],
            "cpu": str(container.cpu or 0),
        }
        if container.last_status == "STOPPED":
            item["exitCode"] = container.exitCode
        if getattr(container, "reason", None):
            item["reason"] = container.reason
        containers.append(item)
    detail: dict[str, Any] = {
        "attachments": [],
        "clusterArn": task.cluster_arn,
        "containers": containers,
        "createdAt": iso(started or now, millis=True),
        "desiredStatus": task.desired_status,
        "group": task.group,
        "launchType": task.launch_type or "FARGATE",
        "lastStatus": task.last_status,
        "overrides": {"containerOverrides": [{"name": c.name} for c in task.containers]},
        "startedBy": task.started_by,
        "taskArn": task.task_arn,
        "taskDefinitionArn": task.task_definition_arn,
        "updatedAt": iso(now, millis=True),
        "version": 5 if task.last_status == "STOPPED" else 3,
    }
    if started is not None:
        detail["startedAt"] = iso(started, millis=True)
    if task.last_status == "STOPPED":
        detail.update(
            stopCode=getattr(task, "stop_code", None) or "ServiceSchedulerInitiated",
            stoppedReason=task.stopped_reason,
            stoppingAt=iso(stopped or now, millis=True),
            stoppedAt=iso(stopped or now, millis=True),
            executionStoppedAt=iso(stopped or now, millis=True),
        )
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": TASK_DETAIL_TYPE,
        "source": "aws.ecs",
        "account": account_id,
        "time": iso(now, millis=False),
        "region": region,
        "resources": [task.task_arn],
        "detail": detail,
    }
