"""Models at the edges: REST bodies and work-queue messages (one discriminated union).

The messages an alarm reaction queues live in ``domain.alarm_work`` (imported here): the alarm
function's cold path builds those three classes, not every model of this module."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

from chalicelib.domain.alarm_work import AlarmChanges, AlarmRetry, CapSummary, WorkMessageBase
from chalicelib.domain.base import fields_error

# Docker's grammar, ASCII only: name components, an optional tag, an optional digest.
_IMAGE = re.compile(
    r"^[a-z0-9]+([._/:-][a-z0-9]+)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[0-9a-f]{64})?$",
    re.ASCII,
)
_TAG = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"


ONE_OF_IMAGE_OR_TAG = "give exactly one of 'image', 'tag' or 'from_environment'"
# Where the image of a deploy comes from: exactly one of these.
IMAGE_SOURCES = ("image", "tag", "from_environment")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)


class DeployRequest(_Body):
    """``POST /deployments``: a new image for one service, by full image, by ECR tag, or by
    promotion (the digest the same service runs in ``from_environment`` now); ``dry_run``
    answers what it would do and changes nothing."""

    environment: Annotated[str, Field(min_length=1, max_length=128)]
    service: Annotated[str, Field(min_length=1, max_length=255)]
    image: Annotated[str | None, Field(min_length=1, max_length=512)] = None
    tag: Annotated[str | None, Field(pattern=_TAG)] = None
    from_environment: Annotated[
        str | None,
        Field(
            min_length=1,
            max_length=128,
            description="promote: deploy the image digest this service runs in that environment",
        ),
    ] = None
    dry_run: Annotated[
        bool,
        Field(
            strict=True,
            description="answer 200 with the images, the task-definition diff and the checks; "
            "change nothing",
        ),
    ] = False

    @field_validator("image")
    @classmethod
    def _image_reference(cls, image: str | None) -> str | None:
        if image is not None and not _IMAGE.match(image):
            raise ValueError("is not an image reference: REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST]")
        return image

    @model_validator(mode="after")
    def _one_of(self) -> DeployRequest:
        given = [name for name in IMAGE_SOURCES if getattr(self, name) is not None]
        if len(given) != 1:
            named = given or list(IMAGE_SOURCES)
            raise fields_error(type(self).__name__, ONE_OF_IMAGE_OR_TAG, *named)
        return self


class ScaleRequest(_Body):
    """``POST /services/{environment}/{service}/scale``."""

    desired: Annotated[int, Field(strict=True)]  # the service's bounds are checked, and named
    reason: Annotated[str | None, Field(max_length=500)] = None


class RollbackRequest(_Body):
    """``POST /deployments/{id}/rollback`` (body optional)."""

    reason: Annotated[str | None, Field(max_length=500)] = None


class DecisionRequest(_Body):
    """``POST /deployments/{id}/approve|deny`` (body optional): no fields, so a body that names
    one is refused rather than ignored (it is checked before the deployment's state)."""


class DeployStart(WorkMessageBase):
    """Work: start the rollout of a recorded deployment."""

    kind: Literal["deploy.start"] = "deploy.start"
    deployment_id: str


class DeployTimeout(WorkMessageBase):
    """Guard: a rollout (or its rollback) must have finished by ``deadline``."""

    kind: Literal["deploy.timeout"] = "deploy.timeout"
    deployment_id: str
    phase: Literal["rollout", "rollback"]
    deadline: int


class ApprovalExpiry(WorkMessageBase):
    """Guard: a request still awaiting approval at ``deadline`` (epoch seconds) expires."""

    kind: Literal["approval.expiry"] = "approval.expiry"
    deployment_id: str
    deadline: int


class SlackReply(WorkMessageBase):
    """Work: answer a Slack interaction through its response_url, after the 3-second ack."""

    kind: Literal["slack.reply"] = "slack.reply"
    url: Annotated[str, Field(min_length=1, max_length=2048)]
    payload: dict[str, Any]


class CapApply(WorkMessageBase):
    """Work: apply the reactions held in an environment in a minute, approved by ``actor``: one
    batch, from the held reaction after the key ``after`` (None: from the first); ``attempt``
    counts the re-runs of a batch that waited for a target's lock."""

    kind: Literal["cap.apply"] = "cap.apply"
    environment: str
    bucket: str
    actor: str
    after: str | None = None
    attempt: int = 0


_Work = (
    DeployStart
    | DeployTimeout
    | ApprovalExpiry
    | AlarmRetry
    | AlarmChanges
    | SlackReply
    | CapSummary
    | CapApply
)
WorkMessage = Annotated[_Work, Field(discriminator="kind")]
WORK_MESSAGE: TypeAdapter[_Work] = TypeAdapter(WorkMessage, config=ConfigDict(defer_build=True))
