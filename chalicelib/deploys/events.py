"""ECS deployment state changes: a table (phase, event name) -> handler advances the opsbot
deployment an ECS deployment belongs to.

COMPLETED of a rollout checks the service runs the new revision and marks ``succeeded``;
FAILED of a rollout starts (or follows the circuit breaker's) rollback; COMPLETED of a rollback
marks ``rolled_back``; FAILED of a rollback gives up. IN_PROGRESS is noted in the history.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from chalicelib.aws.ecs import short_task_definition
from chalicelib.core.observability import logger
from chalicelib.deploys.change import EcsChange, EcsEventName
from chalicelib.deploys.explain import explain_failure
from chalicelib.deploys.finish import finish
from chalicelib.deploys.rollback import begin_rollback, on_rollback_completed, on_rollback_failed
from chalicelib.records.deployment import DeploymentEvent
from chalicelib.records.status import DeploymentPhase, DeploymentStatus

if TYPE_CHECKING:
    from chalicelib.deps import Deps
    from chalicelib.records.deployment import Deployment

Handler = Callable[[EcsChange], str]


def ecs_said(reason: str) -> str:
    """ECS's reason, said to come from ECS once (its own often starts "ECS deployment ...")."""
    return reason if reason.startswith("ECS") else f"ECS: {reason}"


def _noted(change: EcsChange) -> str:
    """Progress: a line in the deployment's history, nothing else."""
    event = DeploymentEvent.now(
        change.deps.clock(), DeploymentStatus.IN_PROGRESS, ecs_said(change.reason)
    )
    change.deps.store.update_deployment(change.deployment.id, event=event)
    return "noted"


def _rollout_completed(change: EcsChange) -> str:
    """The rollout reached steady state: succeeded if the service runs the new revision."""
    deployment, running = change.deployment, change.running
    if running == deployment.task_definition:
        finish(
            change.deps,
            deployment,
            DeploymentStatus.SUCCEEDED,
            f"steady state: {deployment.service} runs {short_task_definition(running)}",
            "success",
            text="ECS reports the service steady on the new task definition.",
        )
        return DeploymentStatus.SUCCEEDED
    begin_rollback(
        change.deps,
        deployment,
        change.env,
        change.ecs,
        f"ECS completed but the service runs {short_task_definition(running)}",
        current=change.service,
    )
    return "rolling back"


def _rollout_failed(change: EcsChange) -> str:
    """The rollout failed (the circuit breaker tripped): roll back (once: a duplicate event, or
    one while another invocation starts the rollback, finds the rollback phase claimed)."""
    resuming = change.deployment.phase == DeploymentPhase.ROLLBACK
    current = None if resuming else change.service
    began = begin_rollback(
        change.deps,
        change.deployment,
        change.env,
        change.ecs,
        ecs_said(change.reason),
        current=current,
        explanation=None
        if resuming
        else explain_failure(change.ecs, change.env, change.deployment, service=current),
    )
    return "rolling back" if began else "ignored: the rollback has begun"


HANDLERS: dict[tuple[DeploymentPhase, EcsEventName], Handler] = {
    (DeploymentPhase.ROLLOUT, EcsEventName.IN_PROGRESS): _noted,
    (DeploymentPhase.ROLLOUT, EcsEventName.COMPLETED): _rollout_completed,
    (DeploymentPhase.ROLLOUT, EcsEventName.FAILED): _rollout_failed,
    (DeploymentPhase.ROLLBACK, EcsEventName.IN_PROGRESS): _noted,
    (DeploymentPhase.ROLLBACK, EcsEventName.COMPLETED): on_rollback_completed,
    (DeploymentPhase.ROLLBACK, EcsEventName.FAILED): on_rollback_failed,
}


def _unfinished_rollback(deployment: Deployment, role: DeploymentPhase, event_name: str) -> bool:
    """A FAILED rollout whose rollback's start died: the redelivered event may resume it."""
    return (
        role == DeploymentPhase.ROLLOUT
        and event_name == EcsEventName.FAILED
        and deployment.phase == DeploymentPhase.ROLLBACK
        and not deployment.rollback_ecs_deployment_id
    )


def on_ecs_deployment_event(
    deps: Deps, *, ecs_deployment_id: str, event_name: str, reason: str
) -> str:
    """Advance the deployment an ECS deployment state change belongs to; what was done."""
    ref = deps.store.deployment_for_ecs(ecs_deployment_id)
    if ref is None:
        return "ignored: not an opsbot deployment"
    logger().set_correlation_id(ref.deployment_id)
    deployment = deps.store.get_deployment(ref.deployment_id)
    if deployment is None or deployment.status != DeploymentStatus.IN_PROGRESS:
        return "ignored: deployment not in progress"
    if deployment.phase != ref.role and not _unfinished_rollback(deployment, ref.role, event_name):
        return f"ignored: the deployment is past its {ref.role}"
    try:
        handler = HANDLERS[ref.role, EcsEventName(event_name)]
    except (ValueError, KeyError):
        return f"ignored: {event_name}"
    env = deps.policy.environment(deployment.environment)
    deps = deps.acting_for(deployment.actor, deployment.id)
    return handler(EcsChange(deps, deployment, env, deps.aws("ecs", env), reason))
