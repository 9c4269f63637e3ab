"""Read-only views: health, service status, audit."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.core.errors import InvalidRequest, NotFound
from chalicelib.domain.policy import Permission

if TYPE_CHECKING:
    from chalicelib.deps import Deps

MAX_AUDIT = 500


def health(deps: Deps) -> tuple[dict[str, Any], bool]:
    """Check each dependency once; (body, healthy)."""
    checks: dict[str, str] = {}
    for name, probe in (("dynamodb", deps.store.ping), ("sqs", deps.queue.ping)):
        try:
            probe()
            checks[name] = "ok"
        except Exception as exc:
            checks[name] = f"unreachable: {type(exc).__name__}: {exc}"
    failing = sorted(k for k, v in checks.items() if v != "ok")
    body: dict[str, Any] = {
        "status": "ok" if not failing else "degraded",
        "stage": deps.settings.stage,
        "environments": sorted(deps.policy.environments),
        "checks": checks,
    }
    if failing:
        body["error"] = {
            "code": "dependency_unavailable",
            "message": f"unreachable: {', '.join(failing)}",
            "dependencies": failing,
        }
    return body, not failing


def service_status(deps: Deps, *, actor: str, environment: str, service: str) -> dict[str, Any]:
    """What ECS reports for a service, its effective bounds and the deploy in flight, if any."""
    from chalicelib import deploys, scaling
    from chalicelib.aws.ecs import describe_service
    from chalicelib.records.target import Target

    env = deps.policy.environment(environment)
    svc = env.service(service)
    deps.policy.require(actor, env.name, Permission.READ)
    ecs = deps.aws("ecs", env)
    current = describe_service(ecs, env.cluster, service)
    if current is None:
        raise NotFound(
            f"service {service!r} is in the ops policy but not in ECS cluster {env.cluster!r}"
        )
    task_def = ecs.describe_task_definition(taskDefinition=current["taskDefinition"])[
        "taskDefinition"
    ]
    bounds = scaling.effective_service_bounds(deps, env, service)
    holder = deps.store.lock_holder(Target.service(env.name, service).lock)
    return {
        "environment": env.name,
        "service": service,
        "cluster": env.cluster,
        "status": current.get("status"),
        "desired": current.get("desiredCount"),
        "running": current.get("runningCount"),
        "pending": current.get("pendingCount"),
        "min": bounds.min,
        "max": bounds.max,
        "bounds_from": bounds.source,
        "task_definition": current.get("taskDefinition"),
        "image": deploys.container_image(task_def, svc.container),
        "container": svc.container,
        "deployments": [
            {
                "id": d.get("id"),
                "status": d.get("status"),
                "rollout_state": d.get("rolloutState"),
                "task_definition": d.get("taskDefinition"),
                "desired": d.get("desiredCount"),
                "running": d.get("runningCount"),
            }
            for d in current.get("deployments", [])
        ],
        "busy_with": holder[0] if holder else None,
    }


def audit(
    deps: Deps, *, actor: str, environment: str | None, service: str | None, limit: str | None
) -> list[dict[str, Any]]:
    """Newest-first audit entries the actor may read."""
    try:
        count = 50 if limit in (None, "") else int(limit)
    except ValueError:
        raise InvalidRequest(
            "limit must be a whole number", fields={"limit": "not a number"}
        ) from None
    if not 1 <= count <= MAX_AUDIT:
        raise InvalidRequest(
            f"limit must be 1..{MAX_AUDIT}", fields={"limit": f"outside 1..{MAX_AUDIT}"}
        )
    if environment:
        env = deps.policy.environment(environment)
        deps.policy.require(actor, env.name, Permission.READ)
        names = [env.name]
    else:
        names = [
            n
            for n in deps.policy.environments
            if Permission.READ in deps.policy.permissions(actor, n)
        ]
    if service and ":" not in service and "." not in service:  # budget:x and domains pass
        known = {
            target
            for name in names
            for target in (
                *deps.policy.environments[name].services,
                *deps.policy.environments[name].autoscaling_groups,
            )
        }
        if service not in known:
            raise NotFound(f"unknown service {service!r}", known=sorted(known))
    items: list[dict[str, Any]] = []
    for name in names:
        items.extend(deps.store.audit_entries(environment=name, service=service, limit=count))
    items.sort(key=lambda e: e["at"], reverse=True)
    return items[:count]
