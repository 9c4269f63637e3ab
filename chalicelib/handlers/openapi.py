"""``GET /openapi.json``: the REST API as an OpenAPI 3.1 document, built from the pydantic models
the routes parse (``domain.messages``) and answer with (``handlers.views.models``).

The routes are listed in ``handlers.openapi_routes`` (``OPERATIONS``, every REST route but
``/slack/*`` with every status it answers; a unit test checks it against the routes the Chalice
app registers), and schemathesis (``tests/e2e``) checks the running API's answers against the
document.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from chalicelib.handlers.openapi_routes import AUTHED, OPERATIONS, Operation
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


def _parameter(
    name: str, where: str, schema: dict[str, Any], required: bool, description: str | None = None
) -> dict[str, Any]:
    """One parameter object, without its example."""
    described = {} if description is None else {"description": description}
    return {"name": name, "in": where, "required": required, **described, "schema": schema}


# The header that makes a POST safe to repeat.
IDEMPOTENCY = _parameter(
    IDEMPOTENCY_KEY,
    "header",
    {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x20-\\x7E]+$"},
    required=False,
    description="A repeat with the same key by the same principal within 24 hours answers as "
    "the first request did and does nothing else",
)


def _parameters(op: Operation) -> list[dict[str, Any]]:
    path = {"type": "string", "minLength": 1}
    params = [
        {**_parameter(name, "path", path, required=True), **op.example(name)}
        for name in op.path_parameters
    ]
    params += [
        {**_parameter(q.name, "query", q.schema, q.required, q.description), **op.example(q.name)}
        for q in op.query
    ]
    return [*params, IDEMPOTENCY] if op.method == "POST" else params


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
