"""The deploy state machine, step by step, against moto in-process.

Each test tells one story a user lives through: ask for a deploy, the worker starts it, ECS
reports (through the real ``ecs_deployment_state`` handler, with the saved EventBridge samples)
and opsbot ends in the state the contract promises, with the service on the right task
definition, the lock free or held, an audit trail and notifications. See conftest.py for the
world and for why ``EcsRollouts`` adds ECS's deployment bookkeeping to moto.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from chalicelib import deploys
from chalicelib.core.clock import iso
from chalicelib.core.errors import Conflict, Forbidden, InvalidRequest, NotFound
from chalicelib.deploys import container_image
from chalicelib.domain.messages import DeployStart, DeployTimeout
from chalicelib.handlers.views.deployments import public
from chalicelib.records.target import Target
from chalicelib.status import audit
from chalicelib.worker import process_batch
from tests.functional.conftest import (
    ACCOUNT,
    EVENTS,
    REGION,
    REGISTRY,
    START,
    World,
    sqs_record,
)

WEB_V1 = f"{REGISTRY}/web:1.0"
WEB_V2 = f"{REGISTRY}/web:2.0"
TD_WEB_1 = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/web:1"
T0 = int(START.timestamp())
# What GET /deployments/{id} promises (docs/reference/rest.md).
CONTRACT = {
    "id",
    "environment",
    "service",
    "image",
    "status",
    "task_definition",
    "previous_task_definition",
    "events",
}
COMPLETED = "SERVICE_DEPLOYMENT_COMPLETED"
FAILED = "SERVICE_DEPLOYMENT_FAILED"
IN_PROGRESS = "SERVICE_DEPLOYMENT_IN_PROGRESS"


def trail(world: World, service: str = "web") -> list[tuple[str, str]]:
    """(action, result) of the service's audit entries, newest first."""
    return [(e["action"], e["result"]) for e in world.audit(service)]


def timeout_guard(deployment_id: str, phase: str, deadline: int) -> dict[str, Any]:
    return {
        "kind": "deploy.timeout",
        "deployment_id": deployment_id,
        "phase": phase,
        "deadline": deadline,
    }


