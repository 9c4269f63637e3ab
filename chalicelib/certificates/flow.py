"""The entry points: the scheduled check, ACM's events, and the next step for one certificate
whatever state its rotation is in."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from chalicelib.aws.errors import describe
from chalicelib.certificates.context import Check, result
from chalicelib.certificates.discover import environments_of, listener_certificates, not_due, usable
from chalicelib.certificates.request import progress, request, start
from chalicelib.certificates.swap import swap
from chalicelib.core.clock import days_left
from chalicelib.core.errors import OpsError
from chalicelib.core.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_acm.type_defs import CertificateDetailTypeDef

    from chalicelib.deps import Deps
    from chalicelib.domain.policy import Environment
    from chalicelib.records.rotation import Usage

AVAILABLE = "ACM Certificate Available"
APPROACHING = "ACM Certificate Approaching Expiration"


def check_all(deps: Deps) -> list[dict[str, Any]]:
    """Check every environment's listener certificates: start, advance or finish rotations.

    One result per certificate in use (and per load balancer not found). An AWS error that is
    not part of a rotation's story (a describe call refused, say) is logged, the other
    certificates and environments are still checked, and then OpsError is raised so the
    invocation counts as failed.
    """
    results: list[dict[str, Any]] = []
    for env in deps.policy.environments.values():
        if env.load_balancers:
            results.extend(_guarded(deps, env, actor="schedule:certificates"))
    _raise_on_errors(results)
    return results


def on_certificate_event(
    deps: Deps, *, detail_type: str, resources: list[str]
) -> list[dict[str, Any]]:
    """React to an ACM EventBridge event.

    "ACM Certificate Available" for the new certificate of a rotation in flight completes it
    now; "ACM Certificate Approaching Expiration" runs the check of the environments in that
    certificate's account and region. Anything else is ignored.
    """
    results: list[dict[str, Any]] = []
    if detail_type == AVAILABLE:
        for arn in resources:
            results.append(_on_available(deps, arn))
    elif detail_type == APPROACHING:
        for env in environments_of(deps.policy, resources):
            results.extend(_guarded(deps, env, actor="event:acm-expiration"))
    else:
        logger().info("ACM event ignored", extra={"detail_type": detail_type})
    _raise_on_errors(results)
    return results


def check_environment(deps: Deps, env: Environment, *, actor: str) -> list[dict[str, Any]]:
    """Check one environment's listener certificates (see ``check_all``)."""
    check = Check.of(deps, env, actor=actor)
    usages, missing = listener_certificates(deps, env)
    results: list[dict[str, Any]] = [
        {"environment": env.name, "load_balancer": name, "outcome": "not_found"} for name in missing
    ]
    for arn, where in usages.items():
        if ":acm:" not in arn:  # an IAM server certificate: ACM cannot renew or replace it
            results.append(
                {
                    "environment": env.name,
                    "certificate": arn,
                    "listeners": [u.label for u in where],
                    "outcome": "skipped",
                    "reason": "not an ACM certificate",
                }
            )
            continue
        try:
            results.append(_next_step(check, arn, where))
        except ClientError as exc:
            logger().exception(
                "certificate check failed", extra={"environment": env.name, "certificate": arn}
            )
            results.append(
                {
                    "environment": env.name,
                    "certificate": arn,
                    "listeners": [u.label for u in where],
                    "outcome": "error",
                    "error": describe(exc),
                }
            )
    return results


def _next_step(check: Check, old_arn: str, usages: list[Usage]) -> dict[str, Any]:
    """Do the next step for one certificate in use, whatever state its rotation is in."""
    acm = check.deps.aws("acm", check.env)
    rotation = check.deps.store.get_rotation(old_arn)
    if rotation is not None and rotation.new_certificate_arn:
        try:
            new: CertificateDetailTypeDef | None = acm.describe_certificate(
                CertificateArn=rotation.new_certificate_arn
            )["Certificate"]
        except acm.exceptions.ResourceNotFoundException:
            new = None
        if new is not None and usable(new, now=check.now, renew_before=check.renew_before):
            if usages or rotation.status.in_flight:
                return swap(check, rotation, new, usages)
            return {**result(rotation), "outcome": "unused"}  # done before; nothing to do
        if rotation.status.in_flight:
            return progress(check, rotation, new)
    elif rotation is not None and rotation.status.in_flight:
        # recorded, but the request never was (that invocation died): request it now
        return request(check, rotation)
    cert = acm.describe_certificate(CertificateArn=old_arn)["Certificate"]
    not_after = cert.get("NotAfter")
    summary: dict[str, Any] = {
        "environment": check.env.name,
        "certificate": old_arn,
        "domain": cert.get("DomainName"),
        "listeners": [u.label for u in usages],
        "days_left": days_left(not_after, check.now) if not_after else None,
    }
    wait = not_due(cert, usages, rotation, now=check.now, renew_before=check.renew_before)
    if wait is not None:
        return {**summary, **wait}
    return start(check, cert, usages, rotation, summary)


def _on_available(deps: Deps, arn: str) -> dict[str, Any]:
    """ "ACM Certificate Available" for ``arn``: swap it in if a rotation requested it."""
    old_arn = deps.store.rotation_for_certificate(arn)
    rotation = deps.store.get_rotation(old_arn) if old_arn else None
    if old_arn is None or rotation is None:
        return {"certificate": arn, "outcome": "not_a_rotation"}
    env = deps.policy.environments.get(rotation.environment)
    if env is None:
        logger().warning(
            "rotation of an environment no longer in the policy",
            extra={"environment": rotation.environment, "certificate": old_arn},
        )
        return {**result(rotation), "outcome": "unknown_environment"}
    check = Check.of(deps, env, actor="event:acm-available")
    try:
        usages, _ = listener_certificates(deps, env)
        return _next_step(check, old_arn, usages.get(old_arn, []))
    except ClientError as exc:
        logger().exception("certificate event failed", extra={"certificate": arn})
        return {**result(rotation), "outcome": "error", "error": describe(exc)}


def _guarded(deps: Deps, env: Environment, *, actor: str) -> list[dict[str, Any]]:
    """check_environment; an AWS error reading the environment becomes one error result."""
    try:
        return check_environment(deps, env, actor=actor)
    except ClientError as exc:
        logger().exception("certificate check failed", extra={"environment": env.name})
        return [{"environment": env.name, "outcome": "error", "error": describe(exc)}]


def _raise_on_errors(results: list[dict[str, Any]]) -> None:
    errors = [r for r in results if r.get("outcome") == "error"]
    if errors:
        what = "; ".join(
            f"{r.get('environment')} {r.get('certificate') or ''}: {r['error']}".replace("  ", " ")
            for r in errors
        )
        raise OpsError(f"certificate check incomplete: {what}", results=results)
