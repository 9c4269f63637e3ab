"""EcsDeploymentStateChange parses the events ECS sends through EventBridge (saved samples)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from chalicelib.domain.events import EcsDeploymentStateChange
from chalicelib.handlers.events import ECS_DEPLOYMENT_PATTERN

EVENTS = Path(__file__).resolve().parents[1] / "events"


def sample(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (EVENTS / f"ecs-deployment-state-change-{name}.json").read_text()
    )
    return data


@pytest.mark.parametrize(
    ("name", "event_type", "event_name", "reason"),
    [
        (
            "in-progress",
            "INFO",
            "SERVICE_DEPLOYMENT_IN_PROGRESS",
            "ECS deployment ecs-svc/6341823459201935421 in progress.",
        ),
        (
            "completed",
            "INFO",
            "SERVICE_DEPLOYMENT_COMPLETED",
            "ECS deployment ecs-svc/6341823459201935421 completed.",
        ),
        (
            "failed",
            "ERROR",
            "SERVICE_DEPLOYMENT_FAILED",
            "ECS deployment circuit breaker: task failed to start.",
        ),
    ],
)
def test_samples_parse(name: str, event_type: str, event_name: str, reason: str) -> None:
    change = EcsDeploymentStateChange.model_validate(sample(name))
    assert change.source == "aws.ecs"
    assert change.detail_type == "ECS Deployment State Change"
    assert change.account == "123456789012"
    assert change.region == "us-east-1"
    assert change.resources == ["arn:aws:ecs:us-east-1:123456789012:service/demo/web"]
    assert change.time.tzinfo is not None
    assert change.detail.eventType == event_type
    assert change.detail.eventName == event_name
    assert change.detail.deploymentId == "ecs-svc/6341823459201935421"
    assert change.detail.reason == reason


def test_event_time_is_parsed_as_utc() -> None:
    change = EcsDeploymentStateChange.model_validate(sample("completed"))
    assert change.time == datetime(2026, 11, 20, 9, 24, 51, tzinfo=UTC)


def test_samples_match_the_rule_the_handler_subscribes_with() -> None:
    for name in ("in-progress", "completed", "failed"):
        event = sample(name)
        assert event["source"] in ECS_DEPLOYMENT_PATTERN["source"]
        assert event["detail-type"] in ECS_DEPLOYMENT_PATTERN["detail-type"]


def test_reason_and_updated_at_are_optional() -> None:
    event = sample("completed")
    del event["detail"]["reason"], event["detail"]["updatedAt"]
    change = EcsDeploymentStateChange.model_validate(event)
    assert change.detail.reason is None


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("detail", "eventType"), "DEBUG"),
        (("detail", "deploymentId"), None),
        (("detail-type",), None),
        (("time",), "yesterday"),
    ],
)
def test_malformed_events_are_refused(path: tuple[str, ...], value: Any) -> None:
    event = sample("failed")
    node = event
    for key in path[:-1]:
        node = node[key]
    if value is None:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    with pytest.raises(ValidationError):
        EcsDeploymentStateChange.model_validate(event)
