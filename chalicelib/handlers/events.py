"""EventBridge handlers: ECS deployment state changes drive deploys to their end; ECS task state
changes (a service task STOPPED) abort crash-looping rollouts early; ACM events drive certificate
rotations.

EventBridge delivers at least once: each event is processed once per event id (Powertools
idempotency on the state table, ``Store.once``); a duplicate returns the first delivery's answer
and does nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib.core.invocation import as_function
from chalicelib.core.observability import begin, count, logger
from chalicelib.handlers.lazy import certificates, deploys, events, wiring

if TYPE_CHECKING:
    from chalicelib.store import Once

bp = Blueprint(__name__)

ECS_DEPLOYMENT_PATTERN = {"source": ["aws.ecs"], "detail-type": ["ECS Deployment State Change"]}
# Only STOPPED tasks that a service deployment started (startedBy is its ECS deployment id).
ECS_TASK_STOPPED_PATTERN = {
    "source": ["aws.ecs"],
    "detail-type": ["ECS Task State Change"],
    "detail": {"lastStatus": ["STOPPED"], "startedBy": [{"prefix": "ecs-svc/"}]},
}
ACM_CERTIFICATE_PATTERN = {
    "source": ["aws.acm"],
    "detail-type": ["ACM Certificate Available", "ACM Certificate Approaching Expiration"],
}


def _reply(done: Once[Any], source: str, event_id: str, reply: dict[str, Any]) -> dict[str, Any]:
    """The handler's answer; a duplicate is logged, counted and flagged."""
    if done.duplicate:
        logger().info(
            "duplicate event: already processed, nothing done",
            extra={"source": source, "event_id": event_id},
        )
        count("DuplicateDeliveries", source=source)
        reply["duplicate"] = True
    return reply


@bp.on_cw_event(ECS_DEPLOYMENT_PATTERN)
def ecs_deployment_state(event: Any) -> dict[str, Any]:
    """Advance the opsbot deployment an ECS deployment belongs to (once per event id)."""
    as_function("ecs_deployment_state")
    change = events.EcsDeploymentStateChange.model_validate(event.to_dict())
    begin(change.id)
    deps = wiring.get_deps()
    done = deps.store.once(
        "ecs-event",
        {"id": change.id},
        lambda: deploys.on_ecs_deployment_event(
            deps,
            ecs_deployment_id=change.detail.deploymentId,
            event_name=change.detail.eventName,
            reason=change.detail.reason or "",
        ),
        context=event.context,
    )
    return _reply(done, "ecs", change.id, {"outcome": done.value})


@bp.on_cw_event(ECS_TASK_STOPPED_PATTERN)
def ecs_task_state(event: Any) -> dict[str, Any]:
    """Count a stopped task against its rollout; roll back a crash loop early (once per event
    id; a task counts once however often its events come)."""
    as_function("ecs_task_state")
    change = events.EcsTaskStateChange.model_validate(event.to_dict())
    begin(change.id)
    deps = wiring.get_deps()
    done = deps.store.once(
        "ecs-task-event",
        {"id": change.id},
        lambda: deploys.on_task_stopped(deps, change.detail.task()),
        context=event.context,
    )
    return _reply(done, "ecs", change.id, {"outcome": done.value})


@bp.on_cw_event(ACM_CERTIFICATE_PATTERN)
def acm_certificate_event(event: Any) -> dict[str, Any]:
    """Finish a rotation whose new certificate is issued; check an environment whose certificate
    approaches expiry (once per event id)."""
    as_function("acm_certificate_event")
    parsed = events.AcmCertificateEvent.model_validate(event.to_dict())
    begin(parsed.id)
    deps = wiring.get_deps()
    done = deps.store.once(
        "acm-event",
        {"id": parsed.id},
        lambda: certificates.on_certificate_event(
            deps, detail_type=parsed.detail_type, resources=parsed.resources
        ),
        context=event.context,
    )
    return _reply(done, "acm", parsed.id, {"certificates": done.value})
