"""Scaling ECS services and Auto Scaling groups, always inside their bounds.

The bounds in force are the tighter of the ops policy's and the target's own: an ECS service's
Application Auto Scaling scalable target, an Auto Scaling group's MinSize/MaxSize. Every change
takes the target's lock (the same per-service lock deploys hold), so nothing scales a service in
the middle of its rollout.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib.aws.notifier import Message
from chalicelib.core.errors import Conflict, InvalidRequest, NotFound
from chalicelib.domain.actions import Outcome
from chalicelib.domain.policy import Bounds, Environment, Permission

if TYPE_CHECKING:
    from chalicelib.deps import Deps

LOCK_LEASE_SECONDS = 60


@dataclass(frozen=True)
class EffectiveBounds:
    """The bounds in force and where they come from."""

    min: int
    max: int
    source: str

    def clamp(self, desired: int) -> int:
        """``desired`` moved inside the bounds."""
        return max(self.min, min(self.max, desired))

    def step(self, current: int, step: int) -> int:
        """Where ``current`` moves by ``step`` without crossing a bound, and never backwards.

        A count already outside the bounds stays where it is: a scale-out never lowers it and
        a scale-in never raises it.
        """
        if self.min > self.max:  # disjoint bounds: no count satisfies both, nothing moves
            return current
        if step > 0:
            return max(current, min(self.max, current + step))
        return min(current, max(self.min, current + step))


def tighter(
    policy: Bounds, own_min: int | None, own_max: int | None, own_name: str
) -> EffectiveBounds:
    """The tighter of the policy's bounds and a target's own (named where they tighten).

    Disjoint ranges give min > max: no count satisfies both, so nothing will move.
    """
    lo, hi, sources = policy.min, policy.max, ["policy"]
    tightened = False
    if own_min is not None and own_min > lo:
        lo, tightened = own_min, True
    if own_max is not None and own_max < hi:
        hi, tightened = own_max, True
    if tightened:
        sources.append(own_name)
    return EffectiveBounds(lo, hi, " + ".join(sources))


def asg_lock_name(environment: str, group: str) -> str:
    """The per-group lock shared by every change to an Auto Scaling group."""
    return f"asg#{environment}#{group}"


def effective_service_bounds(deps: Deps, env: Environment, name: str) -> EffectiveBounds:
    """Policy bounds tightened by the service's Application Auto Scaling target, if any."""
    svc = env.service(name)
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


def ecs_current(deps: Deps, env: Environment, service: str) -> tuple[int, EffectiveBounds]:
    """(desired count, bounds) of an ECS service."""
    from chalicelib.aws.ecs import describe_service

    current = describe_service(deps.aws("ecs", env), env.cluster, service)
    if current is None:
        raise NotFound(f"service {service!r} not found in ECS cluster {env.cluster!r}")
    return int(current["desiredCount"]), effective_service_bounds(deps, env, service)


def asg_current(deps: Deps, env: Environment, group: str) -> tuple[int, EffectiveBounds]:
    """(desired capacity, bounds) of an Auto Scaling group."""
    policy_bounds = env.autoscaling_groups.get(group)
    if policy_bounds is None:
        raise NotFound(f"unknown autoscaling group {group!r} in environment {env.name!r}")
    asg = deps.aws("autoscaling", env)
    groups = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[group]).get(
        "AutoScalingGroups", []
    )
    if not groups:
        raise NotFound(f"autoscaling group {group!r} not found in account {env.account}")
    found = groups[0]
    bounds = tighter(policy_bounds, found["MinSize"], found["MaxSize"], "auto-scaling-group")
    return int(found["DesiredCapacity"]), bounds


def _locked(deps: Deps, name: str, actor: str) -> tuple[str, str | None]:
    owner = f"scale:{actor}:{uuid.uuid4().hex[:8]}"
    lock = deps.store.acquire_lock(name, owner, lease_seconds=LOCK_LEASE_SECONDS, now=deps.clock())
    return owner, None if lock.acquired else lock.holder


def _scale_locked(
    deps: Deps,
    env: Environment,
    *,
    lock: str,
    target: str,
    what: str,
    current: Callable[[], tuple[int, EffectiveBounds]],
    apply: Callable[[int], None],
    actor: str,
    why: str,
    step: int | None,
    desired: int | None,
) -> Outcome:
    """The one scaling procedure: lock, read, bound, apply, audit."""
    owner, holder = _locked(deps, lock, actor)
    if holder is not None:
        return Outcome("busy", f"{target} is busy with {holder}", holder=holder)
    try:
        before, bounds = current()
        after = bounds.step(before, step) if step is not None else int(desired or 0)
        limits = f"bounds {bounds.min}..{bounds.max} from {bounds.source}"
        if step is None and not bounds.min <= after <= bounds.max:  # bounds moved meanwhile
            return Outcome(
                "at_bound", f"{after} is outside the {limits}; nothing changed", before, before
            )
        if after == before:
            where = "max" if step and step > 0 else "min" if step else "requested count"
            return Outcome(
                "at_bound",
                f"already at its {where} ({before}; {limits}); nothing changed",
                before,
                before,
            )
        apply(after)
    finally:
        deps.store.release_lock(lock, owner)
    deps.store.audit(
        now=deps.clock(),
        actor=actor,
        action="scale",
        environment=env.name,
        target=target,
        result="scaled",
        before=before,
        after=after,
        reason=why,
    )
    return Outcome(
        "scaled", f"{what} {before} -> {after} (bounds {bounds.min}..{bounds.max})", before, after
    )


