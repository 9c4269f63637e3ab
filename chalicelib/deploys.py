"""Deploys: a new image for an ECS service, tracked to steady state, rolled back on failure.

The flow (each step a separate invocation; nothing sleeps):

1. ``request_deploy`` (REST): validate, authorize, resolve the ECR tag, take the service lock,
   record ``queued``, enqueue ``deploy.start``.
2. ``start_deploy`` (worker): render the running task definition with the new image, register
   it, UpdateService, record ``in_progress``, enqueue a delayed ``deploy.timeout`` guard.
3. ``on_ecs_deployment_event`` (EventBridge "ECS Deployment State Change"): COMPLETED verifies the
   service runs the new task definition and marks ``succeeded``; FAILED starts (or follows the
   circuit breaker's) rollback to the previous task definition, whose completion marks
   ``rolled_back``.
4. ``on_deploy_timeout`` (worker): a rollout still unfinished at its deadline is rolled back.
"""

from __future__ import annotations

import copy
import uuid
from typing import TYPE_CHECKING, Any

from chalicelib.aws.notifier import Message
from chalicelib.core.errors import Conflict, InvalidRequest, NotFound, OpsError
from chalicelib.core.observability import count, logger
from chalicelib.domain.messages import DeployStart, DeployTimeout
from chalicelib.domain.policy import Environment, Permission, Service

if TYPE_CHECKING:
    from datetime import datetime

    from chalicelib.deps import Deps
    from chalicelib.domain.messages import DeployRequest

ACTIVE = ("queued", "in_progress")

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


def lock_name(environment: str, service: str) -> str:
    """The per-service lock shared by deploys, rollbacks and scaling."""
    return f"service#{environment}#{service}"


def iso(at: datetime) -> str:
    """ISO-8601 UTC with a Z."""
    return at.isoformat(timespec="seconds").replace("+00:00", "Z")


def _event(deps: Deps, status: str, message: str) -> dict[str, Any]:
    return {"at": iso(deps.clock()), "status": status, "message": message}


