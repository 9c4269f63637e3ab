"""What ECS says about a rollout: the event names opsbot acts on, and what a handler gets."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import TYPE_CHECKING

from chalicelib.aws.ecs import EcsService, describe_service

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient

    from chalicelib.deps import Deps
    from chalicelib.domain.policy import Environment
    from chalicelib.records.deployment import Deployment

# rolloutState of an ECS deployment that has reached steady state
ROLLOUT_COMPLETED = "COMPLETED"


class EcsEventName(StrEnum):
    """``detail.eventName`` of the "ECS Deployment State Change" events opsbot acts on."""

    IN_PROGRESS = "SERVICE_DEPLOYMENT_IN_PROGRESS"
    COMPLETED = "SERVICE_DEPLOYMENT_COMPLETED"
    FAILED = "SERVICE_DEPLOYMENT_FAILED"


@dataclass
class EcsChange:
    """An ECS deployment state change about one in-progress opsbot deployment, with what a
    handler needs to act on it. The service is described on first use, at most once."""

    deps: Deps
    deployment: Deployment
    env: Environment
    ecs: ECSClient
    reason: str

    @cached_property
    def service(self) -> EcsService:
        """The service as ECS describes it now (empty when it is gone)."""
        found = describe_service(self.ecs, self.env.cluster, self.deployment.service)
        return found if found is not None else EcsService()

    @property
    def running(self) -> str | None:
        """The task definition the service is set to run now."""
        return self.service.task_definition
