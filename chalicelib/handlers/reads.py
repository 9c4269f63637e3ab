"""Whole-environment reads for the dashboard (and any script): same auth, error shape and
query validation as the rest of the REST API; each needs ``read`` in its environment."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.handlers.http import guarded, json_response, principal, query_text
from chalicelib.handlers.lazy import status_overview, wiring
from chalicelib.handlers.paging import page_request, with_next
from chalicelib.handlers.views.overview import (
    budgets_body,
    certificates_body,
    deployments_body,
    environments_body,
    services_body,
)

bp = Blueprint(__name__)

DEFAULT_DEPLOYMENTS = 20
MAX_DEPLOYMENTS = 100
DEFAULT_SERVICES = 50  # services per page (each page describes only its own services)
MAX_SERVICES = 100


@bp.route("/environments", methods=["GET"])
@guarded
def list_environments() -> Any:
    """The environments the caller may read."""
    found = status_overview.environments(wiring.get_deps(), principal(bp.current_request))
    return json_response(environments_body(found))


@bp.route("/services/{environment}", methods=["GET"])
@guarded
def list_services(environment: str) -> Any:
    """The services of an environment by name, as ``GET /services/{environment}/{service}``:
    ``?limit=&next=`` (limit 1..100)."""
    request = bp.current_request
    limit, after = page_request(request, "services", default=DEFAULT_SERVICES, high=MAX_SERVICES)
    found, last = status_overview.services(
        wiring.get_deps(), principal(request), environment, limit=limit, after=after
    )
    return json_response(with_next(services_body(environment, found), "services", last))


@bp.route("/deployments", methods=["GET"])
@guarded
def list_deployments() -> Any:
    """Deployments, newest first: ``?environment=&service=&limit=&next=`` (limit 1..100)."""
    request = bp.current_request
    limit, before = page_request(
        request, "deployments", default=DEFAULT_DEPLOYMENTS, high=MAX_DEPLOYMENTS
    )
    found, after = status_overview.deployments(
        wiring.get_deps(),
        principal(request),
        environment=query_text(request, "environment"),
        service=query_text(request, "service"),
        limit=limit,
        before=before,
    )
    return json_response(with_next(deployments_body(found), "deployments", after))


@bp.route("/budgets", methods=["GET"])
@guarded
def list_budgets() -> Any:
    """The budgets of an environment's account: ``?environment=`` (required)."""
    request = bp.current_request
    environment = query_text(request, "environment")
    found = status_overview.budgets(wiring.get_deps(), principal(request), environment)
    return json_response(budgets_body(str(environment), found))


@bp.route("/certificates", methods=["GET"])
@guarded
def list_certificates() -> Any:
    """An environment's certificates and their listeners: ``?environment=`` (required)."""
    request = bp.current_request
    environment = query_text(request, "environment")
    found = status_overview.certificates(wiring.get_deps(), principal(request), environment)
    return json_response(certificates_body(str(environment), found))
