"""Read-only list of an environment's certificates (for Slack and REST readers)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from chalicelib.core.clock import days_left

if TYPE_CHECKING:
    from chalicelib.deps import Deps
    from chalicelib.domain.policy import Environment


def certificate_list(deps: Deps, env: Environment) -> list[dict[str, Any]]:
    """ACM certificates of the environment, soonest expiry first."""
    acm = deps.aws("acm", env)
    now = deps.clock()
    out: list[dict[str, Any]] = []
    for page in acm.get_paginator("list_certificates").paginate():
        for summary in page.get("CertificateSummaryList", []):
            cert = acm.describe_certificate(CertificateArn=summary["CertificateArn"])["Certificate"]
            not_after: datetime | None = cert.get("NotAfter")
            out.append(
                {
                    "domain": cert.get("DomainName"),
                    "arn": cert["CertificateArn"],
                    "status": cert.get("Status"),
                    "type": cert.get("Type"),
                    "not_after": not_after.isoformat() if not_after else None,
                    "days_left": days_left(not_after, now) if not_after else None,
                    "in_use_by": cert.get("InUseBy", []),
                }
            )
    out.sort(key=lambda c: c["days_left"] if c["days_left"] is not None else 10**6)
    return out
