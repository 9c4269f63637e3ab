"""What people are told about a rotation (email and Slack): one function per notice, no I/O."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from chalicelib.aws.notifier import Message
from chalicelib.core.clock import days_left, iso
from chalicelib.records.rotation import Rotation, ValidationRecord

NO_ZONE_HINTS = (
    "that a public hosted zone for the domain exists in this account (create or "
    "delegate one), or rotate the certificate by hand (request or import one and set "
    "it on the listeners)"
)
REQUEST_REFUSED_HINTS = (
    "the ACM quotas of the account (certificates per year, names per certificate) "
    "and that every name is a public domain ACM may issue for"
)
DELETED_HINTS = "whether someone deleted it; the next attempt requests another one"
ISSUED_EXPIRING_HINTS = (
    "the certificate in ACM; this should not happen with ACM-issued certificates"
)


def no_zone_reason(names: list[str], account: str) -> str:
    """Why a rotation cannot start: names without a public hosted zone."""
    return (
        f"no public Route 53 hosted zone for {', '.join(names)} in account "
        f"{account}, so opsbot cannot validate a new certificate by DNS"
    )


def day(at: datetime) -> str:
    """``2025-01-31``."""
    return at.strftime("%Y-%m-%d")


def left(at: datetime, now: datetime) -> str:
    """How long until (or since) ``at``, in whole days rounded down (``days_left``: the count
    ``opsbot certificates`` and the dashboard show too)."""
    days = days_left(at, now) if at > now else days_left(now, at)
    unit = "day" if days == 1 else "days"
    if at <= now:
        return f"expired {days} {unit} ago" if days else "expired today"
    return f"{days} {unit} left" if days else "expires today"


def short_id(arn: str | None) -> str:
    """A certificate as people tell them apart: the first 8 characters of its id."""
    return (arn or "?").rsplit("/", 1)[-1][:8]


def facts(
    environment: str,
    rotation: Rotation,
    listeners: list[str],
    now: datetime,
    *,
    new_arn: str | None = None,
    new_expiry: datetime | None = None,
) -> tuple[tuple[str, str], ...]:
    """The Slack fields of every rotation notice: each name, listener and date once."""
    old = rotation.old_not_after
    found = [
        ("Listeners", ", ".join(listeners) or "none"),
        (
            "Old certificate",
            f"{short_id(rotation.old_certificate_arn)}, expires {day(old)} ({left(old, now)})",
        ),
    ]
    new = new_arn or rotation.new_certificate_arn
    if new:
        valid = f", valid until {day(new_expiry)} ({left(new_expiry, now)})" if new_expiry else ""
        found.append(("New certificate", f"{short_id(new)}{valid}"))
    names = list(rotation.names or [rotation.domain])
    if names != [rotation.domain]:
        found.append(("Names", ", ".join(names)))
    found.append(("Environment", environment))
    return tuple(found)


def context(
    rotation: Rotation, *, new_arn: str | None = None, records: bool = False
) -> tuple[str, ...]:
    """The small print: the certificates' ARNs (and the validation records, when written)."""
    lines = [f"Old certificate: {rotation.old_certificate_arn}"]
    new = new_arn or rotation.new_certificate_arn
    if new:
        lines.append(f"New certificate: {new}")
    if records and rotation.validation_records:
        lines.append(f"Validation: {record_lines(rotation.validation_records)}")
    return tuple(lines)


def record_lines(records: tuple[ValidationRecord, ...]) -> str:
    """The validation CNAMEs, on one line."""
    return "; ".join(f"{r.name} CNAME {r.value} in zone {r.zone}" for r in records)


def started(
    environment: str,
    rotation: Rotation,
    records: tuple[ValidationRecord, ...],
    error: str | None,
    *,
    now: datetime,
    renew_before_days: int,
) -> Message:
    """A new certificate was requested (and its CNAMEs written, if ACM had them)."""
    why = (
        "imported certificates are never renewed by ACM"
        if rotation.old_type == "IMPORTED"
        else f"the policy renews {renew_before_days} days ahead"
    )
    if records:
        dns = "wrote its DNS validation record(s) to Route 53."
    elif error:
        dns = f"could not write its DNS validation records yet: {error}."
    else:
        dns = "ACM has not published the DNS validation records yet; the next check writes them."
    text = (
        f"{rotation.domain} is due ({why}): opsbot requested a new ACM certificate for the same "
        f"names and {dns} Waiting for DNS validation: the listeners switch to it as soon as "
        "ACM issues it."
    )
    shown = replace(rotation, validation_records=records) if records else rotation
    return Message(
        title="Certificate rotation started",
        text=text,
        level="info",
        facts=facts(environment, rotation, rotation.listeners, now),
        context=context(shown, records=True),
        summary=f"Certificate rotation started: {rotation.domain} "
        f"({left(rotation.old_not_after, now)})",
    )


