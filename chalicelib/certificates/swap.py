"""The swap: serve the issued certificate wherever the old one was served, read every listener
back, and complete the rotation (or put it back for the next check)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from chalicelib.aws.errors import describe
from chalicelib.certificates import messages
from chalicelib.certificates.context import Check, result
from chalicelib.certificates.discover import default_certificate, sni_certificates
from chalicelib.core.clock import iso
from chalicelib.core.observability import count
from chalicelib.records.rotation import Rotation, Usage
from chalicelib.records.status import RotationStatus

if TYPE_CHECKING:
    from mypy_boto3_acm.type_defs import CertificateDetailTypeDef
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client

SWAP_LEASE = timedelta(seconds=300)
# a swap may start from these (a completed rotation's listeners may serve the old one again)
_SWAPPABLE = (
    RotationStatus.REQUESTED,
    RotationStatus.VALIDATING,
    RotationStatus.FAILED,
    RotationStatus.COMPLETED,
)


def swap(
    check: Check, rotation: Rotation, new: CertificateDetailTypeDef, usages: list[Usage]
) -> dict[str, Any]:
    """Serve the issued certificate wherever the old one was served; verify; complete."""
    store = check.deps.store
    old_arn, new_arn = rotation.old_certificate_arn, new["CertificateArn"]
    leased = replace(
        rotation,
        status=RotationStatus.SWAPPING,
        lease_until=check.now + SWAP_LEASE,
        updated_at=check.now,
    )
    if not store.update_rotation(
        leased,
        since=rotation,
        expect_status=_SWAPPABLE,
        or_lease_expired=(RotationStatus.SWAPPING, check.now),
    ):
        return {**result(rotation), "outcome": "busy"}  # another invocation is swapping
    elbv2 = check.deps.aws("elbv2", check.env)
    problems = _serve(elbv2, usages, old_arn, new_arn)
    if not problems:
        problems = _verify(elbv2, usages, old_arn, new_arn)
    if problems:
        return _swap_failed(check, rotation, leased, usages, problems)
    not_after = new["NotAfter"]
    labels = [u.label for u in usages]
    store.update_rotation(
        replace(
            leased,
            status=RotationStatus.COMPLETED,
            completed_at=check.now,
            updated_at=check.now,
            retry_after=check.now,
            new_not_after=not_after,
            swapped=tuple(labels),
            lease_until=None,
        ),
        since=leased,
        expect_status=(RotationStatus.SWAPPING,),
    )
    check.audit(
        rotation,
        "completed",
        certificate=old_arn,
        new_certificate=new_arn,
        listeners=labels,
        valid_until=iso(not_after),
    )
    count("CertificateRotationsCompleted")
    check.tell(
        messages.completed(
            check.env.name,
            rotation,
            new_arn=new_arn,
            not_after=not_after,
            listeners=labels,
            now=check.now,
        )
    )
    return {
        **result(rotation),
        "outcome": "completed",
        "listeners": labels,
        "valid_until": iso(not_after),
    }


def _serve(
    elbv2: ElasticLoadBalancingv2Client, usages: list[Usage], old_arn: str, new_arn: str
) -> list[str]:
    """Put the new certificate where the old one was: what went wrong, per listener."""
    problems: list[str] = []
    for usage in usages:
        try:
            if usage.default:
                elbv2.modify_listener(
                    ListenerArn=usage.listener_arn, Certificates=[{"CertificateArn": new_arn}]
                )
            else:
                elbv2.add_listener_certificates(
                    ListenerArn=usage.listener_arn, Certificates=[{"CertificateArn": new_arn}]
                )
                elbv2.remove_listener_certificates(
                    ListenerArn=usage.listener_arn, Certificates=[{"CertificateArn": old_arn}]
                )
        except ClientError as exc:
            problems.append(f"{usage.label}: {describe(exc)}")
    return problems


def _verify(
    elbv2: ElasticLoadBalancingv2Client, usages: list[Usage], old_arn: str, new_arn: str
) -> list[str]:
    """Read every changed listener back: what is not as it should be."""
    problems: list[str] = []
    for usage in usages:
        if usage.default:
            listeners = elbv2.describe_listeners(ListenerArns=[usage.listener_arn])["Listeners"]
            served = default_certificate(listeners[0]) if listeners else None
            if served != new_arn:
                problems.append(f"{usage.label} still serves {served} as its default")
        else:
            sni = sni_certificates(elbv2, usage.listener_arn)
            if new_arn not in sni or old_arn in sni:
                problems.append(f"{usage.label} SNI certificates are {sorted(sni)}")
    return problems


def _swap_failed(
    check: Check, rotation: Rotation, leased: Rotation, usages: list[Usage], problems: list[str]
) -> dict[str, Any]:
    """Give the swap back (to the status it had) for the next check; tell people."""
    before = rotation.status
    back = before if before in _SWAPPABLE else RotationStatus.VALIDATING
    check.deps.store.update_rotation(
        replace(
            leased,
            status=back,
            last_error="; ".join(problems),
            updated_at=check.now,
            lease_until=None,
        ),
        since=leased,
        expect_status=(RotationStatus.SWAPPING,),
    )
    check.audit(
        rotation,
        "swap_failed",
        certificate=rotation.old_certificate_arn,
        new_certificate=rotation.new_certificate_arn,
        problems=problems,
    )
    labels = [u.label for u in usages]
    check.tell(messages.swap_failed(check.env.name, rotation, problems, labels, check.now))
    return {**result(rotation), "outcome": "swap_failed", "problems": problems}
