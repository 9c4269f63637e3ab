"""A service's deployments as the ECS rolling-update controller changes them (moto's objects).

Pure state transitions on moto's in-process ``Service``: a new PRIMARY deployment, completion
(older ones drained), a circuit-breaker failure, a desired-count change, the task counts and the
service event messages ECS writes. ``ecs_sim.RolloutSimulator`` decides when they happen.
"""

from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass
from typing import Any

from moto.core.utils import utcnow
from moto.ecs.models import EC2ContainerServiceBackend, Service

from infra.local.ecs_events import FAILED_ROLLOUT_REASON
from infra.local.scheduler import Timer

MAX_SERVICE_EVENTS = 100  # ECS keeps the 100 most recent service events


def deployment_id() -> str:
    """Return a deployment id shaped like ECS's (``ecs-svc/`` + 19 digits)."""
    return f"ecs-svc/{random.randint(10**18, 2**63 - 1)}"


def deployments(service: Service) -> list[dict[str, Any]]:
    """Return the service's deployment dicts (moto types their values as ``object``)."""
    return service.deployments


def primary(service: Service) -> dict[str, Any] | None:
    """The PRIMARY deployment, if any."""
    return next((d for d in deployments(service) if d.get("status") == "PRIMARY"), None)


def failure_threshold(desired: int) -> int:
    """Return the circuit breaker's failed-task threshold for a desired count."""
    return min(200, max(3, math.ceil(desired * 0.5)))


@dataclass
class Rollout:
    """The deployment a service is currently rolling out."""

    deployment_id: str
    fail: bool
    timer: Timer | None = None
    failure: Any = None  # an ecs_tasks.Failure: how its tasks die (None: as its service would)
    crash: bool = False  # its tasks crash-loop and ECS never settles it


@dataclass
class ServiceState:
    """What the simulator tracks per service."""

    backend: EC2ContainerServiceBackend
    service: Service
    stable_id: str | None = None  # last deployment that completed: the rollback target
    stable_task_definition: str | None = None
    rollout: Rollout | None = None


def recount(state: ServiceState) -> None:
    """Set the service's (and its cluster's) task counts from its deployments."""
    service = state.service
    running = sum(int(d.get("runningCount") or 0) for d in deployments(service))
    pending = sum(int(d.get("pendingCount") or 0) for d in deployments(service))
    cluster = state.backend.clusters.get(service.cluster_name)
    if cluster is not None:
        cluster.running_tasks_count += running - service.running_count
        cluster.pending_tasks_count += pending - service.pending_count
    service.running_count, service.pending_count = running, pending


def service_event(state: ServiceState, message: str) -> None:
    """Prepend a DescribeServices ``events`` entry, worded as ECS words it."""
    service = state.service
    entry = {
        "id": str(uuid.uuid4()),
        "createdAt": utcnow(),
        "message": f"(service {service.name}) {message}",
    }
    service.events = [entry, *service.events][:MAX_SERVICE_EVENTS]


def resize_primary(state: ServiceState) -> None:
    """Keep the PRIMARY deployment's counts in line with a new desired count."""
    service = state.service
    desired = service.desired_count
    out = []
    for dep in deployments(service):
        if dep.get("status") == "PRIMARY":
            dep = dict(dep, desiredCount=desired, updatedAt=utcnow())
            rolling = state.rollout is not None and state.rollout.deployment_id == dep["id"]
            if rolling:
                dep["runningCount"] = min(dep["runningCount"], desired)
                dep["pendingCount"] = desired - dep["runningCount"]
            else:
                dep["runningCount"], dep["pendingCount"] = desired, 0
        out.append(dep)
    service.deployments = out


def new_primary(
    state: ServiceState, task_definition: str | None, *, reason: str | None = None
) -> dict[str, Any]:
    """Insert a new IN_PROGRESS PRIMARY deployment and demote the others to ACTIVE; it."""
    service = state.service
    now = utcnow()
    demoted = [
        dict(d, status="ACTIVE", updatedAt=now) if d.get("status") == "PRIMARY" else d
        for d in deployments(service)
    ]
    template = primary(service) or (deployments(service) or [{}])[0]
    dep_id = deployment_id()
    desired = service.desired_count
    deployment = dict(
        template,
        createdAt=now,
        desiredCount=desired,
        failedTasks=0,
        id=dep_id,
        launchType=service.launch_type,
        pendingCount=desired,
        rolloutState="IN_PROGRESS",
        rolloutStateReason=reason or f"ECS deployment {dep_id} in progress.",
        runningCount=0,
        platformVersion=service.platform_version,
        networkConfiguration=service.network_configuration or None,
        platformFamily="EC2" if service.launch_type == "EC2" else "FARGATE",
        status="PRIMARY",
        taskDefinition=task_definition,
        updatedAt=now,
    )
    service.task_definition = task_definition
    service.deployments = [deployment, *demoted]
    recount(state)
    return deployment


def complete(state: ServiceState, deployment: dict[str, Any]) -> dict[str, Any]:
    """The deployment reached steady state: COMPLETED, every older one drained; it."""
    service = state.service
    desired = service.desired_count
    done = dict(
        deployment,
        desiredCount=desired,
        runningCount=desired,
        pendingCount=0,
        rolloutState="COMPLETED",
        rolloutStateReason=f"ECS deployment {deployment['id']} completed.",
        updatedAt=utcnow(),
    )
    service.deployments = [done]
    recount(state)
    state.stable_id, state.stable_task_definition = done["id"], done["taskDefinition"]
    state.rollout = None
    service_event(state, f"(deployment {done['id']}) deployment completed.")
    service_event(state, "has reached a steady state.")
    return done


def fail(state: ServiceState, deployment: dict[str, Any]) -> dict[str, Any]:
    """The circuit breaker tripped: the deployment is FAILED with no task running; it."""
    service = state.service
    failed = dict(
        deployment,
        failedTasks=failure_threshold(service.desired_count),
        runningCount=0,
        pendingCount=0,
        rolloutState="FAILED",
        rolloutStateReason=FAILED_ROLLOUT_REASON,
        updatedAt=utcnow(),
    )
    service.deployments = [failed if d is deployment else d for d in deployments(service)]
    state.rollout = None
    recount(state)
    service_event(state, f"(deployment {failed['id']}) deployment failed: tasks failed to start.")
    return failed
