"""The policy's environments: an AWS account, region and ECS cluster, with the services and
Auto Scaling groups opsbot manages there and the bounds it scales them within."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from chalicelib.core.errors import NotFound
from chalicelib.domain.approval import Approval
from chalicelib.domain.limits import EnvironmentLimits
from chalicelib.domain.policy_base import NAME_PATTERN, PolicyModel, problems_error


class Bounds(PolicyModel):
    """Scaling bounds: opsbot never sets a count outside them."""

    min: Annotated[int, Field(ge=0, description="the lowest count opsbot sets", examples=[1])]
    max: Annotated[int, Field(ge=0, description="the highest count opsbot sets", examples=[6])]

    @model_validator(mode="after")
    def _ordered(self) -> Bounds:
        if self.min > self.max:
            problem = f"min ({self.min}) is greater than max ({self.max})"
            raise problems_error(type(self).__name__, [("max", problem)])
        return self


class Service(Bounds):
    """An ECS service opsbot deploys and scales."""

    container: Annotated[
        str, Field(min_length=1, description="container whose image deploys set", examples=["web"])
    ]
    repository: Annotated[
        str, Field(min_length=1, description="ECR repository of its images", examples=["web"])
    ]
    deploy_timeout_seconds: Annotated[int | None, Field(ge=30, le=86400)] = Field(
        default=None,
        description="how long a rollout may take before opsbot rolls it back (unset: "
        "deploy.timeout_seconds)",
        examples=[600],
    )
    abort_after_task_failures: Annotated[int | None, Field(ge=0, le=1000)] = Field(
        default=None,
        description="roll back once this many new tasks stopped (0: never; unset: the default)",
        examples=[3],
    )
    images: list[Annotated[str, Field(min_length=1)]] = Field(
        default_factory=list,
        description="other image repositories it may run (globs, e.g. public.ecr.aws/nginx/*)",
        examples=[["public.ecr.aws/nginx/*"]],
    )
    approval: Approval | None = Field(
        default=None,
        description="overrides the environment's approval for this service",
        examples=[{"actions": ["deploy"], "approvers": "lead"}],
    )


class AutoScalingGroup(Bounds):
    """An EC2 Auto Scaling group opsbot may scale."""


class Environment(PolicyModel):
    """One AWS account + region + ECS cluster."""

    name: str = Field(default="", description="set from its key in `environments`; not written")
    account: Annotated[str, Field(pattern=r"^\d{12}$")] = Field(
        description="the AWS account id (12 digits, quoted in YAML)", examples=["123456789012"]
    )
    region: Annotated[str, Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")] = Field(
        description="the AWS region", examples=["us-east-1"]
    )
    cluster: Annotated[str, Field(min_length=1)] = Field(
        description="the ECS cluster its services run in", examples=["prod"]
    )
    role_arn: Annotated[
        str | None,
        Field(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/([\w+=,.@/-]|\{function\})+$"),
    ] = Field(
        default=None,
        description="the role opsbot assumes in this account (unset: its own account); "
        "{function} in it names one role per opsbot function",
        examples=["arn:aws:iam::123456789012:role/opsbot-{function}"],
    )
    services: dict[Annotated[str, Field(pattern=NAME_PATTERN)], Service] = Field(
        default={},
        description="ECS services opsbot deploys and scales, by service name",
        examples=[{"web": {"container": "web", "repository": "web", "min": 1, "max": 6}}],
    )
    autoscaling_groups: dict[Annotated[str, Field(pattern=NAME_PATTERN)], AutoScalingGroup] = Field(
        default={},
        description="EC2 Auto Scaling groups opsbot may scale, by group name",
        examples=[{"workers": {"min": 1, "max": 5}}],
    )
    load_balancers: list[Annotated[str, Field(min_length=1)]] = Field(
        default_factory=list,
        description="ALB names whose HTTPS listeners' certificates opsbot keeps renewed",
        examples=[["demo-alb"]],
    )
    budgets: list[str] | None = Field(
        default=None,
        description="AWS Budgets to watch (names); None watches every budget",
        examples=[["monthly-ops"]],
    )
    approval: Approval | None = Field(
        default=None,
        description="requests that need a second person's approval (protected)",
        examples=[{"actions": ["deploy", "rollback"], "approvers": "approver"}],
    )
    limits: EnvironmentLimits | None = Field(
        default=None,
        description="caps on automated changes here (unset: the top-level limits)",
        examples=[{"max_automated_changes_per_minute": 5, "max_services_scaled_at_once": 3}],
    )

    def approval_for(self, service: str, action: str) -> Approval | None:
        """The approval a ``action`` (deploy or rollback) of ``service`` needs, or None."""
        svc = self.services.get(service)
        approval = svc.approval if svc is not None and svc.approval is not None else self.approval
        return approval if approval is not None and approval.covers(action) else None

    def service(self, name: str) -> Service:
        """The named service, or NotFound."""
        try:
            return self.services[name]
        except KeyError:
            raise NotFound(
                f"unknown service {name[:100]!r} in environment {self.name!r}",
                known=sorted(self.services),
            ) from None
