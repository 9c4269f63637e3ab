"""Four-eyes approvals, end to end: a deploy to the protected ``prod`` waits for a second
person's Approve (a signed Slack press or REST), a Deny, or its expiry; ``demo`` does not wait."""

from __future__ import annotations

import json
import uuid
from typing import Any

import requests

from tests.e2e.conftest import APPROVAL_EXPIRY_SECONDS, LEAD_TOKEN, Stack, wait_for
from tests.e2e.test_slack import command, signed_post


def _prod_web(stack: Stack) -> dict[str, Any]:
    """ECS's own view of prod/web: task definition, image of its container, desired count."""
    ecs = stack.aws("ecs")
    svc = ecs.describe_services(cluster="prod", services=["web"])["services"][0]
    td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    image = next(c["image"] for c in td["containerDefinitions"] if c["name"] == "web")
    return {
        "task_definition": svc["taskDefinition"],
        "image": image,
        "desired": svc["desiredCount"],
    }


def _digest(stack: Stack, tag: str) -> str:
    ecr = stack.aws("ecr")
    found = ecr.describe_images(repositoryName="web", imageIds=[{"imageTag": tag}])
    return str(found["imageDetails"][0]["imageDigest"])


def _ask(stack: Stack, tag: str = "1.1") -> dict[str, Any]:
    """The local admin asks for a prod deploy: 202, awaiting approval."""
    resp = stack.request(
        "POST", "/deployments", json={"environment": "prod", "service": "web", "tag": tag}
    )
    assert resp.status_code == 202, resp.text
    body: dict[str, Any] = resp.json()
    assert body["status"] == "awaiting_approval", body
    return body


def _get(stack: Stack, deployment_id: str) -> dict[str, Any]:
    resp = stack.request("GET", f"/deployments/{deployment_id}")
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def _posts_about(stack: Stack, deployment_id: str) -> list[dict[str, Any]]:
    return [m for m in stack.slack() if deployment_id in json.dumps(m)]


def _buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for b in message.get("blocks", []) if b["type"] == "actions" for e in b["elements"]]


def _approval_message(stack: Stack, deployment_id: str) -> dict[str, Any]:
    """The Block Kit message with the Approve / Deny buttons for this request."""
    found: dict[str, Any] = wait_for(
        lambda: next((m for m in _posts_about(stack, deployment_id) if _buttons(m)), None)
    )
    return found


def _press(stack: Stack, user: str, action: str, deployment_id: str) -> str:
    """A signed block_actions press; the response_url it carries (a unique one)."""
    url = f"https://hooks.slack.com/actions/T0DEMO/{uuid.uuid4().hex}/e2e"
    payload = {
        "type": "block_actions",
        "user": {"id": user},
        "team": {"id": "T0DEMO"},
        "response_url": url,
        "actions": [{"action_id": action, "value": deployment_id, "type": "button"}],
    }
    resp = signed_post(stack, "/slack/interactions", {"payload": json.dumps(payload)})
    assert resp.status_code == 200, resp.text
    return url


def _decide(stack: Stack, verdict: str, deployment_id: str, **kw: Any) -> requests.Response:
    return stack.request("POST", f"/deployments/{deployment_id}/{verdict}", **kw)


def _audit(stack: Stack) -> list[dict[str, Any]]:
    resp = stack.request("GET", "/audit?environment=prod&service=web&limit=50")
    assert resp.status_code == 200, resp.text
    items: list[dict[str, Any]] = resp.json()["items"]
    return items


def _deny(stack: Stack, deployment_id: str) -> None:
    resp = _decide(stack, "deny", deployment_id, token=LEAD_TOKEN)
    assert resp.status_code == 202, resp.text


