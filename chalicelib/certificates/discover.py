"""Where certificates are served (listeners of the policy's load balancers), and which of them
need rotating."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from chalicelib.core.clock import iso
from chalicelib.core.observability import logger
from chalicelib.records.rotation import Rotation, Usage
from chalicelib.records.status import RotationStatus

if TYPE_CHECKING:
    from mypy_boto3_acm.type_defs import CertificateDetailTypeDef
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client
    from mypy_boto3_elbv2.type_defs import ListenerTypeDef, LoadBalancerTypeDef

    from chalicelib.deps import Deps
    from chalicelib.domain.policy import Environment, Policy

SECURE_PROTOCOLS = ("HTTPS", "TLS")
_NAMES_PER_CALL = 20  # DescribeLoadBalancers takes at most 20 names


def listener_certificates(deps: Deps, env: Environment) -> tuple[dict[str, list[Usage]], list[str]]:
    """({certificate ARN: where it is served}, load balancer names not found) of an environment.

    Default certificates come from DescribeListeners, SNI certificates from
    DescribeListenerCertificates, for every HTTPS and TLS listener.
    """
    elbv2 = deps.aws("elbv2", env)
    balancers, missing = _load_balancers(elbv2, env)
    found: dict[str, list[Usage]] = {}
    for balancer in balancers:
        name = balancer["LoadBalancerName"]
        pages = elbv2.get_paginator("describe_listeners").paginate(
            LoadBalancerArn=balancer["LoadBalancerArn"]
        )
        for page in pages:
            for listener in page.get("Listeners", []):
                protocol = listener.get("Protocol", "")
                if protocol not in SECURE_PROTOCOLS:
                    continue
                default = default_certificate(listener)
                arn, port = listener["ListenerArn"], int(listener.get("Port", 0))
                if default:
                    found.setdefault(default, []).append(Usage(name, arn, port, protocol, True))
                for extra in sni_certificates(elbv2, arn) - {default}:
                    found.setdefault(extra, []).append(Usage(name, arn, port, protocol, False))
    return found, missing


def default_certificate(listener: ListenerTypeDef) -> str | None:
    """The listener's default certificate, if it has one."""
    for cert in listener.get("Certificates") or []:
        if cert.get("CertificateArn"):
            return str(cert["CertificateArn"])
    return None


def sni_certificates(elbv2: ElasticLoadBalancingv2Client, listener_arn: str) -> set[str]:
    """The listener's additional (SNI) certificates."""
    pages = elbv2.get_paginator("describe_listener_certificates").paginate(ListenerArn=listener_arn)
    return {
        str(c["CertificateArn"])
        for page in pages
        for c in page.get("Certificates", [])
        if not c.get("IsDefault")
    }


def _load_balancers(
    elbv2: ElasticLoadBalancingv2Client, env: Environment
) -> tuple[list[LoadBalancerTypeDef], list[str]]:
    """(described load balancers, names not found) of the environment's policy."""
    names = list(dict.fromkeys(env.load_balancers))
    found: list[LoadBalancerTypeDef] = []
    missing: list[str] = []
    for i in range(0, len(names), _NAMES_PER_CALL):
        chunk = names[i : i + _NAMES_PER_CALL]
        try:
            found.extend(elbv2.describe_load_balancers(Names=chunk)["LoadBalancers"])
            continue
        except elbv2.exceptions.LoadBalancerNotFoundException:
            pass
        for name in chunk:  # one of them is missing: find out which
            try:
                found.extend(elbv2.describe_load_balancers(Names=[name])["LoadBalancers"])
            except elbv2.exceptions.LoadBalancerNotFoundException:
                missing.append(name)
    if missing:
        logger().warning(
            "load balancers in the policy not found",
            extra={"environment": env.name, "missing": missing},
        )
    return found, missing


def environments_of(policy: Policy, arns: list[str]) -> list[Environment]:
    """The environments (with load balancers) in the accounts and regions of these ARNs."""
    places = set()
    for arn in arns:
        parts = arn.split(":")
        if len(parts) > 4:
            places.add((parts[4], parts[3]))
    return [
        env
        for env in policy.environments.values()
        if env.load_balancers and (env.account, env.region) in places
    ]


def usable(cert: CertificateDetailTypeDef, *, now: datetime, renew_before: timedelta) -> bool:
    """Issued, and far enough from expiry that it would not need rotating itself."""
    not_after = cert.get("NotAfter")
    return (
        cert.get("Status") == "ISSUED" and not_after is not None and not_after - now > renew_before
    )


def not_due(
    cert: CertificateDetailTypeDef,
    usages: list[Usage],
    previous: Rotation | None,
    *,
    now: datetime,
    renew_before: timedelta,
) -> dict[str, Any] | None:
    """Why a served certificate is not rotated now (``outcome`` and details), or None: rotate.

    Unused, not expiring (``ok``), never expiring, private-CA (ACM renews those), or waiting
    for the retry time of a failed rotation.
    """
    not_after = cert.get("NotAfter")
    if not usages:
        return {"outcome": "unused"}
    if not_after is None:
        return {"outcome": "skipped", "reason": f"status {cert.get('Status')}"}
    if not_after - now > renew_before:
        return {"outcome": "ok"}
    if cert.get("Type") == "PRIVATE":
        return {"outcome": "skipped", "reason": "private CA certificates renew in ACM"}
    if previous is not None and previous.status == RotationStatus.FAILED:
        retry_after = previous.retry_after
        if retry_after is not None and int(retry_after.timestamp()) > int(now.timestamp()):
            return {"outcome": "failed", "retry_after": iso(retry_after)}
    return None


def names(cert: CertificateDetailTypeDef) -> tuple[str, ...]:
    """The domain name first, then the other subject alternative names, each once."""
    found = [str(cert["DomainName"]), *map(str, cert.get("SubjectAlternativeNames") or [])]
    return tuple(dict.fromkeys(found))
