"""The deploy state machine keeps its word when a Lambda dies at any AWS call.

A crash is a ``Crash`` (a BaseException, which product code cannot catch) raised from a botocore
``before-call`` hook on every client the world's Deps use, at the k-th call: that call is not
made and nothing after it runs. Then the event source does what Lambda's does (SQS redelivers
the message after its visibility timeout; EventBridge retries the asynchronous invocation), and
the deploy must still end in the right terminal state, with ECS running what the record says
and no revision registered twice.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from chalicelib import deploys
from chalicelib.core.errors import DependencyUnavailable
from chalicelib.deploys.rollback import begin_rollback
from chalicelib.domain.messages import DeployStart, DeployTimeout
from chalicelib.worker import process_batch
from tests.functional.conftest import (
    ACCOUNT,
    REGION,
    REGISTRY,
    Crash,
    Crasher,
    World,
    sqs_record,
)

TD_WEB_1 = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/web:1"
COMPLETED = "SERVICE_DEPLOYMENT_COMPLETED"
FAILED = "SERVICE_DEPLOYMENT_FAILED"
VISIBILITY = 120  # the work queue's, in conftest (the start's lease is half of it)
# AWS calls of a clean deploy.start (a test below keeps this honest)
START_CALLS = 16
# AWS calls of a clean rollback begun by a FAILED event (with the event's idempotency record:
# its in-progress put first, its completion last; and the ListTasks that reads why the tasks
# stopped, before anything is claimed)
ROLLBACK_CALLS = 13


@pytest.fixture
def crasher(world: World) -> Crasher:
    deps = world.deps
    clients = [deps.store._ddb, deps.queue._sqs, deps.notifier._sns, world.ecs, world.client("ecr")]
    return Crasher(clients)


def deliver_start(world: World, deployment_id: str, receive_count: int = 1) -> dict[str, Any]:
    body = DeployStart(deployment_id=deployment_id).model_dump_json()
    record = dict(
        sqs_record(body, "m-start"), attributes={"ApproximateReceiveCount": str(receive_count)}
    )
    return process_batch(world.deps, {"Records": [record]})


def guards(world: World) -> list[dict[str, Any]]:
    return [body for body, _ in world.work() if body["kind"] == "deploy.timeout"]


def updates_to(world: World, task_definition: str | None) -> int:
    return sum(1 for _, td in world.ecs_rollouts.update_calls if td == task_definition)


def test_a_clean_start_makes_the_calls_the_crash_tests_walk_through(
    world: World, crasher: Crasher
) -> None:
    record = world.request(tag="2.0")
    crasher.arm(None)
    deliver_start(world, record.id)
    crasher.on = False
    assert len(crasher.calls) == START_CALLS, crasher.calls
    assert "ecs.RegisterTaskDefinition" in crasher.calls
    assert crasher.calls.index("sqs.SendMessage") < crasher.calls.index("ecs.UpdateService")


@pytest.mark.parametrize("at", range(START_CALLS))
def test_a_worker_dying_at_any_call_of_the_start_still_ends_succeeded(
    world: World, crasher: Crasher, at: int
) -> None:
    record = world.request(tag="2.0")
    crasher.arm(at)
    with pytest.raises(Crash):
        deliver_start(world, record.id)
    died_at = crasher.calls[-1]

    world.clock.advance(VISIBILITY)  # SQS redelivers the message after its visibility timeout
    deliver_start(world, record.id, receive_count=2)
    started = world.record(record.id)
    assert (started.status, started.phase) == ("in_progress", "rollout"), died_at
    assert world.service_task_definition("web") == started.task_definition
    assert started.previous_task_definition == TD_WEB_1  # never re-read from the live service

    ecs_id = world.ecs_rollouts.complete("web")
    assert ecs_id == started.ecs_deployment_id
    assert world.ecs_says(COMPLETED, ecs_id) == "succeeded"

    done = world.record(record.id)
    assert done.status == "succeeded", died_at
    assert world.service_task_definition("web") == done.task_definition
    # no revision registered twice, one UpdateService, the image pinned to its digest
    assert world.revisions("web") == [TD_WEB_1, done.task_definition], died_at
    assert updates_to(world, done.task_definition) == 1, died_at
    image = world.task_definition(str(done.task_definition))["containerDefinitions"][0]["image"]
    assert image == f"{REGISTRY}/web@{done.image_digest}"
    assert world.lock_holder("web") is None
    assert {g["deadline"] for g in guards(world)} == {done.deadline}  # the same guard, if twice


def _failing_rollout(world: World) -> tuple[Any, str]:
    started = world.started()
    failed_id, _ = world.ecs_rollouts.fail("web", breaker_rolls_back=False)
    return started, failed_id


def test_a_clean_rollback_makes_the_calls_the_crash_tests_walk_through(
    world: World, crasher: Crasher
) -> None:
    _, failed_id = _failing_rollout(world)
    crasher.arm(None)
    assert world.ecs_says(FAILED, failed_id) == "rolling back"
    crasher.on = False
    assert len(crasher.calls) == ROLLBACK_CALLS, crasher.calls
    assert crasher.calls.index("sqs.SendMessage") < crasher.calls.index("ecs.UpdateService")


@pytest.mark.parametrize("at", range(ROLLBACK_CALLS))
def test_dying_at_any_call_of_the_rollback_still_ends_rolled_back_with_one_rollback(
    world: World, crasher: Crasher, at: int
) -> None:
    started, failed_id = _failing_rollout(world)
    crasher.arm(at)
    with pytest.raises(Crash):
        world.ecs_says(FAILED, failed_id)
    died_at = crasher.calls[-1]

    world.clock.advance(61)  # EventBridge retries the asynchronous invocation a minute later
    world.ecs_says(FAILED, failed_id)
    rolling = world.record(started.id)
    assert rolling.phase == "rollback", died_at
    assert world.service_task_definition("web") == TD_WEB_1

    rollback_id = world.ecs_rollouts.complete("web")
    assert rollback_id == rolling.rollback_ecs_deployment_id, died_at
    assert world.ecs_says(COMPLETED, rollback_id) == "rolled_back"
    done = world.record(started.id)
    assert done.status == "rolled_back"
    assert world.service_task_definition("web") == done.previous_task_definition == TD_WEB_1
    assert updates_to(world, TD_WEB_1) == 1, died_at  # exactly one rollback
    assert world.revisions("web") == [TD_WEB_1, started.task_definition]
    assert world.lock_holder("web") is None


def test_a_lost_completed_event_ends_succeeded_at_the_timeout(world: World) -> None:
    started = world.started()
    world.ecs_rollouts.complete("web")  # ECS finished; its COMPLETED event never arrives
    world.clock.advance(started.timeout_seconds)
    [guard] = guards(world)
    deploys.on_deploy_timeout(world.deps, DeployTimeout.model_validate(guard))

    done = world.record(started.id)
    assert done.status == "succeeded"
    assert "COMPLETED event never came" in done.events[-1].message
    assert updates_to(world, TD_WEB_1) == 0  # no rollback of a healthy deploy
    assert world.service_task_definition("web") == done.task_definition
    assert world.lock_holder("web") is None


def test_an_unfinished_rollout_is_still_rolled_back_at_the_timeout(world: World) -> None:
    started = world.started()
    world.clock.advance(started.timeout_seconds)
    [guard] = guards(world)
    deploys.on_deploy_timeout(world.deps, DeployTimeout.model_validate(guard))
    assert world.record(started.id).phase == "rollback"
    assert world.service_task_definition("web") == TD_WEB_1


def test_a_duplicate_failed_event_makes_one_rollback(world: World) -> None:
    started, failed_id = _failing_rollout(world)
    assert world.ecs_says(FAILED, failed_id) == "rolling back"
    assert world.ecs_says(FAILED, failed_id).startswith("ignored")
    assert updates_to(world, TD_WEB_1) == 1

    # and two handlers that read the rollout before either claimed it: one rollback as well
    env = world.deps.policy.environment("demo")
    assert not begin_rollback(world.deps, started, env, world.ecs, "ECS: duplicate")
    assert updates_to(world, TD_WEB_1) == 1


def test_a_start_that_never_finishes_is_ended_failed_by_its_guard(
    world: World, crasher: Crasher
) -> None:
    record = world.request(tag="2.0")
    crasher.arm(8)  # dies after arming the guard, before ECS is touched
    with pytest.raises(Crash):
        deliver_start(world, record.id)
    assert crasher.calls[-1] == "ecs.DescribeTaskDefinition"
    # the message is never redelivered (say it was dead-lettered): the guard settles it
    world.clock.advance(record.timeout_seconds)
    [guard] = guards(world)
    deploys.on_deploy_timeout(world.deps, DeployTimeout.model_validate(guard))

    done = world.record(record.id)
    assert done.status == "failed"
    assert "did not finish" in done.events[-1].message
    assert world.service_task_definition("web") == TD_WEB_1
    assert world.lock_holder("web") is None


def test_the_last_delivery_of_a_failing_start_ends_it_failed_and_frees_the_service(
    world: World,
) -> None:
    record = world.request(tag="2.0")

    def throttled(**_: Any) -> None:
        raise ClientError(
            {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}},
            "RegisterTaskDefinition",
        )

    world.ecs.meta.events.register("before-call.ecs.RegisterTaskDefinition", throttled)
    assert deliver_start(world, record.id, receive_count=5) == {"batchItemFailures": []}

    done = world.record(record.id)
    assert done.status == "failed"
    assert "ThrottlingException" in done.events[-1].message
    assert "last delivery" in done.events[-1].message
    assert world.lock_holder("web") is None
    assert world.service_task_definition("web") == TD_WEB_1


def test_a_deploy_the_rest_handler_cannot_enqueue_ends_failed_and_frees_the_service(
    world: World,
) -> None:
    def unavailable(**_: Any) -> None:
        raise ClientError(
            {"Error": {"Code": "ServiceUnavailable", "Message": "try later"}}, "SendMessage"
        )

    world.deps.queue._sqs.meta.events.register("before-call.sqs.SendMessage", unavailable)
    with pytest.raises(DependencyUnavailable) as info:
        world.request(tag="2.0")
    assert info.value.status == 503

    done = world.record(info.value.details["deployment_id"])
    assert done.status == "failed"
    assert "could not be queued" in done.events[-1].message
    assert world.lock_holder("web") is None
    assert world.audit("web")[0]["result"] == "failed"
