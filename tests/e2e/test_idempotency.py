"""Idempotency-Key, end to end: a CI job that retries its POST never starts two deploys."""

from __future__ import annotations

import uuid

from tests.e2e.conftest import Stack


def _running_image(stack: Stack, service: str) -> str:
    ecs = stack.aws("ecs")
    svc = ecs.describe_services(cluster="demo", services=[service])["services"][0]
    td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    return str(next(c["image"] for c in td["containerDefinitions"] if c["name"] == service))


def _revisions(stack: Stack, family: str) -> list[str]:
    arns: list[str] = stack.aws("ecs").list_task_definitions(familyPrefix=family)[
        "taskDefinitionArns"
    ]
    return arns


def test_a_retried_deploy_with_the_same_key_deploys_once(stack: Stack) -> None:
    before = _running_image(stack, "web")
    tag = "1.1" if before.endswith(":2.0") else "2.0"
    body = {"environment": "demo", "service": "web", "tag": tag}
    key = f"github-run-{uuid.uuid4().hex}"
    revisions = _revisions(stack, "web")

    first = stack.request("POST", "/deployments", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == 202, first.text
    retried = stack.request("POST", "/deployments", json=body, headers={"Idempotency-Key": key})
    assert retried.status_code == 202, retried.text
    assert retried.content == first.content  # the same answer: the same deployment id
    assert retried.headers.get("Idempotent-Replayed") == "true"

    done = stack.wait_deployment(first.json()["id"])
    assert done["status"] == "succeeded", done["events"]

    # once finished, the retry still answers the first answer and starts nothing
    late = stack.request("POST", "/deployments", json=body, headers={"Idempotency-Key": key})
    assert (late.status_code, late.content) == (202, first.content)
    assert len(_revisions(stack, "web")) == len(revisions) + 1  # one task definition registered
    history = stack.request("GET", "/audit?environment=demo&service=web&limit=50").json()["items"]
    accepted = [e for e in history if first.json()["id"] in str(e.values())]
    assert len([e for e in accepted if e["result"] == "accepted"]) == 1, accepted

    changed = stack.request(
        "POST", "/deployments", json={**body, "tag": "1.0"}, headers={"Idempotency-Key": key}
    )
    assert changed.status_code == 400
    assert "Idempotency-Key" in changed.json()["error"]["fields"]

    # a retried rollback rolls back once, and leaves web as the other tests expect it
    path = f"/deployments/{first.json()['id']}/rollback"
    rollback_key = {"Idempotency-Key": f"{key}-rollback"}
    rollback = stack.request("POST", path, json={"reason": "e2e"}, headers=rollback_key)
    assert rollback.status_code == 202, rollback.text
    again = stack.request("POST", path, json={"reason": "e2e"}, headers=rollback_key)
    assert (again.status_code, again.content) == (202, rollback.content)
    restored = stack.wait_deployment(rollback.json()["id"])
    assert restored["status"] == "succeeded", restored["events"]
    assert _running_image(stack, "web") == before
    assert len(_revisions(stack, "web")) == len(revisions) + 1  # the rollback registers nothing