def fail_once(world: World, operation: str, error: Exception) -> None:
    """The next ``operation`` call opsbot makes to ECS raises ``error`` (once)."""
    calls = {"n": 0}

    def hook(**_: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise error

    world.ecs.meta.events.register(f"before-call.ecs.{operation}", hook)


# -- request_deploy ------------------------------------------------------------------------


def test_request_records_queues_and_locks_and_a_second_request_conflicts(world: World) -> None:
    record = world.request(tag="2.0")

    assert record.status == "queued"
    assert record.image == WEB_V2
    ecr = world.client("ecr").describe_images(repositoryName="web", imageIds=[{"imageTag": "2.0"}])
    assert record.image_digest == ecr["imageDetails"][0]["imageDigest"]
    # what GET /deployments/{id} shows is what POST answered, on every key the contract lists
    shown = public(deploys.get_deployment(world.deps, record.id))
    posted = public(record)
    assert {k: shown.get(k, "<missing>") for k in CONTRACT} == {
        k: posted.get(k, "<missing>") for k in CONTRACT
    }
    assert world.work() == [({"kind": "deploy.start", "deployment_id": record.id}, 0)]
    holder = world.store.lock_holder(Target.service("demo", "web").lock)
    assert holder is not None and holder[0] == record.id
    assert holder[1] >= T0 + 2 * 600  # outlives a whole rollout and a whole rollback
    assert trail(world) == [("deploy", "accepted")]

    world.clock.advance(5)
    with pytest.raises(Conflict) as info:
        world.request(tag="1.0")
    assert info.value.status == 409
    assert info.value.details == {"holder": record.id}
    assert record.id in info.value.message
    assert len(world.work()) == 1  # nothing more was queued
    assert trail(world) == [("deploy", "conflict"), ("deploy", "accepted")]

    # the lock is per service: another service deploys meanwhile
    assert world.request("api", tag="2.0").status == "queued"


def test_a_queued_deployment_shows_every_field_the_contract_lists(world: World) -> None:
    record = world.request(tag="2.0")
    shown = public(deploys.get_deployment(world.deps, record.id))
    assert set(shown) >= CONTRACT, sorted(CONTRACT - set(shown))
    # null until the worker has registered the new revision, as POST answered them
    assert (shown["task_definition"], shown["previous_task_definition"]) == (None, None)
    posted = public(record)
    assert (posted["task_definition"], posted["previous_task_definition"]) == (None, None)


def test_a_viewer_may_not_deploy(world: World) -> None:
    with pytest.raises(Forbidden):
        world.request(actor="victor", tag="2.0")
    assert world.work() == []
    assert world.lock_holder("web") is None


@pytest.mark.parametrize("which", [{"tag": "9.9"}, {"image": f"{REGISTRY}/web:9.9"}])
def test_a_tag_missing_from_ecr_is_rejected_with_nothing_queued(
    world: World, which: dict[str, str]
) -> None:
    with pytest.raises(InvalidRequest) as info:
        world.request(**which)

    assert info.value.status == 400
    sent = next(iter(which))  # the error names the field the caller sent
    assert set(info.value.details["fields"]) == {sent}
    assert "9.9" in info.value.details["fields"][sent]
    assert world.work() == []
    assert world.lock_holder("web") is None
    [entry] = world.audit("web")
    assert (entry["action"], entry["result"], entry["actor"]) == ("deploy", "rejected", "alice")
    assert "9.9" in entry["reason"]


def test_unknown_environment_or_service_is_not_found(world: World) -> None:
    with pytest.raises(NotFound):
        world.request("db", tag="2.0")
    assert world.work() == []


# -- start_deploy --------------------------------------------------------------------------


def test_start_rolls_out_a_new_revision_with_only_the_image_changed(world: World) -> None:
    record = world.request(tag="2.0")
    deploys.start_deploy(world.deps, record.id)
    started = world.record(record.id)

    new_td = started.task_definition
    assert started.status == "in_progress"
    assert started.previous_task_definition == TD_WEB_1
    assert new_td != TD_WEB_1
    assert world.revisions("web") == [TD_WEB_1, new_td]
    assert world.service_task_definition("web") == new_td

    old, new = world.task_definition(TD_WEB_1), world.task_definition(new_td)
    # the image pinned to the digest verified in ECR (the record keeps the tag)
    assert started.image == WEB_V2
    assert container_image(new, "web") == f"{REGISTRY}/web@{started.image_digest}"
    assert started.target_image == container_image(new, "web")
    old_containers = {c["name"]: c for c in old["containerDefinitions"]}
    new_containers = {c["name"]: c for c in new["containerDefinitions"]}
    assert new_containers["log-router"] == old_containers["log-router"]
    assert {k: v for k, v in new_containers["web"].items() if k != "image"} == {
        k: v for k, v in old_containers["web"].items() if k != "image"
    }
    for key in ("family", "taskRoleArn", "executionRoleArn", "networkMode", "volumes", "cpu"):
        assert new[key] == old[key], key
    assert (new["memory"], new["requiresCompatibilities"]) == ("1024", ["FARGATE"])
    assert world.ecs.list_tags_for_resource(resourceArn=new_td)["tags"] == [
        {"key": "team", "value": "payments"},
        {"key": "opsbot:deployment", "value": record.id},  # how a retry finds its revision
    ]

    # the ECS deployment opsbot waits for is the one ECS started for the new revision
    primary = world.ecs_rollouts.primary("web")
    assert started.ecs_deployment_id == primary["id"]
    assert primary["taskDefinition"] == new_td

    # the timeout guard: a delayed message carrying the deadline
    assert world.work()[1:] == [(timeout_guard(record.id, "rollout", T0 + 600), 600)]
    assert world.lock_holder("web") == record.id
    assert world.notifications() == ["[opsbot] Deploy started: demo/web"]


def test_a_redelivered_start_changes_nothing(world: World) -> None:
    record = world.request(tag="2.0")
    deploys.start_deploy(world.deps, record.id)
    before = world.record(record.id)
    revisions, work = world.revisions("web"), world.work()
    updates = list(world.ecs_rollouts.update_calls)

    world.clock.advance(30)
    deploys.start_deploy(world.deps, record.id)

    assert world.revisions("web") == revisions
    assert len(revisions) == 2
    assert world.ecs_rollouts.update_calls == updates
    assert world.work() == work
    assert world.record(record.id) == before


def test_a_start_for_an_unknown_deployment_is_dropped(world: World) -> None:
    deploys.start_deploy(world.deps, "dep-does-not-exist")
    assert world.revisions("web") == [TD_WEB_1]
    assert world.ecs_rollouts.update_calls == []


def aws_error(code: str, message: str, status: int | None, operation: str) -> ClientError:
    """The ClientError botocore raises for an error response (``status``: its HTTP status)."""
    response: dict[str, Any] = {"Error": {"Code": code, "Message": message}}
    if status is not None:
        response["ResponseMetadata"] = {"HTTPStatusCode": status}
    return ClientError(response, operation)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("code", "message", "status"),
    [
        ("ClientException", "Too many revisions.", None),
        ("ClientException", "Too many revisions.", 400),
        ("AccessDeniedException", "not authorized to perform ecs:RegisterTaskDefinition", 400),
    ],
    ids=["no-status", "400", "access-denied"],
)
def test_ecs_refusing_the_new_revision_fails_the_deploy_and_frees_the_service(
    world: World, code: str, message: str, status: int | None
) -> None:
    refused = aws_error(code, message, status, "RegisterTaskDefinition")
    fail_once(world, "RegisterTaskDefinition", refused)
    record = world.request(tag="2.0")
    world.clock.advance(1)
    deploys.start_deploy(world.deps, record.id)  # nothing raised: no redelivery

    failed = world.record(record.id)
    assert failed.status == "failed"
    assert f"{code}: {message}" in failed.events[-1].message
    assert world.service_task_definition("web") == TD_WEB_1
    assert world.lock_holder("web") is None
    assert trail(world)[0] == ("deploy", "failed")
    # it never reached ECS, so there is nothing to roll back
    with pytest.raises(Conflict, match="never reached ECS"):
        deploys.request_rollback(world.deps, actor="alice", deployment_id=record.id, reason="")