def render_task_definition(
    task_definition: dict[str, Any], *, container: str, image: str
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


def container_image(task_definition: dict[str, Any], container: str) -> str | None:
    """The image of one container of a described task definition."""
    for definition in task_definition.get("containerDefinitions", []):
        if definition.get("name") == container:
            return str(definition.get("image"))
    return None


def _registry(env: Environment) -> str:
    return f"{env.account}.dkr.ecr.{env.region}.amazonaws.com"


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """(name, tag, digest) of an image reference such as ``host/repo:tag@sha256:...``."""
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = None
    if ":" in last:
        name, _, tag = name.rpartition(":")
    return name, tag or None, digest or None


def resolve_image(
    deps: Deps, env: Environment, svc: Service, *, image: str | None, tag: str | None
) -> tuple[str, str | None]:
    """(image, digest) for a request, or InvalidRequest before anything touches ECS.

    A service deploys images from its own ECR repository (in the environment's account and
    region), where the tag or digest must exist; or, when the policy lists ``images`` patterns
    for it, from a repository that matches one of them (taken as given: opsbot cannot see into
    other registries).
    """
    from fnmatch import fnmatchcase

    own = f"{_registry(env)}/{svc.repository}"
    digest = None
    field = "tag"
    if image is not None:
        field = "image"
        name, tag, digest = split_image(image)
        if tag is None and digest is None:
            raise InvalidRequest(
                f"image {image!r} names no tag or digest; say which image to run",
                fields={"image": "needs :TAG or @sha256:DIGEST"},
            )
        if name != own:
            if any(fnmatchcase(name, pattern) for pattern in svc.images):
                return image, digest
            allowed = ", ".join([own, *svc.images])
            raise InvalidRequest(
                f"{image!r} is not from a repository this service deploys from ({allowed}); "
                "nothing was deployed",
                fields={"image": f"repository must be {allowed}"},
            )
    ecr = deps.aws("ecr", env)
    image_id = {"imageDigest": digest} if digest and not tag else {"imageTag": str(tag)}
    what = f"tag {tag!r}" if "imageTag" in image_id else f"digest {digest}"
    try:
        resp = ecr.describe_images(
            registryId=env.account, repositoryName=svc.repository, imageIds=[image_id]
        )
    except ecr.exceptions.ImageNotFoundException:
        raise InvalidRequest(
            f"{what} not found in ECR repository {svc.repository!r}; nothing was deployed",
            fields={field: f"no image with {what} in {svc.repository}"},
        ) from None
    except ecr.exceptions.RepositoryNotFoundException:
        raise InvalidRequest(
            f"ECR repository {svc.repository!r} (from the ops policy) does not exist",
            fields={field: f"repository {svc.repository!r} not found"},
        ) from None
    details = resp.get("imageDetails") or [{}]
    found = details[0].get("imageDigest")
    if digest and tag and found != digest:
        raise InvalidRequest(
            f"tag {tag!r} in {svc.repository!r} is {found}, not {digest}; nothing was deployed",
            fields={"image": "tag and digest disagree"},
        )
    return image or f"{own}:{tag}", found


def _new_id(deps: Deps) -> str:
    return f"dep-{deps.clock().strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:6]}"


def _timeout_for(deps: Deps, svc: Service) -> int:
    return svc.deploy_timeout_seconds or deps.policy.deploy.timeout_seconds


def _lease_for(timeout: int) -> int:
    # a rollout and its rollback may each take the whole timeout
    return 2 * timeout + 300


def _admit(deps: Deps, record: dict[str, Any], *, action: str) -> dict[str, Any]:
    """Lock the service, record the deployment, enqueue its start; Conflict if one is in flight."""
    now = deps.clock()
    name = lock_name(record["environment"], record["service"])
    lock = deps.store.acquire_lock(
        name, record["id"], lease_seconds=_lease_for(record["timeout_seconds"]), now=now
    )
    if not lock.acquired:
        deps.store.audit(
            now=now,
            actor=record["actor"],
            action=action,
            environment=record["environment"],
            target=f"{record['environment']}/{record['service']}",
            result="conflict",
            reason=f"held by {lock.holder}",
        )
        raise Conflict(
            f"{record['service']} in {record['environment']} is busy with {lock.holder}; "
            "try again when it has finished",
            holder=lock.holder,
        )
    try:
        deps.store.put_deployment(record, now=now)
        deps.queue.send(DeployStart(deployment_id=record["id"]))
    except Exception:
        deps.store.release_lock(name, record["id"])
        raise
    deps.store.audit(
        now=now,
        actor=record["actor"],
        action=action,
        environment=record["environment"],
        target=f"{record['environment']}/{record['service']}",
        result="accepted",
        deployment_id=record["id"],
        image=record["image"],
        reason=record.get("reason"),
    )
    return record


def request_deploy(
    deps: Deps, *, actor: str, request: DeployRequest, notify_url: str | None = None
) -> dict[str, Any]:
    """Validate, authorize, record and enqueue a deploy; the new record (status ``queued``)."""
    env = deps.policy.environment(request.environment)
    svc = env.service(request.service)
    deps.policy.require(actor, env.name, Permission.DEPLOY)
    target = f"{env.name}/{request.service}"
    try:
        image, digest = resolve_image(deps, env, svc, image=request.image, tag=request.tag)
    except InvalidRequest as exc:
        deps.store.audit(
            now=deps.clock(),
            actor=actor,
            action="deploy",
            environment=env.name,
            target=target,
            result="rejected",
            reason=exc.message,
        )
        raise
    now = deps.clock()
    record = {
        "id": _new_id(deps),
        "environment": env.name,
        "service": request.service,
        "image": image,
        "image_digest": digest,
        "status": "queued",
        "actor": actor,
        "created_at": iso(now),
        "updated_at": iso(now),
        "timeout_seconds": _timeout_for(deps, svc),
        "task_definition": None,
        "previous_task_definition": None,
        "events": [_event(deps, "queued", f"{actor} asked to deploy {image}")],
        "notify_url": notify_url,
    }
    return _admit(deps, record, action="deploy")


def request_rollback(
    deps: Deps, *, actor: str, deployment_id: str, reason: str | None, notify_url: str | None = None
) -> dict[str, Any]:
    """Put a service back on what it ran before ``deployment_id``; a new deployment."""
    original = get_deployment(deps, deployment_id)
    env = deps.policy.environment(original["environment"])
    svc = env.service(original["service"])
    deps.policy.require(actor, env.name, Permission.ROLLBACK)
    if original["status"] in ACTIVE:
        raise Conflict(
            f"deployment {deployment_id} is still {original['status']}; it rolls back by itself "
            "if its rollout fails or times out"
        )
    if original["status"] == "rolled_back":
        raise Conflict(f"deployment {deployment_id} is already rolled back")
    previous = original.get("previous_task_definition")
    if not previous:
        raise Conflict(
            f"deployment {deployment_id} never reached ECS; there is nothing to roll back"
        )
    ecs = deps.aws("ecs", env)
    current = (describe_service(ecs, env.cluster, original["service"]) or {}).get("taskDefinition")
    if current != original.get("task_definition"):
        raise Conflict(
            f"{original['service']} has changed since {deployment_id} (it runs "
            f"{_short(current)}, not {_short(original.get('task_definition'))}); roll back the "
            "latest deployment instead, or deploy the image you want",
            running=current,
        )
    described = ecs.describe_task_definition(taskDefinition=previous)["taskDefinition"]
    image = container_image(described, svc.container) or "unknown"
    now = deps.clock()
    why = f" ({reason})" if reason else ""
    record = {
        "id": _new_id(deps),
        "environment": env.name,
        "service": original["service"],
        "image": image,
        "status": "queued",
        "actor": actor,
        "created_at": iso(now),
        "updated_at": iso(now),
        "timeout_seconds": _timeout_for(deps, svc),
        "task_definition": previous,
        "previous_task_definition": None,
        "rollback_of": deployment_id,
        "reason": reason,
        "notify_url": notify_url,
        "events": [
            _event(deps, "queued", f"{actor} asked to roll back {deployment_id} to {previous}{why}")
        ],
    }
    return _admit(deps, record, action="rollback")


def get_deployment(deps: Deps, deployment_id: str) -> dict[str, Any]:
    """A deployment record, or NotFound."""
    record = deps.store.get_deployment(deployment_id)
    if record is None:
        raise NotFound(f"no deployment {deployment_id!r}")
    return record


def describe_service(ecs: Any, cluster: str, service: str) -> dict[str, Any] | None:
    """DescribeServices for one service; None when it does not exist (or is INACTIVE)."""
    resp = ecs.describe_services(cluster=cluster, services=[service])
    services = [s for s in resp.get("services", []) if s.get("status") != "INACTIVE"]
    return services[0] if services else None


def _primary(service: dict[str, Any]) -> dict[str, Any]:
    for deployment in service.get("deployments", []):
        if deployment.get("status") == "PRIMARY":
            return dict(deployment)
    return {}


def _notify(
    deps: Deps,
    record: dict[str, Any],
    title: str,
    text: str,
    level: str,
    *,
    offer_rollback: bool = False,
) -> None:
    facts = [
        ("Deployment", record["id"]),
        ("Service", f"{record['environment']}/{record['service']}"),
        ("Image", record["image"]),
        ("By", record["actor"]),
    ]
    if record.get("reason"):
        facts.append(("Reason", str(record["reason"])))
    buttons = (("Roll back", "rollback", record["id"]),) if offer_rollback else ()
    message = Message(title=title, text=text, level=level, facts=tuple(facts), buttons=buttons)
    deps.notifier.send(message, reply_url=record.get("notify_url"))


def public(record: dict[str, Any]) -> dict[str, Any]:
    """A deployment record as the API shows it (no Slack response_url)."""
    return {k: v for k, v in record.items() if k != "notify_url"}


def start_deploy(deps: Deps, deployment_id: str) -> None:
    """Worker step: register the rendered task definition and update the service."""
    record = deps.store.get_deployment(deployment_id)
    if record is None:
        logger().warning(
            "deploy.start for an unknown deployment; dropped",
            extra={"deployment_id": deployment_id},
        )
        return
    if not deps.store.update_deployment(
        deployment_id,
        expect_status=("queued",),
        status="in_progress",
        updated_at=iso(deps.clock()),
        event=_event(deps, "in_progress", "worker picked it up"),
    ):
        logger().info(
            "deploy.start redelivered; already started", extra={"status": record["status"]}
        )
        return
    try:
        env = deps.policy.environment(record["environment"])
        svc = env.service(record["service"])
    except NotFound as exc:
        _finish(deps, record, "rejected", f"no longer in the ops policy: {exc.message}", "failure")
        return
    ecs = deps.aws("ecs", env)
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        current = describe_service(ecs, env.cluster, record["service"])
        if current is None:
            _finish(
                deps,
                record,
                "failed",
                f"service {record['service']} not found in cluster {env.cluster}",
                "failure",
            )
            return
        previous = current["taskDefinition"]
        target = record.get("task_definition")
        if not record.get("rollback_of"):
            described = ecs.describe_task_definition(taskDefinition=previous, include=["TAGS"])
            rendered = render_task_definition(
                described["taskDefinition"], container=svc.container, image=record["image"]
            )
            if described.get("tags"):
                rendered["tags"] = described["tags"]
            target = ecs.register_task_definition(**rendered)["taskDefinition"]["taskDefinitionArn"]
        updated = ecs.update_service(
            cluster=env.cluster, service=record["service"], taskDefinition=target
        )
    except (ClientError, BotoCoreError) as exc:
        if _transient(exc):
            # Back to queued, and raise: SQS redelivers the message and the start runs again.
            deps.store.update_deployment(
                deployment_id,
                expect_status=("in_progress",),
                status="queued",
                event=_event(deps, "queued", f"transient AWS error, will retry: {exc}"),
            )
            raise
        err = exc.response.get("Error", {}) if isinstance(exc, ClientError) else {}
        detail = f"{err.get('Code')}: {err.get('Message')}" if err else str(exc)
        _finish(deps, record, "failed", f"ECS refused: {detail}", "failure")
        return
    except OpsError as exc:
        _finish(deps, record, "failed", exc.message, "failure")
        return
    primary = _primary(updated["service"])
    ecs_id = primary.get("id", "")
    now = deps.clock()
    if ecs_id:
        deps.store.index_ecs_deployment(ecs_id, deployment_id, role="rollout", now=now)
    deps.store.update_deployment(
        deployment_id,
        task_definition=target,
        previous_task_definition=previous,
        ecs_deployment_id=ecs_id,
        phase="rollout",
        updated_at=iso(now),
        event=_event(
            deps,
            "in_progress",
            f"ECS deployment {ecs_id} started: {_short(previous)} -> {_short(target)}",
        ),
    )
    timeout = int(record["timeout_seconds"])
    deps.queue.send(
        DeployTimeout(
            deployment_id=deployment_id, phase="rollout", deadline=int(now.timestamp()) + timeout
        ),
        delay_seconds=timeout,
    )
    count("DeploymentsStarted", environment=record["environment"], service=record["service"])
    record["task_definition"] = target
    verb = "Rollback" if record.get("rollback_of") else "Deploy"
    _notify(
        deps,
        record,
        f"{verb} started: {record['environment']}/{record['service']}",
        f"Rolling out {record['image']} ({_short(previous)} -> {_short(target)}).",
        "info",
    )
    if primary.get("rolloutState") == "COMPLETED":  # ECS finished before we looked
        on_ecs_deployment_event(
            deps,
            ecs_deployment_id=ecs_id,
            event_name="SERVICE_DEPLOYMENT_COMPLETED",
            reason="completed at once",
        )


_TRANSIENT_CODES = {
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "ServiceUnavailable",
    "ServerException",
    "InternalError",
}


def _transient(exc: Exception) -> bool:
    """Worth retrying: throttling, a 5xx, a connection problem (not a bad request)."""
    from botocore.exceptions import ClientError, ParamValidationError

    if isinstance(exc, ParamValidationError):
        return False
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)
        return code in _TRANSIENT_CODES or status >= 500
    return True


