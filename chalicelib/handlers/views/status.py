"""REST shapes of the status reads: health and a service's status."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalicelib.status.health import Health
    from chalicelib.status.services import Rollout, ServiceStatus


def health_body(health: Health) -> dict[str, Any]:
    """``GET /health``: the checks, and the contract's error naming what is unreachable."""
    failing = health.failing
    body: dict[str, Any] = {
        "status": "ok" if not failing else "degraded",
        "stage": health.stage,
        "environments": health.environments,
        "checks": health.checks,
    }
    if failing:
        body["error"] = {
            "code": "dependency_unavailable",
            "message": f"unreachable: {', '.join(failing)}",
            "dependencies": failing,
        }
    return body


def public_health_body(health: Health) -> dict[str, Any]:
    """``GET /health`` without a valid token: the status and, when degraded, which dependency
    (by kind) is unreachable; no stage, environments or error text."""
    failing = health.failing
    body: dict[str, Any] = {"status": "ok" if not failing else "degraded"}
    if failing:
        body["error"] = {
            "code": "dependency_unavailable",
            "message": f"unreachable: {', '.join(failing)}",
            "dependencies": failing,
        }
    return body


def _rollout(rollout: Rollout) -> dict[str, Any]:
    return {
        "id": rollout.id,
        "status": rollout.status,
        "rollout_state": rollout.rollout_state,
        "task_definition": rollout.task_definition,
        "desired": rollout.desired,
        "running": rollout.running,
    }


def service_body(status: ServiceStatus) -> dict[str, Any]:
    """``GET /services/{environment}/{service}``."""
    return {
        "environment": status.environment,
        "service": status.service,
        "cluster": status.cluster,
        "status": status.status,
        "desired": status.desired,
        "running": status.running,
        "pending": status.pending,
        "min": status.min,
        "max": status.max,
        "bounds_from": status.bounds_from,
        "task_definition": status.task_definition,
        "image": status.image,
        "container": status.container,
        "deployments": [_rollout(d) for d in status.deployments],
        "busy_with": status.busy_with,
    }
