"""EventBridge handlers: ECS deployment state changes drive deploys to their end; ACM events
drive certificate rotations."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.handlers.lazy import certificates, deploys, events, wiring

bp = Blueprint(__name__)

ECS_DEPLOYMENT_PATTERN = {"source": ["aws.ecs"], "detail-type": ["ECS Deployment State Change"]}
ACM_CERTIFICATE_PATTERN = {
    "source": ["aws.acm"],
    "detail-type": ["ACM Certificate Available", "ACM Certificate Approaching Expiration"],
}


@bp.on_cw_event(ECS_DEPLOYMENT_PATTERN)
def ecs_deployment_state(event: Any) -> dict[str, str]:
    """Advance the opsbot deployment an ECS deployment belongs to."""
    change = events.EcsDeploymentStateChange.model_validate(event.to_dict())
    outcome = deploys.on_ecs_deployment_event(
        wiring.get_deps(),
        ecs_deployment_id=change.detail.deploymentId,
        event_name=change.detail.eventName,
        reason=change.detail.reason or "",
    )
    return {"outcome": outcome}


@bp.on_cw_event(ACM_CERTIFICATE_PATTERN)
def acm_certificate_event(event: Any) -> dict[str, Any]:
    """Finish a rotation whose new certificate is issued; check an environment whose certificate
    approaches expiry."""
    parsed = events.AcmCertificateEvent.model_validate(event.to_dict())
    results = certificates.on_certificate_event(
        wiring.get_deps(), detail_type=parsed.detail_type, resources=parsed.resources
    )
    return {"certificates": results}
