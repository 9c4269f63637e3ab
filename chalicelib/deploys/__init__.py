"""Deploys: a new image for an ECS service, tracked to steady state, rolled back on failure.

The flow (each step a separate invocation; nothing sleeps), one module per stage:

1. ``request`` (REST, Slack): ``request_deploy`` / ``request_rollback`` validate, authorize,
   resolve the ECR tag, take the service lock, record ``queued``, enqueue ``deploy.start``.
2. ``rollout`` (worker): ``start_deploy`` renders the running task definition with the new
   image, registers it, UpdateService, records ``in_progress``, enqueues a delayed
   ``deploy.timeout`` guard.
3. ``events`` (EventBridge "ECS Deployment State Change"): ``on_ecs_deployment_event`` looks the
   (phase, event name) up in a table of handlers: a completed rollout on the new revision
   ``succeeded``; a failed one starts (or follows the circuit breaker's) rollback.
4. ``rollback``: the rollback to the previous task definition, its completion
   (``rolled_back``), and ``on_deploy_timeout``, the guard for a rollout still unfinished at its
   deadline.
5. ``finish``: terminal transitions (lock released, audit, metric) and notifications.
"""

from __future__ import annotations

from chalicelib.deploys.events import on_ecs_deployment_event
from chalicelib.deploys.request import (
    get_deployment,
    request_deploy,
    request_rollback,
    resolve_image,
    split_image,
)
from chalicelib.deploys.rollback import on_deploy_timeout
from chalicelib.deploys.rollout import container_image, render_task_definition, start_deploy

__all__ = [
    "container_image",
    "get_deployment",
    "on_deploy_timeout",
    "on_ecs_deployment_event",
    "render_task_definition",
    "request_deploy",
    "request_rollback",
    "resolve_image",
    "split_image",
    "start_deploy",
]
