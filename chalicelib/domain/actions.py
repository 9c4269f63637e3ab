"""Alarm remediation actions: small registered classes, looked up by name when the policy loads.

Each action declares its parameters (a pydantic model, validated at policy load) and the IAM
permissions it needs. An unknown name or a bad parameter fails at load, listing the valid names,
never at 3 a.m. when the alarm fires.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

if TYPE_CHECKING:
    from chalicelib.deps import Deps
    from chalicelib.domain.policy import Environment
    from chalicelib.scaling import EffectiveBounds

REGISTRY: dict[str, type[Action]] = {}


def register(name: str) -> Any:
    """Class decorator: make an action available to the policy under ``name``."""

    def wrap(cls: type[Action]) -> type[Action]:
        cls.name = name
        REGISTRY[name] = cls
        return cls

    return wrap


def valid_names() -> str:
    """The registered action names, for error messages."""
    return ", ".join(sorted(REGISTRY))


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class Plan:
    """What a scaling action would do now: from ``before`` to ``after`` within ``bounds``."""

    target: str
    before: int
    after: int
    bounds: EffectiveBounds


@dataclass(frozen=True)
class Outcome:
    """What an action did (or why it did nothing)."""

    result: str  # scaled | at_bound | cooldown | held | busy | forced | notified | failed
    message: str
    before: int | None = None
    after: int | None = None
    holder: str | None = None  # with "busy": who holds the target's lock


class Action:
    """Base class of the registered actions."""

    name: ClassVar[str] = ""
    permissions: ClassVar[tuple[str, ...]] = ()
    Params: ClassVar[type[BaseModel]] = _Params

    def __init__(self, params: BaseModel) -> None:
        self.params = params

    @classmethod
    def parse(cls, name: str, params: dict[str, Any]) -> Action:
        """Build an action from its policy name and parameters; ValueError says what is wrong."""
        action_cls = REGISTRY.get(name)
        if action_cls is None:
            raise ValueError(f"unknown action {name!r}; valid actions: {valid_names()}")
        try:
            return action_cls(action_cls.Params.model_validate(params))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or name}: {e['msg']}" for e in exc.errors()
            )
            raise ValueError(f"bad parameters for {name}: {problems}") from None

    def check(self, env: Environment) -> None:
        """Raise ValueError if the action names something the environment does not have."""

    def target(self) -> str:
        """What the action acts on (the cooldown and lock key)."""
        return "-"

    def direction(self) -> str:
        """'out', 'in' or 'none'."""
        return "none"

    def describe(self) -> str:
        """A short human description."""
        return self.name

    def plan(self, deps: Deps, env: Environment) -> Plan | None:
        """For scaling actions: what it would do now."""
        return None

    def apply(self, deps: Deps, env: Environment, *, actor: str, why: str) -> Outcome:
        """Do it (scaling actions re-read the count under the target's lock)."""
        raise NotImplementedError


class _ScaleParams(_Params):
    step: Annotated[int, Field(ge=-100, le=100)]

    @field_validator("step")
    @classmethod
    def _nonzero(cls, step: int) -> int:
        if step == 0:
            raise ValueError("step must not be 0 (positive scales out, negative scales in)")
        return step


class ScaleEcsParams(_ScaleParams):
    """``scale_ecs_service``: which service, and by how many tasks."""

    service: Annotated[str, Field(min_length=1)]


class ScaleAsgParams(_ScaleParams):
    """``scale_asg``: which Auto Scaling group, and by how many instances."""

    group: Annotated[str, Field(min_length=1)]


class ServiceParams(_Params):
    """An action on one ECS service."""

    service: Annotated[str, Field(min_length=1)]


class NotifyParams(_Params):
    """``notify_only``: an optional note added to the notification."""

    note: str | None = None


class _Scale(Action):
    params: _ScaleParams

    @property
    def step(self) -> int:
        return self.params.step

    def direction(self) -> str:
        return "out" if self.step > 0 else "in"

    def describe(self) -> str:
        verb = "out" if self.step > 0 else "in"
        return f"scale {self.target().split(':', 1)[1]} {verb} by {abs(self.step)}"


@register("scale_ecs_service")
class ScaleEcsService(_Scale):
    """Change an ECS service's desired count by ``step``, inside its bounds."""

    permissions = (
        "ecs:DescribeServices",
        "ecs:UpdateService",
        "application-autoscaling:DescribeScalableTargets",
    )
    Params = ScaleEcsParams
    params: ScaleEcsParams

    def check(self, env: Environment) -> None:
        if self.params.service not in env.services:
            _missing("service", self.params.service, env)

    def target(self) -> str:
        return f"ecs:{self.params.service}"

    def plan(self, deps: Deps, env: Environment) -> Plan:
        from chalicelib import scaling

        current, bounds = scaling.ecs_current(deps, env, self.params.service)
        return Plan(self.target(), current, bounds.step(current, self.step), bounds)

    def apply(self, deps: Deps, env: Environment, *, actor: str, why: str) -> Outcome:
        from chalicelib import scaling

        return scaling.scale_ecs_service(
            deps, env, self.params.service, step=self.step, actor=actor, why=why
        )


@register("scale_asg")
class ScaleAsg(_Scale):
    """Change an Auto Scaling group's desired capacity by ``step``, inside its bounds."""

    permissions = ("autoscaling:DescribeAutoScalingGroups", "autoscaling:SetDesiredCapacity")
    Params = ScaleAsgParams
    params: ScaleAsgParams

    def check(self, env: Environment) -> None:
        if self.params.group not in env.autoscaling_groups:
            _missing("autoscaling group", self.params.group, env)

    def target(self) -> str:
        return f"asg:{self.params.group}"

    def plan(self, deps: Deps, env: Environment) -> Plan:
        from chalicelib import scaling

        current, bounds = scaling.asg_current(deps, env, self.params.group)
        return Plan(self.target(), current, bounds.step(current, self.step), bounds)

    def apply(self, deps: Deps, env: Environment, *, actor: str, why: str) -> Outcome:
        from chalicelib import scaling

        return scaling.scale_asg(deps, env, self.params.group, step=self.step, actor=actor, why=why)


@register("force_new_deployment")
class ForceNewDeployment(Action):
    """Replace every task of an ECS service with a fresh one (same task definition)."""

    permissions = ("ecs:UpdateService",)
    Params = ServiceParams
    params: ServiceParams

    def check(self, env: Environment) -> None:
        if self.params.service not in env.services:
            _missing("service", self.params.service, env)

    def target(self) -> str:
        return f"ecs:{self.params.service}"

    def describe(self) -> str:
        return f"force a new deployment of {self.params.service}"

    def apply(self, deps: Deps, env: Environment, *, actor: str, why: str) -> Outcome:
        from chalicelib import scaling

        return scaling.force_new_deployment(deps, env, self.params.service, actor=actor, why=why)


@register("notify_only")
class NotifyOnly(Action):
    """Do nothing but tell people."""

    Params = NotifyParams
    params: NotifyParams

    def describe(self) -> str:
        return "notify only"

    def apply(self, deps: Deps, env: Environment, *, actor: str, why: str) -> Outcome:
        note = self.params.note
        return Outcome("notified", note or "no action configured: notification only")


def _missing(kind: str, name: str, env: Environment) -> None:
    raise ValueError(f"{kind} {name!r} is not in environment {env.name!r}")
