"""Fleet guards over REST: freeze and unfreeze an environment (permission ``freeze``)."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.handlers.http import guarded, json_response, parse_body, principal
from chalicelib.handlers.idempotency import idempotent
from chalicelib.handlers.lazy import guards, wiring
from chalicelib.handlers.views.guards import freeze_body

bp = Blueprint(__name__)

BODY_TYPES = ["application/json", "application/x-www-form-urlencoded", "text/plain"]


@bp.route("/environments/{environment}/freeze", methods=["POST"], content_types=BODY_TYPES)
@idempotent(bp)
@guarded
def freeze_environment(environment: str) -> Any:
    """Freeze an environment: no deploys, rollbacks or scaling; alarm reactions change nothing."""
    body = parse_body(bp.current_request, guards.FreezeRequest)
    frozen = guards.freeze(
        wiring.get_deps(),
        actor=principal(bp.current_request),
        environment=environment,
        reason=body.reason,
    )
    return json_response(freeze_body(frozen))


@bp.route("/environments/{environment}/unfreeze", methods=["POST"], content_types=BODY_TYPES)
@idempotent(bp)
@guarded
def unfreeze_environment(environment: str) -> Any:
    """End an environment's freeze."""
    body = parse_body(bp.current_request, guards.UnfreezeRequest, optional=True)
    thawed = guards.unfreeze(
        wiring.get_deps(),
        actor=principal(bp.current_request),
        environment=environment,
        reason=body.reason,
    )
    return json_response(freeze_body(thawed))
