"""REST shapes of the whole-environment reads (the dashboard's routes)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from chalicelib.handlers.views.deployments import public
from chalicelib.handlers.views.guards import freeze_fields
from chalicelib.handlers.views.status import service_body

if TYPE_CHECKING:
    from chalicelib.budgets import Budget
    from chalicelib.records.deployment import Deployment
    from chalicelib.status.overview import CertificateStatus, EnvironmentSummary
    from chalicelib.status.services import ServiceStatus


def environments_body(found: Iterable[EnvironmentSummary]) -> dict[str, Any]:
    """``GET /environments``."""
    return {
        "items": [
            {
                "name": e.name,
                "account": e.account,
                "region": e.region,
                "cluster": e.cluster,
                "services": e.services,
                "autoscaling_groups": e.autoscaling_groups,
                "load_balancers": e.load_balancers,
                **freeze_fields(e.freeze),
            }
            for e in found
        ]
    }


def services_body(environment: str, found: Iterable[ServiceStatus]) -> dict[str, Any]:
    """``GET /services/{environment}``."""
    return {"environment": environment, "items": [service_body(s) for s in found]}


def deployments_body(found: Iterable[Deployment]) -> dict[str, Any]:
    """``GET /deployments``: newest first."""
    return {"items": [public(d) for d in found]}


def budgets_body(environment: str, found: Iterable[Budget]) -> dict[str, Any]:
    """``GET /budgets``."""
    return {
        "environment": environment,
        "items": [
            {
                "name": b.name,
                "type": b.type,
                "time_unit": b.time_unit,
                "limit": b.limit,
                "unit": b.unit,
                "actual": b.actual,
                "forecast": b.forecast,
                "percent_used": b.percent_used,
            }
            for b in found
        ],
    }


def certificates_body(environment: str, found: Iterable[CertificateStatus]) -> dict[str, Any]:
    """``GET /certificates``: soonest expiry first."""
    return {
        "environment": environment,
        "items": [
            {
                "domain": c.domain,
                "arn": c.arn,
                "status": c.status,
                "not_after": c.not_after,
                "days_left": c.days_left,
                "listeners": c.listeners,
            }
            for c in found
        ],
    }
