"""Rolling a failed rollout back: to the previous task definition (following the ECS circuit
breaker when it already does), tracked to its end; and the timeout guard that starts a
rollback when a rollout never finishes, or gives up on a rollback that never does."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.aws.ecs import EcsService, describe_service, short_task_definition
from chalicelib.aws.errors import describe
from chalicelib.core.clock import iso
from chalicelib.core.errors import OpsError
from chalicelib.core.observability import logger
from chalicelib.deploys.change import ROLLOUT_COMPLETED, EcsChange
from chalicelib.deploys.finish import finish, notify
from chalicelib.domain.messages import DeployTimeout
from chalicelib.records.deployment import DeploymentEvent, EcsDeploymentRef
from chalicelib.records.status import DeploymentPhase, DeploymentStatus

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient

    from chalicelib.deps import Deps
    from chalicelib.domain.policy import Environment
    from chalicelib.records.deployment import Deployment


def begin_rollback(
    deps: Deps,
    deployment: Deployment,
    env: Environment,
    ecs: ECSClient,
    reason: str,
    current: EcsService | None = None,
) -> None:
    """Make sure the service goes back to the previous task definition and track that rollout."""
    previous = deployment.previous_task_definition
    if previous is None:  # its start is not recorded yet: fail, so the event is delivered again
        raise OpsError(f"deployment {deployment.id} has no previous task definition yet")
    current = current or describe_service(ecs, env.cluster, deployment.service) or EcsService()
    primary = current.primary
    if (
        primary.get("taskDefinition") == previous
        and primary.get("id") != deployment.ecs_deployment_id
    ):
        rollback = primary
        how = f"the ECS circuit breaker is rolling back to {short_task_definition(previous)}"
    else:
        from botocore.exceptions import ClientError

        try:
            resp = ecs.update_service(
                cluster=env.cluster, service=deployment.service, taskDefinition=previous
            )
        except ClientError as exc:
            refused = f"{reason}; and the rollback was refused: {describe(exc)}"
            finish(deps, deployment, DeploymentStatus.FAILED, refused, "failure")
            return
        rollback = EcsService(resp["service"]).primary
        how = f"opsbot is rolling back to {short_task_definition(previous)}"
    now = deps.clock()
    ecs_id = rollback.get("id")
    if ecs_id:
        ref = EcsDeploymentRef(deployment.id, DeploymentPhase.ROLLBACK)
        deps.store.index_ecs_deployment(ecs_id, ref, now=now)
    deps.store.update_deployment(
        deployment.id,
        phase=DeploymentPhase.ROLLBACK,
        failure_reason=reason,
        rollback_ecs_deployment_id=ecs_id,
        updated_at=iso(now),
        event=DeploymentEvent.now(
            now, DeploymentStatus.IN_PROGRESS, f"{reason.rstrip('.')}; {how}"
        ),
    )
    timeout = deployment.timeout_seconds
    deps.queue.send(
        DeployTimeout(
            deployment_id=deployment.id,
            phase=DeploymentPhase.ROLLBACK,
            deadline=int(now.timestamp()) + timeout,
        ),
        delay_seconds=timeout,
    )
    notify(
        deps,
        deployment,
        f"Deploy failed, rolling back: {deployment.target.label}",
        f"{reason.rstrip('.')}. {how[0].upper()}{how[1:]}.",
        "warning",
    )
    if ecs_id and rollback.get("rolloutState") == ROLLOUT_COMPLETED:
        _completed_at_once(deps, deployment.id, env, ecs)


def _completed_at_once(deps: Deps, deployment_id: str, env: Environment, ecs: ECSClient) -> None:
    """ECS finished the rollback before we looked: as if its COMPLETED event had come."""
    fresh = deps.store.get_deployment(deployment_id)
    if fresh is not None and fresh.status == DeploymentStatus.IN_PROGRESS:
        on_rollback_completed(EcsChange(deps, fresh, env, ecs, reason="completed at once"))


def on_rollback_completed(change: EcsChange) -> str:
    """The rollback's ECS deployment reached steady state: rolled back, if on the old revision."""
    deployment, running = change.deployment, change.running
    if running == deployment.previous_task_definition:
        why = deployment.failure_reason or "rollout failed"
        finish(
            change.deps,
            deployment,
            DeploymentStatus.ROLLED_BACK,
            f"rolled back: {deployment.service} is steady on "
            f"{short_task_definition(running)} ({why})",
            "failure",
        )
        return DeploymentStatus.ROLLED_BACK
    finish(
        change.deps,
        deployment,
        DeploymentStatus.FAILED,
        f"rollback completed but the service runs {short_task_definition(running)}",
        "failure",
    )
    return DeploymentStatus.FAILED


def on_rollback_failed(change: EcsChange) -> str:
    """The rollback failed as well: nothing more opsbot can do by itself."""
    deployment = change.deployment
    finish(
        change.deps,
        deployment,
        DeploymentStatus.FAILED,
        f"the rollback failed too ({change.reason}); {deployment.service} is on "
        f"{short_task_definition(change.running)}: needs a human",
        "failure",
    )
    return DeploymentStatus.FAILED


def on_deploy_timeout(deps: Deps, message: DeployTimeout) -> None:
    """The timeout guard: roll back a rollout that did not finish, give up on a stuck rollback."""
    deployment = deps.store.get_deployment(message.deployment_id)
    if (
        deployment is None
        or deployment.status != DeploymentStatus.IN_PROGRESS
        or deployment.phase != message.phase
    ):
        return
    logger().set_correlation_id(deployment.id)
    now = int(deps.clock().timestamp())
    if now < message.deadline:  # timeouts beyond SQS's 15-minute delay wait in steps
        deps.queue.send(message, delay_seconds=message.deadline - now)
        return
    env = deps.policy.environment(deployment.environment)
    timeout = deployment.timeout_seconds
    if message.phase == DeploymentPhase.ROLLOUT:
        ecs = deps.aws("ecs", env)
        begin_rollback(deps, deployment, env, ecs, f"not steady after {timeout} s")
        return
    finish(
        deps,
        deployment,
        DeploymentStatus.FAILED,
        f"the rollback was not steady after {timeout} s: needs a human",
        "failure",
    )
