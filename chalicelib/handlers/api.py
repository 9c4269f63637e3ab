"""The REST API: validate, authorize, record, enqueue. Work happens in the queue handlers."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.handlers.http import guarded, json_response, parse_body, principal

bp = Blueprint(__name__)

# Bodies are parsed as JSON whatever the client called them (curl -d sends form encoding);
# a body that is not JSON gets the contract's 400, not Chalice's 415.
BODY_TYPES = ["application/json", "application/x-www-form-urlencoded", "text/plain"]


def _deps() -> Any:
    from chalicelib.handlers.wiring import get_deps

    return get_deps()


@bp.route("/health", methods=["GET"])
@guarded
def health() -> Any:
    """200 when the state table and the work queue answer; 503 naming what does not."""
    from chalicelib import status

    body, healthy = status.health(_deps())
    return json_response(body, 200 if healthy else 503)


@bp.route("/deployments", methods=["POST"], content_types=BODY_TYPES)
@guarded
def create_deployment() -> Any:
    """Queue a deploy of a new image (or ECR tag) to one service."""
    from chalicelib import deploys
    from chalicelib.domain.messages import DeployRequest
    from chalicelib.handlers.views.deployments import public

    request = parse_body(bp.current_request, DeployRequest)
    deployment = deploys.request_deploy(
        _deps(), actor=principal(bp.current_request), request=request
    )
    return json_response(public(deployment), 202)


@bp.route("/deployments/{deployment_id}", methods=["GET"])
@guarded
def get_deployment(deployment_id: str) -> Any:
    """A deployment, its status and its events."""
    from chalicelib import deploys
    from chalicelib.domain.policy import Permission
    from chalicelib.handlers.views.deployments import public

    deps = _deps()
    deployment = deploys.get_deployment(deps, deployment_id)
    deps.policy.require(principal(bp.current_request), deployment.environment, Permission.READ)
    return json_response(public(deployment))


@bp.route("/deployments/{deployment_id}/rollback", methods=["POST"], content_types=BODY_TYPES)
@guarded
def rollback_deployment(deployment_id: str) -> Any:
    """Queue a rollback of a finished deployment to the task definition before it."""
    from chalicelib import deploys
    from chalicelib.domain.messages import RollbackRequest
    from chalicelib.handlers.views.deployments import public

    body = parse_body(bp.current_request, RollbackRequest, optional=True)
    deployment = deploys.request_rollback(
        _deps(),
        actor=principal(bp.current_request),
        deployment_id=deployment_id,
        reason=body.reason,
    )
    return json_response(public(deployment), 202)


@bp.route("/services/{environment}/{service}", methods=["GET"])
@guarded
def get_service(environment: str, service: str) -> Any:
    """What ECS says about a service, with its bounds and any deploy in flight."""
    from chalicelib import status

    return json_response(
        status.service_status(
            _deps(), actor=principal(bp.current_request), environment=environment, service=service
        )
    )


@bp.route("/services/{environment}/{service}/scale", methods=["POST"], content_types=BODY_TYPES)
@guarded
def scale_service(environment: str, service: str) -> Any:
    """Set a service's desired count, inside its bounds."""
    from chalicelib import scaling
    from chalicelib.domain.messages import ScaleRequest
    from chalicelib.handlers.views.scaling import scale_result

    body = parse_body(bp.current_request, ScaleRequest)
    result = scaling.manual_scale(
        _deps(),
        actor=principal(bp.current_request),
        environment=environment,
        service=service,
        desired=body.desired,
        reason=body.reason,
    )
    return json_response(scale_result(result), 200)


@bp.route("/audit", methods=["GET"])
@guarded
def audit() -> Any:
    """Audit entries, newest first."""
    from chalicelib import status

    params = dict(bp.current_request.query_params or {})
    items = status.audit(
        _deps(),
        actor=principal(bp.current_request),
        environment=params.get("environment"),
        service=params.get("service"),
        limit=params.get("limit"),
    )
    return json_response({"items": items})
