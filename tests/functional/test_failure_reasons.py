"""Failure reasons and early abort against moto in-process: the stopped tasks of a rollout are
put in moto's ECS backend as ECS reports them (``infra.local.ecs_tasks``, which supplies what
moto's task model lacks), the ECS events go through the real handlers."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from moto.ecs.models import Task, ecs_backends

from chalicelib import deploys
from chalicelib.domain.policy_settings import DeployDefaults
from chalicelib.handlers.views.deployments import public
from infra.local import ecs_tasks
from infra.local.ecs_deployments import ServiceState
from infra.local.ecs_tasks import Failure
from tests.functional.conftest import ACCOUNT, EVENTS, REGION, World, lambda_context

FAILED = "SERVICE_DEPLOYMENT_FAILED"
TD_WEB_1 = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/web:1"


def _state(world: World, service: str = "web") -> ServiceState:
    backend = ecs_backends[ACCOUNT][REGION]
    return ServiceState(backend=backend, service=world.ecs_rollouts.service(service))


def crashed(world: World, n: int, *, code: int = 1, service: str = "web") -> list[Task]:
    """``n`` tasks of the service's PRIMARY (rolling-out) deployment exit with ``code``."""
    state = _state(world, service)
    tasks = ecs_tasks.run(state, world.ecs_rollouts.primary(service), n)
    return [ecs_tasks.fail(state, t, Failure.exited(code)) for t in tasks]


def task_event(task: Task) -> dict[str, Any]:
    """The saved "ECS Task State Change" sample, about one of our tasks, as a new event."""
    event: dict[str, Any] = json.loads((EVENTS / "ecs-task-state-change-stopped.json").read_text())
    event["id"] = str(uuid.uuid4())
    detail = event["detail"]
    detail.update(
        taskArn=task.task_arn,
        startedBy=task.started_by,
        taskDefinitionArn=task.task_definition_arn,
        group=task.group,
        stopCode=task.stop_code,  # type: ignore[attr-defined]
        stoppedReason=task.stopped_reason,
    )
    detail["containers"] = [
        {"name": c.name, "lastStatus": "STOPPED", "exitCode": c.exitCode} for c in task.containers
    ]
    event["resources"] = [task.task_arn]
    return event


def deliver(event: dict[str, Any]) -> dict[str, Any]:
    from chalicelib.handlers.events import ecs_task_state

    reply: dict[str, Any] = ecs_task_state(event, lambda_context("ecs_task_state"))
    return reply


@pytest.fixture
def aborting(world: World) -> World:
    """The world with the demo policy's early abort: 3 stopped tasks."""
    world.deps.policy = world.deps.policy.model_copy(
        update={"deploy": DeployDefaults(timeout_seconds=600, abort_after_task_failures=3)}
    )
    return world


def test_a_failed_rollout_records_what_its_tasks_died_of(world: World) -> None:
    started = world.started()
    crashed(world, 3, code=2)
    failed_id, _ = world.ecs_rollouts.fail("web", breaker_rolls_back=False)

    assert world.ecs_says(FAILED, failed_id) == "rolling back"

    record = world.record(started.id)
    assert record.failure_reason == (
        "3 tasks stopped: Essential container in task exited (web: exit code 2)"
    )
    assert public(record)["failure_reason"] == record.failure_reason
    assert any(record.failure_reason in e.message for e in record.events)
    assert any("circuit breaker" in e.message for e in record.events)  # what triggered it

    world.ecs_rollouts.complete("web")
    assert world.ecs_says("SERVICE_DEPLOYMENT_COMPLETED", world.ecs_rollouts.primary("web")["id"])
    done = world.record(started.id)
    assert done.status == "rolled_back"
    assert done.failure_reason == record.failure_reason  # kept by the terminal write
    assert "exit code 2" in done.events[-1].message


def test_tasks_of_other_deployments_do_not_explain_this_one(world: World) -> None:
    crashed(world, 2)  # of the service's current (creation) deployment
    started = world.started()
    failed_id, _ = world.ecs_rollouts.fail("web", breaker_rolls_back=False)
    world.ecs_says(FAILED, failed_id)
    reason = world.record(started.id).failure_reason
    assert reason == "ECS deployment circuit breaker: task failed to start."


def test_a_crash_loop_is_rolled_back_at_the_threshold_each_task_counted_once(
    aborting: World,
) -> None:
    world = aborting
    started = world.started()
    first, second, third, fourth = crashed(world, 4)

    once = task_event(first)
    assert deliver(once)["outcome"] == "counted: 1 of 3 tasks stopped"
    again = deliver(once)  # EventBridge delivers at least once: the same event id
    assert again["duplicate"] is True
    # ECS may send a second event about the same stopped task: it still counts once
    assert deliver(task_event(first))["outcome"] == "counted: 1 of 3 tasks stopped"
    assert deliver(task_event(second))["outcome"] == "counted: 2 of 3 tasks stopped"
    assert world.record(started.id).phase == "rollout"

    assert deliver(task_event(third))["outcome"] == "rolling back"

    record = world.record(started.id)
    assert (record.status, record.phase) == ("in_progress", "rollback")
    assert world.service_task_definition("web") == TD_WEB_1
    assert record.failure_reason is not None
    assert record.failure_reason.startswith("aborted after 3 tasks stopped: ")
    assert "Essential container in task exited" in record.failure_reason
    assert "exit code 1" in record.failure_reason
    assert any("abort_after_task_failures: 3" in e.message for e in record.events)
    assert any("Deploy aborted, rolling back" in s for s in world.notifications())
    # the loop goes on until the rollback replaces its tasks: nothing more is done
    assert deliver(task_event(fourth))["outcome"] == "ignored: deployment not rolling out"
    assert world.ecs_rollouts.update_calls.count(("web", TD_WEB_1)) == 1


def test_tasks_stopped_on_purpose_never_count(aborting: World) -> None:
    world = aborting
    world.started()
    state = _state(world)
    (task,) = ecs_tasks.run(state, world.ecs_rollouts.primary("web"), 1)
    why = "Scaling activity initiated by (deployment ecs-svc/1)"
    ecs_tasks.stop(state, task, reason=why, stop_code="ServiceSchedulerInitiated", exit_code=0)
    assert deliver(task_event(task))["outcome"] == f"ignored: {why}"


def test_without_a_threshold_stopped_tasks_are_not_counted(world: World) -> None:
    world.started()
    (task,) = crashed(world, 1)
    assert deliver(task_event(task))["outcome"] == "ignored: no abort threshold"


def test_a_timed_out_rollout_says_what_its_tasks_died_of(world: World) -> None:
    started = world.started()
    crashed(world, 2)
    world.clock.advance(601)
    deploys.on_deploy_timeout(
        world.deps,
        deploys_timeout(started.id, int(world.clock.now.timestamp()) - 1),
    )
    reason = world.record(started.id).failure_reason
    assert reason == "2 tasks stopped: Essential container in task exited (web: exit code 1)"


def deploys_timeout(deployment_id: str, deadline: int) -> Any:
    from chalicelib.domain.messages import DeployTimeout

    return DeployTimeout(deployment_id=deployment_id, phase="rollout", deadline=deadline)
