"""The policy's settings sections: deploy defaults, certificate rotation, budget watching and
the Slack workspace."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import Field

from chalicelib.domain.policy_base import PolicyModel

if TYPE_CHECKING:
    from chalicelib.domain.environment import Service


class DeployDefaults(PolicyModel):
    """Defaults for deploys."""

    timeout_seconds: Annotated[int, Field(ge=30, le=86400)] = Field(
        default=900,
        description="how long a rollout may take before opsbot rolls it back",
        examples=[900],
    )
    abort_after_task_failures: Annotated[int | None, Field(ge=0, le=1000)] = Field(
        default=None,
        description="roll a rollout back once this many of its tasks stopped (unset or 0: never)",
        examples=[3],
    )

    def abort_threshold(self, service: Service | None) -> int | None:
        """How many stopped tasks of a rollout make opsbot roll it back early (None: never)."""
        own = service.abort_after_task_failures if service is not None else None
        threshold = own if own is not None else self.abort_after_task_failures
        return threshold or None


class CertificateSettings(PolicyModel):
    """When and how opsbot rotates listener certificates."""

    renew_before_days: Annotated[int, Field(ge=1, le=365)] = Field(
        default=30, description="rotate a certificate this long before it expires", examples=[30]
    )
    validation_timeout_hours: Annotated[int, Field(ge=1, le=720)] = Field(
        default=72, description="give up when DNS validation takes longer", examples=[72]
    )


class BudgetSettings(PolicyModel):
    """How opsbot watches AWS Budgets."""

    top_services: Annotated[int, Field(ge=0, le=20)] = Field(
        default=5, description="name this many top cost drivers in an alert", examples=[5]
    )
    hold_scale_out_at_percent: Annotated[float | None, Field(gt=0, le=1000)] = Field(
        default=None,
        description="hold alarm scale-outs while a watched budget's actual spend is at least "
        "this percent of its limit (None: never)",
        examples=[100],
    )


class SlackSettings(PolicyModel):
    """The Slack workspace opsbot answers and how its commands resolve what they act on."""

    default_environment: str | None = Field(
        default=None, description="the environment a command without one acts in", examples=["demo"]
    )
    command: Annotated[str, Field(pattern=r"^/[a-z0-9_-]{1,31}$")] = Field(
        default="/opsbot",
        description="the slash command's name in the workspace",
        examples=["/ops"],
    )
    team_id: Annotated[str | None, Field(pattern=r"^T[A-Z0-9]{2,}$")] = Field(
        default=None,
        description="the workspace's team id; requests from others are refused",
        examples=["T0123ABCD"],
    )