TRANSIENT = [
    pytest.param(EndpointConnectionError(endpoint_url="https://ecs.example"), id="connection"),
    pytest.param(ReadTimeoutError(endpoint_url="https://ecs.example"), id="read-timeout"),
    pytest.param(aws_error("ThrottlingException", "Rate exceeded", 400, "X"), id="throttled"),
    pytest.param(aws_error("ServerException", "Service error", None, "X"), id="server-exception"),
    pytest.param(aws_error("InternalFailure", "oops", 500, "X"), id="http-500"),
    pytest.param(aws_error("Unavailable", "try later", 503, "X"), id="http-503"),
]


@pytest.mark.parametrize("operation", ["RegisterTaskDefinition", "UpdateService"])
@pytest.mark.parametrize("error", TRANSIENT)
def test_a_transient_aws_error_puts_the_deploy_back_in_the_queue_and_is_raised(
    world: World, error: Exception, operation: str
) -> None:
    record = world.request(tag="2.0")
    fail_once(world, operation, error)
    world.clock.advance(1)

    with pytest.raises(type(error)) as raised:
        deploys.start_deploy(world.deps, record.id)
    assert raised.value is error  # handed back to SQS, which redelivers the deploy.start

    queued = world.record(record.id)
    assert queued.status == "queued"
    assert queued.events[-1].status == "queued"
    assert "transient AWS error, will retry" in queued.events[-1].message
    # still this deploy's service: nothing failed, nothing released, nothing rolled out
    assert world.lock_holder("web") == record.id
    assert world.service_task_definition("web") == TD_WEB_1
    assert trail(world) == [("deploy", "accepted")]
    # the timeout guard was armed before ECS was touched (and only once)
    assert [body["kind"] for body, _ in world.work()] == ["deploy.start", "deploy.timeout"]


def test_a_rollout_ecs_finishes_at_once_succeeds_without_waiting(world: World) -> None:
    world.ecs_rollouts.instant = True
    started = world.started()
    assert started.status == "succeeded"
    assert world.lock_holder("web") is None


# -- ECS events ----------------------------------------------------------------------------


