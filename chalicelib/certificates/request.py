"""Requesting the replacement: record the rotation, request the new certificate (idempotently),
get it validated, or give up loudly."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from chalicelib.aws.errors import describe
from chalicelib.certificates import messages
from chalicelib.certificates.context import Check, result
from chalicelib.certificates.discover import names
from chalicelib.certificates.dns import write_validation_records, zones_for
from chalicelib.core.observability import count
from chalicelib.records.rotation import Rotation, Usage, ValidationRecord
from chalicelib.records.status import ROTATION_IN_FLIGHT, RotationStatus

if TYPE_CHECKING:
    from mypy_boto3_acm.type_defs import CertificateDetailTypeDef

ACM_FAILED = ("FAILED", "VALIDATION_TIMED_OUT", "REVOKED", "EXPIRED", "INACTIVE")
RETRY_AFTER_FAILURE = timedelta(hours=24)


def idempotency_token(old_arn: str, attempt: int) -> str:
    """ACM's IdempotencyToken (``\\w{1,32}``) for one attempt at rotating ``old_arn``: a repeat
    of the same attempt within ACM's hour gets the same certificate, not a second one."""
    return hashlib.sha256(f"{old_arn}#{attempt}".encode()).hexdigest()[:32]


def start(
    check: Check,
    cert: CertificateDetailTypeDef,
    usages: list[Usage],
    previous: Rotation | None,
    summary: dict[str, Any],
) -> dict[str, Any]:
    """Record a new rotation of ``cert`` and request its replacement.

    ``summary`` is the check's result for the certificate so far (an outcome is added).
    """
    now = check.now
    rotation = Rotation(
        environment=check.env.name,
        domain=cert["DomainName"],
        names=names(cert),
        old_certificate_arn=cert["CertificateArn"],
        old_not_after=cert["NotAfter"],
        old_type=cert.get("Type"),
        usages=tuple(usages),
        attempt=previous.attempt + 1 if previous else 1,
        status=RotationStatus.REQUESTED,
        requested_at=now,
        updated_at=now,
        actor=check.actor,
    )
    lacking = [name for name in rotation.names if not zones_for(check, name)]
    if lacking:
        rotation = replace(
            rotation,
            status=RotationStatus.FAILED,
            failed_at=now,
            retry_after=now + RETRY_AFTER_FAILURE,
            reason=messages.no_zone_reason(lacking, check.env.account),
        )
        if not check.deps.store.create_rotation(rotation, now=now):
            return {**summary, "outcome": "in_flight"}
        _failed(check, rotation, hints=messages.NO_ZONE_HINTS)
        return {**summary, "outcome": "failed", "reason": rotation.reason}
    if not check.deps.store.create_rotation(rotation, now=now):
        return {**summary, "outcome": "in_flight"}  # another invocation started it just now
    return request(check, rotation)


def request(check: Check, rotation: Rotation) -> dict[str, Any]:
    """Request the new certificate (idempotently), write its CNAMEs if ACM has them, tell."""
    acm = check.deps.aws("acm", check.env)
    old_arn = rotation.old_certificate_arn
    try:
        new_arn = acm.request_certificate(
            DomainName=rotation.domain,
            SubjectAlternativeNames=list(rotation.names),
            ValidationMethod="DNS",
            IdempotencyToken=idempotency_token(old_arn, rotation.attempt),
        )["CertificateArn"]
    except ClientError as exc:
        return fail(
            check,
            rotation,
            reason=f"ACM refused to request a new certificate ({describe(exc)})",
            hints=messages.REQUEST_REFUSED_HINTS,
        )
    check.deps.store.index_rotation(new_arn, old_arn, now=check.now)
    requested = replace(rotation, new_certificate_arn=new_arn, updated_at=check.now)
    check.deps.store.update_rotation(requested, since=rotation)
    rotation = requested
    records, error = write_validation_records(check, new_arn)
    if records:
        rotation = _validating(check, rotation, records)
    elif error:
        rotation = _note_error(check, rotation, error)
    check.audit(
        rotation,
        "started",
        certificate=old_arn,
        new_certificate=new_arn,
        listeners=[f"{u.load_balancer}:{u.port}" for u in rotation.usages],
    )
    count("CertificateRotationsStarted")
    check.tell(
        messages.started(
            check.env.name,
            rotation,
            records,
            error,
            now=check.now,
            renew_before_days=check.deps.policy.certificates.renew_before_days,
        )
    )
    return {**result(rotation), "outcome": "started"}


