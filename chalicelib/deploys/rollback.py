"""Rolling a failed rollout back: to the previous task definition (the exact revision, never a
re-registration; following the ECS circuit breaker when it already does), tracked to its end."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import TYPE_CHECKING

from chalicelib.aws.ecs import EcsService, describe_service, short_task_definition
from chalicelib.aws.errors import describe
from chalicelib.core.clock import iso
from chalicelib.core.errors import OpsError
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


# How long the invocation that starts a rollback holds it (the ECS event handler lives 30 s;
# an asynchronous invocation is retried a minute later).
ROLLBACK_LEASE_SECONDS = 60


def begin_rollback(
    deps: Deps,
    deployment: Deployment,
    env: Environment,
    ecs: ECSClient,
    reason: str,
    current: EcsService | None = None,
    *,
    explanation: str | None = None,
    title: str = "Deploy failed, rolling back",
) -> bool:
    """Make sure the service goes back to the previous task definition and track that rollout.

    ``reason`` is what triggered it; ``explanation`` what ECS says the tasks died of (see
    ``explain``): the deployment's ``failure_reason`` is the explanation, else the reason.
    The rollback phase is claimed with a conditional write first (so duplicate FAILED events
    make one rollback), the rollback's guard armed, then ECS is told; a rollback whose start died
    is resumed by whoever comes next once its lease has run out. False when another has it."""
    previous = deployment.previous_task_definition
    if previous is None:  # its start is not recorded yet: fail, so the event is delivered again
        raise OpsError(f"deployment {deployment.id} has no previous task definition yet")
    owner, now, timeout = uuid.uuid4().hex, deps.clock(), deployment.timeout_seconds
    resuming = deployment.phase == DeploymentPhase.ROLLBACK
    deadline = int(now.timestamp()) + timeout
    fields: dict[str, object] = {"deadline": deadline, "updated_at": iso(now)}
    if not resuming:
        fields["failure_reason"] = explanation or reason
    trigger = reason
    if explanation:
        reason = f"{reason.rstrip('.')}: {explanation}"
    said = f"rollback to {short_task_definition(previous)} " + ("resumed" if resuming else "begins")
    if not deps.store.claim_rollback(
        deployment.id,
        owner=owner,
        lease_until=int(now.timestamp()) + ROLLBACK_LEASE_SECONDS,
        now=now,
        event=DeploymentEvent.now(now, DeploymentStatus.IN_PROGRESS, said),
        **fields,
    ):
        return False
    deps.store.renew_lock(
        deployment.target.lock, deployment.id, lease_seconds=timeout + 300, now=now
    )
    guard = DeployTimeout(
        deployment_id=deployment.id, phase=DeploymentPhase.ROLLBACK, deadline=deadline
    )
    deps.queue.send(guard, delay_seconds=timeout)  # armed before ECS is touched
    if resuming and deployment.failure_reason:
        reason = deployment.failure_reason
    if resuming or current is None:
        current = describe_service(ecs, env.cluster, deployment.service) or EcsService()
    primary = current.primary
    if (
        primary.get("taskDefinition") == previous
        and primary.get("id") != deployment.ecs_deployment_id
    ):
        rollback = primary
        how = f"the ECS circuit breaker returns it to {short_task_definition(previous)}"
        if resuming:
            how = f"the service returns to {short_task_definition(previous)}"
    else:
        from botocore.exceptions import ClientError

        try:
            resp = ecs.update_service(
                cluster=env.cluster, service=deployment.service, taskDefinition=previous
            )
        except ClientError as exc:
            refused = f"{reason}; and the rollback was refused: {describe(exc)}"
            finish(deps, deployment, DeploymentStatus.FAILED, refused, "failure")
            return True
        rollback = EcsService(resp["service"]).primary
        how = f"opsbot returns it to {short_task_definition(previous)}"
    now = deps.clock()
    ecs_id = rollback.get("id")
    if ecs_id:
        ref = EcsDeploymentRef(deployment.id, DeploymentPhase.ROLLBACK)
        deps.store.index_ecs_deployment(ecs_id, ref, now=now)
    deps.store.update_deployment(
        deployment.id,
        owner=owner,
        rollback_ecs_deployment_id=ecs_id or "",
        lease_until=0,
        updated_at=iso(now),
        event=DeploymentEvent.now(
            now, DeploymentStatus.IN_PROGRESS, f"{reason.rstrip('.')}; {how}"
        ),
    )
    notify(
        deps,
        replace(deployment, failure_reason=explanation or deployment.failure_reason or trigger),
        f"{title}: {deployment.target.label}",
        (f"{trigger.rstrip('.')}. " if explanation else "") + f"{how[0].upper()}{how[1:]}.",
        "warning",
    )
    if ecs_id and rollback.get("rolloutState") == ROLLOUT_COMPLETED:
        _completed_at_once(deps, deployment.id, env, ecs)
    return True


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
            f"{deployment.service} is steady on {short_task_definition(running)} again ({why})",
            "failure",
            text="ECS reports the service steady on the previous task definition again.",
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
