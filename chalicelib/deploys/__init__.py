"""Deploys: a new image for an ECS service, tracked to steady state, rolled back on failure.

The flow (each step a separate invocation; nothing sleeps), one module per stage:

1. ``request`` (REST, Slack): ``request_deploy`` / ``request_rollback`` validate, authorize,
   resolve the ECR tag, take the service lock, record ``queued``, enqueue ``deploy.start``.
   In a protected environment (the policy's ``approval``) ``approvals.hold`` records it
   ``awaiting_approval`` instead (no lock, nothing in AWS) and posts Approve / Deny buttons;
   ``decide.approve`` admits it as above, ``decide.deny`` ends it ``denied``, and a delayed
   ``approval.expiry`` ends an unanswered one ``expired``.
2. ``rollout`` (worker): ``start_deploy``, a checkpointed state machine (see its module): the
   previous task definition and the target recorded, the delayed ``deploy.timeout`` guard
   armed, the revision (``revision``: image pinned to its digest, registered once) recorded,
   then UpdateService; a redelivered start resumes from the last checkpoint.
3. ``events`` (EventBridge "ECS Deployment State Change"): ``on_ecs_deployment_event`` looks the
   (phase, event name) up in a table of handlers: a completed rollout on the new revision
   ``succeeded``; a failed one starts (or follows the circuit breaker's) rollback, with the
   ``failure_reason`` ``explain`` reads from the stopped tasks. ``abort`` ("ECS Task State
   Change"): ``on_task_stopped`` counts a rollout's failed tasks and rolls back at the policy's
   ``abort_after_task_failures``.
4. ``rollback``: the rollback to the previous task definition (claimed once), its completion
   (``rolled_back``); ``timeout``: ``on_deploy_timeout`` asks ECS first at the deadline.
5. ``finish``: terminal transitions (lock released, audit, metric) and notifications.
6. ``locking`` admits a deployment with its lock and record in one transaction; a stuck start
   or a stale lock found on the way, or by the ``sweep`` schedule each minute, is resumed or
   freed (``domain.holders``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalicelib.deploys.abort import on_task_stopped
    from chalicelib.deploys.approvals import on_approval_expiry
    from chalicelib.deploys.decide import approve, deny
    from chalicelib.deploys.events import on_ecs_deployment_event
    from chalicelib.deploys.images import resolve_image
    from chalicelib.deploys.request import get_deployment, request_deploy, request_rollback
    from chalicelib.deploys.revision import (
        container_image,
        pinned_image,
        render_task_definition,
        split_image,
    )
    from chalicelib.deploys.rollout import start_deploy
    from chalicelib.deploys.sweep import sweep
    from chalicelib.deploys.timeout import on_deploy_timeout

# Each name's module, imported on first use (cold start: a deploy start loads the rollout and
# what it needs, not the request, approval and event paths too).
_HOME = {
    "on_task_stopped": "abort",
    "on_approval_expiry": "approvals",
    "approve": "decide",
    "deny": "decide",
    "on_ecs_deployment_event": "events",
    "resolve_image": "images",
    "get_deployment": "request",
    "request_deploy": "request",
    "request_rollback": "request",
    "container_image": "revision",
    "pinned_image": "revision",
    "render_task_definition": "revision",
    "split_image": "revision",
    "start_deploy": "rollout",
    "sweep": "sweep",
    "on_deploy_timeout": "timeout",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


__all__ = [
    "approve",
    "container_image",
    "deny",
    "get_deployment",
    "on_approval_expiry",
    "on_deploy_timeout",
    "on_ecs_deployment_event",
    "on_task_stopped",
    "pinned_image",
    "render_task_definition",
    "request_deploy",
    "request_rollback",
    "resolve_image",
    "split_image",
    "start_deploy",
    "sweep",
]
