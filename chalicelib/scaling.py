"""Scaling ECS services and Auto Scaling groups, always inside their bounds.

The bounds in force are the tighter of the ops policy's and the target's own: an ECS service's
Application Auto Scaling scalable target, an Auto Scaling group's MinSize/MaxSize.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib.errors import Conflict, InvalidRequest, NotFound
from chalicelib.policy import Bounds, Environment, Permission, Service

if TYPE_CHECKING:
    from chalicelib.runtime import Deps


@dataclass(frozen=True)
class EffectiveBounds:
    """The bounds in force and where they come from."""

    min: int
    max: int
    source: str

    def clamp(self, desired: int) -> int:
        """``desired`` moved inside the bounds."""
        return max(self.min, min(self.max, desired))


def tighter(
    policy: Bounds, own_min: int | None, own_max: int | None, own_name: str
) -> EffectiveBounds:
    """The tighter of the policy's bounds and a target's own."""
    lo, hi, sources = policy.min, policy.max, ["policy"]
    if own_min is not None and own_min > lo:
        lo = own_min
    if own_max is not None and own_max < hi:
        hi = own_max
    if own_min is not None or own_max is not None:
        sources.append(own_name)
    if lo > hi:  # disjoint: refuse to move at all rather than pick a side
        hi = lo
    return EffectiveBounds(lo, hi, " + ".join(sources))


def effective_service_bounds(
    deps: Deps, env: Environment, name: str, svc: Service
) -> EffectiveBounds:
    """Policy bounds tightened by the service's Application Auto Scaling target, if any."""
    aas = deps.aws("application-autoscaling", env)
    resp = aas.describe_scalable_targets(
        ServiceNamespace="ecs",
        ResourceIds=[f"service/{env.cluster}/{name}"],
        ScalableDimension="ecs:service:DesiredCount",
    )
    targets = resp.get("ScalableTargets", [])
    if not targets:
        return tighter(svc, None, None, "")
    return tighter(
        svc, targets[0]["MinCapacity"], targets[0]["MaxCapacity"], "application-autoscaling"
    )


def manual_scale(
    deps: Deps, *, actor: str, environment: str, service: str, desired: int, reason: str | None
) -> dict[str, Any]:
    """Set a service's desired count on request: inside the bounds, never during a deploy."""
    from chalicelib.deploys import lock_name

    env = deps.policy.environment(environment)
    svc = env.service(service)
    deps.policy.require(actor, env.name, Permission.SCALE)
    bounds = effective_service_bounds(deps, env, service, svc)
    target = f"{env.name}/{service}"
    now = deps.clock()
    if not bounds.min <= desired <= bounds.max:
        deps.store.audit(
            now=now,
            actor=actor,
            action="scale",
            environment=env.name,
            target=target,
            result="rejected",
            reason=f"{desired} outside {bounds.min}..{bounds.max}",
        )
        raise InvalidRequest(
            f"desired {desired} is outside the bounds of {target}: "
            f"min {bounds.min}, max {bounds.max}",
            fields={"desired": f"must be between {bounds.min} and {bounds.max}"},
            min=bounds.min,
            max=bounds.max,
            bounds_from=bounds.source,
        )
    owner = f"scale:{actor}:{now.timestamp():.0f}"
    lock = deps.store.acquire_lock(lock_name(env.name, service), owner, lease_seconds=60, now=now)
    if not lock.acquired:
        raise Conflict(
            f"{target} is busy with {lock.holder}; scale it when that has finished",
            holder=lock.holder,
        )
    try:
        ecs = deps.aws("ecs", env)
        described = ecs.describe_services(cluster=env.cluster, services=[service]).get(
            "services", []
        )
        if not described:
            raise NotFound(f"service {service!r} not found in ECS cluster {env.cluster!r}")
        before = int(described[0]["desiredCount"])
        if before != desired:
            ecs.update_service(cluster=env.cluster, service=service, desiredCount=desired)
    finally:
        deps.store.release_lock(lock_name(env.name, service), owner)
    result = "scaled" if before != desired else "unchanged"
    deps.store.audit(
        now=now,
        actor=actor,
        action="scale",
        environment=env.name,
        target=target,
        result=result,
        before=before,
        after=desired,
        reason=reason,
    )
    from chalicelib.notifications import Message

    if before != desired:
        why = f" Reason: {reason}." if reason else ""
        deps.notifier.send(
            Message(
                title=f"Scaled {target}: {before} -> {desired}",
                text=f"{actor} set the desired count of {target} to {desired} (was {before}).{why}",
                facts=(("Bounds", f"{bounds.min}..{bounds.max} ({bounds.source})"),),
            )
        )
    return {
        "environment": env.name,
        "service": service,
        "result": result,
        "previous_desired": before,
        "desired": desired,
        "min": bounds.min,
        "max": bounds.max,
    }
