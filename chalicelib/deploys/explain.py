"""Why a rollout failed, as ECS tells it: the stopped tasks of its ECS deployment (DescribeTasks:
``stoppedReason``, ``stopCode``, each container's ``exitCode`` and ``reason``) and, when no task
says anything, the service's latest events; summarised in one short line (``failure_reason``).

Reading is best-effort: one ListTasks page, one DescribeTasks and at most one DescribeServices;
an AWS error becomes a reason that says the tasks could not be read, never an exception that
would hold a rollback up.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from chalicelib.aws.ecs import EcsService, describe_service, stopped_tasks
from chalicelib.aws.errors import describe

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient

    from chalicelib.domain.policy import Environment
    from chalicelib.records.deployment import Deployment

# Stop codes of a task that failed (not one the scheduler or a person stopped on purpose).
FAILED_STOP_CODES = frozenset({"TaskFailedToStart", "EssentialContainerExited"})
MAX_REASON = 300  # characters of a failure_reason
_TARGET_GROUP = re.compile(r"\(target-group arn:[^)]*:targetgroup/([^/)]+)[^)]*\)")
_SERVICE_PREFIX = re.compile(r"^\(service [^)]*\)\s*")
_TELLING = re.compile(r"unable|failed|error|cannot|denied|unhealthy", re.IGNORECASE)


def failed(task: Mapping[str, Any]) -> bool:
    """A task that died of its own failure: an essential container exited, it failed to start,
    or it failed its (ELB or container) health checks. Tasks the scheduler stopped to scale or
    replace them, and tasks a person stopped, are not failures."""
    if task.get("stopCode") in FAILED_STOP_CODES:
        return True
    return "health check" in str(task.get("stoppedReason") or "").lower()


def cause(task: Mapping[str, Any]) -> str:
    """What one stopped task died of, e.g. ``Essential container in task exited (exit code 1)``."""
    said = str(task.get("stoppedReason") or task.get("stopCode") or "stopped").strip()
    said = _TARGET_GROUP.sub(r"(target group \1)", said).rstrip(".")
    containers = [c for c in task.get("containers") or [] if isinstance(c, Mapping)]
    details = []
    for container in containers:
        reason = str(container.get("reason") or "").strip()
        code = container.get("exitCode")
        if reason:
            details.append(reason)
        elif task.get("stopCode") == "EssentialContainerExited" and code not in (None, 0):
            details.append(f"exit code {code}")
        else:
            continue
        if len(containers) > 1:
            details[-1] = f"{container.get('name')}: {details[-1]}"
    return f"{said} ({', '.join(details)})" if details else said


def causes(tasks: Iterable[Mapping[str, Any]]) -> str:
    """The causes of the failed ``tasks``, the most frequent first (``; ``-separated, each with
    how many tasks died of it when they differ)."""
    counted = Counter(cause(t) for t in tasks if failed(t))
    if len(counted) == 1:
        return next(iter(counted))
    return "; ".join(f"{what} (x{n})" for what, n in counted.most_common())


def summarise(tasks: Iterable[Mapping[str, Any]], *, lead: str | None = None) -> str | None:
    """``N tasks stopped: <causes>`` for the failed ones among ``tasks`` (``lead`` instead of
    the count when given); None when none failed."""
    dead = [t for t in tasks if failed(t)]
    if not dead:
        return None
    lead = lead or f"{len(dead)} task{'s' if len(dead) != 1 else ''} stopped"
    return clip(f"{lead}: {causes(dead)}")


def telling_event(service: EcsService, since: str | None) -> str | None:
    """The latest service event since ``since`` (ISO time) that says something went wrong,
    without its ``(service name)`` prefix."""
    start = _parse(since)
    for event in service.get("events") or []:  # newest first, as ECS lists them
        at = event.get("createdAt")
        if start is not None and isinstance(at, datetime) and _aware(at) < start:
            break
        message = _SERVICE_PREFIX.sub("", str(event.get("message") or "")).strip()
        if _TELLING.search(message):
            return clip(f"ECS: {message.rstrip('.')}")
    return None


def explain_failure(
    ecs: ECSClient,
    env: Environment,
    deployment: Deployment,
    *,
    service: EcsService | None = None,
    lead: str | None = None,
) -> str | None:
    """Why the deployment's rollout failed, read from ECS (see the module); None when ECS says
    nothing more than what triggered the rollback."""
    if not deployment.ecs_deployment_id:
        return None
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        tasks = stopped_tasks(ecs, env.cluster, deployment.service, deployment.ecs_deployment_id)
        found = summarise(tasks, lead=lead)
        if found is not None:
            return found
        if service is None:
            service = describe_service(ecs, env.cluster, deployment.service) or EcsService()
        return telling_event(service, deployment.created_at)
    except (ClientError, BotoCoreError) as exc:
        return clip(f"why its tasks stopped could not be read ({describe(exc)})")


def clip(text: str) -> str:
    """At most ``MAX_REASON`` characters."""
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"


def _parse(when: str | None) -> datetime | None:
    if not when:
        return None
    try:
        return _aware(datetime.fromisoformat(when.replace("Z", "+00:00")))
    except ValueError:
        return None


def _aware(at: datetime) -> datetime:
    from datetime import UTC

    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
