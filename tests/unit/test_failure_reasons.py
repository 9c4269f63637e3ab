"""Failure reasons: what a rollout's stopped tasks died of, summarised from DescribeTasks (real
AWS shapes), read best-effort through a botocore Stubber; the Task State Change sample parses."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from chalicelib.deploys.explain import cause, explain_failure, failed, summarise, telling_event
from chalicelib.domain.environment import Service
from chalicelib.domain.events import EcsTaskStateChange
from chalicelib.domain.policy_settings import DeployDefaults
from chalicelib.handlers.events import ECS_TASK_STOPPED_PATTERN
from chalicelib.records.deployment import Deployment
from chalicelib.records.status import DeploymentStatus

EVENTS = Path(__file__).resolve().parents[1] / "events"
TASK = "arn:aws:ecs:us-east-1:123456789012:task/demo/{}"
TG = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-tg/6d0ecf831eec9f09"


def task(n: int, **fields: Any) -> dict[str, Any]:
    """A stopped task as DescribeTasks returns it."""
    base: dict[str, Any] = {
        "taskArn": TASK.format(f"{n:032x}"),
        "lastStatus": "STOPPED",
        "desiredStatus": "STOPPED",
        "startedBy": "ecs-svc/6341823459201935421",
        "group": "service:api",
        "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/api:7",
        "stoppedAt": datetime(2026, 11, 20, 9, 25, n, tzinfo=UTC),
    }
    return {**base, **fields}


def exited(n: int, code: int = 1, **container: Any) -> dict[str, Any]:
    return task(
        n,
        stopCode="EssentialContainerExited",
        stoppedReason="Essential container in task exited",
        containers=[{"name": "api", "lastStatus": "STOPPED", "exitCode": code, **container}],
    )


def test_three_crashed_tasks_are_said_with_their_exit_code() -> None:
    tasks = [exited(1), exited(2), exited(3)]
    assert summarise(tasks) == "3 tasks stopped: Essential container in task exited (exit code 1)"


def test_a_container_reason_beats_the_exit_code() -> None:
    oom = exited(1, 137, reason="OutOfMemoryError: Container killed due to memory usage")
    assert cause(oom) == (
        "Essential container in task exited "
        "(OutOfMemoryError: Container killed due to memory usage)"
    )


def test_elb_health_checks_name_the_target_group_not_its_arn() -> None:
    unhealthy = task(
        1,
        stopCode="ServiceSchedulerInitiated",
        stoppedReason=f"Task failed ELB health checks in (target-group {TG})",
        containers=[{"name": "web", "lastStatus": "STOPPED", "exitCode": 143}],
    )
    assert failed(unhealthy)
    assert summarise([unhealthy]) == (
        "1 task stopped: Task failed ELB health checks in (target group web-tg)"
    )


def test_tasks_failing_to_start_say_why() -> None:
    pull = task(
        1,
        stopCode="TaskFailedToStart",
        stoppedReason="CannotPullContainerError: pull image manifest has been retried 5 time(s): "
        "failed to resolve ref 123456789012.dkr.ecr.us-east-1.amazonaws.com/api:9.9: not found",
        containers=[{"name": "api", "lastStatus": "STOPPED"}],
    )
    assert summarise([pull]).startswith("1 task stopped: CannotPullContainerError")  # type: ignore[union-attr]


def test_several_causes_most_frequent_first_and_scheduler_stops_left_out() -> None:
    scaled = task(
        9,
        stopCode="ServiceSchedulerInitiated",
        stoppedReason="Scaling activity initiated by (deployment ecs-svc/6341823459201935421)",
        containers=[{"name": "api", "lastStatus": "STOPPED", "exitCode": 0}],
    )
    by_user = task(8, stopCode="UserInitiated", stoppedReason="Task stopped by user")
    tasks = [exited(1, 2), exited(2), exited(3), scaled, by_user]
    assert not failed(scaled) and not failed(by_user)
    assert summarise(tasks) == (
        "3 tasks stopped: Essential container in task exited (exit code 1) (x2); "
        "Essential container in task exited (exit code 2) (x1)"
    )
    assert summarise([scaled, by_user]) is None


def test_with_several_containers_the_one_that_exited_is_named() -> None:
    two = exited(1)
    two["containers"].append({"name": "log-router", "lastStatus": "STOPPED", "exitCode": 0})
    assert cause(two) == "Essential container in task exited (api: exit code 1)"


def test_a_long_reason_is_clipped() -> None:
    long = exited(1, reason="x" * 1000)
    assert len(summarise([long]) or "") == 300


def test_the_latest_telling_service_event_since_the_deploy() -> None:
    service = {
        "events": [
            {
                "createdAt": datetime(2026, 11, 20, 9, 26, tzinfo=UTC),
                "message": "(service api) has started 2 tasks: (task 1) (task 2).",
            },
            {
                "createdAt": datetime(2026, 11, 20, 9, 25, tzinfo=UTC),
                "message": "(service api) was unable to place a task because no container "
                "instance met all of its requirements.",
            },
            {
                "createdAt": datetime(2026, 11, 19, 9, 0, tzinfo=UTC),
                "message": "(service api) failed to launch a task with (error ECS was unable "
                "to assume the role).",
            },
        ]
    }
    from chalicelib.aws.ecs import EcsService

    said = telling_event(EcsService(service), "2026-11-20T09:20:00Z")
    assert said == (
        "ECS: was unable to place a task because no container instance met all of its requirements"
    )
    assert telling_event(EcsService(service), "2026-11-20T09:25:30Z") is None


def _deployment() -> Deployment:
    return Deployment(
        id="dep-1",
        environment="demo",
        service="api",
        image="api:2.0",
        status=DeploymentStatus.IN_PROGRESS,
        actor="local-admin",
        created_at="2026-11-20T09:20:00Z",
        updated_at="2026-11-20T09:20:00Z",
        timeout_seconds=120,
        ecs_deployment_id="ecs-svc/6341823459201935421",
    )


def _env() -> Any:
    from chalicelib.domain.policy import Environment

    return Environment(name="demo", account="123456789012", region="us-east-1", cluster="demo")


def test_explain_reads_one_page_of_stopped_tasks_of_its_ecs_deployment() -> None:
    ecs = boto3.client("ecs", region_name="us-east-1")
    other = exited(4)
    other["startedBy"] = "ecs-svc/1111111111111111111"  # an earlier deployment's task
    tasks = [exited(1), exited(2), other]
    with Stubber(ecs) as stub:
        stub.add_response(
            "list_tasks",
            {"taskArns": [t["taskArn"] for t in tasks]},
            {
                "cluster": "demo",
                "serviceName": "api",
                "desiredStatus": "STOPPED",
                "maxResults": 100,
            },
        )
        stub.add_response("describe_tasks", {"tasks": tasks}, {"cluster": "demo", "tasks": ANY})
        said = explain_failure(ecs, _env(), _deployment())
        stub.assert_no_pending_responses()
    assert said == "2 tasks stopped: Essential container in task exited (exit code 1)"


def test_explain_says_when_the_tasks_could_not_be_read() -> None:
    ecs = boto3.client("ecs", region_name="us-east-1")
    with Stubber(ecs) as stub:
        stub.add_client_error(
            "list_tasks", "AccessDeniedException", "not authorized to perform: ecs:ListTasks"
        )
        said = explain_failure(ecs, _env(), _deployment())
    assert said is not None and said.startswith("why its tasks stopped could not be read")
    assert "AccessDeniedException" in said


def test_the_task_state_change_sample_parses_and_matches_the_rule() -> None:
    event = json.loads((EVENTS / "ecs-task-state-change-stopped.json").read_text())
    change = EcsTaskStateChange.model_validate(event)
    assert change.detail.startedBy == "ecs-svc/6341823459201935421"
    assert cause(change.detail.task()) == "Essential container in task exited (exit code 1)"
    assert event["detail-type"] in ECS_TASK_STOPPED_PATTERN["detail-type"]
    assert event["detail"]["startedBy"].startswith(
        ECS_TASK_STOPPED_PATTERN["detail"]["startedBy"][0]["prefix"]  # type: ignore[index]
    )


@pytest.mark.parametrize(
    ("default", "own", "threshold"),
    [(None, None, None), (3, None, 3), (3, 5, 5), (3, 0, None), (None, 2, 2)],
)
def test_the_abort_threshold_a_service_overrides(
    default: int | None, own: int | None, threshold: int | None
) -> None:
    service = Service(
        container="api", repository="api", min=1, max=2, abort_after_task_failures=own
    )
    assert DeployDefaults(abort_after_task_failures=default).abort_threshold(service) == threshold