def test_completion_marks_success_and_frees_the_service(world: World) -> None:
    started = world.started()
    ecs_id = started.ecs_deployment_id
    assert ecs_id is not None

    world.clock.advance(20)
    assert world.ecs_says(IN_PROGRESS, ecs_id) == "noted"
    assert world.record(started.id).status == "in_progress"

    world.clock.advance(200)
    assert world.ecs_rollouts.complete("web") == ecs_id
    assert world.ecs_says(COMPLETED, ecs_id) == "succeeded"

    done = world.record(started.id)
    assert done.status == "succeeded"
    assert done.finished_at == iso(world.clock.now)
    assert [e.status for e in done.events][-1] == "succeeded"
    assert world.lock_holder("web") is None
    assert trail(world) == [("deploy", "succeeded"), ("deploy", "accepted")]
    assert world.notifications() == [
        "[opsbot] Deploy started: demo/web",
        "[opsbot] Deploy succeeded: demo/web",
    ]

    # EventBridge delivers at least once: a repeat changes nothing
    assert world.ecs_says(COMPLETED, ecs_id) == "ignored: deployment not in progress"
    assert world.record(started.id) == done
    # and the service is free for the next deploy
    assert world.request(tag="1.0").status == "queued"


def test_events_about_other_deployments_are_ignored(world: World) -> None:
    assert world.ecs_says(COMPLETED, "ecs-svc/1234567890123456789") == (
        "ignored: not an opsbot deployment"
    )


def test_a_failed_rollout_is_rolled_back_to_the_previous_revision(world: World) -> None:
    started = world.started()
    world.clock.advance(120)
    failed_id, _ = world.ecs_rollouts.fail("web", breaker_rolls_back=False)

    assert world.ecs_says(FAILED, failed_id) == "rolling back"

    assert world.service_task_definition("web") == TD_WEB_1
    rolling = world.record(started.id)
    assert (rolling.status, rolling.phase) == ("in_progress", "rollback")
    assert rolling.failure_reason is not None
    assert "task failed to start" in rolling.failure_reason
    rollback_id = world.ecs_rollouts.primary("web")["id"]
    assert rolling.rollback_ecs_deployment_id == rollback_id != failed_id
    assert world.lock_holder("web") == started.id  # nobody deploys over a rollback
    now = int(world.clock.now.timestamp())
    assert world.work()[-1] == (timeout_guard(started.id, "rollback", now + 600), 600)

    world.clock.advance(90)
    assert world.ecs_says(COMPLETED, world.ecs_rollouts.complete("web")) == "rolled_back"

    final = world.record(started.id)
    assert final.status == "rolled_back"
    assert world.service_task_definition("web") == TD_WEB_1
    assert world.lock_holder("web") is None
    assert trail(world)[0] == ("deploy", "rolled_back")
    assert world.notifications() == [
        "[opsbot] Deploy started: demo/web",
        "[opsbot] Deploy failed, rolling back: demo/web",
        "[opsbot] Deploy rolled back: demo/web",
    ]


def test_the_circuit_breakers_rollback_is_followed_not_repeated(world: World) -> None:
    started = world.started()
    world.ecs_rollouts.update_calls.clear()
    failed_id, breaker_id = world.ecs_rollouts.fail("web", breaker_rolls_back=True)

    assert world.ecs_says(FAILED, failed_id) == "rolling back"
    assert world.ecs_rollouts.update_calls == []  # opsbot did not start a second rollback
    assert world.record(started.id).rollback_ecs_deployment_id == breaker_id
    assert world.ecs_says(IN_PROGRESS, str(breaker_id)) == "noted"

    assert world.ecs_says(COMPLETED, world.ecs_rollouts.complete("web")) == "rolled_back"
    assert world.record(started.id).status == "rolled_back"
    assert world.service_task_definition("web") == TD_WEB_1
    assert world.lock_holder("web") is None


def test_a_failed_rollback_is_reported_as_needing_a_human(world: World) -> None:
    started = world.started()
    world.clock.advance(60)
    failed_id, _ = world.ecs_rollouts.fail("web", breaker_rolls_back=False)
    assert world.ecs_says(FAILED, failed_id) == "rolling back"
    world.clock.advance(60)
    rollback_failed, _ = world.ecs_rollouts.fail("web", breaker_rolls_back=False)

    assert world.ecs_says(FAILED, rollback_failed) == "failed"

    final = world.record(started.id)
    assert final.status == "failed"
    assert "needs a human" in final.events[-1].message
    assert world.lock_holder("web") is None
    assert trail(world)[0] == ("deploy", "failed")
    assert world.notifications()[-1] == "[opsbot] Deploy FAILED: demo/web"


