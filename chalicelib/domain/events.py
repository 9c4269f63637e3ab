"""Models of the AWS events opsbot consumes (built on Powertools' envelopes)."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict, Field


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


class EcsContainerState(BaseModel):
    """One container of a task in an "ECS Task State Change" event."""

    model_config = ConfigDict(extra="allow")

    name: str | None = None
    lastStatus: str | None = None
    exitCode: int | None = None
    reason: str | None = None


class EcsTaskDetail(BaseModel):
    """``detail`` of an "ECS Task State Change" event (the DescribeTasks shape of the task);
    ECS adds fields over time, so the rest is kept as given."""

    model_config = ConfigDict(extra="allow")

    taskArn: str
    lastStatus: str
    startedBy: str | None = None
    group: str | None = None
    taskDefinitionArn: str | None = None
    stopCode: str | None = None
    stoppedReason: str | None = None
    containers: list[EcsContainerState] = []

    def task(self) -> dict[str, object]:
        """The task as DescribeTasks would give it (what the summaries read)."""
        return self.model_dump(exclude_none=True)


class EcsTaskStateChange(EventBridgeModel):
    """An "ECS Task State Change" event, as EventBridge delivers it."""

    detail: EcsTaskDetail


_ACM_CERTIFICATE_ARN = r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[A-Za-z0-9-]+$"


class AcmCertificateDetail(BaseModel):
    """``detail`` of the ACM events opsbot consumes ("ACM Certificate Available" and
    "ACM Certificate Approaching Expiration"); every field is optional, as ACM adds fields over
    time and each event type carries a different subset."""

    model_config = ConfigDict(extra="allow")

    Action: str | None = None
    CertificateType: str | None = None
    CommonName: str | None = None
    DaysToExpiry: int | None = None
    CertificateExpirationDate: str | None = None


class AcmCertificateEvent(EventBridgeModel):
    """An ACM certificate event, as EventBridge delivers it (the certificate ARN in
    ``resources``)."""

    source: Literal["aws.acm"]
    resources: Annotated[
        list[Annotated[str, Field(pattern=_ACM_CERTIFICATE_ARN)]], Field(min_length=1)
    ]
    detail: AcmCertificateDetail
