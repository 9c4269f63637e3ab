"""Blast-radius caps on automated changes, as the policy's ``limits`` declare them."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


_CHANGES = "alarm-driven changes (scalings, forced new deployments) per UTC minute; over it: held"
_TARGETS = "distinct targets alarm reactions may change per UTC minute; over it: held"


class EnvironmentLimits(_Model):
    """An environment's own caps; each one unset takes the policy's top-level ``limits``."""

    max_automated_changes_per_minute: Annotated[int | None, Field(ge=0, le=100_000)] = Field(
        default=None, description=_CHANGES, examples=[5]
    )
    max_services_scaled_at_once: Annotated[int | None, Field(ge=0, le=100_000)] = Field(
        default=None, description=_TARGETS, examples=[3]
    )


class Limits(_Model):
    """Blast-radius caps on automated changes (alarm reactions) in one environment.

    ``max_automated_changes_per_minute``: changes (scalings, forced new deployments) that alarm
    reactions may make in the environment per UTC calendar minute. ``max_services_scaled_at_once``:
    distinct targets (ECS services, Auto Scaling groups) that alarm reactions may change in the
    environment in one such minute (a target changed twice counts once). A reaction over either
    cap is held. Manual and approved actions are never capped. 0 holds every automated change.
    """

    max_automated_changes_per_minute: Annotated[int, Field(ge=0, le=100_000)] = Field(
        default=10, description=_CHANGES, examples=[10]
    )
    max_services_scaled_at_once: Annotated[int, Field(ge=0, le=100_000)] = Field(
        default=5, description=_TARGETS, examples=[5]
    )

    def overridden_by(self, own: EnvironmentLimits | None) -> Limits:
        """These caps, with each key ``own`` (an environment's) sets taken from it."""
        if own is None:
            return self
        # the set keys by attribute, not model_dump: an alarm's first event builds no serializer
        changes = {
            name: value
            for name in EnvironmentLimits.model_fields
            if (value := getattr(own, name)) is not None
        }
        return self.model_copy(update=changes) if changes else self
