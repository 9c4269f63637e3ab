"""Hostile callers, in process (chalice.test.Client): every input a 4xx in the contract's shape
or a Slack reply naming what was wrong, never a 500; not-found answers reveal nothing the caller
may not read; AWS errors answered without AWS's text; Slack text escaped."""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError
from chalice.test import Client

from chalicelib.domain.policy import parse_policy
from tests.functional import test_handlers_in_process as in_process
from tests.functional.conftest import World
from tests.functional.test_handlers_in_process import (
    IN_PROCESS_POLICY,
    SLACK_SECRET,
    call,
    command,
    error,
    slack,
)

# the in-process app and its recorded Slack posts, as test_handlers_in_process sets them up
client = in_process.client
slack_posts = in_process.slack_posts

COMMANDS = "/slack/commands"
SCALE = "scale SERVICE COUNT [ENV]"


def raw_slack(client: Client, body: bytes, headers: dict[str, str]) -> Any:
    headers = {"Content-Type": "application/x-www-form-urlencoded", **headers}
    return client.http.post(COMMANDS, headers=headers, body=body)


# -- Slack: the signature, on raw bytes ---------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Slack-Request-Timestamp": "²", "X-Slack-Signature": "v0=" + "0" * 64},
        {"X-Slack-Request-Timestamp": "9" * 5000, "X-Slack-Signature": "v0=" + "0" * 64},
        {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=é" * 20},
        {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": ""},
    ],
)
def test_malformed_slack_headers_are_401(client: Client, headers: dict[str, str]) -> None:
    resp = raw_slack(client, b"user_id=U0ALICE&text=help", headers)
    assert resp.status_code == 401
    assert error(resp)["code"] == "unauthorized"


def test_a_body_that_is_not_utf8_is_401_unsigned_and_400_signed(client: Client) -> None:
    from chalicelib.chatops.verify import signature

    body = b"user_id=U0ALICE&command=%2Fopsbot&text=status+w\xe9b"
    ts = str(int(time.time()))
    unsigned = raw_slack(client, body, {"X-Slack-Request-Timestamp": ts})
    assert unsigned.status_code == 401
    sig = signature(SLACK_SECRET, ts, body)
    signed = raw_slack(client, body, {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig})
    assert signed.status_code == 400
    assert error(signed)["fields"] == {"body": "not UTF-8 form encoding"}


# -- Slack: signed commands with malformed arguments -------------------------------------------


@pytest.mark.parametrize(
    ("text", "wrong", "usage"),
    [
        ("deploy web bad!tag", "TAG is not valid: 'bad!tag'", "deploy SERVICE TAG|IMAGE [ENV]"),
        ("deploy web Bad/Image", "IMAGE is not valid", "deploy SERVICE TAG|IMAGE [ENV]"),
        ("scale web ²", "COUNT must be a whole number, not '²'", "scale SERVICE COUNT [ENV]"),
        ("scale web \uff13", "COUNT must be a whole number, not '\uff13'", SCALE),
        ("scale web 1.5", "COUNT must be a whole number", "scale SERVICE COUNT [ENV]"),
        ("scale web", "usage: scale SERVICE COUNT [ENV]", "scale SERVICE COUNT [ENV]"),
    ],
)
def test_malformed_arguments_get_a_reply_naming_them_and_the_usage(
    client: Client, world: World, text: str, wrong: str, usage: str
) -> None:
    resp = command(client, "U0ALICE", text)
    assert resp.status_code == 200
    body = resp.json_body
    assert body["response_type"] == "ephemeral"
    assert body["error"]["code"] == "invalid_request"
    assert wrong in body["text"]
    assert usage in body["text"]
    assert world.work() == []


@pytest.mark.parametrize("word", ["-1", "+1"])
def test_a_signed_count_is_refused_and_nothing_scales(
    client: Client, world: World, word: str
) -> None:
    """``scale web +1`` means one more task to a person: it must not set web to 1 task."""
    before = world.ecs.describe_services(cluster="demo", services=["web"])["services"][0]
    body = command(client, "U0ALICE", f"scale web {word}").json_body
    assert body["error"]["code"] == "invalid_request"
    assert "not a change" in body["text"] and "scale SERVICE COUNT" in body["text"]
    after = world.ecs.describe_services(cluster="demo", services=["web"])["services"][0]
    assert after["desiredCount"] == before["desiredCount"]
    assert world.work() == []


def test_a_huge_count_is_refused_naming_the_bounds_like_rest(client: Client, world: World) -> None:
    body = command(client, "U0ALICE", "scale web 99999999999999999999999").json_body
    assert body["error"]["code"] == "invalid_request"
    assert "desired 99999999999999999999... is outside the bounds of demo/web" in body["text"]
    assert "min 1, max 6" in body["text"]
    assert "whole number" not in body["text"]
    assert world.work() == []


def test_another_slash_command_name_is_refused(client: Client, world: World) -> None:
    fields = {"user_id": "U0ALICE", "command": "/deploy-everything", "text": "deploy web 2.0"}
    body = slack(client, COMMANDS, fields).json_body
    assert body["response_type"] == "ephemeral"
    assert body["error"]["fields"] == {"command": "/opsbot"}
    assert world.work() == []


def test_the_team_is_checked_when_the_policy_names_one(client: Client, world: World) -> None:
    policy = copy.deepcopy(IN_PROCESS_POLICY)
    policy["slack"] = {"default_environment": "demo", "team_id": "T0OURS"}
    world.deps.policy = parse_policy(policy, __file__)
    base = {"user_id": "U0VICTOR", "command": "/opsbot", "text": "status web"}
    theirs = slack(client, COMMANDS, {**base, "team_id": "T0THEIRS"}).json_body
    assert theirs["error"]["code"] == "forbidden"
    assert "workspace" in theirs["text"]
    assert slack(client, COMMANDS, base).json_body["error"]["code"] == "forbidden"
    ours = slack(client, COMMANDS, {**base, "team_id": "T0OURS"}).json_body
    assert "error" not in ours


