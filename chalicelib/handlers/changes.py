"""``GET /services/{environment}/{service}/changes``: what changed on a service."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.handlers.http import guarded, json_response, principal, query_int
from chalicelib.handlers.lazy import changes, wiring
from chalicelib.handlers.views.changes import changes_body

bp = Blueprint(__name__)


@bp.route("/services/{environment}/{service}/changes", methods=["GET"])
@guarded
def service_changes(environment: str, service: str) -> Any:
    """The service's changes of the last ``?since_minutes=`` (1..1440, default 60), newest
    first, from opsbot's records, CloudTrail and ECS."""
    request = bp.current_request
    minutes = query_int(
        request, "since_minutes", default=changes.DEFAULT_MINUTES, low=1, high=changes.MAX_MINUTES
    )
    feed = changes.changes(
        wiring.get_deps(),
        actor=principal(request),
        environment=environment,
        service=service,
        since_minutes=minutes,
    )
    return json_response(changes_body(feed))
