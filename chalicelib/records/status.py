"""The statuses and results opsbot records, as closed sets (never bare string literals)."""

from __future__ import annotations

from enum import StrEnum


class DeploymentStatus(StrEnum):
    """Where a deployment is (the contract's list)."""

    AWAITING_APPROVAL = "awaiting_approval"
    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"
    REJECTED = "rejected"
    DENIED = "denied"
    EXPIRED = "expired"

    @property
    def active(self) -> bool:
        """Still holding the service (queued or in progress)."""
        return self in ACTIVE


ACTIVE = (DeploymentStatus.QUEUED, DeploymentStatus.IN_PROGRESS)
TERMINAL = tuple(s for s in DeploymentStatus if s not in ACTIVE and s != "awaiting_approval")


class DeploymentPhase(StrEnum):
    """Which ECS rollout an in-progress deployment is waiting for."""

    ROLLOUT = "rollout"
    ROLLBACK = "rollback"


class StartStep(StrEnum):
    """The last checkpoint of a deployment's start (before its rollout phase is recorded)."""

    PLANNED = "planned"  # previous and target task definitions recorded; nothing sent yet
    ARMED = "armed"  # the timeout guard is on the queue; ECS not touched yet
    REGISTERED = "registered"  # the revision to roll out is recorded (UpdateService next)


class ActionResult(StrEnum):
    """What an alarm action or a scaling request did (or why it did nothing)."""

    SCALED = "scaled"
    AT_BOUND = "at_bound"
    COOLDOWN = "cooldown"
    HELD = "held"
    BUSY = "busy"
    FORCED = "forced"
    NOTIFIED = "notified"
    FAILED = "failed"
    DROPPED = "dropped"  # a reaction that waited for a lock, dropped when the alarm moved on
    REJECTED = "rejected"  # a scale request outside the bounds (audited, answered 400)
    CONFLICT = "conflict"  # a scale request while a deploy holds the service (answered 409)
    HELD_BY_CAP = "held_by_cap"  # an alarm reaction over its environment's blast-radius cap
    FROZEN = "frozen"  # refused (409) or skipped (alarm reaction): the environment is frozen


class RotationStatus(StrEnum):
    """Where a certificate rotation is."""

    REQUESTED = "requested"  # new certificate requested; its validation CNAMEs not written yet
    VALIDATING = "validating"  # CNAMEs written; waiting for ACM to issue
    SWAPPING = "swapping"  # listeners being switched (leased, so a dead invocation is retried)
    COMPLETED = "completed"
    FAILED = "failed"

    @property
    def in_flight(self) -> bool:
        """Started and not ended (requested, validating or swapping)."""
        return self in ROTATION_IN_FLIGHT


ROTATION_IN_FLIGHT = (RotationStatus.REQUESTED, RotationStatus.VALIDATING, RotationStatus.SWAPPING)
ROTATION_ENDED = (RotationStatus.COMPLETED, RotationStatus.FAILED)
