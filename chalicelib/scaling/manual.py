"""A person setting a service's desired count: inside the bounds, never during a deploy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn

from chalicelib.aws.notifier import Message
from chalicelib.core.errors import Conflict, InvalidRequest
from chalicelib.domain.actions import Outcome
from chalicelib.domain.freeze import ensure_not_frozen
from chalicelib.domain.policy import Permission
from chalicelib.records.status import ActionResult
from chalicelib.records.target import Target
from chalicelib.scaling.bounds import EffectiveBounds, Plan
from chalicelib.scaling.procedure import scale_ecs_service

if TYPE_CHECKING:
    from chalicelib.deps import Deps


@dataclass(frozen=True)
class ManualScale:
    """What a scale request did: ``changed`` from ``previous`` to ``desired``, or nothing."""

    target: Target
    result: ActionResult  # SCALED, or AT_BOUND when the service already wanted that count
    previous: int | None
    desired: int
    bounds: EffectiveBounds

    @property
    def changed(self) -> bool:
        """Whether the desired count was changed."""
        return self.result == ActionResult.SCALED


def manual_scale(
    deps: Deps, *, actor: str, environment: str, service: str, desired: int, reason: str | None
) -> ManualScale:
    """Set a service's desired count on request: inside the bounds, never during a deploy.

    One read per decision: the count and bounds are read once, after the service's lock is
    tried, and both the bounds check and the change use that read. A request outside the
    bounds is refused (400) even while a deploy holds the service: it would fail after the
    deploy too, so the on-call engineer learns that first, not "busy, try later" (409)."""
    env = deps.policy.resolve(actor, environment, Permission.SCALE, service)
    target = Target.service(env.name, service)
    ensure_not_frozen(
        deps.store, env.name, doing="scaling", audit_as=(actor, "scale", target.label, deps.clock())
    )
    deps = deps.acting_for(actor)
    planned: list[Plan] = []

    def within_bounds(plan: Plan) -> Outcome | None:
        planned.append(plan)
        bounds = plan.bounds
        if bounds.min <= desired <= bounds.max:
            return None
        return Outcome(ActionResult.REJECTED, f"outside {bounds.min}..{bounds.max}")

    outcome = scale_ecs_service(
        deps,
        env,
        service,
        desired=desired,
        actor=actor,
        why=reason or "manual",
        decide=within_bounds,
    )
    bounds = planned[0].bounds
    if outcome.result == ActionResult.REJECTED:
        _refuse(deps, actor, env.name, target, desired, bounds)
    if outcome.result == ActionResult.BUSY:
        deps.store.audit(
            now=deps.clock(),
            actor=actor,
            action="scale",
            environment=env.name,
            target=target.label,
            result=ActionResult.CONFLICT,
            reason=f"held by {deps.store.describe_holder(outcome.holder or '?')}",
            holder=outcome.holder,
        )
        raise Conflict(f"{outcome.message}; scale it when that has finished", holder=outcome.holder)
    if outcome.result == ActionResult.SCALED:
        deps.notifier.send(
            Message(
                title=f"Scaled {target.label}: {outcome.before} -> {outcome.after}",
                text="",
                facts=(
                    ("Asked by", actor),
                    ("Bounds", f"{bounds.min}..{bounds.max} ({bounds.source})"),
                    *((("Reason", reason),) if reason else ()),
                ),
            )
        )
    return ManualScale(target, outcome.result, outcome.before, desired, bounds)


def _refuse(
    deps: Deps, actor: str, environment: str, target: Target, desired: int, bounds: EffectiveBounds
) -> NoReturn:
    """Audit and answer a count outside the bounds (400 naming them)."""
    asked = str(desired) if len(str(desired)) <= 20 else f"{str(desired)[:20]}..."
    deps.store.audit(
        now=deps.clock(),
        actor=actor,
        action="scale",
        environment=environment,
        target=target.label,
        result=ActionResult.REJECTED,
        reason=f"{asked} outside {bounds.min}..{bounds.max}",
    )
    raise InvalidRequest(
        f"desired {asked} is outside the bounds of {target.label}: "
        f"min {bounds.min}, max {bounds.max}",
        fields={"desired": f"must be between {bounds.min} and {bounds.max}"},
        min=bounds.min,
        max=bounds.max,
        bounds_from=bounds.source,
    )