def test_a_prod_deploy_waits_and_leaves_ecs_untouched(stack: Stack) -> None:
    before = _prod_web(stack)
    assert before["image"].endswith("/web:1.0") and before["desired"] == 3
    asked = _ask(stack, "1.1")

    assert asked["requested_by"] == "local-admin"
    assert asked["image_digest"] == _digest(stack, "1.1")  # pinned at request time
    assert asked["expires_at"] and asked["current_image"].endswith("/web:1.0")
    assert _prod_web(stack) == before  # nothing done in AWS
    service = stack.request("GET", "/services/prod/web").json()
    assert service["busy_with"] is None  # no lock while it waits

    message = _approval_message(stack, asked["id"])
    approve, deny = _buttons(message)
    assert (approve["type"], approve["action_id"], approve["text"]["text"]) == (
        "button",
        "approve",
        "Approve",
    )
    assert (deny["type"], deny["action_id"], deny["text"]["text"]) == ("button", "deny", "Deny")
    assert asked["id"] in approve["value"] and asked["id"] in deny["value"]
    shown = json.dumps(message["blocks"])
    for fact in ("local-admin", "prod", "web:1.0", "web:1.1", _digest(stack, "1.1")):
        assert fact in shown, fact
    assert [e["result"] for e in _audit(stack) if e.get("deployment_id") == asked["id"]] == [
        "awaiting_approval"
    ]
    _deny(stack, asked["id"])


def test_the_requester_cannot_approve_their_own_request(stack: Stack) -> None:
    asked = _ask(stack)
    resp = _decide(stack, "approve", asked["id"])  # the local admin asked for it
    assert resp.status_code == 403, resp.text
    assert resp.json()["error"]["code"] == "forbidden"

    # nor from Slack: U0DEMOADMIN asks, then presses Approve on their own request
    reply = command(stack, "U0DEMOADMIN", "deploy web 1.1 prod").json()
    assert "awaits" in reply["text"], reply
    own = reply["text"].split("(`")[1].split("`)")[0]
    url = _press(stack, "U0DEMOADMIN", "approve", own)
    ephemeral = wait_for(lambda: [m for m in stack.slack() if "second person" in m["text"]])
    assert ephemeral[-1]["response_type"] == "ephemeral" and url
    for deployment_id in (asked["id"], own):
        assert _get(stack, deployment_id)["status"] == "awaiting_approval"
    refusals = [e for e in _audit(stack) if e["action"] == "approve" and e["result"] == "forbidden"]
    assert {e["actor"] for e in refusals} >= {"local-admin", "demo-admin"}
    _deny(stack, asked["id"])
    _deny(stack, own)


def test_a_viewers_press_changes_nothing(stack: Stack) -> None:
    asked = _ask(stack)
    message = _approval_message(stack, asked["id"])
    _press(stack, "U0DEMOVIEW", "approve", asked["id"])
    _press(stack, "U0DEMOVIEW", "deny", asked["id"])

    replies = wait_for(
        lambda: (
            found
            if len(
                found := [m for m in stack.slack() if "demo-viewer may not approve" in m["text"]]
            )
            >= 2
            else None
        )
    )
    assert all(m["response_type"] == "ephemeral" and not m["replace_original"] for m in replies)
    after = _get(stack, asked["id"])
    assert after["status"] == "awaiting_approval"
    assert "approved_by" not in after and "denied_by" not in after
    assert _approval_message(stack, asked["id"]) == message  # still the one with buttons
    refused = [
        e
        for e in _audit(stack)
        if e.get("deployment_id") == asked["id"] and e["result"] == "forbidden"
    ]
    assert {(e["actor"], e["action"]) for e in refused} == {
        ("demo-viewer", "approve"),
        ("demo-viewer", "deny"),
    }
    _deny(stack, asked["id"])