# -- the timeout guard ---------------------------------------------------------------------


def test_a_rollout_still_unfinished_at_its_deadline_is_rolled_back(world: World) -> None:
    started = world.started()
    new_td = started.task_definition
    guard = DeployTimeout.model_validate(world.work()[-1][0])

    # delivered a second early (SQS delays are not exact): it waits out the rest
    world.clock.advance(599)
    deploys.on_deploy_timeout(world.deps, guard)
    assert world.work()[-1] == (guard.model_dump(), 1)
    assert world.record(started.id).phase == "rollout"
    assert world.service_task_definition("web") == new_td

    world.clock.advance(1)
    deploys.on_deploy_timeout(world.deps, guard)

    assert world.service_task_definition("web") == TD_WEB_1
    rolling = world.record(started.id)
    assert (rolling.status, rolling.phase) == ("in_progress", "rollback")
    assert rolling.failure_reason == "not steady after 600 s"
    now = int(world.clock.now.timestamp())
    assert world.work()[-1] == (timeout_guard(started.id, "rollback", now + 600), 600)

    # the rollout's guard delivered again does nothing more
    calls, queued = len(world.ecs_rollouts.update_calls), len(world.work())
    deploys.on_deploy_timeout(world.deps, guard)
    assert (len(world.ecs_rollouts.update_calls), len(world.work())) == (calls, queued)

    world.clock.advance(60)
    assert world.ecs_says(COMPLETED, world.ecs_rollouts.complete("web")) == "rolled_back"
    assert world.record(started.id).status == "rolled_back"
    assert world.lock_holder("web") is None

    # the rollback's own guard, arriving after it finished, changes nothing
    rollback_guard = DeployTimeout.model_validate(world.work()[-1][0])
    world.clock.advance(600)
    deploys.on_deploy_timeout(world.deps, rollback_guard)
    assert world.record(started.id).status == "rolled_back"


def test_a_rollback_unfinished_at_its_deadline_fails_and_frees_the_service(world: World) -> None:
    started = world.started()
    guard = DeployTimeout.model_validate(world.work()[-1][0])
    world.clock.advance(600)
    deploys.on_deploy_timeout(world.deps, guard)
    rollback_guard = DeployTimeout.model_validate(world.work()[-1][0])
    assert rollback_guard.phase == "rollback"

    world.clock.advance(600)
    deploys.on_deploy_timeout(world.deps, rollback_guard)

    final = world.record(started.id)
    assert final.status == "failed"
    assert "needs a human" in final.events[-1].message
    assert world.lock_holder("web") is None
    assert trail(world)[0] == ("deploy", "failed")


def test_timeouts_longer_than_sqs_can_delay_wait_in_steps(world: World) -> None:
    started = world.started("api")  # the policy gives api 1800 s
    guard_body, delay = world.work()[-1]
    assert (delay, guard_body["deadline"]) == (900, T0 + 1800)  # SQS delays at most 900 s

    world.clock.advance(900)
    deploys.on_deploy_timeout(world.deps, DeployTimeout.model_validate(guard_body))

    assert world.work()[-1] == (guard_body, 900)
    assert world.record(started.id).phase == "rollout"
    assert world.service_task_definition("api") == started.task_definition


# -- rollback on request -------------------------------------------------------------------


