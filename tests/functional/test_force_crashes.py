"""A forced new deployment is started once, whatever AWS call its Lambda dies at.

It has no count to compare, so before it forces, the reaction records ``forcing_since`` (on the
held item for an approved held reaction, on its cap claim for a direct one); a redelivery that
finds the mark asks ECS for a deployment created since and forces only if there is none. Each
test kills the run at the k-th AWS call (``conftest.Crasher``), redelivers as the event source
would, and counts the new deployments ECS started.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import moto.ecs.models
import pytest
from moto import mock_aws
from moto.ecs.models import EC2ContainerServiceBackend, Service

from chalicelib import alarms
from tests.functional.conftest import Crash, Crasher
from tests.functional.test_alarm_reactions import START, World, make_world, sample, sns_event
from tests.functional.test_alarm_reactions import state_change_time as fresh
from tests.functional.test_caps import MINUTE, _policy, aws_env
from tests.functional.test_caps_apply import VISIBILITY, approve, crashes, run

__all__ = ["aws_env"]  # the fixture, from test_caps

LAMBDA_RETRY = 120  # Lambda retries a failed asynchronous invocation (past the lock's lease)
HELD_APPLY_CALLS = 9  # AWS calls of a clean apply of a held force (a test keeps it honest)
DIRECT_CALLS = 11  # AWS calls of a clean direct reaction that forces (a test keeps it honest)


@dataclass
class Ecs:
    """What ECS did: the new deployments it started on UpdateService(forceNewDeployment)."""

    world: World | None = None
    forced: int = 0

    def now(self) -> datetime:
        """ECS stamps ``createdAt`` with the time the functions read: one wall clock."""
        return (self.world.clock() if self.world is not None else START).replace(tzinfo=None)


@pytest.fixture
def ecs(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Ecs]:
    seen = Ecs()
    original = EC2ContainerServiceBackend.update_service

    def update_service(backend: EC2ContainerServiceBackend, props: dict[str, Any]) -> Service:
        seen.forced += bool(props.get("force_new_deployment"))
        return original(backend, props)

    monkeypatch.setattr(EC2ContainerServiceBackend, "update_service", update_service)
    monkeypatch.setattr(moto.ecs.models, "utcnow", seen.now)
    with mock_aws():
        yield seen


def world_of(ecs: Ecs, **limits: int) -> World:
    """The demo world; web-unhealthy forces a new deployment of web, with no cooldown (so no
    cooldown window stops a redelivery: only the mark does)."""
    doc = _policy(**limits)
    doc["alarm_rules"]["web-unhealthy"]["cooldown"] = {"other": 0}
    ecs.world = make_world(copy.deepcopy(doc))
    return ecs.world


def unhealthy() -> dict[str, Any]:
    """web-unhealthy goes to ALARM (a state change of its own)."""
    return {**sample("sns-alarm-composite.json"), "StateChangeTime": fresh()}


def forced_entries(world: World) -> list[dict[str, Any]]:
    return [e for e in world.audit() if e["action"] == "force_new_deployment"]


# -- a held force, approved -------------------------------------------------------------------


def held_force(ecs: Ecs) -> World:
    world = world_of(ecs, max_automated_changes_per_minute=0)
    assert world.results(unhealthy()) == ["held_by_cap"]
    return world


def test_the_held_crash_walk_covers_every_call(ecs: Ecs) -> None:
    world = held_force(ecs)
    crasher = crashes(world)
    message = approve(world)
    crasher.arm(None)
    run(world, message)
    assert len(crasher.calls) == HELD_APPLY_CALLS, crasher.calls
    assert crasher.calls.index("dynamodb.UpdateItem") < crasher.calls.index("ecs.UpdateService")
    assert ecs.forced == 1


@pytest.mark.parametrize("at", range(HELD_APPLY_CALLS))
def test_a_held_force_dying_at_any_call_starts_one_deployment_applied_once(
    ecs: Ecs, at: int
) -> None:
    world = held_force(ecs)
    crasher = crashes(world)
    message = approve(world)
    crasher.arm(at)
    with pytest.raises(Crash):
        run(world, message)
    died_at = crasher.calls[-1]
    world.clock.advance(VISIBILITY)  # SQS redelivers cap.apply
    run(world, message)
    run(world, message)  # and once more
    assert ecs.forced == 1, died_at
    [record] = world.deps.store.held_reactions("demo", MINUTE)
    assert record.status == "applied", died_at
    [entry] = forced_entries(world)
    assert (entry["actor"], entry["result"]) == ("ann", "forced"), died_at


# -- a direct reaction (no cap in the way, no cooldown) ----------------------------------------


def dying() -> Any:
    """A Lambda context at its deadline: the notification's in-progress record lapses at once,
    as it does when the Lambda is killed at its timeout."""
    return SimpleNamespace(get_remaining_time_in_millis=lambda: 0)


def die_and_retry(
    world: World, crasher: Crasher, event: dict[str, Any], at: int
) -> tuple[str, list[str]]:
    """Kill the delivery of the SNS ``event`` at AWS call ``at``, then retry it as Lambda does
    once the in-progress record has lapsed: the call it died at, and the retry's results."""
    crasher.arm(at)
    with pytest.raises(Crash):
        alarms.handle_sns_event(world.deps, event, context=dying())
    died_at = crasher.calls[-1]
    time.sleep(0.002)  # the in-progress record's deadline (in real milliseconds) passes
    world.clock.advance(LAMBDA_RETRY)
    [record] = alarms.handle_sns_event(world.deps, event)["records"]
    results: list[str] = record["results"]
    return died_at, results


def direct(ecs: Ecs) -> World:
    world = world_of(ecs, max_automated_changes_per_minute=5)
    world.clock.advance(60)  # web's first deployment is older than the alarm
    return world


def test_the_direct_crash_walk_covers_every_call(ecs: Ecs) -> None:
    world = direct(ecs)
    crasher = crashes(world)
    crasher.arm(None)
    assert world.results(unhealthy()) == ["forced"]
    assert len(crasher.calls) == DIRECT_CALLS, crasher.calls
    assert ecs.forced == 1


@pytest.mark.parametrize("at", range(DIRECT_CALLS))
def test_a_direct_force_dying_at_any_call_starts_one_deployment(ecs: Ecs, at: int) -> None:
    world = direct(ecs)
    crasher = crashes(world)
    died_at, results = die_and_retry(world, crasher, sns_event(unhealthy()), at)
    assert results == ["forced"], died_at
    assert ecs.forced == 1, died_at
    # audited at least once: a death after its entry and before the delivery is recorded done
    # writes it again (the direct path's audit is at least once)
    assert len(forced_entries(world)) >= 1, died_at
