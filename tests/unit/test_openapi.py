"""``GET /openapi.json`` stays true: every REST route is documented (and nothing else), every
operation names its statuses with a schema, and the views' answers validate against the
response models the document is built from."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from chalice.test import Client

from app import app
from chalicelib.domain.messages import DeployRequest
from chalicelib.handlers import openapi
from chalicelib.handlers.views import models
from chalicelib.handlers.views.audit import audit_body
from chalicelib.handlers.views.deployments import public
from chalicelib.records.audit import AuditEntry
from chalicelib.records.deployment import Deployment, DeploymentEvent
from chalicelib.records.status import DeploymentStatus

METHODS = {"get", "post", "put", "patch", "delete", "head", "options"}


def _app_routes() -> set[tuple[str, str]]:
    return {
        (method.lower(), path)
        for path, entries in app.routes.items()
        if not path.startswith("/slack/")
        for method in entries
    }


def _documented(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method, path) for path, ops in doc["paths"].items() for method in ops if method in METHODS
    }


def test_every_rest_route_is_documented_and_nothing_else() -> None:
    assert _documented(openapi.document()) == _app_routes()


def test_slack_routes_are_left_out() -> None:
    assert not [p for p in openapi.document()["paths"] if p.startswith("/slack/")]


def test_every_operation_answers_json_with_a_schema_for_each_status() -> None:
    doc = openapi.document()
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            statuses = set(op["responses"])
            assert statuses, (method, path)
            for status, response in op["responses"].items():
                if "$ref" in response:
                    response = doc["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
                if path.startswith("/ui"):  # the dashboard's page and files: text, no auth
                    assert op.get("security") == [], path
                    (media,) = response["content"]
                    assert media.startswith("text/"), path
                    assert response["content"][media]["schema"] == {"type": "string"}
                    continue
                schema = response["content"]["application/json"]["schema"]
                assert schema, (method, path, status)
            if op.get("security") == []:
                continue
            assert {"401", "503"} <= statuses, (method, path)  # middleware: token, SSM


def test_post_routes_take_an_idempotency_key_and_bodies_are_the_models() -> None:
    doc = openapi.document()
    for path, ops in doc["paths"].items():
        if "post" not in ops:
            continue
        header = [p for p in ops["post"]["parameters"] if p["in"] == "header"]
        assert [h["name"] for h in header] == ["Idempotency-Key"], path
        assert header[0]["schema"]["minLength"] == 1
        assert header[0]["schema"]["maxLength"] == 255
    body = doc["paths"]["/deployments"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/DeployRequest"}
    assert set(doc["components"]["schemas"]["DeployRequest"]["properties"]) == set(
        DeployRequest.model_fields
    )
    assert doc["paths"]["/deployments/{deployment_id}/rollback"]["post"]["requestBody"][
        "required"
    ] is (False)


def test_bearer_is_the_security_scheme_but_health_and_the_document_are_public() -> None:
    doc = openapi.document()
    assert doc["components"]["securitySchemes"] == {"bearer": {"type": "http", "scheme": "bearer"}}
    assert doc["security"] == [{"bearer": []}]
    public_ops = {
        path
        for path, ops in doc["paths"].items()
        for op in ops.values()
        if op.get("security") == []
    }
    # the dashboard's page and files are public too (the page reads the API with a token)
    assert public_ops == {
        "/health",
        "/openapi.json",
        "/ui",
        "/ui/dashboard.js",
        "/ui/dashboard.css",
    }


def test_served_without_a_token_as_json() -> None:
    with Client(app) as client:
        resp = client.http.get("/openapi.json")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/json"
    body = json.loads(resp.body)
    assert body["openapi"].startswith("3.")
    assert body == json.loads(json.dumps(openapi.document()))


def _deployment(**overrides: Any) -> Deployment:
    values: dict[str, Any] = {
        "id": "dep-1",
        "environment": "demo",
        "service": "web",
        "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:2.0",
        "status": DeploymentStatus.QUEUED,
        "actor": "alice",
        "created_at": "2026-11-20T09:15:00Z",
        "updated_at": "2026-11-20T09:15:00Z",
        "timeout_seconds": 600,
        "events": [DeploymentEvent("2026-11-20T09:15:00Z", DeploymentStatus.QUEUED, "asked")],
        "notify_url": "https://hooks.slack.com/x",
    }
    return Deployment(**{**values, **overrides})


@pytest.mark.parametrize(
    "deployment",
    [
        _deployment(),
        _deployment(
            status=DeploymentStatus.ROLLED_BACK,
            task_definition="web:7",
            previous_task_definition="web:6",
            failure_reason="tasks failed their health checks",
        ),
    ],
)
def test_the_deployment_view_matches_its_model(deployment: Deployment) -> None:
    models.DeploymentBody.model_validate(public(deployment), strict=False)


def test_the_audit_view_matches_its_model() -> None:
    entry = AuditEntry.of(
        at=datetime(2026, 11, 20, tzinfo=UTC),
        actor="alice",
        action="scale",
        environment="demo",
        target="demo/web",
        result="scaled",
        before=2,
        after=3,
        reason="load",
    )
    models.AuditBody.model_validate(audit_body([entry]))
