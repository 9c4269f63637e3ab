"""EventBridge handlers: ECS deployment state changes drive deploys to their end."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

bp = Blueprint(__name__)

ECS_DEPLOYMENT_PATTERN = {"source": ["aws.ecs"], "detail-type": ["ECS Deployment State Change"]}


@bp.on_cw_event(ECS_DEPLOYMENT_PATTERN)
def ecs_deployment_state(event: Any) -> dict[str, str]:
    """Advance the opsbot deployment an ECS deployment belongs to."""
    from chalicelib import deploys
    from chalicelib.models import EcsDeploymentStateChange
    from chalicelib.runtime import get_deps

    change = EcsDeploymentStateChange.model_validate(event.to_dict())
    outcome = deploys.on_ecs_deployment_event(
        get_deps(),
        ecs_deployment_id=change.detail.deploymentId,
        event_name=change.detail.eventName,
        reason=change.detail.reason or "",
    )
    return {"outcome": outcome}
