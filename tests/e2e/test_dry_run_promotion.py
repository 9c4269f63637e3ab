"""Dry runs and exact promotion, end to end: a dry run shows the image change and the diff and
changes nothing; promoting web from demo to prod (approved by the lead) runs in prod the exact
digest demo runs."""

from __future__ import annotations

import time
from typing import Any

from tests.e2e.conftest import LEAD_TOKEN, Stack, shown
from tests.e2e.test_slack import command

WEB_IMAGE = "containerDefinitions[web].image"


def _digest(stack: Stack, tag: str) -> str:
    found = stack.aws("ecr").describe_images(repositoryName="web", imageIds=[{"imageTag": tag}])
    return str(found["imageDetails"][0]["imageDigest"])


def _get(stack: Stack, path: str) -> dict[str, Any]:
    resp = stack.request("GET", path)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def _deploy(stack: Stack, token: str | None = None, **body: Any) -> dict[str, Any]:
    kw: dict[str, Any] = {"token": token} if token else {}
    resp = stack.request("POST", "/deployments", json={"service": "web", **body}, **kw)
    assert resp.status_code in (200, 202), resp.text
    answer: dict[str, Any] = resp.json()
    return answer


def _approved(stack: Stack, deployment_id: str) -> dict[str, Any]:
    resp = stack.request("POST", f"/deployments/{deployment_id}/approve", token=LEAD_TOKEN)
    assert resp.status_code == 202, resp.text
    return stack.wait_deployment(deployment_id)


def test_a_dry_run_shows_the_change_and_changes_nothing(stack: Stack) -> None:
    service = _get(stack, "/services/demo/web")
    listed = _get(stack, "/deployments?environment=demo")
    posted = len(stack.slack_records())
    # the stack is shared: an earlier test may have left web on 2.0; ask for what it does not run
    tag = "1.1" if service["image"].endswith(_digest(stack, "2.0")) else "2.0"

    answer = _deploy(stack, environment="demo", tag=tag, dry_run=True)

    assert answer["dry_run"] is True and answer["outcome"] == "would_queue", answer
    assert answer["current"]["image"] == service["image"]
    assert answer["current"]["task_definition"] == service["task_definition"]
    assert answer["requested"]["tag"] == tag
    assert answer["requested"]["digest"] == _digest(stack, tag)
    [change] = [c for c in answer["task_definition_diff"] if c["path"] == WEB_IMAGE]
    assert change["from"] == service["image"]
    assert change["to"].endswith(f"/web@{_digest(stack, tag)}")
    checks = {c["name"]: c["result"] for c in answer["checks"]}
    assert checks == {
        "image_exists": "pass",
        "within_bounds": "pass",
        "lock_free": "pass",
        "not_frozen": "pass",
        "approval": "pass",
    }
    # the same from Slack: an ephemeral Block Kit reply that posts nothing to the channel
    reply = command(stack, "U0DEMOADMIN", f"deploy web {tag} --dry-run").json()
    assert reply["response_type"] == "ephemeral" and reply["blocks"], reply
    assert "Dry run" in shown(reply) and f"web:{tag}" in shown(reply) and WEB_IMAGE in shown(reply)

    time.sleep(1)  # anything it had queued would have run by now
    after = _get(stack, "/services/demo/web")
    assert (after["image"], after["task_definition"]) == (
        service["image"],
        service["task_definition"],
    )
    assert after["busy_with"] is None  # no lock taken
    assert _get(stack, "/deployments?environment=demo") == listed  # no record
    assert len(stack.slack_records()) == posted  # nothing posted
    trail = _get(stack, "/audit?environment=demo&service=web&limit=5")["items"]
    assert [e["result"] for e in trail[:2]] == ["dry_run", "dry_run"]


def test_promoting_web_from_demo_runs_in_prod_the_exact_digest_demo_runs(stack: Stack) -> None:
    prod_before = _get(stack, "/services/prod/web")
    # a tag prod does not run yet, so the promotion changes prod (2.0 unless an earlier test
    # put prod on it)
    tag = "2.0" if _digest(stack, "2.0") not in str(prod_before["image"]) else "1.1"
    demo = stack.wait_deployment(_deploy(stack, environment="demo", tag=tag)["id"])
    assert demo["status"] == "succeeded", demo["events"]
    demo_image = _get(stack, "/services/demo/web")["image"]
    assert demo_image.endswith(f"/web@{_digest(stack, tag)}")

    promote = {"environment": "prod", "from_environment": "demo"}
    preview = _deploy(stack, **promote, dry_run=True)
    assert preview["outcome"] == "would_await_approval" and preview["from_environment"] == "demo"
    assert preview["requested"]["image"] == demo_image
    assert [c["approvers"] for c in preview["checks"] if c["name"] == "approval"] == [["demo-lead"]]
    assert _get(stack, "/services/prod/web")["task_definition"] == prod_before["task_definition"]

    asked = _deploy(stack, **promote)
    assert asked["status"] == "awaiting_approval" and asked["from_environment"] == "demo"
    assert asked["image"] == demo_image and asked["image_digest"] == _digest(stack, tag)
    assert [c["to"] for c in asked["changes"] if c["path"] == WEB_IMAGE] == [demo_image]
    done = _approved(stack, asked["id"])
    assert done["status"] == "succeeded", done["events"]
    assert _get(stack, f"/deployments/{asked['id']}")["from_environment"] == "demo"
    prod_after = _get(stack, "/services/prod/web")
    assert prod_after["image"] == _get(stack, "/services/demo/web")["image"] == demo_image

    # put both back as they were (later tests expect the demo as seeded): a rollback is the
    # exact previous revision, never a new one
    back = stack.request("POST", f"/deployments/{demo['id']}/rollback")
    assert back.status_code == 202, back.text
    assert stack.wait_deployment(back.json()["id"])["status"] == "succeeded"
    assert _get(stack, "/services/demo/web")["task_definition"] == demo["previous_task_definition"]
    prod_back = stack.request("POST", f"/deployments/{asked['id']}/rollback")
    assert prod_back.status_code == 202, prod_back.text
    assert _approved(stack, prod_back.json()["id"])["status"] == "succeeded"
    assert _get(stack, "/services/prod/web")["task_definition"] == prod_before["task_definition"]


def test_a_promotion_needs_exactly_one_source_and_a_source_that_exists(stack: Stack) -> None:
    both = {"environment": "prod", "service": "web", "from_environment": "demo", "tag": "2.0"}
    resp = stack.request("POST", "/deployments", json=both)
    assert resp.status_code == 400
    assert set(resp.json()["error"]["fields"]) == {"tag", "from_environment"}
    nowhere = {"environment": "prod", "service": "web", "from_environment": "nowhere"}
    assert stack.request("POST", "/deployments", json=nowhere).status_code == 404
