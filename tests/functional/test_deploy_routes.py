"""The deploy routes in process (``chalice.test.Client``): HTTP through the auth middleware and
the routes to the deploy capability and the deployment view, against moto."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.core.clock import iso
from tests.functional.conftest import REGISTRY, World

TOKENS = {"alice-token": "alice", "victor-token": "victor"}


@pytest.fixture
def client(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[Client]:
    from app import app

    monkeypatch.setattr("chalicelib.handlers.http.token_principal", TOKENS.get)
    with Client(app) as client:
        yield client


def call(
    client: Client, method: str, path: str, body: Any = None, token: str = "alice-token"
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    data = json.dumps(body) if body is not None else None
    resp = getattr(client.http, method.lower())(path, headers=headers, body=data)
    return resp.status_code, json.loads(resp.body)


def test_post_answers_queued_and_get_shows_the_same_deployment(
    client: Client, world: World
) -> None:
    status, posted = call(
        client, "POST", "/deployments", {"environment": "demo", "service": "web", "tag": "2.0"}
    )
    assert status == 202, posted
    assert posted["status"] == "queued"
    assert posted["image"] == f"{REGISTRY}/web:2.0"
    assert (posted["task_definition"], posted["previous_task_definition"]) == (None, None)
    assert posted["events"] == [
        {
            "at": iso(world.clock.now),
            "status": "queued",
            "message": f"alice asked to deploy {REGISTRY}/web:2.0",
        }
    ]
    assert "notify_url" not in posted

    status, shown = call(client, "GET", f"/deployments/{posted['id']}")
    assert status == 200
    assert shown == posted


def test_the_routes_answer_the_contracts_errors(client: Client, world: World) -> None:
    body = {"environment": "demo", "service": "web", "tag": "2.0"}
    assert call(client, "POST", "/deployments", body, token="stolen")[0] == 401  # middleware
    assert call(client, "POST", "/deployments", body, token="victor-token")[0] == 403
    assert call(client, "GET", "/deployments/dep-nope")[0] == 404
    status, error = call(client, "POST", "/deployments", {**body, "tag": "9.9"})
    assert status == 400 and set(error["error"]["fields"]) == {"tag"}

    status, first = call(client, "POST", "/deployments", body)
    assert status == 202
    status, busy = call(client, "POST", "/deployments", body)
    assert status == 409 and busy["error"]["holder"] == first["id"]
    status, refused = call(client, "POST", f"/deployments/{first['id']}/rollback", {})
    assert status == 409 and "still queued" in refused["error"]["message"]


def test_rollback_route_answers_the_new_deployment(client: Client, world: World) -> None:
    started = world.started()
    world.ecs_says("SERVICE_DEPLOYMENT_COMPLETED", world.ecs_rollouts.complete("web"))

    status, rollback = call(
        client, "POST", f"/deployments/{started.id}/rollback", {"reason": "checkout errors"}
    )

    assert status == 202, rollback
    assert rollback["status"] == "queued"
    assert rollback["rollback_of"] == started.id
    assert rollback["reason"] == "checkout errors"
    assert rollback["task_definition"] == started.previous_task_definition


def test_an_id_too_long_to_be_a_key_is_not_found_without_a_read(
    client: Client, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_read(deployment_id: str) -> None:
        raise AssertionError("DynamoDB refuses keys over 2 KB: this would answer 503")

    monkeypatch.setattr(world.store, "get_deployment", no_read)
    long_id = "d" * 3000
    for method, path in (
        ("GET", f"/deployments/{long_id}"),
        ("POST", f"/deployments/{long_id}/rollback"),
    ):
        status, body = call(client, method, path)
        assert status == 404, (method, body)
        assert body["error"]["code"] == "not_found"
