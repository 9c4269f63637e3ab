"""Deploys, end to end: REST in, ECS in the embedded AWS out."""

from __future__ import annotations

import threading
from typing import Any

import requests

from tests.e2e.conftest import Stack, wait_for


def _running_image(stack: Stack, service: str) -> tuple[str, str]:
    """(task definition ARN, image of the service's container) as ECS itself reports them."""
    ecs = stack.aws("ecs")
    svc = ecs.describe_services(cluster="demo", services=[service])["services"][0]
    td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    image = next(c["image"] for c in td["containerDefinitions"] if c["name"] == service)
    return svc["taskDefinition"], image


def _deploy(stack: Stack, service: str, tag: str) -> requests.Response:
    return stack.request(
        "POST", "/deployments", json={"environment": "demo", "service": service, "tag": tag}
    )


def test_health_answers_without_a_token(stack: Stack) -> None:
    resp = stack.request("GET", "/health", token=None)
    assert resp.status_code == 200
    assert resp.json()["status"] == "ok"


def test_deploy_by_tag_succeeds_and_ecs_runs_the_new_image(stack: Stack) -> None:
    before_td, before_image = _running_image(stack, "web")
    resp = _deploy(stack, "web", "2.0")
    assert resp.status_code == 202, resp.text
    created = resp.json()
    assert created["status"] == "queued"

    done = stack.wait_deployment(created["id"])

    assert done["status"] == "succeeded", done["events"]
    td, image = _running_image(stack, "web")
    # ECS runs the digest verified in ECR (a re-pushed tag cannot change it); the record keeps
    # the tag the caller asked for
    digest = stack.aws("ecr").describe_images(repositoryName="web", imageIds=[{"imageTag": "2.0"}])[
        "imageDetails"
    ][0]["imageDigest"]
    assert image.endswith(f"/web@{digest}")
    assert done["image"].endswith("/web:2.0")
    assert done["image_digest"] == digest
    assert td == done["task_definition"] != before_td
    assert done["previous_task_definition"] == before_td
    service = stack.request("GET", "/services/demo/web").json()
    assert service["image"] == image
    assert service["running"] == service["desired"]
    # the rendered task definition kept the sidecar and everything else
    ecs = stack.aws("ecs")
    old = ecs.describe_task_definition(taskDefinition=before_td)["taskDefinition"]
    new = ecs.describe_task_definition(taskDefinition=td)["taskDefinition"]
    assert [c["name"] for c in new["containerDefinitions"]] == [
        c["name"] for c in old["containerDefinitions"]
    ]
    assert new["executionRoleArn"] == old["executionRoleArn"]
    assert before_image.endswith("/web:1.0") or before_image != image
    # the terminal status is written before the notice is posted: wait for the post
    assert wait_for(
        lambda: any("Deploy succeeded: demo/web" in m["text"] for m in stack.slack())
    ), stack.slack()


def test_missing_tag_is_refused_before_ecs_is_touched(stack: Stack) -> None:
    ecs = stack.aws("ecs")
    revisions = ecs.list_task_definitions(familyPrefix="web")["taskDefinitionArns"]
    before = _running_image(stack, "web")

    resp = _deploy(stack, "web", "9.9")

    assert resp.status_code == 400
    error = resp.json()["error"]
    assert error["code"] == "invalid_request"
    assert "tag" in error["fields"]
    assert "9.9" in error["message"]
    assert ecs.list_task_definitions(familyPrefix="web")["taskDefinitionArns"] == revisions
    assert _running_image(stack, "web") == before
    audit = stack.request("GET", "/audit?environment=demo&service=web&limit=1").json()["items"]
    assert audit[0]["result"] == "rejected"


def test_failed_rollout_is_rolled_back_to_the_previous_task_definition(stack: Stack) -> None:
    before_td, before_image = _running_image(stack, "api")
    result = stack.control("rollout-fail", "api")
    assert result.returncode == 0, result.stderr

    resp = _deploy(stack, "api", "2.0")
    assert resp.status_code == 202, resp.text
    done = stack.wait_deployment(resp.json()["id"])

    assert done["status"] == "rolled_back", done["events"]
    assert done["previous_task_definition"] == before_td
    td, image = _running_image(stack, "api")
    assert td == before_td
    assert image == before_image
    assert any("circuit breaker" in e["message"] for e in done["events"])
    posted = wait_for(
        lambda: [t for t in stack.slack_shown() if "rolled back" in t.lower() and "demo/api" in t]
    )
    # said once each: why its tasks died (ECS's words), the images, who asked; no "ECS: ECS"
    assert "*Failure reason*\n3 tasks stopped: Task failed container health checks" in posted[0]
    assert posted[0].count("tasks stopped") == 1 and "ECS: ECS" not in posted[0], posted[0]
    assert "*Image*\napi:1.0 -> api:2.0" in posted[0] or "*Image*\napi@" in posted[0]
    assert "*Asked by*\n" in posted[0] and "*Took*\n" in posted[0]


