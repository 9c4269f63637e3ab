"""Alarm remediation actions: small registered classes, looked up by name when the policy loads.

Each action declares its parameters (a pydantic model, validated at policy load), the IAM
permissions it needs, what it acts on and in which direction. An unknown name or a bad parameter
fails at load, listing the valid names, never at 3 a.m. when the alarm fires.

This module only describes actions; running them is the capability layer's job
(``chalicelib.alarms.execute`` holds one executor per registered action).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from chalicelib.records.status import ActionResult
from chalicelib.records.target import Target

REGISTRY: dict[str, type[Action]] = {}

Direction = Literal["out", "in", "none"]


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


class Place(Protocol):
    """What an action checks its parameters against: an environment of the policy."""

    @property
    def name(self) -> str: ...
    @property
    def services(self) -> Mapping[str, object]: ...
    @property
    def autoscaling_groups(self) -> Mapping[str, object]: ...


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


@dataclass(frozen=True)
class Outcome:
    """What an action did (or why it did nothing)."""

    result: ActionResult
    message: str
    before: int | None = None
    after: int | None = None
    holder: str | None = None  # with BUSY: who holds the target's lock
    bounds: str | None = None  # the bounds it was held to: ``1..6 (policy)``


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

    def check(self, env: Place) -> None:
        """Raise ValueError if the action names something the environment does not have."""

    def target(self, environment: str) -> Target | None:
        """What the action acts on in ``environment`` (None: nothing, it only notifies)."""
        return None

    def direction(self) -> Direction:
        """'out', 'in' or 'none'."""
        return "none"

    def describe(self) -> str:
        """A short human description."""
        return self.name


class _ScaleParams(_Params):
    step: Annotated[int, Field(ge=-100, le=100)] = Field(
        description="how many to add (positive: out) or remove (negative: in); never 0",
        examples=[1, -1],
    )

    @field_validator("step")
    @classmethod
    def _nonzero(cls, step: int) -> int:
        if step == 0:
            raise ValueError("step must not be 0 (positive scales out, negative scales in)")
        return step


class ScaleEcsParams(_ScaleParams):
    """``scale_ecs_service``: which service, and by how many tasks."""

    service: Annotated[str, Field(min_length=1)] = Field(
        description="a service of the rule's environment", examples=["web"]
    )


class ScaleAsgParams(_ScaleParams):
    """``scale_asg``: which Auto Scaling group, and by how many instances."""

    group: Annotated[str, Field(min_length=1)] = Field(
        description="an autoscaling group of the rule's environment", examples=["demo-workers"]
    )


class ServiceParams(_Params):
    """An action on one ECS service."""

    service: Annotated[str, Field(min_length=1)] = Field(
        description="a service of the rule's environment", examples=["web"]
    )


class NotifyParams(_Params):
    """``notify_only``: an optional note added to the notification."""

    note: str | None = Field(
        default=None, description="added to the notification", examples=["page the on-call"]
    )


class _Scale(Action):
    params: _ScaleParams

    @property
    def step(self) -> int:
        """Positive scales out, negative scales in."""
        return self.params.step

    @property
    def subject(self) -> str:
        """The name of the service or group."""
        raise NotImplementedError

    def direction(self) -> Direction:
        return "out" if self.step > 0 else "in"

    def describe(self) -> str:
        return f"scale {self.subject} {self.direction()} by {abs(self.step)}"


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

    @property
    def subject(self) -> str:
        return self.params.service

    def check(self, env: Place) -> None:
        if self.params.service not in env.services:
            _missing("service", self.params.service, env)

    def target(self, environment: str) -> Target:
        return Target.service(environment, self.params.service)


@register("scale_asg")
class ScaleAsg(_Scale):
    """Change an Auto Scaling group's desired capacity by ``step``, inside its bounds."""

    permissions = ("autoscaling:DescribeAutoScalingGroups", "autoscaling:SetDesiredCapacity")
    Params = ScaleAsgParams
    params: ScaleAsgParams

    @property
    def subject(self) -> str:
        return self.params.group

    def check(self, env: Place) -> None:
        if self.params.group not in env.autoscaling_groups:
            _missing("autoscaling group", self.params.group, env)

    def target(self, environment: str) -> Target:
        return Target.group(environment, self.params.group)


@register("force_new_deployment")
class ForceNewDeployment(Action):
    """Replace every task of an ECS service with a fresh one (same task definition)."""

    permissions = ("ecs:UpdateService",)
    Params = ServiceParams
    params: ServiceParams

    def check(self, env: Place) -> None:
        if self.params.service not in env.services:
            _missing("service", self.params.service, env)

    def target(self, environment: str) -> Target:
        return Target.service(environment, self.params.service)

    def describe(self) -> str:
        return f"force a new deployment of {self.params.service}"


@register("notify_only")
class NotifyOnly(Action):
    """Do nothing but tell people."""

    Params = NotifyParams
    params: NotifyParams

    def describe(self) -> str:
        return "notify only"


def _missing(kind: str, name: str, env: Place) -> None:
    raise ValueError(f"{kind} {name!r} is not in environment {env.name!r}")