def test_a_response_url_off_slacks_hooks_host_is_refused(
    client: Client, world: World, slack_posts: list[dict[str, Any]]
) -> None:
    evil = "http://169.254.169.254/latest/meta-data/"
    fields = {"user_id": "U0ALICE", "command": "/opsbot", "text": "deploy web 2.0"}
    body = slack(client, COMMANDS, {**fields, "response_url": evil}).json_body
    assert body["error"]["fields"] == {"response_url": "not Slack's"}
    assert world.work() == []
    payload = {"type": "block_actions", "user": {"id": "U0ALICE"}, "response_url": evil}
    resp = slack(client, "/slack/interactions", {"payload": json.dumps(payload)})
    assert resp.status_code == 400
    assert error(resp)["fields"] == {"response_url": "not Slack's"}
    assert slack_posts == []


def test_user_text_in_a_reply_is_escaped(client: Client) -> None:
    body = command(client, "U0ALICE", "<!channel> now").json_body
    assert "<!channel>" not in body["text"]
    assert "&lt;!channel>" in body["text"]


# -- REST --------------------------------------------------------------------------------------


def test_a_rest_reason_is_escaped_in_slack(
    client: Client, slack_posts: list[dict[str, Any]]
) -> None:
    reason = "<!channel> see <http://evil.example|the runbook> & act"
    resp = call(client, "POST", "/services/demo/web/scale", {"desired": 3, "reason": reason})
    assert resp.status_code == 200
    posted = json.dumps(slack_posts)
    assert slack_posts
    assert "<!channel>" not in posted and "<http://evil.example|" not in posted
    assert "&lt;!channel>" in posted


def test_an_aws_error_never_reaches_the_caller(
    client: Client, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    arn = "arn:aws:iam::210987654321:role/secret-role"

    def denied(*args: Any, **kwargs: Any) -> Any:
        message = f"User: {arn} is not authorized to perform: ecs:DescribeServices"
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": message}}, "Describe")

    monkeypatch.setattr("chalicelib.status.services.service_status", denied)
    resp = call(client, "GET", "/services/demo/web")
    assert resp.status_code == 503
    text = json.dumps(resp.json_body)
    assert "210987654321" not in text and "arn:" not in text and "AccessDenied" not in text
    assert error(resp)["request_id"] in error(resp)["message"]


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ("service=%3C!channel%3E", {"service": "not a service, group, budget:NAME or domain name"}),
        ("environment=../../x", {"environment": "not an environment name"}),
        ("environment=d%C3%A9mo", {"environment": "not an environment name"}),
        ("service=" + "a" * 300, {"service": "not a service, group, budget:NAME or domain name"}),
    ],
)
def test_audit_names_are_validated(client: Client, query: str, fields: dict[str, str]) -> None:
    resp = call(client, "GET", f"/audit?{query}")
    assert resp.status_code == 400
    assert error(resp)["fields"] == fields


def test_an_audit_query_reads_only_what_its_limit_needs(
    client: Client, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(30):
        world.deps.store.audit(
            now=world.deps.clock(),
            actor="alice",
            action="scale",
            environment="demo",
            target="demo/api" if i % 2 else "demo/web",
            result="scaled",
        )
    queries: list[dict[str, Any]] = []
    original = world.deps.store._ddb.query

    def counting(**kwargs: Any) -> Any:
        resp = original(**kwargs)
        queries.append({"limit": kwargs["Limit"], "scanned": resp["ScannedCount"]})
        return resp

    monkeypatch.setattr(world.deps.store._ddb, "query", counting)
    for query in ("service=x.y&limit=1", "service=web&limit=1", "environment=demo&limit=2"):
        queries.clear()
        resp = call(client, "GET", f"/audit?{query}")
        assert resp.status_code == 200
        assert queries and sum(q["scanned"] for q in queries) <= int(query[-1])
    items = call(client, "GET", "/audit?service=web&limit=3").json_body["items"]
    assert [i["target"] for i in items] == ["demo/web"] * 3


def _with_prod(world: World) -> None:
    policy = copy.deepcopy(IN_PROCESS_POLICY)
    policy["environments"]["prod"] = copy.deepcopy(policy["environments"]["demo"])
    policy["people"]["alice"]["roles"]["prod"] = "admin"
    world.deps.policy = parse_policy(policy, __file__)


@pytest.mark.parametrize(
    "path",
    ["/audit?environment=nope", "/services/nope/web", "/audit?environment=nope&service=web"],
)
def test_not_found_names_only_what_the_caller_may_read(
    client: Client, world: World, path: str
) -> None:
    _with_prod(world)
    viewer = call(client, "GET", path, token="victor-token")
    assert viewer.status_code == 404
    assert "prod" not in json.dumps(viewer.json_body)
    assert error(viewer).get("known", ["demo"]) == ["demo"]
    admin = call(client, "GET", path)
    assert error(admin)["known"] == ["demo", "prod"]


def test_services_are_named_only_to_readers(client: Client, world: World) -> None:
    _with_prod(world)
    for path in ("/services/prod/nope", "/audit?environment=prod&service=nope"):
        resp = call(client, "GET", path, token="victor-token")
        assert resp.status_code == 403
        assert "known" not in error(resp)
    body = command(client, "U0VICTOR", "status nope prod").json_body
    assert body["error"]["code"] == "forbidden"
    assert "web" not in body["text"]