def test_rolling_back_a_succeeded_deploy(world: World) -> None:
    original = world.started()
    assert world.ecs_says(COMPLETED, world.ecs_rollouts.complete("web")) == "succeeded"
    world.clock.advance(3600)

    rollback = deploys.request_rollback(
        world.deps, actor="alice", deployment_id=original.id, reason="checkout errors"
    )

    assert rollback.status == "queued"
    assert rollback.rollback_of == original.id
    assert rollback.task_definition == original.previous_task_definition == TD_WEB_1
    assert rollback.image == WEB_V1
    assert "checkout errors" in rollback.events[0].message
    assert world.lock_holder("web") == rollback.id
    assert world.work()[-1] == (DeployStart(deployment_id=rollback.id).model_dump(), 0)

    world.clock.advance(1)
    deploys.start_deploy(world.deps, rollback.id)
    assert world.service_task_definition("web") == TD_WEB_1
    assert world.revisions("web") == [TD_WEB_1, original.task_definition]  # none registered
    assert world.record(rollback.id).previous_task_definition == original.task_definition

    world.clock.advance(120)
    assert world.ecs_says(COMPLETED, world.ecs_rollouts.complete("web")) == "succeeded"
    assert world.record(rollback.id).status == "succeeded"
    rolled_back = world.record(original.id)
    assert rolled_back.status == "rolled_back"
    assert rollback.id in rolled_back.events[-1].message
    assert world.lock_holder("web") is None
    assert trail(world)[0] == ("rollback", "succeeded")
    assert world.notifications()[-1] == "[opsbot] Rollback succeeded: demo/web"

    with pytest.raises(Conflict, match="already rolled back"):
        deploys.request_rollback(world.deps, actor="alice", deployment_id=original.id, reason="")
    # history says what each deployment is now: the deploy that succeeded was rolled back since
    lines = audit.history(world.deps, actor="alice", environment="demo", service="web", limit=5)
    now = {e.deployment_id: e.result for e in lines}
    assert now == {rollback.id: "succeeded", original.id: "rolled_back"}


def test_rollback_refusals(world: World) -> None:
    started = world.started()
    with pytest.raises(Conflict, match="still in_progress"):
        deploys.request_rollback(world.deps, actor="alice", deployment_id=started.id, reason="")
    world.ecs_says(COMPLETED, world.ecs_rollouts.complete("web"))
    with pytest.raises(Forbidden):
        deploys.request_rollback(world.deps, actor="victor", deployment_id=started.id, reason="")
    with pytest.raises(NotFound):
        deploys.request_rollback(world.deps, actor="alice", deployment_id="dep-nope", reason="")
    assert world.lock_holder("web") is None
    assert world.service_task_definition("web") == started.task_definition


def test_rolling_back_a_superseded_deployment_is_refused(world: World) -> None:
    first = world.started(tag="2.0")
    world.ecs_says(COMPLETED, world.ecs_rollouts.complete("web"))
    second = world.started(tag="1.0")
    world.ecs_says(COMPLETED, world.ecs_rollouts.complete("web"))
    running = world.service_task_definition("web")

    with pytest.raises(Conflict, match="has changed since") as info:
        deploys.request_rollback(world.deps, actor="alice", deployment_id=first.id, reason="")

    assert info.value.details["running"] == running == second.task_definition
    assert world.service_task_definition("web") == running
    assert world.lock_holder("web") is None
    # the latest one may be rolled back
    latest = deploys.request_rollback(world.deps, actor="alice", deployment_id=second.id, reason="")
    assert latest.task_definition == second.previous_task_definition


