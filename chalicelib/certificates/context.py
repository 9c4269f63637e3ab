"""One check of one environment, and what every step of a rotation does alike: audit, tell,
report."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from chalicelib.records.target import Target

if TYPE_CHECKING:
    from chalicelib.aws.notifier import Message
    from chalicelib.deps import Deps
    from chalicelib.domain.policy import Environment
    from chalicelib.records.rotation import Rotation

ACTION = "certificate.rotate"

# a Route 53 zone as (zone id, zone name), by the name it was looked up for
ZoneCache = dict[str, list[tuple[str, str]]]


@dataclass(frozen=True)
class Check:
    """Who checks which environment's certificates, when, with which dependencies.

    Built once per environment (or ACM event); ``zones`` remembers the hosted zones already
    looked up in this check.
    """

    deps: Deps
    env: Environment
    actor: str
    now: datetime
    zones: ZoneCache = field(default_factory=dict)

    @classmethod
    def of(cls, deps: Deps, env: Environment, *, actor: str) -> Check:
        """A check of ``env`` by ``actor``, now."""
        return cls(deps=deps.acting_for(actor), env=env, actor=actor, now=deps.clock())

    @property
    def renew_before(self) -> timedelta:
        """How long before expiry a certificate is rotated."""
        return timedelta(days=self.deps.policy.certificates.renew_before_days)

    @property
    def validation_timeout(self) -> timedelta:
        """How long a new certificate may take to be validated."""
        return timedelta(hours=self.deps.policy.certificates.validation_timeout_hours)

    def audit(self, rotation: Rotation, result: str, **details: Any) -> None:
        """One audit entry for a step of a rotation (target ``<env>/<domain>``)."""
        self.deps.store.audit(
            now=self.now,
            actor=self.actor,
            action=ACTION,
            environment=self.env.name,
            target=Target.certificate(self.env.name, rotation.domain).label,
            result=result,
            **details,
        )

    def tell(self, message: Message) -> None:
        """Send a notice (email and Slack)."""
        self.deps.notifier.send(message)


def result(rotation: Rotation) -> dict[str, Any]:
    """The check's result for a certificate with a rotation (an ``outcome`` is added)."""
    return {
        "environment": rotation.environment,
        "certificate": rotation.old_certificate_arn,
        "domain": rotation.domain,
        "listeners": rotation.listeners,
        "new_certificate": rotation.new_certificate_arn,
        "status": rotation.status.value,
    }
