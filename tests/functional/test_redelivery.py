"""Redelivered ECS events are processed once (EventBridge delivers at least once).

The ECS handler keys each event by its EventBridge id (Powertools idempotency on the state table):
a redelivery is answered as the first delivery was and touches nothing, neither ECS nor the
record, the audit trail or the notifications.
"""

from __future__ import annotations

import pytest

from chalicelib import deploys
from tests.functional.conftest import World, ecs_event

COMPLETED = "SERVICE_DEPLOYMENT_COMPLETED"
FAILED = "SERVICE_DEPLOYMENT_FAILED"


def _trail(world: World) -> list[tuple[str, str]]:
    return [(e["action"], e["result"]) for e in world.audit("web")]


def test_a_duplicate_failed_event_makes_one_rollback(world: World) -> None:
    started = world.started()
    world.clock.advance(120)
    failed_id, _ = world.ecs_rollouts.fail("web", breaker_rolls_back=False)
    event = ecs_event(FAILED, failed_id)

    first = world.deliver_ecs(event)
    assert first["outcome"] == "rolling back" and "duplicate" not in first
    updates = list(world.ecs_rollouts.update_calls)
    revisions = world.revisions("web")
    record = world.record(started.id)
    notes = world.notifications()

    world.clock.advance(5)
    again = world.deliver_ecs(event)

    assert again == {"outcome": "rolling back", "duplicate": True}
    assert world.ecs_rollouts.update_calls == updates  # no second rollback
    assert world.revisions("web") == revisions
    assert world.record(started.id) == record
    assert world.notifications() == notes
    assert notes.count("[opsbot] Deploy failed, rolling back: demo/web") == 1

    # the rollback still ends as it should
    assert world.ecs_says(COMPLETED, world.ecs_rollouts.complete("web")) == "rolled_back"
    assert world.record(started.id).status == "rolled_back"


def test_a_duplicate_completed_event_is_processed_once(world: World) -> None:
    started = world.started()
    ecs_id = started.ecs_deployment_id
    assert ecs_id is not None
    world.clock.advance(200)
    assert world.ecs_rollouts.complete("web") == ecs_id
    event = ecs_event(COMPLETED, ecs_id)

    assert world.deliver_ecs(event) == {"outcome": "succeeded"}
    trail = _trail(world)
    again = world.deliver_ecs(event)

    assert again == {"outcome": "succeeded", "duplicate": True}
    assert world.record(started.id).status == "succeeded"
    assert _trail(world) == trail == [("deploy", "succeeded"), ("deploy", "accepted")]
    assert world.notifications() == [
        "[opsbot] Deploy started: demo/web",
        "[opsbot] Deploy succeeded: demo/web",
    ]


def test_a_failed_processing_is_not_remembered_and_the_retry_runs(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An event whose processing raised (Lambda retries it) is processed again on the retry."""
    started = world.started()
    ecs_id = started.ecs_deployment_id
    assert ecs_id is not None
    world.ecs_rollouts.complete("web")
    event = ecs_event(COMPLETED, ecs_id)
    real = deploys.on_ecs_deployment_event
    calls: list[str] = []

    def flaky(*args: object, **kwargs: object) -> str:
        calls.append("call")
        if len(calls) == 1:
            raise RuntimeError("the function failed before doing anything")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(deploys, "on_ecs_deployment_event", flaky)
    with pytest.raises(RuntimeError):
        world.deliver_ecs(event)
    assert world.deliver_ecs(event) == {"outcome": "succeeded"}
    assert world.record(started.id).status == "succeeded"
