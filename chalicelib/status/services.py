"""What a service runs now: ECS's view, its effective bounds, the deploy holding it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib import deploys, scaling
from chalicelib.aws.ecs import describe_service
from chalicelib.core.errors import NotFound
from chalicelib.domain.policy import Permission
from chalicelib.records.target import Target

if TYPE_CHECKING:
    from chalicelib.deps import Deps


@dataclass(frozen=True)
class Rollout:
    """One ECS deployment of the service (PRIMARY first, as ECS lists them)."""

    id: str | None
    status: str | None
    rollout_state: str | None
    task_definition: str | None
    desired: int | None
    running: int | None

    @classmethod
    def from_ecs(cls, deployment: dict[str, Any]) -> Rollout:
        """From one element of DescribeServices' ``deployments``."""
        return cls(
            id=deployment.get("id"),
            status=deployment.get("status"),
            rollout_state=deployment.get("rolloutState"),
            task_definition=deployment.get("taskDefinition"),
            desired=deployment.get("desiredCount"),
            running=deployment.get("runningCount"),
        )


@dataclass(frozen=True)
class ServiceStatus:
    """A service as ECS reports it, with its bounds and the holder of its lock, if any."""

    environment: str
    service: str
    cluster: str
    status: str | None
    desired: int | None
    running: int | None
    pending: int | None
    min: int
    max: int
    bounds_from: str
    task_definition: str | None
    image: str | None
    container: str
    deployments: list[Rollout]
    busy_with: str | None


def service_status(deps: Deps, *, actor: str, environment: str, service: str) -> ServiceStatus:
    """What ECS reports for a service, its effective bounds and the deploy in flight, if any."""
    env = deps.policy.resolve(actor, environment, Permission.READ, service)
    svc = env.service(service)
    deps = deps.acting_for(actor)
    ecs = deps.aws("ecs", env)
    current = describe_service(ecs, env.cluster, service)
    if current is None:
        raise NotFound(
            f"service {service!r} is in the ops policy but not in ECS cluster {env.cluster!r}"
        )
    task_def = ecs.describe_task_definition(taskDefinition=current["taskDefinition"])
    bounds = scaling.effective_service_bounds(deps, env, service)
    holder = deps.store.lock_holder(Target.service(env.name, service).lock)
    return ServiceStatus(
        environment=env.name,
        service=service,
        cluster=env.cluster,
        status=current.get("status"),
        desired=current.get("desiredCount"),
        running=current.get("runningCount"),
        pending=current.get("pendingCount"),
        min=bounds.min,
        max=bounds.max,
        bounds_from=bounds.source,
        task_definition=current.task_definition,
        image=deploys.container_image(dict(task_def["taskDefinition"]), svc.container),
        container=svc.container,
        deployments=[Rollout.from_ecs(d) for d in current.deployments],
        busy_with=holder[0] if holder else None,
    )
