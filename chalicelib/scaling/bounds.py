"""The bounds in force and where a count may move within them.

The bounds in force are the tighter of the ops policy's and the target's own: an ECS service's
Application Auto Scaling scalable target, an Auto Scaling group's MinSize/MaxSize.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from chalicelib.aws.ecs import describe_service
from chalicelib.core.errors import NotFound
from chalicelib.records.target import Target

if TYPE_CHECKING:
    from chalicelib.deps import Deps
    from chalicelib.domain.environment import Bounds, Environment


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


@dataclass(frozen=True)
class Plan:
    """What a scaling step would do now: from ``before`` to ``after`` within ``bounds``."""

    target: Target
    before: int
    after: int
    bounds: EffectiveBounds

    @property
    def moves(self) -> bool:
        """Whether the step changes anything (False: the target is at a bound)."""
        return self.after != self.before


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


# DescribeScalableTargets: at most 50 resource ids per call (its MaxResults)
SCALABLE_TARGETS_PAGE = 50


def services_bounds(deps: Deps, env: Environment, names: list[str]) -> dict[str, EffectiveBounds]:
    """``effective_service_bounds`` of several services: one DescribeScalableTargets per 50."""
    aas = deps.aws("application-autoscaling", env)
    own: dict[str, tuple[int, int]] = {}
    for start in range(0, len(names), SCALABLE_TARGETS_PAGE):
        ids = [f"service/{env.cluster}/{n}" for n in names[start : start + SCALABLE_TARGETS_PAGE]]
        resp = aas.describe_scalable_targets(
            ServiceNamespace="ecs",
            ResourceIds=ids,
            ScalableDimension="ecs:service:DesiredCount",
            MaxResults=SCALABLE_TARGETS_PAGE,
        )
        for target in resp.get("ScalableTargets", []):
            name = str(target["ResourceId"]).rsplit("/", 1)[-1]
            own[name] = (target["MinCapacity"], target["MaxCapacity"])
    out = {}
    for name in names:
        lo, hi = own.get(name, (None, None))
        source = "application-autoscaling" if name in own else ""
        out[name] = tighter(env.service(name), lo, hi, source)
    return out


def ecs_current(deps: Deps, env: Environment, service: str) -> tuple[int, EffectiveBounds]:
    """(desired count, bounds) of an ECS service."""
    current = describe_service(deps.aws("ecs", env), env.cluster, service)
    if current is None:
        raise NotFound(f"service {service!r} not found in ECS cluster {env.cluster!r}")
    return current.desired, effective_service_bounds(deps, env, service)


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


def plan_ecs(deps: Deps, env: Environment, service: str, step: int) -> Plan:
    """Where a step of an ECS service's desired count would land now."""
    current, bounds = ecs_current(deps, env, service)
    return Plan(Target.service(env.name, service), current, bounds.step(current, step), bounds)


def plan_asg(deps: Deps, env: Environment, group: str, step: int) -> Plan:
    """Where a step of an Auto Scaling group's desired capacity would land now."""
    current, bounds = asg_current(deps, env, group)
    return Plan(Target.group(env.name, group), current, bounds.step(current, step), bounds)
