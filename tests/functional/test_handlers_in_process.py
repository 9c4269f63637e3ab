"""The app's routes and event handlers in process, with Chalice's test client.

HTTP requests go through the auth middleware and the routes (``client.http``); SNS and SQS
events are handed to the registered handlers as Lambda would (``client.lambda_.invoke`` with
``client.events.generate_*_event``). AWS is moto in process (the ``world`` of conftest.py): the
API tokens and the Slack signing secret are SSM SecureStrings, as ``make run`` writes them.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from botocore.exceptions import ClientError
from chalice.test import Client

from app import app
from chalicelib.aws import clients
from chalicelib.aws import parameters as ssm_parameters
from chalicelib.domain.policy import parse_policy
from tests.functional.conftest import EVENTS, POLICY, World

ROOT = Path(__file__).resolve().parents[2]
TOKENS = {"alice-token": "alice", "victor-token": "victor"}
SLACK_SECRET = "in-process-signing-secret"
ONE_OF = "give exactly one of 'image', 'tag' or 'from_environment'"

IN_PROCESS_POLICY: dict[str, Any] = copy.deepcopy(POLICY)
IN_PROCESS_POLICY["people"]["alice"]["slack_user"] = "U0ALICE"
IN_PROCESS_POLICY["people"]["victor"]["slack_user"] = "U0VICTOR"
IN_PROCESS_POLICY["slack"] = {"default_environment": "demo"}
IN_PROCESS_POLICY["alarm_rules"] = {
    "web-cpu-high": {
        "alarm": "web-cpu-high",
        "environment": "demo",
        "on_alarm": {"action": "scale_ecs_service", "service": "web", "step": 1},
        "on_ok": {"action": "scale_ecs_service", "service": "web", "step": -1},
        "cooldown": {"out": 0, "in": 0},
    }
}


@pytest.fixture
def client(world: World) -> Iterator[Client]:
    """The app with this world's Deps, its secrets in SSM, Slack posts recorded."""
    world.deps.policy = parse_policy(IN_PROCESS_POLICY, __file__)
    ssm = world.client("ssm")
    prefix = world.deps.settings.parameter_prefix
    digests = {hashlib.sha256(t.encode()).hexdigest(): who for t, who in TOKENS.items()}
    for name, value in (
        ("api-tokens", json.dumps(digests)),
        ("slack-signing-secret", SLACK_SECRET),
    ):
        ssm.put_parameter(Name=f"{prefix}/{name}", Value=value, Type="SecureString")
    clients.reset()  # SSM through a client made inside this world's moto
    ssm_parameters.forget()
    with Client(app, stage_name="local", project_dir=str(ROOT)) as test_client:
        yield test_client
    clients.reset()
    ssm_parameters.forget()


