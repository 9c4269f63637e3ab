"""``GET /openapi.json``: the REST API as an OpenAPI 3.1 document, built from the pydantic models
the routes parse (``domain.messages``) and answer with (``handlers.views.models``).

``OPERATIONS`` lists every REST route but ``/slack/*`` with every status it answers; a unit test
checks it against the routes the Chalice app registers, and schemathesis (``tests/e2e``) checks
the running API's answers against the document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from chalicelib.domain.messages import (
    DecisionRequest,
    DeployRequest,
    RollbackRequest,
    ScaleRequest,
)
from chalicelib.guards import FreezeRequest, UnfreezeRequest
from chalicelib.handlers.views import models as m

REF = "#/components/schemas/{model}"
JSON = "application/json"
IDEMPOTENCY_KEY = "Idempotency-Key"

# Every error status, as the contract words it.
ERRORS = {
    400: "Invalid request: `error.fields` names each bad field",
    401: "No or bad credentials",
    403: "The principal may not do this",
    404: "Unknown environment, service or id",
    409: "Conflicts with work in flight (such as a deploy): `error.holder` names it; or the "
    "environment is frozen: `error.code` is `frozen`, `error.frozen_by` / `frozen_reason` say "
    "who froze it and why",
    503: "A dependency (an AWS call) failed: a plain message; nothing was changed by this call",
}
AUTHED = (401, 503)  # the auth middleware answers these on every route that needs a token


@dataclass(frozen=True)
class Query:
    """A query parameter and its JSON schema."""

    name: str
    schema: dict[str, Any]
    description: str
    required: bool = False


@dataclass(frozen=True)
class Operation:
    """One route: its method and path (Chalice's), its body, and every status it answers."""

    method: str
    path: str
    name: str
    summary: str
    ok: dict[int, type[BaseModel]]
    errors: tuple[int, ...] = ()
    body: type[BaseModel] | None = None
    body_required: bool = True
    query: tuple[Query, ...] = ()
    public: bool = False
    examples: dict[str, Any] = field(default_factory=dict)
    text: str | None = None  # a non-JSON answer (the dashboard's files): its media type

    @property
    def path_parameters(self) -> list[str]:
        """The ``{name}`` segments of the path."""
        return re.findall(r"{(\w+)}", self.path)


NEXT = Query(
    "next",
    {"type": "string", "maxLength": 1024},
    "The `next` of the previous page's answer (opaque); absent for the first page",
)

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "GET",
        "/health",
        "health",
        "Whether the state table and the work queue answer (503 names what does not)",
        ok={200: m.HealthBody},
        errors=(503,),
        public=True,
    ),
    Operation(
        "GET",
        "/openapi.json",
        "openapi_document",
        "This document",
        ok={200: m.OpenApiDocument},
        public=True,
    ),
    Operation(
        "POST",
        "/deployments",
        "create_deployment",
        "Queue a deploy of a new image (or ECR tag, or the digest another environment runs) "
        "to one service; with dry_run, answer 200 with what it would do and change nothing",
        ok={200: m.DryRunBody, 202: m.DeploymentBody},
        errors=(400, 403, 404, 409),
        body=DeployRequest,
        examples={"body": {"environment": "demo", "service": "web", "tag": "1.1"}},
    ),
    Operation(
        "GET",
        "/deployments/{deployment_id}",
        "get_deployment",
        "A deployment, its status and its events",
        ok={200: m.DeploymentBody},
        errors=(403, 404),
    ),
    Operation(
        "POST",
        "/deployments/{deployment_id}/rollback",
        "rollback_deployment",
        "Queue a rollback of a deployment to the task definition before it",
        ok={202: m.DeploymentBody},
        errors=(400, 403, 404, 409),
        body=RollbackRequest,
        body_required=False,
    ),
    Operation(
        "POST",
        "/deployments/{deployment_id}/approve",
        "approve_deployment",
        "Approve a deploy or rollback that awaits approval (not the requester's own)",
        ok={202: m.DeploymentBody},
        errors=(400, 403, 404, 409),
        body=DecisionRequest,
        body_required=False,
    ),
    Operation(
        "POST",
        "/deployments/{deployment_id}/deny",
        "deny_deployment",
        "Deny a deploy or rollback that awaits approval: it ends denied",
        ok={202: m.DeploymentBody},
        errors=(400, 403, 404, 409),
        body=DecisionRequest,
        body_required=False,
    ),
    Operation(
        "GET",
        "/services/{environment}/{service}",
        "get_service",
        "What ECS says about a service, with its bounds and any deploy in flight",
        ok={200: m.ServiceBody},
        errors=(403, 404),
        examples={"environment": "demo", "service": "web"},
    ),
    Operation(
        "POST",
        "/services/{environment}/{service}/scale",
        "scale_service",
        "Set a service's desired count, inside its bounds (400 names the bounds)",
        ok={200: m.ScaleBody},
        errors=(400, 403, 404, 409),
        body=ScaleRequest,
        examples={"environment": "demo", "service": "web", "body": {"desired": 2}},
    ),
    Operation(
        "GET",
        "/audit",
        "audit",
        "Audit entries the caller may read, newest first",
        ok={200: m.AuditBody},
        errors=(400, 403, 404),
        query=(
            Query("environment", {"type": "string"}, "Only this environment"),
            Query("service", {"type": "string"}, "Only this target (a service, a group...)"),
            Query(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
                "At most this many entries",
            ),
            NEXT,
        ),
        examples={"environment": "demo", "service": "web", "limit": 5},
    ),
)


