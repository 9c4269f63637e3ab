"""Slack, end to end: signed slash commands and buttons against the local stack."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from urllib.parse import urlencode

import requests

from tests.e2e.conftest import Stack, wait_for

SECRET = "e2e-signing-secret"


def signed_headers(body: str, *, secret: str = SECRET, age: int = 0) -> dict[str, str]:
    """The headers Slack sends with ``body``: its timestamp and v0 signature."""
    timestamp = str(int(time.time()) - age)
    digest = hmac.new(
        secret.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256
    ).hexdigest()
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": f"v0={digest}",
    }


def signed_post(
    stack: Stack, path: str, fields: dict[str, str], *, secret: str = SECRET, age: int = 0
) -> requests.Response:
    body = urlencode(fields)
    headers = signed_headers(body, secret=secret, age=age)
    return stack.request("POST", path, token=None, data=body, headers=headers)


def command(stack: Stack, user: str, text: str, **kw: object) -> requests.Response:
    fields = {
        "token": "ignored",
        "team_id": "T0DEMO",
        "team_domain": "demo",
        "channel_id": "C0OPS",
        "channel_name": "ops",
        "user_id": user,
        "user_name": user.lower(),
        "command": "/opsbot",
        "text": text,
        "api_app_id": "A0OPSBOT",
        "response_url": "https://hooks.slack.com/commands/T0DEMO/1/e2e",
        "trigger_id": uuid.uuid4().hex,  # Slack's is unique per command: no two sign the same
    }
    return signed_post(stack, "/slack/commands", fields, **kw)  # type: ignore[arg-type]


def sink(stack: Stack) -> str:
    return str(json.loads((stack.state_dir / "stack.json").read_text())["sink_url"])


def test_forged_and_stale_requests_are_refused(stack: Stack) -> None:
    forged = command(stack, "U0DEMOADMIN", "deploy web 2.0", secret="not-the-secret")
    assert forged.status_code == 401
    assert forged.json()["error"]["code"] == "unauthorized"
    stale = command(stack, "U0DEMOADMIN", "status web", age=600)
    assert stale.status_code == 401
    unsigned = stack.request(
        "POST",
        "/slack/commands",
        token=None,
        data="user_id=U0DEMOADMIN&text=help",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert unsigned.status_code == 401


def test_a_captured_request_sent_again_is_refused(stack: Stack) -> None:
    body = urlencode({"user_id": "U0DEMOVIEW", "command": "/opsbot", "text": "status web"})
    headers = signed_headers(body)  # captured once, sent twice
    first = stack.request("POST", "/slack/commands", token=None, data=body, headers=headers)
    assert first.status_code == 200 and "*demo/web*" in first.json()["text"]
    again = stack.request("POST", "/slack/commands", token=None, data=body, headers=headers)
    assert again.status_code == 401
    assert again.json()["error"] == {
        "code": "unauthorized",
        "message": "this Slack request was already received (a replay); nothing was done",
    }


def test_viewer_may_read_but_not_deploy(stack: Stack) -> None:
    status = command(stack, "U0DEMOVIEW", "status web")
    assert status.status_code == 200
    assert "demo/web" in status.json()["text"]

    before = stack.request("GET", "/audit?environment=demo&service=web&limit=1").json()["items"]
    refused = command(stack, "U0DEMOVIEW", "deploy web 2.0")
    assert refused.status_code == 200  # Slack shows the reply; the refusal is in it
    body = refused.json()
    assert body["response_type"] == "ephemeral"
    assert body["error"]["code"] == "forbidden"
    assert "may not deploy" in body["text"]
    after = stack.request("GET", "/audit?environment=demo&service=web&limit=1").json()["items"]
    assert after == before  # nothing was recorded or queued

    for text in ("certificates", "budget", "history web"):
        resp = command(stack, "U0DEMOVIEW", text)
        assert resp.status_code == 200 and "error" not in resp.json(), resp.text
    certs = command(stack, "U0DEMOVIEW", "certificates").json()["text"]
    assert "demo.example.com" in certs
    budget = command(stack, "U0DEMOVIEW", "budget").json()["text"]
    assert "monthly-ops" in budget and "85" in budget


def test_unknown_slack_user_is_refused(stack: Stack) -> None:
    resp = command(stack, "U0STRANGER", "status web")
    assert resp.json()["error"]["code"] == "forbidden"


def test_admin_deploys_from_slack_and_hears_back(stack: Stack) -> None:
    resp = command(stack, "U0DEMOADMIN", "deploy web 2.0")
    assert resp.status_code == 200
    body = resp.json()
    assert body["response_type"] == "in_channel", body
    deployment_id = body["text"].split("(`")[1].split("`)")[0]
    done = stack.wait_deployment(deployment_id)
    assert done["status"] == "succeeded"
    assert done["actor"] == "demo-admin"
    assert "notify_url" not in done

    # posted to the channel webhook and to the command's response_url, with a Roll back button
    # (two posts, not necessarily landed at the same instant)
    replies = wait_for(
        lambda: (
            found
            if len(
                found := [
                    m
                    for m in stack.slack()
                    if "Deploy succeeded" in m["text"] and deployment_id in json.dumps(m)
                ]
            )
            >= 2
            else None
        )
    )
    buttons = [e for b in replies[0]["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert buttons[0]["action_id"] == "rollback" and buttons[0]["value"] == deployment_id

    payload = {
        "type": "block_actions",
        "user": {"id": "U0DEMOADMIN"},
        "response_url": "https://hooks.slack.com/actions/T0DEMO/2/e2e",
        "actions": [{"action_id": "rollback", "value": deployment_id, "type": "button"}],
    }
    pressed = signed_post(stack, "/slack/interactions", {"payload": json.dumps(payload)})
    assert pressed.status_code == 200, pressed.text
    wait_for(
        lambda: (
            stack.request("GET", f"/deployments/{deployment_id}").json()["status"] == "rolled_back"
        )
    )


def test_scale_from_slack_names_the_bounds(stack: Stack) -> None:
    resp = command(stack, "U0DEMOADMIN", "scale api 9")
    body = resp.json()
    assert body["error"]["code"] == "invalid_request"
    assert "min 2, max 4" in body["text"]
    help_text = command(stack, "U0DEMOADMIN", "help").json()["text"]
    assert "deploy SERVICE" in help_text


def test_malformed_interaction_payloads_are_400_not_500(stack: Stack) -> None:
    payloads = (
        "null",
        "42",
        "[]",
        '"s"',
        '{"user": "x"}',
        '{"user": {"id": "U"}, "actions": "x"}',
        '{"user": {"id": "U"}, "actions": [null]}',
        "not json",
    )
    for payload in payloads:
        resp = signed_post(stack, "/slack/interactions", {"payload": payload})
        assert resp.status_code == 400, (payload, resp.text)
        assert resp.json()["error"]["fields"] == {"payload": "not a block_actions payload"}


def test_an_unknown_environment_is_named_in_slack(stack: Stack) -> None:
    body = command(stack, "U0DEMOADMIN", "status web nope").json()
    assert body["error"]["code"] == "not_found"
    assert "unknown environment 'nope'" in body["text"]