def test_two_deploys_of_one_service_at_once_one_is_refused(stack: Stack) -> None:
    results: list[requests.Response] = []
    barrier = threading.Barrier(2)

    def go(tag: str) -> None:
        barrier.wait()
        results.append(_deploy(stack, "web", tag))

    threads = [threading.Thread(target=go, args=(tag,)) for tag in ("1.1", "2.0")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    codes = sorted(r.status_code for r in results)
    assert codes == [202, 409], [r.text for r in results]
    accepted = next(r for r in results if r.status_code == 202).json()
    refused = next(r for r in results if r.status_code == 409).json()
    assert refused["error"]["holder"] == accepted["id"]
    scale = stack.request("POST", "/services/demo/web/scale", json={"desired": 3})
    if stack.request("GET", f"/deployments/{accepted['id']}").json()["status"] in (
        "queued",
        "in_progress",
    ):
        assert scale.status_code == 409, scale.text  # no scaling in the middle of a rollout
        assert scale.json()["error"]["holder"] == accepted["id"]
    assert stack.wait_deployment(accepted["id"])["status"] == "succeeded"
    # once it has finished, the service takes deploys again
    again = _deploy(stack, "web", "2.0")
    assert again.status_code == 202, again.text
    assert stack.wait_deployment(again.json()["id"])["status"] == "succeeded"


def test_manual_rollback_puts_the_service_back(stack: Stack) -> None:
    first = _deploy(stack, "web", "1.1")
    assert first.status_code == 202, first.text
    done = stack.wait_deployment(first.json()["id"])
    assert done["status"] == "succeeded"

    resp = stack.request("POST", f"/deployments/{done['id']}/rollback", json={"reason": "e2e"})
    assert resp.status_code == 202, resp.text
    rollback = stack.wait_deployment(resp.json()["id"])

    assert rollback["status"] == "succeeded", rollback["events"]
    td, _ = _running_image(stack, "web")
    assert td == done["previous_task_definition"]
    original = stack.request("GET", f"/deployments/{done['id']}").json()
    assert original["status"] == "rolled_back"
    again = stack.request("POST", f"/deployments/{done['id']}/rollback")
    assert again.status_code == 409


def test_bad_or_missing_token_is_401(stack: Stack) -> None:
    for token in (None, "not-a-token"):
        resp = stack.request("GET", "/services/demo/web", token=token)
        assert resp.status_code == 401
        assert resp.json()["error"]["code"] == "unauthorized"


def test_bad_body_is_400_naming_each_field(stack: Stack) -> None:
    resp = stack.request("POST", "/deployments", json={"environment": "demo", "tag": "2.0"})
    assert resp.status_code == 400
    assert "service" in resp.json()["error"]["fields"]

    resp = stack.request(
        "POST",
        "/deployments",
        json={"environment": "demo", "service": "web", "tag": "2.0", "image": "x/y:1"},
    )
    assert resp.status_code == 400
    assert set(resp.json()["error"]["fields"]) >= {"image", "tag"}

    resp = stack.request("POST", "/deployments", data="{not json")
    assert resp.status_code == 400
    assert resp.json()["error"]["fields"] == {"body": "not JSON"}


def test_unknown_names_are_404(stack: Stack) -> None:
    cases: list[tuple[str, str, Any]] = [
        ("POST", "/deployments", {"environment": "demo", "service": "nope", "tag": "2.0"}),
        ("POST", "/deployments", {"environment": "nowhere", "service": "web", "tag": "2.0"}),
        ("GET", "/deployments/dep-does-not-exist", None),
        ("GET", "/services/demo/nope", None),
        ("POST", "/deployments/dep-does-not-exist/rollback", None),
    ]
    for method, path, body in cases:
        resp = stack.request(method, path, json=body)
        assert resp.status_code == 404, (path, resp.text)
        assert resp.json()["error"]["code"] == "not_found"


def test_audit_is_newest_first_and_names_the_actor(stack: Stack) -> None:
    wait_for(lambda: stack.request("GET", "/audit?limit=5").json()["items"])
    items = stack.request("GET", "/audit?environment=demo&limit=50").json()["items"]
    stamps = [i["at"] for i in items]
    assert stamps == sorted(stamps, reverse=True)
    assert all(i["actor"] and i["action"] and i["target"] and i["result"] for i in items)
    assert stack.request("GET", "/audit?limit=abc").status_code == 400


def test_deeply_nested_json_is_400_not_500(stack: Stack) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    headers = {"Content-Type": "application/json"}
    resp = stack.request("POST", "/deployments", data=deep, headers=headers)
    assert resp.status_code == 400
    assert resp.json()["error"]["fields"] == {"body": "too deep"}


def test_audit_of_an_unknown_service_is_404(stack: Stack) -> None:
    resp = stack.request("GET", "/audit?environment=demo&service=nope")
    assert resp.status_code == 404
    assert "web" in resp.json()["error"]["known"]


def test_a_second_make_run_refuses_and_leaves_the_running_stack_alone(stack: Stack) -> None:
    import subprocess
    import sys

    from tests.e2e.conftest import ROOT

    second = subprocess.run(
        [sys.executable, "-m", "infra.local", "run"],
        cwd=ROOT,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert second.returncode != 0
    assert "already running" in second.stdout + second.stderr
    assert (stack.state_dir / "stack.json").exists()
    refused = stack.control("rollout-fail", "nope")  # the control commands still find the stack
    assert refused.returncode == 1 and "no service 'nope'" in refused.stderr