def test_the_leads_approve_in_slack_runs_it_to_succeeded(stack: Stack) -> None:
    asked = _ask(stack, "2.0")
    _approval_message(stack, asked["id"])
    _press(stack, "U0DEMOLEAD", "approve", asked["id"])

    done = stack.wait_deployment(asked["id"])
    assert done["status"] == "succeeded", done["events"]
    assert done["approved_by"] == "demo-lead" and done["decided_at"]
    assert done["requested_by"] == "local-admin"
    after = _prod_web(stack)
    assert after["image"].endswith(f"/web@{_digest(stack, '2.0')}")  # ECS on the new image
    assert after["task_definition"] == done["task_definition"]
    statuses = [e["status"] for e in done["events"]]
    assert statuses[:2] == ["awaiting_approval", "queued"] and statuses[-1] == "succeeded"

    # the message pressed was replaced in place: who decided and when, no buttons left
    replaced = wait_for(
        lambda: [
            m
            for m in _posts_about(stack, asked["id"])
            if m.get("replace_original") is True and "Approved" in json.dumps(m)
        ]
    )
    assert not _buttons(replaced[-1])
    assert "demo-lead" in json.dumps(replaced[-1]) and done["decided_at"] in json.dumps(
        replaced[-1]
    )
    # a second press (or a REST approve) of a decided request changes nothing
    again = _decide(stack, "approve", asked["id"], token=LEAD_TOKEN)
    assert again.status_code == 409, again.text
    assert [
        e["actor"]
        for e in _audit(stack)
        if e.get("deployment_id") == asked["id"] and e["result"] == "approved"
    ] == ["demo-lead"]


def test_deny_ends_it_denied(stack: Stack) -> None:
    before = _prod_web(stack)
    asked = _ask(stack)
    key = {"Idempotency-Key": f"deny-{asked['id']}"}
    resp = _decide(stack, "deny", asked["id"], token=LEAD_TOKEN, headers=key)
    assert resp.status_code == 202, resp.text
    assert resp.json()["status"] == "denied" and resp.json()["denied_by"] == "demo-lead"
    replay = _decide(stack, "deny", asked["id"], token=LEAD_TOKEN, headers=key)
    assert (replay.status_code, replay.json()) == (202, resp.json())  # Idempotency-Key

    body = _get(stack, asked["id"])
    assert body["status"] == "denied" and body["decided_at"]
    assert _decide(stack, "approve", asked["id"], token=LEAD_TOKEN).status_code == 409
    assert _prod_web(stack) == before
    posted = wait_for(
        lambda: [m for m in _posts_about(stack, asked["id"]) if "Denied" in json.dumps(m)]
    )
    assert not _buttons(posted[-1])
    assert _decide(stack, "approve", "dep-nope", token=LEAD_TOKEN).status_code == 404


def test_an_unanswered_request_expires(stack: Stack) -> None:
    asked = _ask(stack)
    expired = wait_for(
        lambda: body if (body := _get(stack, asked["id"]))["status"] == "expired" else None,
        timeout=APPROVAL_EXPIRY_SECONDS + 60,
        interval=1,
    )
    assert "approved_by" not in expired and "denied_by" not in expired
    [entry] = [
        e
        for e in _audit(stack)
        if e.get("deployment_id") == asked["id"] and e["result"] == "expired"
    ]
    assert entry["actor"] == "opsbot"
    wait_for(lambda: [m for m in _posts_about(stack, asked["id"]) if "Expired" in json.dumps(m)])
    assert _decide(stack, "approve", asked["id"], token=LEAD_TOKEN).status_code == 409


def test_demo_deploys_need_no_approval(stack: Stack) -> None:
    resp = stack.request(
        "POST", "/deployments", json={"environment": "demo", "service": "api", "tag": "2.0"}
    )
    assert resp.status_code == 202, resp.text
    assert resp.json()["status"] == "queued"
    done = stack.wait_deployment(resp.json()["id"])
    assert done["status"] in {"succeeded", "rolled_back"}, done  # (rollout-fail may be armed)
    assert "requested_by" not in done
    if done["status"] == "succeeded":  # later tests expect the demo as seeded
        back = stack.request("POST", f"/deployments/{done['id']}/rollback")
        assert back.status_code == 202, back.text
        assert stack.wait_deployment(back.json()["id"])["status"] == "succeeded"
