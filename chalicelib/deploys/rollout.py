"""Starting a rollout (worker step): render the running task definition with the new image,
register it, UpdateService, record ``in_progress``, arm the timeout guard, notify."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from chalicelib.aws.ecs import EcsService, describe_service, short_task_definition
from chalicelib.aws.errors import describe, is_transient
from chalicelib.core.clock import iso
from chalicelib.core.errors import NotFound, OpsError
from chalicelib.core.observability import count, logger
from chalicelib.deploys.change import ROLLOUT_COMPLETED, EcsEventName
from chalicelib.deploys.events import on_ecs_deployment_event
from chalicelib.deploys.finish import finish, notify
from chalicelib.domain.messages import DeployTimeout
from chalicelib.records.deployment import DeploymentEvent, EcsDeploymentRef
from chalicelib.records.status import DeploymentPhase, DeploymentStatus

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient

    from chalicelib.deps import Deps
    from chalicelib.domain.policy import Service
    from chalicelib.records.deployment import Deployment

# Fields DescribeTaskDefinition returns that RegisterTaskDefinition does not accept.
_READ_ONLY_FIELDS = (
    "taskDefinitionArn",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "registeredBy",
    "deregisteredAt",
    "deleteRequestedAt",
)


def render_task_definition(
    task_definition: Mapping[str, Any], *, container: str, image: str
) -> dict[str, Any]:
    """RegisterTaskDefinition input: the described task definition with one container's image.

    Everything else is kept as it was (other containers, roles, volumes, tags' owner fields are
    dropped only where ECS rejects them), as the amazon-ecs-render-task-definition action does.
    """
    rendered = {
        k: copy.deepcopy(v) for k, v in task_definition.items() if k not in _READ_ONLY_FIELDS
    }
    names = [c.get("name") for c in rendered.get("containerDefinitions", [])]
    if container not in names:
        raise OpsError(
            f"task definition {task_definition.get('family')} has no container {container!r} "
            f"(it has {names})"
        )
    for definition in rendered["containerDefinitions"]:
        if definition["name"] == container:
            definition["image"] = image
    return rendered


def container_image(task_definition: Mapping[str, Any], container: str) -> str | None:
    """The image of one container of a described task definition."""
    for definition in task_definition.get("containerDefinitions", []):
        if definition.get("name") == container:
            return str(definition.get("image"))
    return None


def _revision(ecs: ECSClient, deployment: Deployment, svc: Service, previous: str) -> str:
    """The task definition to roll out: a rollback's recorded one, else a new revision of
    ``previous`` with the deployment's image (and its tags)."""
    if deployment.is_rollback:
        if deployment.task_definition is None:
            raise OpsError(f"rollback {deployment.id} names no task definition")
        return deployment.task_definition
    described = ecs.describe_task_definition(taskDefinition=previous, include=["TAGS"])
    rendered = render_task_definition(
        described["taskDefinition"], container=svc.container, image=deployment.image
    )
    if described.get("tags"):
        rendered["tags"] = described["tags"]
    return ecs.register_task_definition(**rendered)["taskDefinition"]["taskDefinitionArn"]


def start_deploy(deps: Deps, deployment_id: str) -> None:
    """Worker step: register the rendered task definition and update the service."""
    deployment = deps.store.get_deployment(deployment_id)
    if deployment is None:
        logger().warning(
            "deploy.start for an unknown deployment; dropped",
            extra={"deployment_id": deployment_id},
        )
        return
    now = deps.clock()
    if not deps.store.update_deployment(
        deployment_id,
        expect_status=(DeploymentStatus.QUEUED,),
        status=DeploymentStatus.IN_PROGRESS,
        updated_at=iso(now),
        event=DeploymentEvent.now(now, DeploymentStatus.IN_PROGRESS, "worker picked it up"),
    ):
        logger().info(
            "deploy.start redelivered; already started", extra={"status": str(deployment.status)}
        )
        return
    try:
        env = deps.policy.environment(deployment.environment)
        svc = env.service(deployment.service)
    except NotFound as exc:
        why = f"no longer in the ops policy: {exc.message}"
        finish(deps, deployment, DeploymentStatus.REJECTED, why, "failure")
        return
    ecs = deps.aws("ecs", env)
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        current = describe_service(ecs, env.cluster, deployment.service)
        if current is None:
            why = f"service {deployment.service} not found in cluster {env.cluster}"
            finish(deps, deployment, DeploymentStatus.FAILED, why, "failure")
            return
        previous: str = current["taskDefinition"]
        target = _revision(ecs, deployment, svc, previous)
        updated = ecs.update_service(
            cluster=env.cluster, service=deployment.service, taskDefinition=target
        )
    except (ClientError, BotoCoreError) as exc:
        if is_transient(exc):
            # Back to queued, and raise: SQS redelivers the message and the start runs again.
            deps.store.update_deployment(
                deployment_id,
                expect_status=(DeploymentStatus.IN_PROGRESS,),
                status=DeploymentStatus.QUEUED,
                event=DeploymentEvent.now(
                    deps.clock(),
                    DeploymentStatus.QUEUED,
                    f"transient AWS error, will retry: {describe(exc)}",
                ),
            )
            raise
        why = f"ECS refused: {describe(exc)}"
        finish(deps, deployment, DeploymentStatus.FAILED, why, "failure")
        return
    except OpsError as exc:
        finish(deps, deployment, DeploymentStatus.FAILED, exc.message, "failure")
        return
    _started(deps, deployment, EcsService(updated["service"]), previous, target)


def _started(
    deps: Deps, deployment: Deployment, updated: EcsService, previous: str, target: str
) -> None:
    """ECS took the new revision: record it, index its ECS deployment, arm the guard, notify."""
    primary = updated.primary
    ecs_id = str(primary.get("id", ""))
    now = deps.clock()
    if ecs_id:
        ref = EcsDeploymentRef(deployment.id, DeploymentPhase.ROLLOUT)
        deps.store.index_ecs_deployment(ecs_id, ref, now=now)
    change = f"{short_task_definition(previous)} -> {short_task_definition(target)}"
    deps.store.update_deployment(
        deployment.id,
        task_definition=target,
        previous_task_definition=previous,
        ecs_deployment_id=ecs_id,
        phase=DeploymentPhase.ROLLOUT,
        updated_at=iso(now),
        event=DeploymentEvent.now(
            now, DeploymentStatus.IN_PROGRESS, f"ECS deployment {ecs_id} started: {change}"
        ),
    )
    timeout = deployment.timeout_seconds
    deps.queue.send(
        DeployTimeout(
            deployment_id=deployment.id,
            phase=DeploymentPhase.ROLLOUT,
            deadline=int(now.timestamp()) + timeout,
        ),
        delay_seconds=timeout,
    )
    count("DeploymentsStarted", environment=deployment.environment, service=deployment.service)
    verb = "Rollback" if deployment.is_rollback else "Deploy"
    notify(
        deps,
        deployment,
        f"{verb} started: {deployment.target.label}",
        f"Rolling out {deployment.image} ({change}).",
        "info",
    )
    if primary.get("rolloutState") == ROLLOUT_COMPLETED:  # ECS finished before we looked
        on_ecs_deployment_event(
            deps,
            ecs_deployment_id=ecs_id,
            event_name=EcsEventName.COMPLETED,
            reason="completed at once",
        )
