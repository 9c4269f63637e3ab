"""Four eyes in the ops policy: which requests in an environment (or of one service) wait for
a second person's yes, who may give it and for how long (``Environment.approval``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

APPROVE = "approve"  # the permission (``Permission.APPROVE``)


class Approval(BaseModel):
    """``approval: {actions: [deploy, rollback], approvers: ROLE | [people],
    expires_after_minutes: 30}``."""

    # defer_build: built with the policy that holds it, not at import (cold start)
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    actions: Annotated[list[Literal["deploy", "rollback"]], Field(min_length=1)] = Field(
        default=["deploy", "rollback"],
        description="which requests wait for approval",
        examples=[["deploy", "rollback"], ["deploy"]],
    )
    approvers: str | list[Annotated[str, Field(min_length=1)]] | None = Field(
        default=None,
        description="a role name, or a list of people (policy names); None: anyone who holds "
        "`approve` in the environment",
        examples=["approver", ["demo-lead"]],
    )
    expires_after_minutes: Annotated[int, Field(ge=1, le=10080)] = Field(
        default=30, description="an unanswered request expires after this long", examples=[30]
    )

    def covers(self, action: str) -> bool:
        """Whether ``action`` (deploy or rollback) needs this approval."""
        return action in self.actions

    def names(self, principal: str, roles: Mapping[str, str], environment: str) -> bool:
        """Whether ``principal`` (with ``roles`` per environment) is one of the approvers."""
        if self.approvers is None:
            return True
        if isinstance(self.approvers, str):
            return self.approvers in (roles.get(environment), roles.get("*"))
        return principal in self.approvers

    def check(
        self,
        path: str,
        *,
        roles: Mapping[str, list[Any]],
        people: Mapping[str, Any],
        may: Callable[[str], bool],
    ) -> None:
        """ValueError at ``path`` unless the approvers exist and hold ``approve`` (``may``):
        otherwise nobody could ever say yes."""
        if isinstance(self.approvers, str):
            role = self.approvers
            if role not in roles:
                known = sorted(roles)
                raise ValueError(f"{path}.approvers: unknown role {role!r} (known: {known})")
            if APPROVE not in roles[role]:
                raise ValueError(f"{path}.approvers: role {role!r} does not grant {APPROVE!r}")
            return
        for index, name in enumerate(self.approvers or []):
            if name not in people:
                raise ValueError(
                    f"{path}.approvers.{index}: unknown person {name!r} (known: {sorted(people)})"
                )
            if not may(name):
                raise ValueError(f"{path}.approvers.{index}: {name!r} does not hold {APPROVE!r}")