ENVIRONMENT = Query("environment", {"type": "string"}, "The environment (required)", required=True)
OPERATIONS += (
    Operation(
        "GET",
        "/environments",
        "list_environments",
        "The environments the caller may read",
        ok={200: m.EnvironmentsBody},
    ),
    Operation(
        "GET",
        "/services/{environment}",
        "list_services",
        "The services of an environment by name, a page at a time, as "
        "GET /services/{environment}/{service} shows each",
        ok={200: m.ServicesBody},
        errors=(400, 403, 404),
        query=(
            Query(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": 100, "default": 50},
                "At most this many services",
            ),
            NEXT,
        ),
        examples={"environment": "demo"},
    ),
    Operation(
        "GET",
        "/deployments",
        "list_deployments",
        "Deployments the caller may read, newest first",
        ok={200: m.DeploymentsBody},
        errors=(400, 403, 404),
        query=(
            Query("environment", {"type": "string"}, "Only this environment"),
            Query("service", {"type": "string"}, "Only this service (needs environment)"),
            Query(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
                "At most this many deployments",
            ),
            NEXT,
        ),
        examples={"environment": "demo", "service": "web", "limit": 5},
    ),
    Operation(
        "GET",
        "/budgets",
        "list_budgets",
        "The budgets of an environment's account: limit, actual and forecast spend",
        ok={200: m.BudgetsBody},
        errors=(400, 403, 404),
        query=(ENVIRONMENT,),
        examples={"environment": "demo"},
    ),
    Operation(
        "GET",
        "/certificates",
        "list_certificates",
        "An environment's certificates, days to expiry and the listeners serving them",
        ok={200: m.CertificatesBody},
        errors=(400, 403, 404),
        query=(ENVIRONMENT,),
        examples={"environment": "demo"},
    ),
    Operation(
        "POST",
        "/environments/{environment}/freeze",
        "freeze_environment",
        "Freeze an environment: deploys, rollbacks, approvals and scale requests there answer "
        "409 frozen, and alarm reactions change nothing, until it is unfrozen (409 here: a "
        "repeat of an Idempotency-Key still being served)",
        ok={200: m.FreezeBody},
        errors=(400, 403, 404, 409),
        body=FreezeRequest,
        examples={"environment": "demo", "body": {"reason": "regional incident"}},
    ),
    Operation(
        "POST",
        "/environments/{environment}/unfreeze",
        "unfreeze_environment",
        "End an environment's freeze (answers 200 whether or not it was frozen)",
        ok={200: m.FreezeBody},
        errors=(400, 403, 404, 409),
        body=UnfreezeRequest,
        body_required=False,
        examples={"environment": "demo"},
    ),
    Operation(
        "GET", "/ui", "ui_page", "The read-only web dashboard (no auth)", ok={}, text="text/html"
    ),
    Operation(
        "GET",
        "/ui/dashboard.js",
        "ui_script",
        "The dashboard's script",
        ok={},
        text="text/javascript",
    ),
    Operation(
        "GET",
        "/ui/dashboard.css",
        "ui_style",
        "The dashboard's style sheet",
        ok={},
        text="text/css",
    ),
)