def scale_ecs_service(
    deps: Deps,
    env: Environment,
    service: str,
    *,
    actor: str,
    why: str,
    step: int | None = None,
    desired: int | None = None,
) -> Outcome:
    """Change a service's desired count (by ``step`` or to ``desired``) under its lock."""
    from chalicelib.records.target import Target

    def apply(count: int) -> None:
        deps.aws("ecs", env).update_service(
            cluster=env.cluster, service=service, desiredCount=count
        )

    return _scale_locked(
        deps,
        env,
        lock=Target.service(env.name, service).lock,
        target=f"{env.name}/{service}",
        what="desired count",
        current=lambda: ecs_current(deps, env, service),
        apply=apply,
        actor=actor,
        why=why,
        step=step,
        desired=desired,
    )


def scale_asg(
    deps: Deps, env: Environment, group: str, *, step: int, actor: str, why: str
) -> Outcome:
    """Change an Auto Scaling group's desired capacity by ``step`` under its lock."""

    def apply(count: int) -> None:
        deps.aws("autoscaling", env).set_desired_capacity(
            AutoScalingGroupName=group, DesiredCapacity=count, HonorCooldown=False
        )

    return _scale_locked(
        deps,
        env,
        lock=asg_lock_name(env.name, group),
        target=f"{env.name}/{group}",
        what="desired capacity",
        current=lambda: asg_current(deps, env, group),
        apply=apply,
        actor=actor,
        why=why,
        step=step,
        desired=None,
    )


def force_new_deployment(
    deps: Deps, env: Environment, service: str, *, actor: str, why: str
) -> Outcome:
    """Replace a service's tasks (same task definition), unless a deploy holds its lock."""
    from chalicelib.records.target import Target

    name = Target.service(env.name, service).lock
    owner, holder = _locked(deps, name, actor)
    if holder is not None:
        return Outcome("busy", f"{env.name}/{service} is busy with {holder}")
    try:
        deps.aws("ecs", env).update_service(
            cluster=env.cluster, service=service, forceNewDeployment=True
        )
    finally:
        deps.store.release_lock(name, owner)
    deps.store.audit(
        now=deps.clock(),
        actor=actor,
        action="force_new_deployment",
        environment=env.name,
        target=f"{env.name}/{service}",
        result="forced",
        reason=why,
    )
    return Outcome(
        "forced", f"started a new deployment of {service} (fresh tasks, same task definition)"
    )


def manual_scale(
    deps: Deps, *, actor: str, environment: str, service: str, desired: int, reason: str | None
) -> dict[str, Any]:
    """Set a service's desired count on request: inside the bounds, never during a deploy."""
    env = deps.policy.environment(environment)
    env.service(service)
    deps.policy.require(actor, env.name, Permission.SCALE)
    target = f"{env.name}/{service}"
    bounds = effective_service_bounds(deps, env, service)
    if not bounds.min <= desired <= bounds.max:
        deps.store.audit(
            now=deps.clock(),
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
    outcome = scale_ecs_service(
        deps, env, service, desired=desired, actor=actor, why=reason or "manual"
    )
    if outcome.result == "busy":
        deps.store.audit(
            now=deps.clock(),
            actor=actor,
            action="scale",
            environment=env.name,
            target=target,
            result="conflict",
            reason=f"held by {outcome.holder}",
        )
        raise Conflict(f"{outcome.message}; scale it when that has finished", holder=outcome.holder)
    if outcome.result == "scaled":
        why = f" Reason: {reason}." if reason else ""
        deps.notifier.send(
            Message(
                title=f"Scaled {target}: {outcome.before} -> {outcome.after}",
                text=f"{actor} set the desired count of {target} to {desired} "
                f"(was {outcome.before}).{why}",
                facts=(("Bounds", f"{bounds.min}..{bounds.max} ({bounds.source})"),),
            )
        )
    return {
        "environment": env.name,
        "service": service,
        "result": "scaled" if outcome.result == "scaled" else "unchanged",
        "previous_desired": outcome.before,
        "desired": desired,
        "min": bounds.min,
        "max": bounds.max,
    }
