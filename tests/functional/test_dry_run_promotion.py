"""Dry runs (nothing changed, only an audit entry), exact promotion between environments (the
digest the source runs now), and rollbacks that never register a task definition."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from chalicelib import deploys
from chalicelib.core.errors import Conflict, Forbidden, InvalidRequest, NotFound
from chalicelib.domain.messages import DeployRequest
from chalicelib.domain.policy import parse_policy
from chalicelib.status import audit
from chalicelib.status.dry_run import dry_run
from tests.functional.conftest import ACCOUNT, POLICY, REGION, REGISTRY, World

COMPLETED = "SERVICE_DEPLOYMENT_COMPLETED"
WEB_IMAGE = "containerDefinitions[web].image"

TWO_ENVS: dict[str, Any] = copy.deepcopy(POLICY)
TWO_ENVS["environments"]["prod"] = {
    "account": ACCOUNT,
    "region": REGION,
    "cluster": "prod",
    "services": {"web": {"container": "web", "repository": "web", "min": 2, "max": 10}},
    "approval": {"approvers": "lead"},
}
TWO_ENVS["environments"]["stage"] = {  # in the policy, but ECS runs nothing there
    "account": ACCOUNT,
    "region": REGION,
    "cluster": "stage",
    "services": {"web": {"container": "web", "repository": "web", "min": 1, "max": 2}},
}
TWO_ENVS["environments"]["lab"] = {  # no web at all
    "account": ACCOUNT,
    "region": REGION,
    "cluster": "lab",
    "services": {},
}
TWO_ENVS["roles"]["lead"] = ["read", "approve"]
TWO_ENVS["roles"]["deployer"] = ["read", "deploy"]
TWO_ENVS["people"]["alice"]["roles"].update({"prod": "deployer", "stage": "admin", "lab": "admin"})
TWO_ENVS["people"]["lena"] = {"slack_user": "U0LENA", "roles": {"prod": "lead", "demo": "lead"}}
TWO_ENVS["people"]["pat"] = {"roles": {"prod": "deployer"}}  # may not read demo


@pytest.fixture
def posts(world: World, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Two environments (prod protected, running web:1.0); what would be posted to Slack."""
    world.deps.policy = parse_policy(TWO_ENVS, __file__)
    ecs = world.ecs
    ecs.create_cluster(clusterName="prod")
    td = ecs.register_task_definition(
        family="prod-web",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        containerDefinitions=[{"name": "web", "image": f"{REGISTRY}/web:1.0", "essential": True}],
    )
    ecs.create_service(
        cluster="prod",
        serviceName="web",
        taskDefinition=td["taskDefinition"]["taskDefinitionArn"],
        desiredCount=3,
    )
    return world.slack_posts(monkeypatch)


def _digest(world: World, tag: str) -> str:
    found = world.client("ecr").describe_images(repositoryName="web", imageIds=[{"imageTag": tag}])
    return str(found["imageDetails"][0]["imageDigest"])


def _ask(world: World, actor: str = "alice", **body: Any) -> Any:
    request = DeployRequest.model_validate({"service": "web", **body})
    if request.dry_run:
        return dry_run(world.deps, actor=actor, request=request)
    return deploys.request_deploy(world.deps, actor=actor, request=request)


def _checks(result: Any) -> dict[str, str]:
    return {c.name: str(c.result) for c in result.checks}


def _prod_image(world: World) -> str:
    svc = world.ecs.describe_services(cluster="prod", services=["web"])["services"][0]
    td = world.task_definition(svc["taskDefinition"])
    return str(next(c["image"] for c in td["containerDefinitions"] if c["name"] == "web"))


def _nothing_changed(world: World, posts: list[dict[str, Any]], revisions: list[str]) -> None:
    assert world.store.recent_deployments(environment="demo", service=None, limit=10) == []
    assert world.store.recent_deployments(environment="prod", service=None, limit=10) == []
    assert world.lock_holder("web") is None
    assert world.work() == [] and posts == []
    assert world.revisions("web") == revisions and world.ecs_rollouts.update_calls == []


def test_a_dry_run_shows_the_images_the_diff_and_the_checks_and_changes_nothing(
    world: World, posts: list[dict[str, Any]]
) -> None:
    revisions = world.revisions("web")
    result = _ask(world, environment="demo", tag="2.0", dry_run=True)

    assert result.outcome == "would_queue"
    assert (result.current.tag, result.current.digest) == ("1.0", _digest(world, "1.0"))
    assert (result.requested.tag, result.requested.digest) == ("2.0", _digest(world, "2.0"))
    # only the web container's image changes (the log router, roles, volumes... stay)
    assert result.changes == [
        {
            "path": WEB_IMAGE,
            "from": f"{REGISTRY}/web:1.0",
            "to": f"{REGISTRY}/web@{_digest(world, '2.0')}",
        }
    ]
    assert _checks(result) == {
        "image_exists": "pass",
        "within_bounds": "pass",
        "lock_free": "pass",
        "not_frozen": "pass",
        "approval": "pass",
    }
    _nothing_changed(world, posts, revisions)
    [entry] = world.audit("web")
    assert (entry["actor"], entry["action"], entry["result"]) == ("alice", "deploy", "dry_run")
    assert (
        audit.history(world.deps, actor="alice", environment="demo", service="web", limit=5) == []
    )


