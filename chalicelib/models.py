"""Models of the AWS events opsbot consumes (built on Powertools' envelopes)."""

from __future__ import annotations

from typing import Literal

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel


class EcsDeploymentDetail(BaseModel):
    """``detail`` of an "ECS Deployment State Change" event."""

    eventType: Literal["INFO", "WARN", "ERROR"]
    eventName: str
    deploymentId: str
    updatedAt: str | None = None
    reason: str | None = None


class EcsDeploymentStateChange(EventBridgeModel):
    """An "ECS Deployment State Change" event, as EventBridge delivers it."""

    detail: EcsDeploymentDetail
