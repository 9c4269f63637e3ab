"""A signed Slack request is carried out once: the same body, timestamp and signature sent again
(captured and replayed inside the five-minute window) is refused with 401 and does nothing."""

from __future__ import annotations

import copy
import json
import time
from typing import Any
from urllib.parse import urlencode

import pytest
from botocore.exceptions import ClientError
from chalice.test import Client

from chalicelib.chatops.replay import REPLAY_MESSAGE
from chalicelib.chatops.verify import MAX_AGE_SECONDS, signature
from chalicelib.domain.policy import parse_policy
from tests.functional import test_handlers_in_process as in_process
from tests.functional.conftest import World
from tests.functional.test_handlers_in_process import IN_PROCESS_POLICY, SLACK_SECRET, error

# the in-process app and its recorded Slack posts, as test_handlers_in_process sets them up
client = in_process.client
slack_posts = in_process.slack_posts

REPLAY = {"code": "unauthorized", "message": REPLAY_MESSAGE}


def signed(fields: dict[str, str], *, timestamp: int | None = None) -> tuple[bytes, dict[str, str]]:
    """A form body and the headers Slack signs it with (captured once, sent as often as liked)."""
    body = urlencode(fields).encode()
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature(SLACK_SECRET, stamp, body),
    }
    return body, headers


def deploy_fields(text: str = "deploy web 2.0", user: str = "U0ALICE") -> dict[str, str]:
    return {
        "user_id": user,
        "command": "/opsbot",
        "text": text,
        "channel_id": "C0OPS",
        "trigger_id": "13345224609.738474920.8088930838d88f008e0",
    }


def deployments(world: World) -> list[str]:
    return sorted(
        d.id
        for d in world.deps.store.recent_deployments(environment="demo", service="web", limit=20)
    )


def slack_request_items(world: World) -> list[dict[str, Any]]:
    ddb = world.client("dynamodb")
    items = ddb.scan(TableName=world.deps.settings.table_name)["Items"]
    return [i for i in items if i["pk"]["S"].startswith("SLACKREQ#")]


def test_a_replayed_slash_command_is_refused_and_deploys_nothing(
    client: Client, world: World
) -> None:
    body, headers = signed(deploy_fields())
    first = client.http.post("/slack/commands", headers=headers, body=body)
    assert first.status_code == 200
    assert first.json_body["response_type"] == "in_channel"
    [deployment_id] = deployments(world)
    assert deployment_id in first.json_body["text"]
    work, audit = world.work(), world.audit("web")

    replay = client.http.post("/slack/commands", headers=headers, body=body)
    assert replay.status_code == 401
    assert error(replay) == REPLAY
    assert deployments(world) == [deployment_id]  # nothing new recorded ...
    assert world.work() == work  # ... or queued ...
    assert world.audit("web") == audit  # ... or refused as a conflict: it never ran

    # what is remembered: the signature until just past its window, nothing else
    [item] = slack_request_items(world)
    assert item["pk"]["S"] == f"SLACKREQ#{headers['X-Slack-Signature']}"
    stamp = int(headers["X-Slack-Request-Timestamp"])
    assert stamp + MAX_AGE_SECONDS < int(item["expires_at"]["N"]) <= stamp + MAX_AGE_SECONDS + 120


def test_the_same_text_freshly_signed_is_a_new_request(client: Client, world: World) -> None:
    fields = deploy_fields()
    body, headers = signed(fields, timestamp=int(time.time()) - 10)
    assert client.http.post("/slack/commands", headers=headers, body=body).status_code == 200
    [deployment_id] = deployments(world)

    # the same words sent again by Slack: a new timestamp, so a new signature; it is carried
    # out (the service is busy with the first deploy, which the reply says)
    body, headers = signed(fields)
    again = client.http.post("/slack/commands", headers=headers, body=body)
    assert again.status_code == 200
    assert again.json_body["error"]["code"] == "conflict"
    assert deployment_id in again.json_body["text"]
    [refusal] = [e for e in world.audit("web") if e["result"] == "conflict"]
    assert refusal["holder"] == deployment_id
    assert len(slack_request_items(world)) == 2


def test_an_unsigned_request_records_nothing(client: Client, world: World) -> None:
    body, headers = signed(deploy_fields())
    forged = {**headers, "X-Slack-Signature": "v0=" + "0" * 64}
    for _ in range(3):
        resp = client.http.post("/slack/commands", headers=forged, body=body)
        assert error(resp) == {"code": "unauthorized", "message": "invalid Slack signature"}
    assert slack_request_items(world) == []
    # the genuine request was never received, so it is still carried out
    assert client.http.post("/slack/commands", headers=headers, body=body).status_code == 200
    assert len(deployments(world)) == 1


def _protected(world: World) -> None:
    """demo needs a second person's approval; U0LENA may give it."""
    policy = copy.deepcopy(IN_PROCESS_POLICY)
    policy["environments"]["demo"]["approval"] = {
        "actions": ["deploy", "rollback"],
        "approvers": "lead",
        "expires_after_minutes": 30,
    }
    policy["roles"]["lead"] = ["read", "approve"]
    policy["people"]["lena"] = {"slack_user": "U0LENA", "roles": {"demo": "lead"}}
    world.deps.policy = parse_policy(policy, __file__)


def test_a_replayed_button_press_is_refused(
    client: Client, world: World, slack_posts: list[dict[str, Any]]
) -> None:
    _protected(world)
    body, headers = signed(deploy_fields())
    assert client.http.post("/slack/commands", headers=headers, body=body).status_code == 200
    [deployment_id] = deployments(world)
    assert world.record(deployment_id).status == "awaiting_approval"

    payload = {
        "type": "block_actions",
        "user": {"id": "U0LENA"},
        "response_url": "https://hooks.slack.com/actions/T0/1/approve",
        "actions": [{"action_id": "approve", "value": deployment_id, "type": "button"}],
    }
    body, headers = signed({"payload": json.dumps(payload)})
    pressed = client.http.post("/slack/interactions", headers=headers, body=body)
    assert pressed.status_code == 200
    assert pressed.json_body["results"][0].startswith("You approved")
    assert world.record(deployment_id).status == "queued"
    work, audit = world.work(), world.audit("web")

    replay = client.http.post("/slack/interactions", headers=headers, body=body)
    assert replay.status_code == 401
    assert error(replay) == REPLAY
    assert world.work() == work  # no second reply, no second start
    assert world.audit("web") == audit  # not even a "no longer awaits approval" refusal
    assert world.record(deployment_id).approved_by == "lena"


@pytest.mark.parametrize("path", ["/slack/commands", "/slack/interactions"])
def test_when_the_table_cannot_record_it_nothing_is_done(
    client: Client, world: World, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    throttled = ClientError(
        {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "PutItem"
    )

    def cannot_record(signature: str, *, keep_until: int) -> bool:
        raise throttled

    monkeypatch.setattr(world.deps.store, "record_slack_request", cannot_record)
    fields = deploy_fields() if path.endswith("commands") else {"payload": "{}"}
    body, headers = signed(fields)
    resp = client.http.post(path, headers=headers, body=body)
    assert resp.status_code == 503
    assert error(resp)["code"] == "dependency_unavailable"
    assert error(resp)["dependencies"] == ["dynamodb"]
    assert "nothing was done" in error(resp)["message"]
    assert deployments(world) == []
    assert world.work() == []