def progress(
    check: Check, rotation: Rotation, new: CertificateDetailTypeDef | None
) -> dict[str, Any]:
    """A rotation whose new certificate is not issued (yet): write CNAMEs, time out, or fail."""
    new_arn = rotation.new_certificate_arn
    if new is None:
        return fail(
            check,
            rotation,
            reason=f"the new certificate {new_arn} no longer exists in ACM",
            hints=messages.DELETED_HINTS,
        )
    status = new.get("Status")
    if status in ACM_FAILED:
        why = new.get("FailureReason")
        return fail(
            check,
            rotation,
            reason=f"ACM reports the new certificate {status}" + (f" ({why})" if why else ""),
            hints=messages.validation_hints(rotation),
        )
    if status == "ISSUED":  # issued, yet it would need renewing itself
        return fail(
            check,
            rotation,
            reason=f"ACM issued the new certificate but it expires {messages.day(new['NotAfter'])}",
            hints=messages.ISSUED_EXPIRING_HINTS,
        )
    if rotation.status == RotationStatus.REQUESTED and new_arn:
        records, error = write_validation_records(check, new_arn)
        if records:
            rotation = _validating(check, rotation, records)
            check.tell(messages.records_written(check.env.name, rotation, now=check.now))
        elif error:
            rotation = _note_error(check, rotation, error, tell=True)
    if check.now - rotation.requested_at > check.validation_timeout:
        hours = check.deps.policy.certificates.validation_timeout_hours
        return fail(
            check,
            rotation,
            reason=f"the new certificate is still {status} after {hours} hours",
            hints=messages.validation_hints(rotation),
        )
    return {**result(rotation), "outcome": "waiting", "acm_status": status}


def fail(check: Check, rotation: Rotation, *, reason: str, hints: str) -> dict[str, Any]:
    """Mark an in-flight rotation failed, audit it, tell people loudly."""
    failed = replace(
        rotation,
        status=RotationStatus.FAILED,
        failed_at=check.now,
        updated_at=check.now,
        retry_after=check.now + RETRY_AFTER_FAILURE,
        reason=reason,
    )
    if not check.deps.store.update_rotation(
        failed, since=rotation, expect_status=ROTATION_IN_FLIGHT
    ):
        return {**result(rotation), "outcome": "busy"}
    _failed(check, failed, hints=hints)
    return {**result(failed), "outcome": "failed", "reason": reason}


def _failed(check: Check, rotation: Rotation, *, hints: str) -> None:
    """Audit, count and tell a failed rotation."""
    check.audit(
        rotation,
        "failed",
        certificate=rotation.old_certificate_arn,
        new_certificate=rotation.new_certificate_arn,
        reason=rotation.reason,
    )
    count("CertificateRotationsFailed")
    check.tell(messages.failed(check.env.name, rotation, hints=hints, now=check.now))


def _validating(
    check: Check, rotation: Rotation, records: tuple[ValidationRecord, ...]
) -> Rotation:
    """The CNAMEs are written: the rotation waits for ACM."""
    validating = replace(
        rotation,
        status=RotationStatus.VALIDATING,
        validation_records=records,
        updated_at=check.now,
    )
    check.deps.store.update_rotation(
        validating, since=rotation, expect_status=(RotationStatus.REQUESTED,)
    )
    return validating


def _note_error(check: Check, rotation: Rotation, error: str, *, tell: bool = False) -> Rotation:
    """Remember a step's error; tell people (once per distinct error) when asked to."""
    if tell and rotation.last_error != error:
        check.tell(messages.stuck(check.env.name, rotation, error, now=check.now))
    noted = replace(rotation, last_error=error, updated_at=check.now)
    check.deps.store.update_rotation(noted, since=rotation)
    return noted