def _short(task_definition_arn: str | None) -> str:
    return (task_definition_arn or "?").rsplit("/", 1)[-1]


def on_ecs_deployment_event(
    deps: Deps, *, ecs_deployment_id: str, event_name: str, reason: str
) -> str:
    """Advance the deployment an ECS deployment state change belongs to; what was done."""
    ref = deps.store.deployment_for_ecs(ecs_deployment_id)
    if ref is None:
        return "ignored: not an opsbot deployment"
    deployment_id, role = ref
    logger().set_correlation_id(deployment_id)
    record = deps.store.get_deployment(deployment_id)
    if record is None or record["status"] != "in_progress":
        return "ignored: deployment not in progress"
    env = deps.policy.environment(record["environment"])
    ecs = deps.aws("ecs", env)
    if event_name == "SERVICE_DEPLOYMENT_IN_PROGRESS":
        deps.store.update_deployment(
            deployment_id, event=_event(deps, "in_progress", f"ECS: {reason}")
        )
        return "noted"
    current = describe_service(ecs, env.cluster, record["service"]) or {}
    running = current.get("taskDefinition")
    if event_name == "SERVICE_DEPLOYMENT_COMPLETED":
        if role == "rollout":
            if running == record["task_definition"]:
                _finish(
                    deps,
                    record,
                    "succeeded",
                    f"steady state: {record['service']} runs {_short(running)}",
                    "success",
                )
                return "succeeded"
            _begin_rollback(
                deps, record, env, ecs, f"ECS completed but the service runs {_short(running)}"
            )
            return "rolling back"
        if running == record["previous_task_definition"]:
            _finish(
                deps,
                record,
                "rolled_back",
                f"rolled back: {record['service']} is steady on {_short(running)} "
                f"({record.get('failure_reason', 'rollout failed')})",
                "failure",
            )
            return "rolled_back"
        _finish(
            deps,
            record,
            "failed",
            f"rollback completed but the service runs {_short(running)}",
            "failure",
        )
        return "failed"
    if event_name == "SERVICE_DEPLOYMENT_FAILED":
        if role == "rollout":
            _begin_rollback(deps, record, env, ecs, f"ECS: {reason}", current=current)
            return "rolling back"
        _finish(
            deps,
            record,
            "failed",
            f"the rollback failed too ({reason}); {record['service']} is on {_short(running)}: "
            "needs a human",
            "failure",
        )
        return "failed"
    return f"ignored: {event_name}"