Refs = dict[type[BaseModel], dict[str, Any]]


def _schemas() -> tuple[Refs, dict[str, Any]]:
    """Each model's ``$ref`` and the components' schemas, in one pass (shared definitions)."""
    models: set[type[BaseModel]] = {m.ErrorBody}
    for op in OPERATIONS:
        models.update(op.ok.values())
        if op.body is not None:
            models.add(op.body)
    ordered = sorted(models, key=lambda model: model.__name__)
    refs, top = models_json_schema([(model, "validation") for model in ordered], ref_template=REF)
    return {model: refs[(model, "validation")] for model in ordered}, top.get("$defs", {})


def _parameters(op: Operation) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "string", "minLength": 1},
            **({"example": op.examples[name]} if name in op.examples else {}),
        }
        for name in op.path_parameters
    ]
    params += [
        {
            "name": q.name,
            "in": "query",
            "required": q.required,
            "description": q.description,
            "schema": q.schema,
            **({"example": op.examples[q.name]} if q.name in op.examples else {}),
        }
        for q in op.query
    ]
    if op.method == "POST":
        params.append(
            {
                "name": IDEMPOTENCY_KEY,
                "in": "header",
                "required": False,
                "description": "A repeat with the same key by the same principal within 24 "
                "hours answers as the first request did and does nothing else",
                "schema": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 255,
                    "pattern": "^[\\x20-\\x7E]+$",
                },
            }
        )
    return params


def _operation(op: Operation, refs: Refs) -> dict[str, Any]:
    if op.text is not None:  # the dashboard's page and files: text, no auth
        text = {op.text: {"schema": {"type": "string"}}}
        ok = {"200": {"description": op.summary, "content": text}}
        return {"operationId": op.name, "summary": op.summary, "security": [], "responses": ok}
    responses: dict[str, Any] = {
        str(status): {
            "description": model.__doc__.splitlines()[0] if model.__doc__ else "OK",
            "content": {JSON: {"schema": refs[model]}},
        }
        for status, model in op.ok.items()
    }
    for status in sorted(set(op.errors) | (set() if op.public else set(AUTHED))):
        if op.name == "health" and status == 503:  # the health body, naming what is down
            schema = {"anyOf": [refs[m.HealthBody], refs[m.ErrorBody]]}
            responses[str(status)] = {
                "description": ERRORS[status],
                "content": {JSON: {"schema": schema}},
            }
        else:
            responses[str(status)] = {"$ref": f"#/components/responses/{status}"}
    doc: dict[str, Any] = {"operationId": op.name, "summary": op.summary}
    if params := _parameters(op):
        doc["parameters"] = params
    if op.body is not None:
        content: dict[str, Any] = {"schema": refs[op.body]}
        if "body" in op.examples:
            content["example"] = op.examples["body"]
        doc["requestBody"] = {"required": op.body_required, "content": {JSON: content}}
    if op.public:
        doc["security"] = []
    doc["responses"] = dict(sorted(responses.items()))
    return doc


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    """The OpenAPI document (built once per process)."""
    refs, schemas = _schemas()
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "opsbot",
            "version": "1",
            "description": "ECS deploys, scaling and the audit trail over REST. Errors are "
            '`{"error": {"code", "message", ...}}`; nothing a caller sends answers 5xx '
            "but 503 (a dependency failed).",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": {
                str(status): {
                    "description": text,
                    "content": {JSON: {"schema": refs[m.ErrorBody]}},
                }
                for status, text in ERRORS.items()
            },
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }
