"""What a service runs now: ECS's view, its effective bounds, the deploy holding it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib import deploys, scaling
from chalicelib.aws.ecs import EcsService
from chalicelib.core.errors import NotFound
from chalicelib.domain.policy import Permission
from chalicelib.records.target import Target

if TYPE_CHECKING:
    from chalicelib.deps import Deps
    from chalicelib.domain.policy import Environment
    from chalicelib.scaling import EffectiveBounds


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


# DescribeServices takes at most 10 services per call.
DESCRIBE_SERVICES_PAGE = 10
_MAX_IMAGES = 4096  # task definition images remembered (deps.memo)


def service_status(deps: Deps, *, actor: str, environment: str, service: str) -> ServiceStatus:
    """What ECS reports for a service, its effective bounds and the deploy in flight, if any."""
    env = deps.policy.resolve(actor, environment, Permission.READ, service)
    (status,) = services_status(deps, actor=actor, env=env, names=[service])
    return status


def services_status(
    deps: Deps, *, actor: str, env: Environment, names: list[str]
) -> list[ServiceStatus]:
    """``service_status`` of several services of one environment (the caller checked ``read``):
    DescribeServices 10 at a time, the bounds in one call per 50, each task definition described
    once per process (a revision never changes). NotFound when one is not in ECS."""
    deps = deps.acting_for(actor)
    ecs = deps.aws("ecs", env)
    described: dict[str, EcsService] = {}
    for start in range(0, len(names), DESCRIBE_SERVICES_PAGE):
        batch = names[start : start + DESCRIBE_SERVICES_PAGE]
        for found in ecs.describe_services(cluster=env.cluster, services=batch).get("services", []):
            if found.get("status") != "INACTIVE":
                described[str(found.get("serviceName"))] = EcsService(found)
    missing = [n for n in names if n not in described]
    if missing:
        raise NotFound(
            f"service {missing[0]!r} is in the ops policy but not in ECS cluster {env.cluster!r}"
        )
    bounds = scaling.services_bounds(deps, env, names)
    images = {name: _image(deps, ecs, env, name, described) for name in names}
    locks = {Target.service(env.name, n).lock: n for n in names}
    busy = {locks[lock]: h.owner for lock, h in deps.store.lock_holders(list(locks)).items()}
    return [_status(env, n, described[n], bounds[n], images[n], busy.get(n)) for n in names]


def _image(
    deps: Deps, ecs: Any, env: Environment, name: str, described: dict[str, EcsService]
) -> str | None:
    """The service's container image, from its task definition (a revision's never changes:
    described once per ``deps``)."""
    arn = described[name].task_definition or ""
    container = env.service(name).container
    images = deps.memo.setdefault("task-definition-images", {})
    key = (arn, container)
    if key not in images:
        task_def = ecs.describe_task_definition(taskDefinition=arn)
        if len(images) >= _MAX_IMAGES:
            images.pop(next(iter(images)))
        images[key] = deploys.container_image(dict(task_def["taskDefinition"]), container)
    image: str | None = images[key]
    return image


def _status(
    env: Environment,
    service: str,
    current: EcsService,
    bounds: EffectiveBounds,
    image: str | None,
    busy_with: str | None,
) -> ServiceStatus:
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
        image=image,
        container=env.service(service).container,
        deployments=[Rollout.from_ecs(d) for d in current.deployments],
        busy_with=busy_with,
    )
