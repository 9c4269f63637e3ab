"""Freezing an environment, in process (``chalice.test.Client`` and the capabilities) against
moto: who may, what a freeze refuses (409 ``frozen`` with who and why), what it lets finish,
the audit trail, ``GET /environments``, Slack's ``freeze``/``unfreeze``, and unfreezing."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from chalice.test import Client

from chalicelib import deploys
from chalicelib.chatops.commands import handle_command
from chalicelib.chatops.parse import SlashCommand
from chalicelib.core.errors import Frozen
from chalicelib.domain.policy import parse_policy
from tests.functional.conftest import POLICY, World

TOKENS = {"alice-token": "alice", "victor-token": "victor", "lena-token": "lena"}
REASON = "regional incident in us-east-1"

FREEZING: dict[str, Any] = copy.deepcopy(POLICY)
FREEZING["roles"]["admin"] = ["read", "deploy", "scale", "rollback", "freeze"]
FREEZING["roles"]["lead"] = ["read", "approve"]
FREEZING["people"]["alice"]["slack_user"] = "U0ALICE"
FREEZING["people"]["victor"]["slack_user"] = "U0VICTOR"
FREEZING["people"]["lena"] = {"roles": {"demo": "lead"}}


@pytest.fixture
def client(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[Client]:
    from app import app

    world.deps.policy = parse_policy(FREEZING, __file__)
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


def freeze(client: Client) -> dict[str, Any]:
    status, body = call(client, "POST", "/environments/demo/freeze", {"reason": REASON})
    assert status == 200, body
    return dict(body)


def assert_frozen(status: int, body: dict[str, Any]) -> None:
    assert status == 409, body
    error = body["error"]
    assert error["code"] == "frozen"
    assert REASON in error["message"] and "alice" in error["message"]
    assert (error["frozen_by"], error["frozen_reason"]) == ("alice", REASON)


def test_freeze_answers_the_state_and_get_environments_shows_it(
    client: Client, world: World
) -> None:
    frozen = freeze(client)
    assert frozen == {
        "environment": "demo",
        "frozen": True,
        "by": "alice",
        "reason": REASON,
        "at": "2026-11-20T09:15:00Z",
    }
    status, listed = call(client, "GET", "/environments")
    [env] = listed["items"]
    assert (env["frozen"], env["frozen_by"], env["frozen_reason"]) == (True, "alice", REASON)
    assert env["frozen_at"] == "2026-11-20T09:15:00Z"

    status, thawed = call(client, "POST", "/environments/demo/unfreeze")
    assert status == 200 and thawed["frozen"] is False and thawed["by"] == "alice"
    status, listed = call(client, "GET", "/environments")
    assert listed["items"][0]["frozen"] is False and "frozen_by" not in listed["items"][0]
    trail = [(e["action"], e["result"], e["actor"]) for e in world.audit("environment")]
    assert sorted(trail) == [("freeze", "frozen", "alice"), ("unfreeze", "unfrozen", "alice")]


@pytest.mark.parametrize(
    ("path", "body", "token", "status", "code"),
    [  # path, body, token, status, code
        ("/environments/nope/freeze", {"reason": "x"}, "alice-token", 404, "not_found"),
        ("/environments/demo/freeze", {"reason": "x"}, "victor-token", 403, "forbidden"),
        ("/environments/demo/unfreeze", None, "victor-token", 403, "forbidden"),
        ("/environments/demo/freeze", {}, "alice-token", 400, "invalid_request"),
        ("/environments/demo/freeze", {"reason": "  "}, "alice-token", 400, "invalid_request"),
        ("/environments/demo/freeze", {"reason": "x" * 501}, "alice-token", 400, "invalid_request"),
        (
            "/environments/demo/freeze",
            {"reason": "x", "y": 1},
            "alice-token",
            400,
            "invalid_request",
        ),
    ],
)
def test_freeze_refusals(
    client: Client, world: World, path: str, body: Any, token: str, status: int, code: str
) -> None:
    answered, error = call(client, "POST", path, body, token=token)
    assert (answered, error["error"]["code"]) == (status, code)
    assert world.store.freeze_of("demo").frozen is False


def test_while_frozen_deploys_rollbacks_and_scaling_answer_409_then_work_again(
    client: Client, world: World
) -> None:
    earlier = world.request("web", tag="2.0")  # a deploy queued before the freeze
    freeze(client)
    deploy = {"environment": "demo", "service": "api", "tag": "2.0"}
    assert_frozen(*call(client, "POST", "/deployments", deploy))
    assert_frozen(*call(client, "POST", f"/deployments/{earlier.id}/rollback"))
    assert_frozen(*call(client, "POST", "/services/demo/api/scale", {"desired": 3}))
    # a dry run still answers, and says the deploy would be refused
    status, dry = call(client, "POST", "/deployments", {**deploy, "dry_run": True})
    assert status == 200 and dry["outcome"] == "would_conflict"
    assert {c["name"]: c["result"] for c in dry["checks"]}["not_frozen"] == "fail"
    refused = [(e["action"], e["result"]) for e in world.audit("api") if e["result"] == "frozen"]
    assert sorted(refused) == [("deploy", "frozen"), ("scale", "frozen")]

    call(client, "POST", "/environments/demo/unfreeze")
    status, body = call(client, "POST", "/deployments", deploy)
    assert status == 202 and body["status"] == "queued"


def test_an_in_flight_deploy_finishes_while_frozen(client: Client, world: World) -> None:
    started = world.started()
    freeze(client)
    ecs_id = world.ecs_rollouts.complete("web")
    assert world.ecs_says("SERVICE_DEPLOYMENT_COMPLETED", ecs_id) == "succeeded"
    assert world.record(started.id).status == "succeeded"


def test_an_approval_in_a_frozen_environment_keeps_it_waiting(client: Client, world: World) -> None:
    doc = copy.deepcopy(FREEZING)
    doc["environments"]["demo"]["approval"] = {"actions": ["deploy"], "approvers": "lead"}
    world.deps.policy = parse_policy(doc, __file__)
    asked = world.request("web", tag="2.0")
    assert asked.status == "awaiting_approval"
    freeze(client)
    with pytest.raises(Frozen):
        deploys.approve(world.deps, actor="lena", deployment_id=asked.id)
    assert world.record(asked.id).status == "awaiting_approval"
    # denying starts nothing: allowed
    assert deploys.deny(world.deps, actor="lena", deployment_id=asked.id).status == "denied"


def slash(world: World, user: str, text: str) -> dict[str, Any]:
    command = SlashCommand(user_id=user, command="/opsbot", text=text, response_url=None)
    return handle_command(world.deps, command)


def test_slack_freeze_and_unfreeze(client: Client, world: World) -> None:
    said = slash(world, "U0ALICE", f"freeze demo {REASON}")
    assert said["response_type"] == "in_channel"
    assert f"froze *demo*: {REASON}" in said["text"]
    assert world.store.freeze_of("demo").reason == REASON
    refused = slash(world, "U0ALICE", "scale api 3 demo")
    assert refused["error"]["code"] == "frozen"
    assert slash(world, "U0VICTOR", "unfreeze demo")["error"]["code"] == "forbidden"
    assert slash(world, "U0ALICE", "freeze demo")["error"]["code"] == "invalid_request"
    assert "unfroze *demo*" in slash(world, "U0ALICE", "unfreeze demo")["text"]
    assert world.store.freeze_of("demo").frozen is False
