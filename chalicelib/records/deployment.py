"""The deployment record: one deploy (or rollback) of an image to an ECS service, as stored.

Plain dataclasses (no pydantic: the store and every handler that reads deployments import this
on their cold path). The store turns DynamoDB items into these and back; views in the handler
layer turn them into the REST and Slack shapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from chalicelib.core.clock import iso
from chalicelib.records.status import DeploymentPhase, DeploymentStatus, StartStep
from chalicelib.records.target import Target


@dataclass(frozen=True)
class DeploymentEvent:
    """One line of a deployment's history: when, in which status, what happened."""

    at: str
    status: DeploymentStatus
    message: str

    @classmethod
    def now(cls, at: datetime, status: DeploymentStatus, message: str) -> DeploymentEvent:
        """An event at ``at`` (written as opsbot writes every time)."""
        return cls(at=iso(at), status=status, message=message)


@dataclass
class Deployment:
    """A deploy of ``image`` to ``environment/service`` (or a rollback, with ``rollback_of``)."""

    id: str
    environment: str
    service: str
    image: str
    status: DeploymentStatus
    actor: str
    created_at: str
    updated_at: str
    timeout_seconds: int
    events: list[DeploymentEvent] = field(default_factory=list)
    image_digest: str | None = None
    task_definition: str | None = None  # the revision being rolled out (the contract lists it)
    previous_task_definition: str | None = None  # what the service ran before (likewise)
    previous_image: str | None = None  # the image it ran before (for people: "old -> new")
    rollback_of: str | None = None  # the deployment this one rolls back
    reason: str | None = None  # why a rollback was asked for
    notify_url: str | None = None  # a Slack response_url to tell as well (never shown)
    phase: DeploymentPhase | None = None  # which ECS rollout an in-progress one waits for
    ecs_deployment_id: str | None = None
    rollback_ecs_deployment_id: str | None = None
    failure_reason: str | None = None
    finished_at: str | None = None
    # four eyes (a protected environment): who asked, who decided and when, until when it waits
    requested_by: str | None = None
    approved_by: str | None = None
    denied_by: str | None = None
    decided_at: str | None = None
    approval_expires_at: str | None = None  # shown as ``expires_at``
    current_image: str | None = None  # what the service ran when the request was made
    # exact promotion: the environment whose running image this deploys, and the task
    # definition it ran there when asked
    from_environment: str | None = None
    from_task_definition: str | None = None
    # the task-definition fields that change (``{path, from, to}``), as approvers see them
    changes: list[dict[str, str | None]] | None = None
    # checkpoints of the state machine (see deploys/__init__.py); never shown
    step: StartStep | None = None  # how far its start got (None once ``phase`` is set)
    target_image: str | None = None  # the image registered: pinned to its digest when known
    deadline: int | None = None  # epoch seconds by which the current phase must be steady
    lease_owner: str | None = None  # the invocation driving a step now ...
    lease_until: int | None = None  # ... until then (epoch seconds); a redelivery takes over after

    @property
    def target(self) -> Target:
        """The ECS service this deployment changes."""
        return Target.service(self.environment, self.service)

    @property
    def duration_seconds(self) -> int | None:
        """Whole seconds from the request to its end (``finished_at``); None until it ends.
        The one duration every surface shows (Slack, email, REST, CLI, dashboard)."""
        if self.finished_at is None:
            return None
        try:
            start = datetime.fromisoformat(self.created_at.replace("Z", "+00:00"))
            end = datetime.fromisoformat(self.finished_at.replace("Z", "+00:00"))
        except ValueError:
            return None
        return max(0, round((end - start).total_seconds()))

    @property
    def is_rollback(self) -> bool:
        """A rollback of an earlier deployment (rather than a deploy of a new image)."""
        return self.rollback_of is not None

    @property
    def action(self) -> str:
        """Its action in the audit trail."""
        return "rollback" if self.is_rollback else "deploy"


@dataclass(frozen=True)
class EcsDeploymentRef:
    """Which opsbot deployment an ECS deployment id belongs to, and in which phase ECS runs it."""

    deployment_id: str
    role: DeploymentPhase
