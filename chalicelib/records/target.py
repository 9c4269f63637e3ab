"""What opsbot acts on: one value for an ECS service or an Auto Scaling group in an environment."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class TargetKind(StrEnum):
    """The kinds of things opsbot changes."""

    ECS_SERVICE = "ecs"
    ASG = "asg"
    CERTIFICATE = "certificate"


_LOCK_PREFIX = {
    TargetKind.ECS_SERVICE: "service",
    TargetKind.ASG: "asg",
    TargetKind.CERTIFICATE: "certificate",
}


@dataclass(frozen=True, order=True)
class Target:
    """An ECS service, Auto Scaling group or certificate (by domain) in one environment.

    One value, four spellings, each made here and nowhere else:
    ``label`` for people and the audit (``demo/web``), ``key`` for cooldown windows within an
    environment (``ecs:web``), ``lock`` for the lock shared by deploys, rollbacks and scaling
    (``service#demo#web``), and ``name`` alone.
    """

    kind: TargetKind
    environment: str
    name: str

    @classmethod
    def service(cls, environment: str, name: str) -> Target:
        """An ECS service."""
        return cls(TargetKind.ECS_SERVICE, environment, name)

    @classmethod
    def group(cls, environment: str, name: str) -> Target:
        """An Auto Scaling group."""
        return cls(TargetKind.ASG, environment, name)

    @classmethod
    def certificate(cls, environment: str, domain: str) -> Target:
        """The listener certificates of one domain (what a rotation changes)."""
        return cls(TargetKind.CERTIFICATE, environment, domain)

    @property
    def label(self) -> str:
        """For people and the audit trail: ``demo/web``."""
        return f"{self.environment}/{self.name}"

    @property
    def key(self) -> str:
        """For cooldown windows within one environment: ``ecs:web``."""
        return f"{self.kind.value}:{self.name}"

    @property
    def lock(self) -> str:
        """The lock every change to this target takes: ``service#demo#web``."""
        return f"{_LOCK_PREFIX[self.kind]}#{self.environment}#{self.name}"

    def __str__(self) -> str:
        return self.label