@pytest.fixture
def slack_posts(world: World, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What would have been posted to Slack (the webhook and response_urls), after opsbot's own
    checks of where it may post."""
    posts: list[dict[str, Any]] = []

    def deliver(target: str, payload: dict[str, Any]) -> bool:
        posts.append({"url": target, **payload})
        return True

    monkeypatch.setattr(world.deps.notifier, "_deliver", deliver)
    monkeypatch.setattr(
        world.deps.notifier, "_slack_url", lambda: "https://hooks.slack.com/services/T0/B0/webhook"
    )
    return posts


def call(
    client: Client, method: str, path: str, body: Any = None, token: str | None = "alice-token"
) -> Any:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    raw = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    return client.http.request(method, path, headers=headers, body=raw)


def error(resp: Any) -> dict[str, Any]:
    body: dict[str, Any] = resp.json_body["error"]
    return body


# -- auth ------------------------------------------------------------------------------------


def test_health_needs_no_token_and_names_each_check(client: Client) -> None:
    resp = client.http.get("/health")
    assert resp.status_code == 200
    assert resp.json_body == {"status": "ok"}  # the public learns only the status
    for bad in ("Bearer not-a-token", "Basic abc"):
        assert client.http.get("/health", headers={"Authorization": bad}).json_body == {
            "status": "ok"
        }
    resp = client.http.get("/health", headers={"Authorization": "Bearer victor-token"})
    assert resp.status_code == 200
    assert resp.json_body == {
        "status": "ok",
        "stage": "test",
        "environments": ["demo"],
        "checks": {"dynamodb": "ok", "sqs": "ok"},
    }


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "send Authorization: Bearer <token>"),
        ({"Authorization": "Basic abc"}, "send Authorization: Bearer <token>"),
        ({"Authorization": "Bearer   "}, "send Authorization: Bearer <token>"),
        ({"Authorization": "Bearer not-a-token"}, "unknown or revoked token"),
    ],
)
def test_every_other_route_needs_a_known_bearer_token(
    client: Client, headers: dict[str, str], message: str
) -> None:
    resp = client.http.get("/audit", headers=headers)
    assert resp.status_code == 401
    assert error(resp) == {"code": "unauthorized", "message": message}


def test_a_reader_may_not_deploy(client: Client, world: World) -> None:
    resp = call(
        client,
        "POST",
        "/deployments",
        {"environment": "demo", "service": "web", "tag": "2.0"},
        token="victor-token",
    )
    assert resp.status_code == 403
    assert error(resp)["code"] == "forbidden"
    assert world.work() == []


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        (b"", {"body": "missing"}),
        (b"environment=demo", {"body": "not JSON"}),
        (b"[1]", {"body": "not an object"}),
        # which tag is meant is not guessed (parsers differ: a proxy may read the other one)
        (
            b'{"environment": "demo", "service": "web", "tag": "zz", "tag": "1.1"}',
            {"tag": "given twice"},
        ),
        (
            {"environment": "demo", "service": "web"},
            {"image": ONE_OF, "tag": ONE_OF, "from_environment": ONE_OF},
        ),
        (
            {"environment": "demo", "service": "web", "tag": "2.0", "image": "nginx"},
            {"image": ONE_OF, "tag": ONE_OF},
        ),
        ({"service": "web", "tag": "2.0"}, {"environment": "Field required"}),
    ],
)
def test_a_bad_deploy_body_is_a_400_naming_each_field(
    client: Client, body: Any, fields: dict[str, str]
) -> None:
    resp = call(client, "POST", "/deployments", body)
    assert resp.status_code == 400
    assert error(resp)["code"] == "invalid_request"
    assert error(resp)["fields"] == fields


@pytest.mark.parametrize("verb", ["approve", "deny"])
def test_a_decision_body_naming_a_field_is_a_400_not_ignored(
    client: Client, world: World, verb: str
) -> None:
    """approve and deny take no fields: a body naming one is refused before anything is looked
    up or decided (an empty body, or none, is the normal request)."""
    asked = world.request("web", tag="2.0")
    resp = call(client, "POST", f"/deployments/{asked.id}/{verb}", {"x": 1})
    assert resp.status_code == 400
    assert error(resp)["fields"] == {"x": "Extra inputs are not permitted"}
    record = world.store.get_deployment(asked.id)
    assert record is not None and record.status == asked.status


def test_unknown_names_are_404s(client: Client) -> None:
    assert call(client, "GET", "/deployments/nope").status_code == 404
    resp = call(client, "GET", "/services/demo/nope")
    assert resp.status_code == 404
    assert error(resp)["known"] == ["api", "web"]


def test_an_aws_failure_is_a_503_said_the_one_way(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    def throttled(*args: Any, **kwargs: Any) -> Any:
        raise ClientError(
            {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "GetItem"
        )

    monkeypatch.setattr("chalicelib.deploys.get_deployment", throttled)
    resp = call(client, "GET", "/deployments/d-1")
    assert resp.status_code == 503
    body = error(resp)
    rid = body["request_id"]
    assert rid
    assert body == {
        "code": "dependency_unavailable",
        "message": f"a dependency of opsbot failed; try again later (request id {rid})",
        "request_id": rid,
    }


def test_anything_unexpected_is_a_logged_500(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("oops")

    monkeypatch.setattr("chalicelib.deploys.get_deployment", broken)
    resp = call(client, "GET", "/deployments/d-1")
    assert resp.status_code == 500
    rid = error(resp)["request_id"]
    assert error(resp) == {
        "code": "internal_error",
        "message": f"internal error; it has been logged (request id {rid})",
        "request_id": rid,
    }


# -- a deploy, then its work -----------------------------------------------------------------


def test_a_deploy_is_queued_and_the_worker_starts_it(client: Client, world: World) -> None:
    resp = call(
        client, "POST", "/deployments", {"environment": "demo", "service": "web", "tag": "2.0"}
    )
    assert resp.status_code == 202, resp.body
    record = resp.json_body
    assert (record["status"], record["service"], record["actor"]) == ("queued", "web", "alice")
    assert record["image"].endswith("/web:2.0")
    [(message, _)] = world.work()
    assert message == {"kind": "deploy.start", "deployment_id": record["id"]}

    event = client.events.generate_sqs_event(
        [json.dumps(message)], queue_name=world.deps.settings.work_queue_name
    )
    reply = client.lambda_.invoke("work", event).payload
    assert reply == {"batchItemFailures": []}
    shown = call(client, "GET", f"/deployments/{record['id']}").json_body
    assert shown["status"] == "in_progress"
    assert world.service_task_definition("web").endswith("web:2")


def test_a_poison_work_message_goes_to_the_dlq_not_back_to_the_queue(
    client: Client, world: World
) -> None:
    event = client.events.generate_sqs_event(["{not json"])
    assert client.lambda_.invoke("work", event).payload == {"batchItemFailures": []}
    sqs = world.client("sqs")
    dlq = sqs.get_queue_url(QueueName=world.deps.settings.work_dlq_name)["QueueUrl"]
    [parked] = sqs.receive_message(QueueUrl=dlq, MessageAttributeNames=["All"])["Messages"]
    assert parked["Body"] == "{not json"
    reason = parked["MessageAttributes"]["opsbot-reason"]["StringValue"]
    assert reason.startswith("body: Invalid JSON")


# -- audit: the query is validated at the edge -----------------------------------------------


@pytest.mark.parametrize(
    ("query", "field", "reason"),
    [
        ("limit=abc", "limit", "not a number"),
        ("limit=0", "limit", "outside 1..500"),
        ("limit=501", "limit", "outside 1..500"),
        ("limit=-1", "limit", "outside 1..500"),
        ("limit=99999999999999999999999999", "limit", "outside 1..500"),
        ("limit=" + "9" * 5000, "limit", "outside 1..500"),
    ],
)
def test_a_bad_audit_limit_is_a_400(client: Client, query: str, field: str, reason: str) -> None:
    resp = call(client, "GET", f"/audit?{query}")
    assert resp.status_code == 400
    assert error(resp)["fields"] == {field: reason}
    # the message names the allowed range, never calls a whole number "not a number"
    assert error(resp)["message"] == "limit must be a whole number from 1 to 500"


def test_an_audit_limit_with_a_sign_or_leading_zeros_is_still_a_number(client: Client) -> None:
    assert call(client, "GET", "/audit?limit=005").status_code == 200
    assert call(client, "GET", "/audit?limit=%2B5").status_code == 200


def test_audit_names_unknown_environments_and_services(client: Client) -> None:
    assert call(client, "GET", "/audit?environment=nope").status_code == 404
    resp = call(client, "GET", "/audit?environment=demo&service=nope")
    assert resp.status_code == 404
    assert error(resp)["known"] == ["api", "web"]


def test_audit_shows_entries_newest_first(client: Client, world: World) -> None:
    for tag in ("2.0", "9.9"):
        call(client, "POST", "/deployments", {"environment": "demo", "service": "web", "tag": tag})
        world.clock.advance(1)
    items = call(client, "GET", "/audit?environment=demo&service=web&limit=5").json_body["items"]
    assert [(i["action"], i["result"]) for i in items] == [
        ("deploy", "rejected"),
        ("deploy", "accepted"),
    ]
    accepted = items[1]
    assert accepted["at"] == "2026-11-20T09:15:00Z"
    assert (accepted["actor"], accepted["target"], accepted["service"]) == (
        "alice",
        "demo/web",
        "web",
    )
    assert accepted["deployment_id"] and accepted["image"].endswith("/web:2.0")
    viewer = call(client, "GET", "/audit?limit=1", token="victor-token").json_body["items"]
    assert viewer == items[:1]


# -- Slack -----------------------------------------------------------------------------------


def slack(client: Client, path: str, fields: dict[str, str], *, secret: str = SLACK_SECRET) -> Any:
    body = urlencode(fields)
    timestamp = str(int(time.time()))
    digest = hmac.new(
        secret.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256
    ).hexdigest()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": f"v0={digest}",
    }
    return client.http.post(path, headers=headers, body=body.encode())


def command(client: Client, user: str, text: str, **kw: str) -> Any:
    """A slash command as Slack posts it: each one carries its own trigger_id, so the same
    text twice in a second is two requests (two signatures), not a replay."""
    fields = {
        "user_id": user,
        "command": "/opsbot",
        "text": text,
        "channel_id": "C0OPS",
        "trigger_id": uuid.uuid4().hex,
    }
    return slack(client, "/slack/commands", fields, **kw)


def test_a_signed_slash_command_is_answered(client: Client, world: World) -> None:
    resp = command(client, "U0VICTOR", "status web")
    assert resp.status_code == 200
    image = f"{world.deps.policy.environment('demo').account}.dkr.ecr.us-east-1.amazonaws.com"
    assert resp.json_body == {
        "response_type": "ephemeral",
        "text": f"*demo/web*: 0/2 running (bounds 1..6), image `{image}/web:1.0`, "
        "task definition `web:1`; deployments: primary COMPLETED.",
    }


def test_a_forged_slash_command_is_a_401(client: Client, world: World) -> None:
    resp = command(client, "U0ALICE", "deploy web 2.0", secret="not-the-secret")
    assert resp.status_code == 401
    assert error(resp) == {"code": "unauthorized", "message": "invalid Slack signature"}
    assert world.work() == []


def test_deployment_ids_have_one_shape_from_slack_and_rest(client: Client, world: World) -> None:
    """``dep-`` and 24 hex digits, whether Slack made it, or REST with or without an
    Idempotency-Key (whose seed still makes a retried request's id the same)."""
    slack_text = command(client, "U0ALICE", "deploy web 2.0").json_body["text"]
    from_slack = slack_text.split("(`")[1].split("`)")[0]
    headers = {
        "Content-Type": "application/json",
        "Authorization": "Bearer alice-token",
        "Idempotency-Key": "ids-have-one-shape",
    }
    body = json.dumps({"environment": "demo", "service": "api", "tag": "2.0"}).encode()
    keyed = client.http.request("POST", "/deployments", headers=headers, body=body)
    assert keyed.status_code == 202, keyed.json_body
    again = client.http.request("POST", "/deployments", headers=headers, body=body)
    assert again.json_body["id"] == keyed.json_body["id"]
    shape = re.compile(r"dep-[0-9a-f]{24}")
    for made in (from_slack, keyed.json_body["id"]):
        assert shape.fullmatch(made), made
        assert world.record(made) is not None


def test_slack_deploy_then_history(client: Client, world: World) -> None:
    body = command(client, "U0ALICE", "deploy web 2.0").json_body
    assert body["response_type"] == "in_channel"
    deployment_id = body["text"].split("(`")[1].split("`)")[0]
    assert body["text"] == (
        f"<@U0ALICE> is deploying `{world.record(deployment_id).image}` to demo/web "
        f"(`{deployment_id}`). I'll post here when it is done."
    )
    busy = command(client, "U0ALICE", "deploy web 2.0").json_body
    assert busy["error"]["code"] == "conflict"
    history = command(client, "U0VICTOR", "history web").json_body
    assert history == {  # the 409 is left to the audit
        "response_type": "ephemeral",
        "text": "*demo/web*, newest first (refused requests are in the audit):\n"
        f"• 2026-11-20 09:15Z deploy *accepted* `web:2.0` by alice (`{deployment_id}`)",
    }
    [refusal] = [e for e in world.audit("web") if e["result"] == "conflict"]  # same clock
    assert (refusal["result"], refusal["holder"]) == ("conflict", deployment_id)
    assert refusal["reason"] == f"held by deploy {deployment_id} (web:2.0 by alice, queued)"
    refused = command(client, "U0VICTOR", "deploy web 2.0").json_body
    assert refused["error"]["code"] == "forbidden"
    assert refused["text"].startswith(":no_entry: ")


def test_a_button_press_answers_through_the_response_url(
    client: Client, world: World, slack_posts: list[dict[str, Any]]
) -> None:
    payload = {
        "type": "block_actions",
        "user": {"id": "U0ALICE"},
        "response_url": "https://hooks.slack.com/actions/T0/1/x",
        "actions": [{"action_id": "launch", "value": "d-1"}, {"action_id": "rollback"}],
    }
    resp = slack(client, "/slack/interactions", {"payload": json.dumps(payload)})
    assert resp.status_code == 200
    results = ["Unknown button `launch`.", ":no_entry: no deployment ''"]
    assert resp.json_body == {"results": results}
    assert slack_posts == []  # acked at once (Slack's 3 s); the reply goes through the queue
    [(message, _)] = world.work()
    assert message["kind"] == "slack.reply"
    event = client.events.generate_sqs_event(
        [json.dumps(message)], queue_name=world.deps.settings.work_queue_name
    )
    assert client.lambda_.invoke("work", event).payload == {"batchItemFailures": []}
    assert slack_posts == [
        {
            "url": payload["response_url"],
            "response_type": "ephemeral",
            "replace_original": False,
            "text": "\n".join(results),
        }
    ]


# -- an SNS alarm ----------------------------------------------------------------------------


def test_an_alarm_notification_scales_the_service(client: Client, world: World) -> None:
    saved = json.loads((EVENTS / "sns-alarm-metric.json").read_text())
    message = saved["Records"][0]["Sns"]["Message"]
    event = client.events.generate_sns_event(message, subject="ALARM: web-cpu-high")
    reply = client.lambda_.invoke("alarm_notification", event).payload
    assert reply["records"][0]["alarm"] == "web-cpu-high"
    assert reply["records"][0]["results"] == ["scaled"]
    described = world.ecs.describe_services(cluster="demo", services=["web"])["services"][0]
    assert described["desiredCount"] == 3
    [entry] = [e for e in world.audit("web") if e["action"] == "scale"]
    assert (entry["actor"], entry["before"], entry["after"]) == ("alarm:web-cpu-high", 2, 3)
