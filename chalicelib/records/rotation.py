"""A certificate rotation, as the store reads and writes it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chalicelib.records.status import RotationStatus


@dataclass(frozen=True)
class Usage:
    """One place a certificate is served: a listener's default certificate or an SNI one."""

    load_balancer: str
    listener_arn: str
    port: int
    protocol: str
    default: bool = True

    @property
    def label(self) -> str:
        """``demo-alb:443``, with ``(SNI)`` for an additional certificate."""
        return f"{self.load_balancer}:{self.port}" + ("" if self.default else " (SNI)")


@dataclass(frozen=True)
class ValidationRecord:
    """A DNS validation CNAME opsbot wrote for ACM, and the hosted zone it went to."""

    name: str
    type: str
    value: str
    zone: str
    zone_id: str


@dataclass(frozen=True)
class Rotation:
    """The replacement of one certificate (``old_certificate_arn``) on every listener serving it.

    ``retry_after``: when a rotation that ended may be replaced by a new attempt;
    ``lease_until``: until when a swap in progress belongs to the invocation doing it.
    """

    environment: str
    domain: str
    names: tuple[str, ...]
    old_certificate_arn: str
    old_not_after: datetime
    usages: tuple[Usage, ...]
    status: RotationStatus
    requested_at: datetime
    updated_at: datetime
    actor: str
    attempt: int = 1
    old_type: str | None = None
    new_certificate_arn: str | None = None
    validation_records: tuple[ValidationRecord, ...] = ()
    last_error: str | None = None
    reason: str | None = None
    failed_at: datetime | None = None
    retry_after: datetime | None = None
    completed_at: datetime | None = None
    new_not_after: datetime | None = None
    swapped: tuple[str, ...] = ()
    lease_until: datetime | None = None

    @property
    def listeners(self) -> list[str]:
        """The labels of the listeners that served the old certificate when it started."""
        return [u.label for u in self.usages]
