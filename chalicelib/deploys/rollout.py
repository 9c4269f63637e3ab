"""Starting a rollout (worker step), as checkpoints: each a conditional write by the invocation
that holds the deployment's lease, recorded before the side effect it guards.

1. claim: ``queued`` -> ``in_progress`` with a lease (or take over a start whose lease ran out:
   SQS redelivers the message of a worker that died); the service lock's lease renewed;
2. PLANNED: the previous task definition (read from the service once, never again) and the
   target image (pinned to its digest) and the deadline;
3. ARMED: the delayed ``deploy.timeout`` guard sent, before ECS is touched;
4. REGISTERED: the revision registered (or, on a retry, the one this deployment registered
   before it died, found by its tag) is recorded before UpdateService;
5. UpdateService, skipped when the service already runs the revision; the rollout phase
   recorded with its ECS deployment id; people told.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from chalicelib.aws.ecs import EcsService, describe_service, short_task_definition
from chalicelib.aws.errors import describe, is_transient
from chalicelib.core.clock import iso
from chalicelib.core.errors import NotFound, OpsError
from chalicelib.core.observability import count, logger
from chalicelib.deploys.change import ROLLOUT_COMPLETED, EcsEventName
from chalicelib.deploys.events import on_ecs_deployment_event
from chalicelib.deploys.finish import finish, notify
from chalicelib.deploys.revision import (
    family_of,
    pinned_image,
    register_revision,
    registered_revision,
)
from chalicelib.domain.messages import DeployTimeout
from chalicelib.records.deployment import DeploymentEvent, EcsDeploymentRef
from chalicelib.records.status import DeploymentPhase, DeploymentStatus, StartStep

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient

    from chalicelib.deps import Deps
    from chalicelib.domain.environment import Environment, Service
    from chalicelib.records.deployment import Deployment


class Fenced(Exception):
    """Another invocation took the deployment over (our lease ran out): stop, change nothing."""


def lock_lease(timeout: int) -> int:
    """The service lock's lease from now: a rollout and its rollback may each take the timeout."""
    return 2 * timeout + 300


