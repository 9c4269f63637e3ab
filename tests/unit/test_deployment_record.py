"""The ``Deployment`` record at the storage boundary: through DynamoDB (moto) and back, typed;
the ECS-deployment pointer likewise; and the REST view made of it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pytest
from moto import mock_aws

from chalicelib.handlers.views.deployments import CONTRACT_FIELDS, public
from chalicelib.records.deployment import Deployment, DeploymentEvent, EcsDeploymentRef
from chalicelib.records.status import DeploymentPhase, DeploymentStatus
from chalicelib.records.target import Target
from chalicelib.store import Store
from tests.state_table import create_state_table

NOW = datetime(2026, 11, 20, 9, 15, tzinfo=UTC)
TD = "arn:aws:ecs:us-east-1:123456789012:task-definition/web"


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        create_state_table(ddb, "state")
        yield Store(ddb=ddb, table="state")


def queued(**overrides: object) -> Deployment:
    fields: dict[str, object] = {
        "id": "dep-1",
        "environment": "demo",
        "service": "web",
        "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:2.0",
        "status": DeploymentStatus.QUEUED,
        "actor": "alice",
        "created_at": "2026-11-20T09:15:00Z",
        "updated_at": "2026-11-20T09:15:00Z",
        "timeout_seconds": 600,
        "events": [DeploymentEvent.now(NOW, DeploymentStatus.QUEUED, "alice asked")],
        "image_digest": "sha256:" + "a" * 64,
        "notify_url": "https://hooks.slack.com/commands/T0/1/x",
    }
    fields.update(overrides)
    return Deployment(**fields)  # type: ignore[arg-type]


def test_a_new_deployment_comes_back_as_it_went_in(store: Store) -> None:
    deployment = queued()
    store.put_deployment(deployment, now=NOW)

    back = store.get_deployment("dep-1")

    assert back == deployment
    assert isinstance(back.status, DeploymentStatus)
    assert all(isinstance(e, DeploymentEvent) for e in back.events)
    assert back.target == Target.service("demo", "web")
    assert store.get_deployment("dep-nope") is None


def test_every_field_survives_the_round_trip(store: Store) -> None:
    deployment = queued(
        status=DeploymentStatus.IN_PROGRESS,
        task_definition=f"{TD}:2",
        previous_task_definition=f"{TD}:1",
        rollback_of="dep-0",
        reason="checkout errors",
        phase=DeploymentPhase.ROLLBACK,
        ecs_deployment_id="ecs-svc/1",
        rollback_ecs_deployment_id="ecs-svc/2",
        failure_reason="tasks failed to start",
        finished_at="2026-11-20T09:20:00Z",
    )
    store.put_deployment(deployment, now=NOW)
    back = store.get_deployment("dep-1")
    assert back == deployment
    assert back is not None and back.phase is DeploymentPhase.ROLLBACK and back.is_rollback


def test_updates_set_typed_fields_append_events_and_honour_the_expected_status(
    store: Store,
) -> None:
    store.put_deployment(queued(), now=NOW)
    started = DeploymentEvent.now(NOW, DeploymentStatus.IN_PROGRESS, "worker picked it up")

    assert store.update_deployment(
        "dep-1",
        expect_status=(DeploymentStatus.QUEUED,),
        status=DeploymentStatus.IN_PROGRESS,
        phase=DeploymentPhase.ROLLOUT,
        event=started,
    )
    # a second worker expecting ``queued`` finds it taken
    assert not store.update_deployment(
        "dep-1", expect_status=(DeploymentStatus.QUEUED,), status=DeploymentStatus.FAILED
    )

    back = store.get_deployment("dep-1")
    assert back is not None
    assert (back.status, back.phase) == (DeploymentStatus.IN_PROGRESS, DeploymentPhase.ROLLOUT)
    assert back.events[-1] == started
    assert len(back.events) == 2


def test_only_deployment_fields_may_be_set(store: Store) -> None:
    store.put_deployment(queued(), now=NOW)
    with pytest.raises(TypeError, match="colour"):
        store.update_deployment("dep-1", colour="blue")
    with pytest.raises(TypeError, match="events"):
        store.update_deployment("dep-1", events=[])


def test_the_ecs_deployment_pointer_is_typed(store: Store) -> None:
    ref = EcsDeploymentRef("dep-1", DeploymentPhase.ROLLBACK)
    store.index_ecs_deployment("ecs-svc/9", ref, now=NOW)
    assert store.deployment_for_ecs("ecs-svc/9") == ref
    assert store.deployment_for_ecs("ecs-svc/unknown") is None


def test_the_rest_view_shows_the_contract_fields_and_hides_the_slack_url(store: Store) -> None:
    store.put_deployment(queued(), now=NOW)
    back = store.get_deployment("dep-1")
    assert back is not None

    body = public(back)

    assert set(CONTRACT_FIELDS) <= set(body)
    assert (body["task_definition"], body["previous_task_definition"]) == (None, None)
    assert "notify_url" not in body
    assert "rollback_of" not in body  # unset fields beyond the contract are left out
    assert body["status"] == "queued" and type(body["status"]) is str
    assert body["events"] == [
        {"at": "2026-11-20T09:15:00Z", "status": "queued", "message": "alice asked"}
    ]
    assert body["image_digest"] == "sha256:" + "a" * 64
