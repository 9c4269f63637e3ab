"""A direct scaling reaction steps once, whatever AWS call its Lambda dies at.

The reaction owns its cooldown window (a retry of it finds the window its own) and records the
count it is to set on its cap claim before the change; a redelivery sets that count if the
service is not there yet and reports the step done if it is: never zero steps, never two. Each
test kills the run at the k-th AWS call (``conftest.Crasher``), lets the notification's
in-progress record lapse, redelivers the same SNS event as Lambda would, and reads web's
desired count.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator

import pytest
from moto import mock_aws

from chalicelib import alarms
from tests.functional.conftest import Crash
from tests.functional.test_alarm_reactions import World, cpu, make_world, sns_event
from tests.functional.test_caps import _policy, aws_env
from tests.functional.test_caps_apply import crashes
from tests.functional.test_force_crashes import LAMBDA_RETRY, die_and_retry, dying

__all__ = ["aws_env"]  # the fixture, from test_caps

# AWS calls of a clean direct scale-out, by the rule's cooldown: the demo rule's window, and
# none (the policy allows it; no window is claimed). A test keeps them honest.
DIRECT_CALLS = {300: 14, 0: 13}
UPDATE_SERVICE_AT = 8  # with the window: the call that changes the count


def world_with(cooldown: int) -> World:
    """The demo world; web-cpu-high steps web out by one, with ``cooldown`` seconds a side."""
    doc = _policy(max_automated_changes_per_minute=5)
    doc["alarm_rules"]["web-cpu-high"]["cooldown"] = {"out": cooldown, "in": cooldown}
    return make_world(copy.deepcopy(doc))


@pytest.fixture
def world(aws_env: None, cooldown: int) -> Iterator[World]:
    with mock_aws():
        yield world_with(cooldown)


@pytest.mark.parametrize("cooldown", DIRECT_CALLS)
def test_the_scale_crash_walk_covers_every_call(world: World, cooldown: int) -> None:
    crasher = crashes(world)
    crasher.arm(None)
    assert world.results(cpu()) == ["scaled"]
    assert len(crasher.calls) == DIRECT_CALLS[cooldown], crasher.calls
    assert crasher.calls.index("dynamodb.TransactWriteItems") < crasher.calls.index(
        "ecs.UpdateService"
    )  # the cap claim, with the count to set, is recorded before the change
    assert world.web_desired() == 3


@pytest.mark.parametrize(
    ("cooldown", "at"), [(c, at) for c, calls in DIRECT_CALLS.items() for at in range(calls)]
)
def test_a_direct_scale_out_dying_at_any_call_steps_once(
    world: World, cooldown: int, at: int
) -> None:
    before = world.web_desired()
    died_at, results = die_and_retry(world, crashes(world), sns_event(cpu()), at)
    assert results == ["scaled"], died_at
    assert world.web_desired() == before + 1, died_at
    entries = world.scale_entries()
    assert entries, died_at  # audited at least once
    assert {(e["before"], e["after"]) for e in entries} == {(before, before + 1)}, died_at
    said = [m.title for m in world.sent]
    assert f"web-cpu-high ALARM: web {before} -> {before + 1}" in said, died_at  # notified


def test_another_state_change_in_the_window_is_still_in_cooldown(aws_env: None) -> None:
    with mock_aws():
        world = world_with(300)
        assert world.results(cpu()) == ["scaled"]
        world.clock.advance(30)
        assert world.results(cpu()) == ["cooldown"]  # same alarm, a new StateChangeTime
        assert world.web_desired() == 3


def test_a_killed_reactions_window_stops_another_state_change(aws_env: None) -> None:
    """Its window is the killed reaction's own: its retry steps, another state change waits."""
    with mock_aws():
        world = world_with(300)
        crasher = crashes(world)
        event = sns_event(cpu())
        crasher.arm(UPDATE_SERVICE_AT)  # its window and its cap claim are written
        with pytest.raises(Crash):
            alarms.handle_sns_event(world.deps, event, context=dying())
        assert crasher.calls[-1] == "ecs.UpdateService"
        world.clock.advance(LAMBDA_RETRY)
        assert world.results(cpu()) == ["cooldown"]  # the same alarm, another state change
        time.sleep(0.002)  # the killed attempt's in-progress record lapses
        [record] = alarms.handle_sns_event(world.deps, event)["records"]
        assert record["results"] == ["scaled"]
        assert world.web_desired() == 3


def _killed_before_its_change(world: World) -> dict[str, object]:
    """Kill a scale-out at its UpdateService (admitted, nothing changed), let its in-progress
    record lapse and move on to the minute of Lambda's retry: the event to redeliver."""
    crasher = crashes(world)
    event = sns_event(cpu())
    crasher.arm(UPDATE_SERVICE_AT)
    with pytest.raises(Crash):
        alarms.handle_sns_event(world.deps, event, context=dying())
    assert crasher.calls[-1] == "ecs.UpdateService"
    time.sleep(0.002)
    world.clock.advance(LAMBDA_RETRY)
    return event


def test_a_retry_that_changes_in_a_later_minute_takes_a_slot_of_that_minute(
    aws_env: None,
) -> None:
    with mock_aws():
        world = world_with(300)
        event = _killed_before_its_change(world)
        assert world.deps.store.cap_usage("demo", world.deps.clock()) == (0, 0)
        [record] = alarms.handle_sns_event(world.deps, event)["records"]
        assert record["results"] == ["scaled"]
        assert world.web_desired() == 3
        assert world.deps.store.cap_usage("demo", world.deps.clock())[0] == 1  # counted now


def test_a_retry_whose_later_minute_is_full_is_held_not_made(aws_env: None) -> None:
    with mock_aws():
        world = world_with(300)
        event = _killed_before_its_change(world)
        for n in range(5):  # five other changes took this minute's slots first
            other = world.deps.store.admit_automated(
                claim=f"other-{n}", environment="demo", target="ecs:demo/api",
                now=world.deps.clock(), max_changes=5, max_targets=5,
            )  # fmt: skip
            assert other is not None and other.admitted
        [record] = alarms.handle_sns_event(world.deps, event)["records"]
        assert record["results"] == ["held_by_cap"]
        assert world.web_desired() == 2  # no sixth change in this minute