def test_a_dry_run_names_what_would_fail(world: World, posts: list[dict[str, Any]]) -> None:
    missing = _ask(world, environment="demo", tag="9.9", dry_run=True)
    assert missing.outcome == "would_be_rejected" and _checks(missing)["image_exists"] == "fail"
    assert "9.9" in next(c.detail for c in missing.checks if c.name == "image_exists")

    busy = world.started()  # a real deploy holds the service
    result = _ask(world, environment="demo", tag="2.0", dry_run=True)
    lock = next(c for c in result.checks if c.name == "lock_free")
    assert (result.outcome, str(lock.result), lock.holder) == ("would_conflict", "fail", busy.id)
    assert busy.id in lock.detail and "alice" in lock.detail


def test_a_protected_dry_run_says_who_may_approve_and_asks_nobody(
    world: World, posts: list[dict[str, Any]]
) -> None:
    revisions = world.revisions("web")
    result = _ask(world, environment="prod", tag="2.0", dry_run=True)
    approval = next(c for c in result.checks if c.name == "approval")
    assert (result.outcome, str(approval.result)) == ("would_await_approval", "needed")
    assert approval.approvers == ("lena",) and "lena" in approval.detail
    _nothing_changed(world, posts, revisions)


def test_a_promotion_deploys_the_digest_the_source_runs_now(
    world: World, posts: list[dict[str, Any]]
) -> None:
    # demo runs web:1.0 by tag: the promotion pins it to the digest ECR has for it
    first = _ask(world, environment="prod", from_environment="demo")
    assert first.image == f"{REGISTRY}/web@{_digest(world, '1.0')}"
    deploys.deny(world.deps, actor="lena", deployment_id=first.id)

    started = world.started()  # demo moves to 2.0 (pinned to its digest by opsbot) ...
    with pytest.raises(Conflict, match="mid-rollout"):  # ... not promoted until it is steady
        _ask(world, environment="prod", from_environment="demo")
    world.ecs_says(COMPLETED, world.ecs_rollouts.complete("web"))

    demo_image = world.task_definition(world.service_task_definition("web"))
    demo_web = next(c["image"] for c in demo_image["containerDefinitions"] if c["name"] == "web")
    preview = _ask(world, environment="prod", from_environment="demo", dry_run=True)
    assert preview.requested.image == demo_web and preview.from_environment == "demo"
    assert preview.from_task_definition == started.task_definition
    asked = _ask(world, environment="prod", from_environment="demo")
    assert asked.status == "awaiting_approval"
    assert (asked.image, asked.image_digest) == (demo_web, _digest(world, "2.0"))
    assert asked.from_environment == "demo" and asked.from_task_definition
    assert asked.changes == [{"path": WEB_IMAGE, "from": f"{REGISTRY}/web:1.0", "to": demo_web}]
    message = str(posts[-1])  # the approval message: where it comes from, what changes
    assert "Promoted from" in message and WEB_IMAGE in message

    deploys.approve(world.deps, actor="lena", deployment_id=asked.id)
    deploys.start_deploy(world.deps, asked.id)
    assert _prod_image(world) == demo_web
    assert world.record(asked.id).from_environment == "demo"


def test_promotion_refusals(world: World, posts: list[dict[str, Any]]) -> None:
    with pytest.raises(Forbidden, match="pat may not read in environment 'demo'"):
        _ask(world, actor="pat", environment="prod", from_environment="demo")
    with pytest.raises(NotFound, match="unknown environment 'nowhere'"):
        _ask(world, environment="prod", from_environment="nowhere")
    with pytest.raises(NotFound, match="unknown service 'web'"):
        _ask(world, environment="prod", from_environment="lab")
    with pytest.raises(InvalidRequest, match="stage/web runs nothing") as info:
        _ask(world, environment="prod", from_environment="stage", dry_run=True)
    assert set(info.value.details["fields"]) == {"from_environment"}
    with pytest.raises(InvalidRequest, match="name another environment"):
        _ask(world, environment="demo", from_environment="demo")
    assert world.store.recent_deployments(environment="prod", service=None, limit=5) == []


def test_rollbacks_register_no_task_definition(world: World) -> None:
    registered: list[str] = []
    world.ecs.meta.events.register(
        "before-call.ecs.RegisterTaskDefinition", lambda **kw: registered.append("register")
    )
    original = world.started()
    assert registered == ["register"]  # the deploy's own revision, once
    world.ecs_says(COMPLETED, world.ecs_rollouts.complete("web"))
    world.clock.advance(60)

    rollback = deploys.request_rollback(
        world.deps, actor="alice", deployment_id=original.id, reason="test"
    )
    deploys.start_deploy(world.deps, rollback.id)
    world.ecs_says(COMPLETED, world.ecs_rollouts.complete("web"))

    assert world.record(rollback.id).status == "succeeded"
    assert world.service_task_definition("web") == original.previous_task_definition
    assert registered == ["register"]  # the rollback re-deployed the exact previous revision