def records_written(environment: str, rotation: Rotation, *, now: datetime) -> Message:
    """The validation CNAMEs were written by a later check (ACM published them late)."""
    return Message(
        title="Certificate validation records written",
        text=(
            f"{rotation.domain}: ACM published the DNS validation record(s) of the new "
            "certificate and opsbot wrote them to Route 53. Waiting for DNS validation."
        ),
        level="info",
        facts=facts(environment, rotation, rotation.listeners, now),
        context=context(rotation, records=True),
        summary=f"Certificate validation records written: {rotation.domain}",
    )


def stuck(environment: str, rotation: Rotation, error: str, *, now: datetime) -> Message:
    """A step keeps failing; opsbot retries until the rotation times out."""
    return Message(
        title="Certificate rotation stuck",
        text=(
            f"{rotation.domain}: {error}. opsbot retries at every check until the "
            "rotation times out."
        ),
        level="warning",
        facts=facts(environment, rotation, rotation.listeners, now),
        context=context(rotation),
        summary=f"Certificate rotation stuck: {rotation.domain}",
    )


def completed(
    environment: str,
    rotation: Rotation,
    *,
    new_arn: str,
    not_after: datetime,
    listeners: list[str],
    now: datetime,
) -> Message:
    """Every listener serves the new certificate, verified."""
    where = (
        "every listener that served the old one"
        if listeners
        else "no listener (none serves the old one now)"
    )
    text = (
        f"{rotation.domain} is served with the new certificate on {where}, verified. The old "
        "certificate is left in ACM: deleting it is a human decision, once nothing else uses it."
    )
    return Message(
        title="Certificate rotated",
        text=text,
        level="success",
        facts=facts(environment, rotation, listeners, now, new_arn=new_arn, new_expiry=not_after),
        context=context(rotation, new_arn=new_arn),
        summary=f"Certificate rotated: {rotation.domain} (valid until {day(not_after)})",
    )


def swap_failed(
    environment: str, rotation: Rotation, problems: list[str], listeners: list[str], now: datetime
) -> Message:
    """The new certificate is issued but not on every listener."""
    return Message(
        title="Certificate swap failed",
        text=(
            f"{rotation.domain}: the new certificate is issued, but opsbot could not put "
            f"it on every listener: {'; '.join(problems)}. Listeners not listed still serve "
            "what they served. opsbot tries again at the next check; check its IAM "
            "permissions (elasticloadbalancing:ModifyListener, AddListenerCertificates, "
            "RemoveListenerCertificates) and the listeners."
        ),
        level="failure",
        facts=facts(environment, rotation, listeners, now),
        context=context(rotation),
        summary=f"Certificate swap failed: {rotation.domain}",
    )


def failed(environment: str, rotation: Rotation, *, hints: str, now: datetime) -> Message:
    """The rotation failed (``rotation.reason``); when opsbot tries again."""
    retry = iso(rotation.retry_after) if rotation.retry_after else "?"
    text = (
        f"{rotation.domain}: {rotation.reason}. The listeners still serve the old certificate. "
        f"What to check: {hints}. opsbot starts a new attempt after {retry} if the certificate "
        "still needs one."
    )
    return Message(
        title="Certificate rotation failed",
        text=text,
        level="failure",
        facts=facts(environment, rotation, rotation.listeners, now),
        context=context(rotation),
        summary=f"Certificate rotation failed: {rotation.domain} "
        f"({left(rotation.old_not_after, now)})",
    )


def validation_hints(rotation: Rotation) -> str:
    """What to check when ACM does not validate the new certificate."""
    records = rotation.validation_records
    where = (
        f"that the validation record(s) {record_lines(records)} still exist"
        if records
        else "that the validation records exist"
    )
    new = rotation.new_certificate_arn or "(the new certificate)"
    return (
        f"{where} and that the zone is the one the domain's registrar delegates to (its NS "
        "records); that no CAA record forbids Amazon (amazon.com, amazontrust.com, "
        f"awstrust.com, amazonaws.com); and `aws acm describe-certificate --certificate-arn "
        f"{new}` for ACM's reason"
    )