def start_lease(deps: Deps) -> int:
    """How long a start is leased: longer than the worker can live, shorter than the queue's
    visibility timeout (six times the worker's timeout), so a redelivery finds it lapsed."""
    return max(1, deps.queue.limits.visibility_timeout // 2)


def start_deploy(deps: Deps, deployment_id: str, *, last_attempt: bool = False) -> None:
    """Worker step: drive a deployment's start from its last checkpoint to its rollout.

    A transient AWS error puts it back to ``queued`` and raises (SQS redelivers); on the
    ``last_attempt`` (the redrive policy's last receive) it ends ``failed`` instead."""
    deployment = deps.store.get_deployment(deployment_id)
    if deployment is None:
        logger().warning(
            "deploy.start for an unknown deployment; dropped",
            extra={"deployment_id": deployment_id},
        )
        return
    deps = deps.acting_for(deployment.actor, deployment.id)
    owner, now, resumed_from = uuid.uuid4().hex, deps.clock(), deployment.step
    lease_until = int(now.timestamp()) + start_lease(deps)
    what = f"resumed after {resumed_from}" if resumed_from else "picked it up"
    if not deps.store.claim_start(
        deployment_id,
        owner=owner,
        lease_until=lease_until,
        now=now,
        updated_at=iso(now),
        event=DeploymentEvent.now(now, DeploymentStatus.IN_PROGRESS, f"worker {what}"),
    ):
        logger().info(
            "deploy.start redelivered; already started (or leased)",
            extra={"status": str(deployment.status)},
        )
        return
    deployment = replace(deployment, status=DeploymentStatus.IN_PROGRESS, lease_owner=owner)
    renew = lock_lease(deployment.timeout_seconds)
    deps.store.renew_lock(deployment.target.lock, deployment_id, lease_seconds=renew, now=now)
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
        deployment, primary = _advance(deps, deployment, env, svc, ecs, resumed_from)
    except Fenced:
        logger().info("deploy.start fenced: another invocation took it over")
        return
    except (ClientError, BotoCoreError) as exc:
        if is_transient(exc) and not last_attempt:
            _retry_later(deps, deployment, exc)
            raise
        why = describe(exc)
        if is_transient(exc):
            why = f"gave up after the queue's last delivery: {why}"
        _give_up(deps, deployment, env, ecs, f"ECS refused: {why}")
        return
    except OpsError as exc:
        _give_up(deps, deployment, env, ecs, exc.message)
        return
    try:
        record_rollout(deps, deployment, primary)
    except Fenced:
        return
    _announce(deps, deployment, primary)


def _checkpoint(deps: Deps, deployment: Deployment, message: str, **fields: Any) -> Deployment:
    """Record a step (only while this invocation holds the lease); the deployment as recorded."""
    now = deps.clock()
    if not deps.store.update_deployment(
        deployment.id,
        owner=deployment.lease_owner,
        updated_at=iso(now),
        event=DeploymentEvent.now(now, DeploymentStatus.IN_PROGRESS, message),
        **fields,
    ):
        raise Fenced(deployment.id)
    return replace(deployment, **fields)


def _advance(
    deps: Deps,
    deployment: Deployment,
    env: Environment,
    svc: Service,
    ecs: ECSClient,
    resumed_from: StartStep | None,
) -> tuple[Deployment, dict[str, Any]]:
    """From the last checkpoint to a service running the target: (deployment, ECS primary)."""
    if deployment.step is None:
        current = describe_service(ecs, env.cluster, deployment.service)
        if current is None or current.task_definition is None:
            raise OpsError(f"service {deployment.service} not found in cluster {env.cluster}")
        deadline = int(deps.clock().timestamp()) + deployment.timeout_seconds
        target = deployment.task_definition or pinned_image(
            deployment.image, deployment.image_digest
        )
        deployment = _checkpoint(
            deps,
            deployment,
            f"plan: {short_task_definition(current.task_definition)} -> {target}",
            step=StartStep.PLANNED,
            previous_task_definition=current.task_definition,
            target_image=None if deployment.is_rollback else target,
            deadline=deadline,
        )
    if deployment.step == StartStep.PLANNED:
        deadline = int(deployment.deadline or 0)
        delay = deadline - int(deps.clock().timestamp())
        guard = DeployTimeout(
            deployment_id=deployment.id, phase=DeploymentPhase.ROLLOUT, deadline=deadline
        )
        deps.queue.send(guard, delay_seconds=delay)
        deployment = _checkpoint(deps, deployment, "timeout guard armed", step=StartStep.ARMED)
    if deployment.step == StartStep.ARMED:
        revision = deployment.task_definition  # a rollback's, recorded when it was asked for
        known: dict[str, Any] = {}
        if revision is None:
            revision, was = _revision(ecs, deployment, svc, search=resumed_from == StartStep.ARMED)
            known = {"previous_image": was} if was else {}
        deployment = _checkpoint(
            deps,
            deployment,
            f"revision {short_task_definition(revision)} to roll out",
            step=StartStep.REGISTERED,
            task_definition=revision,
            **known,
        )
    current = describe_service(ecs, env.cluster, deployment.service)
    if current is not None and current.task_definition == deployment.task_definition:
        return deployment, current.primary  # the UpdateService of a dead attempt landed
    updated = ecs.update_service(
        cluster=env.cluster,
        service=deployment.service,
        taskDefinition=str(deployment.task_definition),
    )
    return deployment, EcsService(updated["service"]).primary


def _revision(
    ecs: ECSClient, deployment: Deployment, svc: Service, *, search: bool
) -> tuple[str, str | None]:
    """The revision this deployment registers: on a retry, the one it may have registered
    already (found by its tag); else a new one, registered once. With the image the service
    ran before, when read."""
    previous = str(deployment.previous_task_definition)
    if search:
        found = registered_revision(ecs, family_of(previous), deployment.id)
        if found is not None:
            return found, None
    image = deployment.target_image or deployment.image
    return register_revision(
        ecs, previous=previous, container=svc.container, image=image, deployment_id=deployment.id
    )


def _retry_later(deps: Deps, deployment: Deployment, exc: Exception) -> None:
    """Back to ``queued`` with the lease let go, so the redelivered message resumes at once."""
    deps.store.update_deployment(
        deployment.id,
        owner=deployment.lease_owner,
        status=DeploymentStatus.QUEUED,
        lease_until=0,
        event=DeploymentEvent.now(
            deps.clock(),
            DeploymentStatus.QUEUED,
            f"transient AWS error, will retry: {describe(exc)}",
        ),
    )


def _give_up(
    deps: Deps, deployment: Deployment, env: Environment, ecs: ECSClient, why: str
) -> None:
    """End a start that cannot go on ``failed``; unless its UpdateService may have landed, in
    which case its (armed) timeout guard settles it by what ECS runs."""
    fresh = deps.store.get_deployment(deployment.id) or deployment
    if fresh.step == StartStep.REGISTERED:
        try:
            current = describe_service(ecs, env.cluster, deployment.service)
        except Exception:  # AWS still failing: the guard will look
            current = None
        if current is None or current.task_definition == fresh.task_definition:
            logger().warning("start given up after UpdateService; the timeout guard settles it")
            return
    finish(deps, fresh, DeploymentStatus.FAILED, why, "failure")


def record_rollout(deps: Deps, deployment: Deployment, primary: dict[str, Any]) -> None:
    """ECS runs the target: index its ECS deployment, record the rollout phase, let go."""
    ecs_id = str(primary.get("id", ""))
    now = deps.clock()
    if ecs_id:
        ref = EcsDeploymentRef(deployment.id, DeploymentPhase.ROLLOUT)
        deps.store.index_ecs_deployment(ecs_id, ref, now=now)
    previous, target = deployment.previous_task_definition, deployment.task_definition
    change = f"{short_task_definition(previous)} -> {short_task_definition(target)}"
    if not deps.store.update_deployment(
        deployment.id,
        owner=deployment.lease_owner,
        ecs_deployment_id=ecs_id,
        phase=DeploymentPhase.ROLLOUT,
        lease_until=0,
        updated_at=iso(now),
        event=DeploymentEvent.now(
            now, DeploymentStatus.IN_PROGRESS, f"ECS deployment {ecs_id} started: {change}"
        ),
    ):
        raise Fenced(deployment.id)


def _announce(deps: Deps, deployment: Deployment, primary: dict[str, Any]) -> None:
    """Count, notify, and follow a rollout ECS finished before we looked."""
    count("DeploymentsStarted", environment=deployment.environment, service=deployment.service)
    verb = "Rollback" if deployment.is_rollback else "Deploy"
    notify(
        deps,
        deployment,
        f"{verb} started: {deployment.target.label}",
        "ECS is rolling it out; the outcome is posted here.",
        "info",
    )
    if primary.get("rolloutState") == ROLLOUT_COMPLETED:  # ECS finished before we looked
        on_ecs_deployment_event(
            deps,
            ecs_deployment_id=str(primary.get("id", "")),
            event_name=EcsEventName.COMPLETED,
            reason="completed at once",
        )
