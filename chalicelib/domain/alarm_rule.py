"""Alarm rules: what opsbot does when a CloudWatch alarm changes state, and how often."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import ConfigDict, Field, model_validator

from chalicelib.domain.actions import Action
from chalicelib.domain.policy_base import PolicyModel


class ActionSpec(PolicyModel):
    """A registered action by name, with its parameters (validated by the action's model)."""

    action: str = Field(description="a registered action's name", examples=["scale_asg"])
    params: dict[str, Any] = Field(
        default={},
        description="its parameters (written beside `action` in YAML)",
        examples=[{"group": "workers", "step": 1}],
    )

    @model_validator(mode="before")
    @classmethod
    def _split(cls, data: Any) -> Any:
        # YAML form: {action: scale_ecs_service, service: web, step: 1}
        if isinstance(data, dict) and "params" not in data:
            rest = {k: v for k, v in data.items() if k != "action"}
            return {"action": data.get("action"), "params": rest}
        return data

    @model_validator(mode="after")
    def _known(self) -> ActionSpec:
        Action.parse(self.action, self.params)
        return self

    def build(self) -> Action:
        """The action object."""
        return Action.parse(self.action, self.params)


class Cooldown(PolicyModel):
    """Seconds between two actions of one rule on one target, per direction."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)

    out: Annotated[int, Field(ge=0, le=86400)] = Field(
        default=300, description="seconds between two scale-outs", examples=[300]
    )
    in_: Annotated[int, Field(ge=0, le=86400, alias="in")] = Field(
        default=300, description="seconds between two scale-ins", examples=[600]
    )
    other: Annotated[int, Field(ge=0, le=86400)] = Field(
        default=300, description="seconds between two other actions", examples=[300]
    )

    def seconds(self, direction: str) -> int:
        """The cooldown of one direction ('out', 'in', or anything else)."""
        return {"out": self.out, "in": self.in_}.get(direction, self.other)


class AlarmRule(PolicyModel):
    """What to do when a CloudWatch alarm changes state."""

    alarm: Annotated[str, Field(min_length=1)] = Field(
        description="alarm name, or a glob such as web-*", examples=["web-cpu-high", "web-*"]
    )
    environment: str = Field(description="the environment it acts in", examples=["demo"])
    namespace: str | None = Field(
        default=None, description="the alarm's metric namespace must be this", examples=["AWS/ECS"]
    )
    dimensions: dict[str, str] = Field(
        default={},
        description="the alarm's metric dimensions must include these",
        examples=[{"ClusterName": "demo", "ServiceName": "web"}],
    )
    on_alarm: ActionSpec = Field(
        description="what to do when the alarm goes to ALARM",
        examples=[{"action": "scale_ecs_service", "service": "web", "step": 1}],
    )
    on_ok: ActionSpec | None = Field(
        default=None,
        description="what to do when it returns to OK",
        examples=[{"action": "scale_ecs_service", "service": "web", "step": -1}],
    )
    cooldown: Cooldown = Field(
        default_factory=Cooldown,
        description="seconds between two actions per direction",
        examples=[{"out": 300, "in": 600}],
    )

    def matches(self, *, name: str, namespace: str | None, dimensions: dict[str, str]) -> bool:
        """Whether an alarm notification is for this rule."""
        from fnmatch import fnmatchcase

        if not fnmatchcase(name, self.alarm):
            return False
        if self.namespace is not None and namespace != self.namespace:
            return False
        return all(dimensions.get(k) == v for k, v in self.dimensions.items())
