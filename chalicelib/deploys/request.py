"""Asking for a deploy or a rollback (REST and Slack): resolve the image, authorize, then admit
it: take the service's lock, record it ``queued``, enqueue ``deploy.start``. Nothing here
changes ECS; the worker does (``rollout.start_deploy``)."""

from __future__ import annotations

import secrets
from enum import StrEnum
from typing import TYPE_CHECKING

from chalicelib.aws.ecs import describe_service, short_task_definition
from chalicelib.aws.errors import describe
from chalicelib.core.clock import iso
from chalicelib.core.errors import Conflict, DependencyUnavailable, InvalidRequest, NotFound
from chalicelib.deploys.approvals import hold
from chalicelib.deploys.finish import finish
from chalicelib.deploys.images import requested, resolve
from chalicelib.deploys.locking import admit_with_lock, busy
from chalicelib.deploys.revision import container_image
from chalicelib.deploys.rollout import lock_lease
from chalicelib.domain.freeze import ensure_not_frozen
from chalicelib.domain.messages import DeployStart
from chalicelib.domain.policy import Permission
from chalicelib.records.deployment import Deployment, DeploymentEvent
from chalicelib.records.status import DeploymentStatus
from chalicelib.records.target import Target

if TYPE_CHECKING:
    from chalicelib.deps import Deps
    from chalicelib.domain.environment import Service
    from chalicelib.domain.messages import DeployRequest
    from chalicelib.store.locks import LockResult

# Ids are ``dep-`` and ``ID_HEX`` hex digits; a longer one is never looked up (4 bytes a
# character at most in UTF-8: far below DynamoDB's 2 KB key limit).
MAX_ID_LENGTH = 256
ID_HEX = 24


class Admission(StrEnum):
    """What the audit trail says of a deploy or rollback request."""

    ACCEPTED = "accepted"
    CONFLICT = "conflict"  # the service is busy with another deployment
    REJECTED = "rejected"  # the image is not one this service may run


def _new_id(seed: str | None = None) -> str:
    """A deployment id, ``dep-`` and 24 hex digits, from REST and Slack alike: with an
    Idempotency-Key's seed (sha256 hex) the same id each time that request runs, else random."""
    return f"dep-{(seed or secrets.token_hex(ID_HEX // 2))[:ID_HEX]}"


def _made_before(deps: Deps, seed: str | None) -> Deployment | None:
    """The deployment an earlier run of this very request made (same Idempotency-Key), if any.

    That run died before its answer was saved; its deployment stands. One still ``queued`` may
    have died before its start was sent: sending it again is harmless (a start runs once).
    """
    if not seed:
        return None
    earlier = deps.store.get_deployment(_new_id(seed))
    if earlier is None:
        return None
    if earlier.status == DeploymentStatus.FAILED:  # e.g. it could not be queued (that was a 503)
        raise Conflict(
            f"this Idempotency-Key already made deployment {earlier.id}, which ended failed "
            f"({earlier.events[-1].message if earlier.events else 'see its events'}); "
            "send a new key to try again",
            deployment_id=earlier.id,
        )
    resume_start(deps, earlier)
    return earlier


def resume_start(deps: Deps, deployment: Deployment) -> None:
    """For a re-run of a request whose Lambda died: a deployment still ``queued`` may never
    have had its start sent; send it (again: harmless, the worker's first step is a
    conditional claim, so a start runs once)."""
    if deployment.status == DeploymentStatus.QUEUED:
        deps.queue.send(DeployStart(deployment_id=deployment.id))


def _timeout_for(deps: Deps, svc: Service) -> int:
    return svc.deploy_timeout_seconds or deps.policy.deploy.timeout_seconds


def _admit(deps: Deps, deployment: Deployment) -> Deployment:
    """Lock the service and record the deployment (one transaction), enqueue its start;
    Conflict if another is in flight (a stuck or stale holder is dealt with first)."""
    now = deps.clock()
    target = deployment.target

    def write(over: str | None) -> LockResult | None:
        return deps.store.admit_deployment(
            deployment,
            lock=target.lock,
            lease_seconds=lock_lease(deployment.timeout_seconds),
            now=now,
            over=over,
        )

    lock, found = admit_with_lock(deps, deployment, now, write)
    if lock is None:  # only a request with the same id (Idempotency-Key) racing this one
        raise Conflict(f"deployment {deployment.id} exists already", deployment_id=deployment.id)
    if found is not None:
        deps.store.audit(
            now=now,
            actor=deployment.actor,
            action=deployment.action,
            environment=deployment.environment,
            target=target.label,
            result=Admission.CONFLICT,
            reason=f"held by {deps.store.describe_holder(found.holder)}"
            + (f"; {found.note}" if found.note else ""),
            holder=found.holder,
        )
        raise busy(deployment, found, "try again when it has finished")
    enqueue_start(deps, deployment)
    deps.store.audit(
        now=now,
        actor=deployment.actor,
        action=deployment.action,
        environment=deployment.environment,
        target=target.label,
        result=Admission.ACCEPTED,
        deployment_id=deployment.id,
        image=deployment.image,
        reason=deployment.reason,
    )
    return deployment


