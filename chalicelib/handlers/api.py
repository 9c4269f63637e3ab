"""The REST API: validate, authorize, record, enqueue. Work happens in the queue handlers."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.handlers.http import (
    bearer_principal,
    guarded,
    json_response,
    parse_body,
    principal,
    query_text,
)
from chalicelib.handlers.idempotency import creation_seed, idempotent, resumes_dead_attempt
from chalicelib.handlers.lazy import (
    deploys,
    messages,
    openapi,
    policy,
    scaling,
    status_audit,
    status_dry_run,
    status_health,
    status_services,
    wiring,
)
from chalicelib.handlers.paging import page_request, with_next
from chalicelib.handlers.views.audit import audit_body
from chalicelib.handlers.views.deployments import public
from chalicelib.handlers.views.dry_run import dry_run_body
from chalicelib.handlers.views.scaling import scale_result
from chalicelib.handlers.views.status import health_body, public_health_body, service_body

bp = Blueprint(__name__)

# Bodies are parsed as JSON whatever the client called them (curl -d sends form encoding);
# a body that is not JSON gets the contract's 400, not Chalice's 415.
BODY_TYPES = ["application/json", "application/x-www-form-urlencoded", "text/plain"]
DEFAULT_AUDIT = 50  # audit entries per read, unless ?limit= says otherwise
MAX_AUDIT = 500


@bp.route("/health", methods=["GET"])
@guarded
def health() -> Any:
    """200 when the state table and the work queue answer; 503 naming what does not. The
    details (stage, environments, each check) only for a valid bearer token."""
    result = status_health.health(wiring.get_deps())
    detailed = bearer_principal(bp.current_request) is not None
    body = health_body(result) if detailed else public_health_body(result)
    return json_response(body, 200 if result.healthy else 503)


@bp.route("/openapi.json", methods=["GET"])
@guarded
def openapi_document() -> Any:
    """This API as an OpenAPI 3 document (no auth)."""
    return json_response(openapi.document())


@bp.route("/deployments", methods=["POST"], content_types=BODY_TYPES)
@idempotent(bp)
@guarded
def create_deployment() -> Any:
    """Queue a deploy of a new image (or ECR tag, or promoted digest) to one service; with
    ``dry_run``, answer 200 with what it would do and change nothing."""
    request = parse_body(bp.current_request, messages.DeployRequest)
    if request.dry_run:
        result = status_dry_run.dry_run(
            wiring.get_deps(), actor=principal(bp.current_request), request=request
        )
        return json_response(dry_run_body(result), 200)
    record = deploys.request_deploy(
        wiring.get_deps(),
        actor=principal(bp.current_request),
        request=request,
        id_seed=creation_seed(bp.current_request),
    )
    return json_response(public(record), 202)


@bp.route("/deployments/{deployment_id}", methods=["GET"])
@guarded
def get_deployment(deployment_id: str) -> Any:
    """A deployment, its status and its events."""
    deps = wiring.get_deps()
    record = deploys.get_deployment(deps, deployment_id)
    deps.policy.require(principal(bp.current_request), record.environment, policy.Permission.READ)
    return json_response(public(record))


@bp.route("/deployments/{deployment_id}/rollback", methods=["POST"], content_types=BODY_TYPES)
@idempotent(bp)
@guarded
def rollback_deployment(deployment_id: str) -> Any:
    """Queue a rollback of a finished deployment to the task definition before it."""
    body = parse_body(bp.current_request, messages.RollbackRequest, optional=True)
    record = deploys.request_rollback(
        wiring.get_deps(),
        actor=principal(bp.current_request),
        deployment_id=deployment_id,
        reason=body.reason,
        id_seed=creation_seed(bp.current_request),
    )
    return json_response(public(record), 202)


@bp.route("/deployments/{deployment_id}/approve", methods=["POST"], content_types=BODY_TYPES)
@idempotent(bp)
@guarded
def approve_deployment(deployment_id: str) -> Any:
    """Approve a deploy or rollback that awaits approval: it proceeds (``queued``)."""
    parse_body(bp.current_request, messages.DecisionRequest, optional=True)
    record = deploys.approve(
        wiring.get_deps(),
        actor=principal(bp.current_request),
        deployment_id=deployment_id,
        again=resumes_dead_attempt(bp.current_request),
    )
    return json_response(public(record), 202)


@bp.route("/deployments/{deployment_id}/deny", methods=["POST"], content_types=BODY_TYPES)
@idempotent(bp)
@guarded
def deny_deployment(deployment_id: str) -> Any:
    """Deny a deploy or rollback that awaits approval: it ends ``denied``."""
    parse_body(bp.current_request, messages.DecisionRequest, optional=True)
    record = deploys.deny(
        wiring.get_deps(),
        actor=principal(bp.current_request),
        deployment_id=deployment_id,
        again=resumes_dead_attempt(bp.current_request),
    )
    return json_response(public(record), 202)


@bp.route("/services/{environment}/{service}", methods=["GET"])
@guarded
def get_service(environment: str, service: str) -> Any:
    """What ECS says about a service, with its bounds and any deploy in flight."""
    result = status_services.service_status(
        wiring.get_deps(),
        actor=principal(bp.current_request),
        environment=environment,
        service=service,
    )
    return json_response(service_body(result))


@bp.route("/services/{environment}/{service}/scale", methods=["POST"], content_types=BODY_TYPES)
@idempotent(bp)
@guarded
def scale_service(environment: str, service: str) -> Any:
    """Set a service's desired count, inside its bounds."""
    body = parse_body(bp.current_request, messages.ScaleRequest)
    result = scaling.manual_scale(
        wiring.get_deps(),
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
    """Audit entries, newest first: ``?environment=&service=&limit=&next=`` (limit 1..500;
    ``next``: the cursor of the previous page's answer)."""
    request = bp.current_request
    limit, before = page_request(request, "audit", default=DEFAULT_AUDIT, high=MAX_AUDIT)
    entries, after = status_audit.audit(
        wiring.get_deps(),
        actor=principal(request),
        environment=query_text(request, "environment"),
        service=query_text(request, "service"),
        limit=limit,
        before=before,
    )
    return json_response(with_next(audit_body(entries), "audit", after))