def _begin_rollback(
    deps: Deps,
    record: dict[str, Any],
    env: Environment,
    ecs: Any,
    reason: str,
    current: dict[str, Any] | None = None,
) -> None:
    """Make sure the service goes back to the previous task definition and track that rollout."""
    previous = record["previous_task_definition"]
    current = current or describe_service(ecs, env.cluster, record["service"]) or {}
    primary = _primary(current)
    if primary.get("taskDefinition") == previous and primary.get("id") != record.get(
        "ecs_deployment_id"
    ):
        rollback = primary
        how = f"the ECS circuit breaker is rolling back to {_short(previous)}"
    else:
        from botocore.exceptions import ClientError

        try:
            resp = ecs.update_service(
                cluster=env.cluster, service=record["service"], taskDefinition=previous
            )
        except ClientError as exc:
            _finish(
                deps, record, "failed", f"{reason}; and the rollback was refused: {exc}", "failure"
            )
            return
        rollback = _primary(resp["service"])
        how = f"opsbot is rolling back to {_short(previous)}"
    now = deps.clock()
    if rollback.get("id"):
        deps.store.index_ecs_deployment(rollback["id"], record["id"], role="rollback", now=now)
    deps.store.update_deployment(
        record["id"],
        phase="rollback",
        failure_reason=reason,
        rollback_ecs_deployment_id=rollback.get("id"),
        updated_at=iso(now),
        event=_event(deps, "in_progress", f"{reason.rstrip('.')}; {how}"),
    )
    timeout = int(record["timeout_seconds"])
    deps.queue.send(
        DeployTimeout(
            deployment_id=record["id"], phase="rollback", deadline=int(now.timestamp()) + timeout
        ),
        delay_seconds=timeout,
    )
    _notify(
        deps,
        record,
        f"Deploy failed, rolling back: {record['environment']}/{record['service']}",
        f"{reason.rstrip('.')}. {how[0].upper()}{how[1:]}.",
        "warning",
    )
    if rollback.get("rolloutState") == "COMPLETED":
        on_ecs_deployment_event(
            deps,
            ecs_deployment_id=rollback["id"],
            event_name="SERVICE_DEPLOYMENT_COMPLETED",
            reason="completed at once",
        )


