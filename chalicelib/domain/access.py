"""Who may do what: the permissions a role grants and the people who hold roles."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from chalicelib.domain.policy_base import PolicyModel


class Permission(StrEnum):
    """What a principal may do in an environment."""

    READ = "read"
    DEPLOY = "deploy"
    SCALE = "scale"
    ROLLBACK = "rollback"
    APPROVE = "approve"  # decide another person's request in a protected environment
    FREEZE = "freeze"  # freeze and unfreeze an environment (no deploys, rollbacks, scaling)


class Person(PolicyModel):
    """A principal: an API token holder and/or a Slack user, with roles per environment."""

    slack_user: Annotated[str | None, Field(pattern=r"^[UW][A-Z0-9]{2,}$")] = Field(
        default=None, description="their Slack user id", examples=["U0DEMOLEAD"]
    )
    roles: dict[str, str] = Field(
        default_factory=dict,
        description='environment name (or "*") -> role name',
        examples=[{"demo": "lead", "prod": "approver"}, {"*": "admin"}],
    )