def request_deploy(
    deps: Deps,
    *,
    actor: str,
    request: DeployRequest,
    notify_url: str | None = None,
    id_seed: str | None = None,
) -> Deployment:
    """Validate, authorize, record and enqueue a deploy; the new deployment (``queued``).

    ``id_seed`` (from an Idempotency-Key) makes the id stable, so a re-run of the same request
    returns the deployment the first run made instead of making another."""
    env = deps.policy.resolve(actor, request.environment, Permission.DEPLOY, request.service)
    earlier = _made_before(deps, id_seed)
    if earlier is not None:
        return earlier
    target = Target.service(env.name, request.service).label
    ensure_not_frozen(
        deps.store, env.name, doing="deploys", audit_as=(actor, "deploy", target, deps.clock())
    )
    svc = env.service(request.service)
    deps = deps.acting_for(actor)
    try:
        wanted = requested(deps, actor, env, request)
        image, digest = resolve(deps, env, svc, wanted)
    except InvalidRequest as exc:
        deps.store.audit(
            now=deps.clock(),
            actor=actor,
            action="deploy",
            environment=env.name,
            target=Target.service(env.name, request.service).label,
            result=Admission.REJECTED,
            reason=exc.message,
        )
        raise
    now = deps.clock()
    source = f" (promoted from {wanted.from_environment})" if wanted.from_environment else ""
    deployment = Deployment(
        id=_new_id(id_seed),
        environment=env.name,
        service=request.service,
        image=image,
        image_digest=digest,
        status=DeploymentStatus.QUEUED,
        actor=actor,
        created_at=iso(now),
        updated_at=iso(now),
        timeout_seconds=_timeout_for(deps, svc),
        events=[
            DeploymentEvent.now(
                now, DeploymentStatus.QUEUED, f"{actor} asked to deploy {image}{source}"
            )
        ],
        notify_url=notify_url,
        from_environment=wanted.from_environment,
        from_task_definition=wanted.from_task_definition,
    )
    approval = env.approval_for(request.service, deployment.action)
    if approval is not None:  # a protected environment: it waits for a second person
        return hold(deps, deployment, approval, env)
    return _admit(deps, deployment)


def request_rollback(
    deps: Deps,
    *,
    actor: str,
    deployment_id: str,
    reason: str | None,
    notify_url: str | None = None,
    id_seed: str | None = None,
) -> Deployment:
    """Put a service back on what it ran before ``deployment_id``; a new deployment
    (``id_seed`` as for ``request_deploy``)."""
    original = get_deployment(deps, deployment_id)
    env = deps.policy.environment(original.environment)
    svc = env.service(original.service)
    deps.policy.require(actor, env.name, Permission.ROLLBACK)
    earlier = _made_before(deps, id_seed)
    if earlier is not None:
        return earlier
    target = Target.service(env.name, original.service).label
    ensure_not_frozen(
        deps.store, env.name, doing="rollbacks", audit_as=(actor, "rollback", target, deps.clock())
    )
    deps = deps.acting_for(actor, deployment_id)
    if original.status.active:
        raise Conflict(
            f"deployment {deployment_id} is still {original.status}; it rolls back by itself "
            "if its rollout fails or times out"
        )
    if original.status == DeploymentStatus.ROLLED_BACK:
        raise Conflict(f"deployment {deployment_id} is already rolled back")
    previous = original.previous_task_definition
    if not previous or not original.ecs_deployment_id:
        raise Conflict(
            f"deployment {deployment_id} never reached ECS; there is nothing to roll back"
        )
    ecs = deps.aws("ecs", env)
    service = describe_service(ecs, env.cluster, original.service)
    current = service.task_definition if service is not None else None
    if current != original.task_definition:
        raise Conflict(
            f"{original.service} has changed since {deployment_id} (it runs "
            f"{short_task_definition(current)}, not "
            f"{short_task_definition(original.task_definition)}); roll back the "
            "latest deployment instead, or deploy the image you want",
            running=current,
        )
    described = ecs.describe_task_definition(taskDefinition=previous)["taskDefinition"]
    image = container_image(described, svc.container) or "unknown"
    now = deps.clock()
    why = f" ({reason})" if reason else ""
    asked = f"{actor} asked to roll back {deployment_id} to {previous}{why}"
    deployment = Deployment(
        id=_new_id(id_seed),
        environment=env.name,
        service=original.service,
        image=image,
        status=DeploymentStatus.QUEUED,
        actor=actor,
        created_at=iso(now),
        updated_at=iso(now),
        timeout_seconds=_timeout_for(deps, svc),
        task_definition=previous,
        previous_image=original.image,
        rollback_of=deployment_id,
        reason=reason,
        notify_url=notify_url,
        events=[DeploymentEvent.now(now, DeploymentStatus.QUEUED, asked)],
    )
    approval = env.approval_for(original.service, deployment.action)
    if approval is not None:
        return hold(deps, deployment, approval, env)
    return _admit(deps, deployment)


def enqueue_start(deps: Deps, deployment: Deployment, *, again: str = "try again") -> None:
    """Hand a queued deployment (holding its service's lock) to the worker. If the queue does not
    take it, it could never start: end it ``failed`` (which frees the service) and raise."""
    try:
        deps.queue.send(DeployStart(deployment_id=deployment.id))
    except Exception as exc:
        why = f"could not be queued for the worker: {describe(exc)}"
        finish(deps, deployment, DeploymentStatus.FAILED, why, "failure")
        raise DependencyUnavailable(
            f"the work queue did not take deployment {deployment.id} ({describe(exc)}); it "
            f"ended failed and nothing changed: {again}",
            deployment_id=deployment.id,
        ) from exc


def get_deployment(deps: Deps, deployment_id: str) -> Deployment:
    """A deployment, or NotFound (an id no deployment can have is not looked up: DynamoDB
    refuses a key over 2 KB, and would answer 503)."""
    if len(deployment_id) > MAX_ID_LENGTH:
        raise NotFound(f"no deployment {deployment_id[:MAX_ID_LENGTH]!r}...")
    deployment = deps.store.get_deployment(deployment_id)
    if deployment is None:
        raise NotFound(f"no deployment {deployment_id!r}")
    return deployment
