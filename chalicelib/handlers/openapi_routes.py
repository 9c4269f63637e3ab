"""What each REST route takes and answers, for the OpenAPI document (``handlers.openapi``).

``OPERATIONS`` lists every REST route but ``/slack/*`` with every status it answers; a unit test
checks it against the routes the Chalice app registers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from chalicelib.domain.messages import (
    DecisionRequest,
    DeployRequest,
    RollbackRequest,
    ScaleRequest,
)
from chalicelib.guards import FreezeRequest, UnfreezeRequest
from chalicelib.handlers.views import models as m

AUTHED = (401, 503)  # the auth middleware answers these on every route that needs a token
# The other errors a route answers, by kind of route.
READ = (403, 404)  # one thing, by its id or name
SEARCH = (400, 403, 404)  # a read with query parameters to check
WRITE = (400, 403, 404, 409)  # a POST: a change, which may conflict with work in flight

# Every ``environment`` and ``service`` parameter's example (the e2e stack's), unless a route
# gives its own.
EXAMPLES = {"environment": "demo", "service": "web"}


@dataclass(frozen=True)
class Query:
    """A query parameter and its JSON schema."""

    name: str
    schema: dict[str, Any]
    description: str
    required: bool = False


@dataclass(frozen=True)
class Operation:
    """One route: its method and path (Chalice's, as ``"GET /path"``), its body, and every
    status it answers."""

    route: str
    name: str
    summary: str
    ok: dict[int, type[BaseModel]] = field(default_factory=dict)
    errors: tuple[int, ...] = ()
    body: type[BaseModel] | None = None
    body_required: bool = True
    query: tuple[Query, ...] = ()
    public: bool = False
    examples: dict[str, Any] = field(default_factory=dict)
    text: str | None = None  # a non-JSON answer (the dashboard's files): its media type

    @property
    def method(self) -> str:
        """``GET``, ``POST``."""
        return self.route.partition(" ")[0]

    @property
    def path(self) -> str:
        """The path, with its ``{name}`` parameters."""
        return self.route.partition(" ")[2]

    @property
    def path_parameters(self) -> list[str]:
        """The ``{name}`` segments of the path."""
        return re.findall(r"{(\w+)}", self.path)

    def example(self, name: str) -> dict[str, Any]:
        """The ``example`` member of the parameter ``name``: empty when it has none."""
        value = self.examples.get(name, EXAMPLES.get(name))
        return {} if value is None else {"example": value}


def _count(name: str, maximum: int, default: int, description: str) -> Query:
    """A query parameter counting from 1 (a page's size, a window)."""
    schema = {"type": "integer", "minimum": 1, "maximum": maximum, "default": default}
    return Query(name, schema, description)


def _file(route: str, name: str, summary: str, media: str) -> Operation:
    """One of the dashboard's page and files: text, no auth."""
    return Operation(route, name, summary, text=media)


STRING: dict[str, Any] = {"type": "string"}
ENVIRONMENT = Query("environment", STRING, "The environment (required)", required=True)
IN_ENVIRONMENT = Query("environment", STRING, "Only this environment")
NEXT = Query(
    "next",
    {"type": "string", "maxLength": 1024},
    "The `next` of the previous page's answer (opaque); absent for the first page",
)

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "GET /health",
        "health",
        "Whether the state table and the work queue answer (503 names what does not)",
        ok={200: m.HealthBody},
        errors=(503,),
        public=True,
    ),
    Operation(
        "GET /openapi.json",
        "openapi_document",
        "This document",
        ok={200: m.OpenApiDocument},
        public=True,
    ),
    Operation(
        "POST /deployments",
        "create_deployment",
        "Queue a deploy of a new image (or ECR tag, or the digest another environment runs) "
        "to one service; with dry_run, answer 200 with what it would do and change nothing",
        ok={200: m.DryRunBody, 202: m.DeploymentBody},
        errors=WRITE,
        body=DeployRequest,
        examples={"body": {"environment": "demo", "service": "web", "tag": "1.1"}},
    ),
    Operation(
        "GET /deployments/{deployment_id}",
        "get_deployment",
        "A deployment, its status and its events",
        ok={200: m.DeploymentBody},
        errors=READ,
    ),
    Operation(
        "POST /deployments/{deployment_id}/rollback",
        "rollback_deployment",
        "Queue a rollback of a deployment to the task definition before it",
        ok={202: m.DeploymentBody},
        errors=WRITE,
        body=RollbackRequest,
        body_required=False,
    ),
    Operation(
        "POST /deployments/{deployment_id}/approve",
        "approve_deployment",
        "Approve a deploy or rollback that awaits approval (not the requester's own)",
        ok={202: m.DeploymentBody},
        errors=WRITE,
        body=DecisionRequest,
        body_required=False,
    ),
    Operation(
        "POST /deployments/{deployment_id}/deny",
        "deny_deployment",
        "Deny a deploy or rollback that awaits approval: it ends denied",
        ok={202: m.DeploymentBody},
        errors=WRITE,
        body=DecisionRequest,
        body_required=False,
    ),
    Operation(
        "GET /services/{environment}/{service}",
        "get_service",
        "What ECS says about a service, with its bounds and any deploy in flight",
        ok={200: m.ServiceBody},
        errors=READ,
    ),
    Operation(
        "POST /services/{environment}/{service}/scale",
        "scale_service",
        "Set a service's desired count, inside its bounds (400 names the bounds)",
        ok={200: m.ScaleBody},
        errors=WRITE,
        body=ScaleRequest,
        examples={"body": {"desired": 2}},
    ),
    Operation(
        "GET /audit",
        "audit",
        "Audit entries the caller may read, newest first",
        ok={200: m.AuditBody},
        errors=SEARCH,
        query=(
            IN_ENVIRONMENT,
            Query("service", STRING, "Only this target (a service, a group...)"),
            _count("limit", 500, 50, "At most this many entries"),
            NEXT,
        ),
        examples={"limit": 5},
    ),
    Operation(
        "GET /environments",
        "list_environments",
        "The environments the caller may read",
        ok={200: m.EnvironmentsBody},
    ),
    Operation(
        "GET /services/{environment}",
        "list_services",
        "The services of an environment by name, a page at a time, as "
        "GET /services/{environment}/{service} shows each",
        ok={200: m.ServicesBody},
        errors=SEARCH,
        query=(_count("limit", 100, 50, "At most this many services"), NEXT),
    ),
    Operation(
        "GET /deployments",
        "list_deployments",
        "Deployments the caller may read, newest first",
        ok={200: m.DeploymentsBody},
        errors=SEARCH,
        query=(
            IN_ENVIRONMENT,
            Query("service", STRING, "Only this service (needs environment)"),
            _count("limit", 100, 20, "At most this many deployments"),
            NEXT,
        ),
        examples={"limit": 5},
    ),
    Operation(
        "GET /budgets",
        "list_budgets",
        "The budgets of an environment's account: limit, actual and forecast spend",
        ok={200: m.BudgetsBody},
        errors=SEARCH,
        query=(ENVIRONMENT,),
    ),
    Operation(
        "GET /certificates",
        "list_certificates",
        "An environment's certificates, days to expiry and the listeners serving them",
        ok={200: m.CertificatesBody},
        errors=SEARCH,
        query=(ENVIRONMENT,),
    ),
    Operation(
        "POST /environments/{environment}/freeze",
        "freeze_environment",
        "Freeze an environment: deploys, rollbacks, approvals and scale requests there answer "
        "409 frozen, and alarm reactions change nothing, until it is unfrozen (409 here: a "
        "repeat of an Idempotency-Key still being served)",
        ok={200: m.FreezeBody},
        errors=WRITE,
        body=FreezeRequest,
        examples={"body": {"reason": "regional incident"}},
    ),
    Operation(
        "POST /environments/{environment}/unfreeze",
        "unfreeze_environment",
        "End an environment's freeze (answers 200 whether or not it was frozen)",
        ok={200: m.FreezeBody},
        errors=WRITE,
        body=UnfreezeRequest,
        body_required=False,
    ),
    _file("GET /ui", "ui_page", "The read-only web dashboard (no auth)", "text/html"),
    _file("GET /ui/dashboard.js", "ui_script", "The dashboard's script", "text/javascript"),
    _file("GET /ui/dashboard.css", "ui_style", "The dashboard's style sheet", "text/css"),
    Operation(  # what changed (issue 20)
        "GET /services/{environment}/{service}/changes",
        "service_changes",
        "What changed on a service (opsbot, CloudTrail, ECS), newest first; a source that "
        "could not be read is named in missing_sources with a note",
        ok={200: m.ChangesBody},
        errors=SEARCH,
        query=(_count("since_minutes", 1440, 60, "The window, in minutes back from now"),),
        examples={"since_minutes": 60},
    ),
)