@pytest.mark.parametrize(
    ("image", "why"),
    [
        ("nginx:latest", "not from a repository this service deploys from"),
        (f"{REGISTRY}/api:2.0", "not from a repository this service deploys from"),
        (f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/web:2.0", "not from a repository"),
        (f"999999999999.dkr.ecr.{REGION}.amazonaws.com/web:2.0", "not from a repository"),
        (f"{REGISTRY}/web", "names no tag or digest"),
        (f"{REGISTRY}/web@sha256:{'a' * 64}", "not found in ECR repository"),
    ],
)
def test_an_image_from_elsewhere_or_missing_is_refused(world: World, image: str, why: str) -> None:
    before = world.revisions("web")
    with pytest.raises(InvalidRequest, match=why) as info:
        world.request(image=image)
    assert set(info.value.details["fields"]) == {"image"}
    assert world.work() == [] and world.lock_holder("web") is None
    assert world.revisions("web") == before


def test_an_image_by_digest_from_the_own_repository_is_accepted(world: World) -> None:
    ecr = world.client("ecr")
    digest = ecr.describe_images(repositoryName="web", imageIds=[{"imageTag": "2.0"}])[
        "imageDetails"
    ][0]["imageDigest"]
    record = world.request(image=f"{REGISTRY}/web@{digest}")
    assert record.image_digest == digest


def test_images_listed_in_the_policy_are_taken_as_given(world: World) -> None:
    from chalicelib.domain.policy import parse_policy
    from tests.functional.conftest import POLICY

    policy = json.loads(json.dumps(POLICY))
    policy["environments"]["demo"]["services"]["web"]["images"] = ["public.ecr.aws/nginx/*"]
    world.deps.policy = parse_policy(policy)

    record = world.request(image="public.ecr.aws/nginx/nginx:1.27")
    assert record.image == "public.ecr.aws/nginx/nginx:1.27"
    assert record.image_digest is None
    with pytest.raises(InvalidRequest):
        world.request(service="api", image="public.ecr.aws/nginx/nginx:1.27")


# -- the work-queue consumer ---------------------------------------------------------------


def test_a_batch_with_a_poison_message(world: World) -> None:
    web = world.request("web", tag="2.0")
    api = world.request("api", tag="2.0")
    event: dict[str, Any] = json.loads((EVENTS / "sqs-work-batch.json").read_text())
    good = [
        sqs_record(DeployStart(deployment_id=d.id).model_dump_json(), r["messageId"])
        for d, r in zip((web, api), event["Records"][:2], strict=True)
    ]
    poison = event["Records"][2]
    event["Records"] = [good[0], poison, good[1]]

    reply = process_batch(world.deps, event)

    assert reply == {"batchItemFailures": []}  # nothing for SQS to retry
    for record in (web, api):
        started = world.record(record.id)
        assert started.status == "in_progress"
        assert world.service_task_definition(record.service) == started.task_definition
    sqs = world.client("sqs")
    dlq = sqs.get_queue_url(QueueName=world.deps.settings.work_dlq_name)["QueueUrl"]
    messages = sqs.receive_message(
        QueueUrl=dlq, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )["Messages"]
    assert [m["Body"] for m in messages] == [poison["body"]]
    attributes = messages[0]["MessageAttributes"]
    assert attributes["opsbot-reason"]["StringValue"].startswith("body: Invalid JSON")
    assert attributes["opsbot-source-message-id"]["StringValue"] == poison["messageId"]


def test_a_transient_failure_is_handed_back_to_sqs_for_redelivery(world: World) -> None:
    web = world.request("web", tag="2.0")
    api = world.request("api", tag="2.0")
    fail_once(world, "RegisterTaskDefinition", EndpointConnectionError(endpoint_url="ecs"))
    web_msg = sqs_record(DeployStart(deployment_id=web.id).model_dump_json(), "m-web")
    api_msg = sqs_record(DeployStart(deployment_id=api.id).model_dump_json(), "m-api")

    reply = process_batch(world.deps, {"Records": [web_msg, api_msg]})

    assert reply == {"batchItemFailures": [{"itemIdentifier": "m-web"}]}
    assert world.record(api.id).status == "in_progress"
    assert world.service_task_definition("web") == TD_WEB_1


def test_the_redelivered_start_after_a_transient_failure_finishes_the_job(world: World) -> None:
    web = world.request("web", tag="2.0")
    fail_once(world, "RegisterTaskDefinition", EndpointConnectionError(endpoint_url="ecs"))
    message = sqs_record(DeployStart(deployment_id=web.id).model_dump_json(), "m-web")
    with pytest.raises(Exception, match="All records failed"):
        process_batch(world.deps, {"Records": [message]})

    world.clock.advance(30)  # SQS redelivers after the visibility timeout
    redelivered = dict(message, attributes={"ApproximateReceiveCount": "2"})
    process_batch(world.deps, {"Records": [redelivered]})

    record = world.record(web.id)
    assert record.status == "in_progress"
    assert world.service_task_definition("web") == record.task_definition != TD_WEB_1
    # one guard, armed by the first attempt before it touched ECS; one revision registered
    assert world.work()[1:] == [(timeout_guard(web.id, "rollout", T0 + 600), 600)]
    assert world.revisions("web") == [TD_WEB_1, record.task_definition]
    assert world.lock_holder("web") == web.id
    events = [(e.status, e.message) for e in record.events]
    assert ("queued", "transient AWS error, will retry") in [
        (status, message[: len("transient AWS error, will retry")]) for status, message in events
    ]
