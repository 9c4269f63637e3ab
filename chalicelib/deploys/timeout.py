"""The timeout guard (a delayed ``deploy.timeout`` message, armed before ECS is touched).

At the deadline it asks ECS first: a rollout that reached steady state on its revision is
``succeeded`` (its COMPLETED event was lost), a rollback that did is ``rolled_back``; a rollout
still unfinished is rolled back, a rollback still unfinished is ``failed`` (needs a human). A
start or a rollback whose invocation died half-way is taken over and settled here.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import TYPE_CHECKING

from chalicelib.aws.ecs import EcsService, describe_service, short_task_definition
from chalicelib.core.observability import logger
from chalicelib.deploys.change import ROLLOUT_COMPLETED
from chalicelib.deploys.explain import explain_failure
from chalicelib.deploys.finish import finish
from chalicelib.deploys.rollback import begin_rollback
from chalicelib.deploys.rollout import Fenced, record_rollout, start_lease
from chalicelib.records.deployment import DeploymentEvent
from chalicelib.records.status import ACTIVE, DeploymentPhase, DeploymentStatus

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient

    from chalicelib.deps import Deps
    from chalicelib.domain.messages import DeployTimeout
    from chalicelib.domain.policy import Environment
    from chalicelib.records.deployment import Deployment


def steady_on(service: EcsService, task_definition: str | None) -> bool:
    """ECS has finished rolling ``task_definition`` out: the service's primary deployment runs
    it and has reached steady state."""
    primary = service.primary
    return (
        task_definition is not None
        and primary.get("taskDefinition") == task_definition
        and primary.get("rolloutState") == ROLLOUT_COMPLETED
    )


def on_deploy_timeout(deps: Deps, message: DeployTimeout) -> None:
    """Settle a deployment still unfinished at its deadline, by what ECS runs."""
    deployment = deps.store.get_deployment(message.deployment_id)
    if deployment is None or deployment.status not in ACTIVE:
        return
    logger().set_correlation_id(deployment.id)
    now = int(deps.clock().timestamp())
    if now < message.deadline:  # timeouts beyond SQS's 15-minute delay wait in steps
        deps.queue.send(message, delay_seconds=message.deadline - now)
        return
    env = deps.policy.environment(deployment.environment)
    deps = deps.acting_for(deployment.actor, deployment.id)
    ecs = deps.aws("ecs", env)
    if deployment.phase is None:
        _stuck_start(deps, message, deployment, env, ecs)
    elif deployment.phase == DeploymentPhase.ROLLBACK and not deployment.rollback_ecs_deployment_id:
        _resume_rollback(deps, message, deployment, env, ecs)
    elif deployment.phase == message.phase == DeploymentPhase.ROLLOUT:
        _rollout_overdue(deps, deployment, env, ecs)
    elif deployment.phase == message.phase == DeploymentPhase.ROLLBACK:
        _rollback_overdue(deps, deployment, env, ecs)


def _later(deps: Deps, message: DeployTimeout, lease_until: int | None) -> None:
    """Someone holds the deployment: look again once their lease has run out."""
    wait = max(1, (lease_until or 0) - int(deps.clock().timestamp()) + 1)
    deps.queue.send(message, delay_seconds=wait)


def _rollout_overdue(deps: Deps, deployment: Deployment, env: Environment, ecs: ECSClient) -> None:
    service = describe_service(ecs, env.cluster, deployment.service) or EcsService()
    target = deployment.task_definition
    if steady_on(service, target):
        finish(
            deps,
            deployment,
            DeploymentStatus.SUCCEEDED,
            f"steady state: {deployment.service} runs {short_task_definition(target)} "
            "(found at the timeout; ECS's COMPLETED event never came)",
            "success",
            text="Steady on the new task definition (found at the timeout: ECS's COMPLETED "
            "event never came).",
        )
        return
    why = f"not steady after {deployment.timeout_seconds} s"
    explanation = explain_failure(ecs, env, deployment, service=service)
    begin_rollback(deps, deployment, env, ecs, why, current=service, explanation=explanation)


def _rollback_overdue(deps: Deps, deployment: Deployment, env: Environment, ecs: ECSClient) -> None:
    service = describe_service(ecs, env.cluster, deployment.service) or EcsService()
    previous = deployment.previous_task_definition
    if steady_on(service, previous):
        finish(
            deps,
            deployment,
            DeploymentStatus.ROLLED_BACK,
            f"{deployment.service} is steady on {short_task_definition(previous)} again "
            "(found at the timeout)",
            "failure",
            text="Steady on the previous task definition again (found at the timeout).",
        )
        return
    finish(
        deps,
        deployment,
        DeploymentStatus.FAILED,
        f"the rollback was not steady after {deployment.timeout_seconds} s: needs a human",
        "failure",
    )


def _resume_rollback(
    deps: Deps, message: DeployTimeout, deployment: Deployment, env: Environment, ecs: ECSClient
) -> None:
    """A rollback whose start died before ECS's deployment was recorded: take it over."""
    if not begin_rollback(deps, deployment, env, ecs, deployment.failure_reason or "timed out"):
        fresh = deps.store.get_deployment(deployment.id)
        if fresh is not None and fresh.status in ACTIVE and not fresh.rollback_ecs_deployment_id:
            _later(deps, message, fresh.lease_until)


def _stuck_start(
    deps: Deps, message: DeployTimeout, deployment: Deployment, env: Environment, ecs: ECSClient
) -> None:
    """The start never reached its rollout by the deadline: take it over (fencing a worker
    still at it), then settle it by what ECS runs."""
    owner, now = uuid.uuid4().hex, deps.clock()
    if not deps.store.claim_start(
        deployment.id,
        owner=owner,
        lease_until=int(now.timestamp()) + start_lease(deps),
        now=now,
        event=DeploymentEvent.now(
            now, DeploymentStatus.IN_PROGRESS, "timeout guard took the unfinished start over"
        ),
    ):
        fresh = deps.store.get_deployment(deployment.id)
        if fresh is not None and fresh.status in ACTIVE and fresh.phase is None:
            _later(deps, message, fresh.lease_until)
        return
    deployment = replace(deployment, status=DeploymentStatus.IN_PROGRESS, lease_owner=owner)
    service = describe_service(ecs, env.cluster, deployment.service) or EcsService()
    target = deployment.task_definition
    if target is None or service.task_definition != target:
        step = deployment.step or "none"
        finish(
            deps,
            deployment,
            DeploymentStatus.FAILED,
            f"the start did not finish within {deployment.timeout_seconds} s (last checkpoint: "
            f"{step}); {deployment.service} still runs "
            f"{short_task_definition(service.task_definition)}",
            "failure",
        )
        return
    try:  # the UpdateService of the dead start landed: it is a rollout, overdue
        record_rollout(deps, deployment, service.primary)
    except Fenced:
        return
    fresh = deps.store.get_deployment(deployment.id)
    if fresh is not None and fresh.status in ACTIVE:
        _rollout_overdue(deps, fresh, env, ecs)
