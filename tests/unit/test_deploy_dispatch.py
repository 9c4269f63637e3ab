"""The dispatch tables: ECS deployment events by (phase, event name), work messages by type."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, get_args

import pytest

from chalicelib import worker
from chalicelib.deploys import events
from chalicelib.deploys.change import EcsChange, EcsEventName
from chalicelib.deploys.rollback import on_rollback_completed, on_rollback_failed
from chalicelib.domain.messages import WorkMessage
from chalicelib.records.deployment import Deployment, EcsDeploymentRef
from chalicelib.records.status import DeploymentPhase, DeploymentStatus


def test_every_phase_and_event_name_has_a_handler() -> None:
    assert set(events.HANDLERS) == {(p, e) for p in DeploymentPhase for e in EcsEventName}


def test_the_rollbacks_own_events_go_to_the_rollback_handlers() -> None:
    assert events.HANDLERS[DeploymentPhase.ROLLBACK, EcsEventName.COMPLETED] is (
        on_rollback_completed
    )
    assert events.HANDLERS[DeploymentPhase.ROLLBACK, EcsEventName.FAILED] is on_rollback_failed


@dataclass
class FakeStore:
    refs: dict[str, EcsDeploymentRef]
    deployments: dict[str, Deployment]

    def deployment_for_ecs(self, ecs_id: str) -> EcsDeploymentRef | None:
        return self.refs.get(ecs_id)

    def get_deployment(self, deployment_id: str) -> Deployment | None:
        return self.deployments.get(deployment_id)


@dataclass
class FakePolicy:
    def environment(self, name: str) -> Any:
        return f"env:{name}"


@dataclass
class FakeDeps:
    store: FakeStore
    policy: FakePolicy = field(default_factory=FakePolicy)

    def aws(self, service: str, env: Any) -> Any:
        return f"{service}@{env}"

    def acting_for(self, actor: str, deployment_id: str | None = None) -> FakeDeps:
        return self


def deployment(
    status: DeploymentStatus = DeploymentStatus.IN_PROGRESS,
    phase: DeploymentPhase | None = DeploymentPhase.ROLLOUT,
) -> Deployment:
    return Deployment(
        phase=phase,
        id="dep-1",
        environment="demo",
        service="web",
        image="web:2.0",
        status=status,
        actor="alice",
        created_at="2026-11-20T09:15:00Z",
        updated_at="2026-11-20T09:15:00Z",
        timeout_seconds=600,
    )


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, EcsChange]]:
    """Replace every handler by one that records what it was called with."""
    calls: list[tuple[str, EcsChange]] = []

    def recorder(name: str) -> Any:
        def handler(change: EcsChange) -> str:
            calls.append((name, change))
            return name

        return handler

    table = {key: recorder(f"{key[0]}/{key[1]}") for key in events.HANDLERS}
    monkeypatch.setattr(events, "HANDLERS", table)
    return calls


def deliver(deps: FakeDeps, ecs_id: str, event_name: str) -> str:
    return events.on_ecs_deployment_event(
        deps,  # type: ignore[arg-type]
        ecs_deployment_id=ecs_id,
        event_name=event_name,
        reason="ECS says so",
    )


@pytest.mark.parametrize("phase", list(DeploymentPhase))
@pytest.mark.parametrize("event_name", list(EcsEventName))
def test_an_event_runs_the_handler_of_its_phase_and_name(
    seen: list[tuple[str, EcsChange]], phase: DeploymentPhase, event_name: EcsEventName
) -> None:
    record = deployment(phase=phase)
    deps = FakeDeps(FakeStore({"ecs-svc/1": EcsDeploymentRef("dep-1", phase)}, {"dep-1": record}))

    assert deliver(deps, "ecs-svc/1", str(event_name)) == f"{phase}/{event_name}"

    [(_, change)] = seen
    assert change.deployment == record
    assert (change.env, change.ecs, change.reason) == ("env:demo", "ecs@env:demo", "ECS says so")


def test_what_is_not_ours_or_not_in_progress_or_unknown_is_ignored(
    seen: list[tuple[str, EcsChange]],
) -> None:
    rollout = EcsDeploymentRef("dep-1", DeploymentPhase.ROLLOUT)
    ended = deployment(DeploymentStatus.SUCCEEDED)
    done = FakeDeps(FakeStore({"ecs-svc/1": rollout}, {"dep-1": ended}))
    live = FakeDeps(FakeStore({"ecs-svc/1": rollout}, {"dep-1": deployment()}))

    assert deliver(live, "ecs-svc/2", "SERVICE_DEPLOYMENT_COMPLETED") == (
        "ignored: not an opsbot deployment"
    )
    assert deliver(done, "ecs-svc/1", "SERVICE_DEPLOYMENT_COMPLETED") == (
        "ignored: deployment not in progress"
    )
    assert deliver(live, "ecs-svc/1", "SERVICE_DEPLOYMENT_PAUSED") == (
        "ignored: SERVICE_DEPLOYMENT_PAUSED"
    )
    assert seen == []


def test_every_work_message_has_a_worker_handler() -> None:
    union = get_args(WorkMessage)[0]
    assert set(worker.HANDLERS) == set(get_args(union))


@pytest.mark.parametrize("event_name", list(EcsEventName))
def test_an_event_about_a_rollout_the_deployment_is_past_is_ignored(
    seen: list[tuple[str, EcsChange]], event_name: EcsEventName
) -> None:
    # a duplicate (or late) event of the rollout, once its rollback has begun, does nothing
    record = deployment(phase=DeploymentPhase.ROLLBACK)
    record.rollback_ecs_deployment_id = "ecs-svc/2"
    rollout = EcsDeploymentRef("dep-1", DeploymentPhase.ROLLOUT)
    deps = FakeDeps(FakeStore({"ecs-svc/1": rollout}, {"dep-1": record}))

    assert (
        deliver(deps, "ecs-svc/1", str(event_name)) == "ignored: the deployment is past its rollout"
    )
    assert seen == []