def on_deploy_timeout(deps: Deps, message: DeployTimeout) -> None:
    """The timeout guard: roll back a rollout that did not finish, give up on a stuck rollback."""
    record = deps.store.get_deployment(message.deployment_id)
    if record is None or record["status"] != "in_progress" or record.get("phase") != message.phase:
        return
    logger().set_correlation_id(record["id"])
    now = int(deps.clock().timestamp())
    if now < message.deadline:  # timeouts beyond SQS's 15-minute delay wait in steps
        deps.queue.send(message, delay_seconds=message.deadline - now)
        return
    env = deps.policy.environment(record["environment"])
    timeout = record["timeout_seconds"]
    if message.phase == "rollout":
        _begin_rollback(deps, record, env, deps.aws("ecs", env), f"not steady after {timeout} s")
    else:
        _finish(
            deps,
            record,
            "failed",
            f"the rollback was not steady after {timeout} s: needs a human",
            "failure",
        )


_TITLES = {
    "succeeded": "Deploy succeeded",
    "rolled_back": "Deploy rolled back",
    "failed": "Deploy FAILED",
    "rejected": "Deploy rejected",
}


def _finish(deps: Deps, record: dict[str, Any], status: str, message: str, level: str) -> None:
    """Terminal state: record, release the lock, audit, notify, count."""
    now = deps.clock()
    if not deps.store.update_deployment(
        record["id"],
        expect_status=ACTIVE,
        status=status,
        updated_at=iso(now),
        finished_at=iso(now),
        event=_event(deps, status, message),
    ):
        return
    deps.store.release_lock(lock_name(record["environment"], record["service"]), record["id"])
    target = f"{record['environment']}/{record['service']}"
    deps.store.audit(
        now=now,
        actor=record["actor"],
        action="rollback" if record.get("rollback_of") else "deploy",
        environment=record["environment"],
        target=target,
        result=status,
        deployment_id=record["id"],
        image=record["image"],
        reason=message,
    )
    metric = {"succeeded": "DeploymentsSucceeded", "rolled_back": "DeploymentsRolledBack"}.get(
        status, "DeploymentsFailed"
    )
    count(metric, environment=record["environment"], service=record["service"])
    original = record.get("rollback_of")
    if original and status == "succeeded":
        deps.store.update_deployment(
            original,
            expect_status=("succeeded", "failed"),
            status="rolled_back",
            updated_at=iso(now),
            event=_event(deps, "rolled_back", f"rolled back by {record['id']} ({record['actor']})"),
        )
    title = _TITLES.get(status, status)
    if original:
        title = {
            "succeeded": "Rollback succeeded",
            "rolled_back": "Rollback FAILED (service back where it was)",
        }.get(status, f"Rollback {status.upper()}")
    offer = status == "succeeded" and not original
    _notify(deps, record, f"{title}: {target}", message, level, offer_rollback=offer)
