"""Applying approved held reactions (``cap.apply``), against moto in-process: a worker that dies
at any AWS call resumes on redelivery (the change is made once, audited once), a reaction whose
alarm has recovered is skipped, a busy target waits, and a minute's reactions go in batches."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from chalicelib import worker
from chalicelib.alarms import held, held_apply
from chalicelib.chatops.interactions import SlackAction, press
from chalicelib.domain.messages import CapApply
from tests.functional.conftest import Crash, Crasher
from tests.functional.test_alarm_reactions import World, cpu, hold_lock, make_world, workers
from tests.functional.test_caps import MINUTE, _policy, aws_env, minute_over, queued

__all__ = ["aws_env"]  # the fixture, from test_caps

VISIBILITY = 120  # SQS redelivers a message whose worker died after this
SERVICES = ("dynamodb", "sqs", "sns", "ecs", "autoscaling", "application-autoscaling", "cloudwatch")


def crashes(world: World) -> Crasher:
    """A ``Crasher`` on the clients the world's Deps use."""
    return Crasher(world.client(service) for service in SERVICES)


def one_held(aws_env: None) -> Iterator[World]:
    with mock_aws():
        world = make_world(_policy(max_automated_changes_per_minute=0))
        assert world.results(cpu()) == ["held_by_cap"]
        yield world


held_web = pytest.fixture(one_held)


def approve(world: World) -> CapApply:
    minute_over(world)  # the summary's button: pressed once the minute has ended
    button = SlackAction(action_id=held.APPROVE_HELD, value=f"demo|{MINUTE}")
    assert press(world.deps, "U0ANN", button, None).startswith("Applying")
    return queued(world, CapApply)[-1][0]


def run(world: World, message: CapApply) -> None:
    worker.handle(world.deps, message.model_dump_json())


def applied_entries(world: World, target: str = "web") -> list[dict[str, Any]]:
    return [e for e in world.audit(target) if (e["action"], e["actor"]) == ("scale", "ann")]


def clean_calls(world: World) -> list[str]:
    crasher = crashes(world)
    message = approve(world)
    crasher.arm(None)
    run(world, message)
    crasher.on = False
    return crasher.calls


def test_a_clean_apply_marks_it_approved_before_the_change_and_applied_after(
    held_web: World,
) -> None:
    calls = clean_calls(held_web)
    approve_mark = calls.index("dynamodb.UpdateItem")
    change = calls.index("ecs.UpdateService")
    applied_mark = calls.index("dynamodb.TransactWriteItems", change)
    assert approve_mark < change < applied_mark, calls
    assert held_web.web_desired() == 3
    [entry] = applied_entries(held_web)
    assert (entry["before"], entry["after"], entry["result"]) == (2, 3, "scaled")
    [record] = held_web.deps.store.held_reactions("demo", MINUTE)
    assert (record.status, record.approved_from, record.approved_to) == ("applied", 2, 3)


def test_a_worker_dying_between_the_approval_and_the_change_resumes_it(
    held_web: World,
) -> None:
    world = held_web
    message = approve(world)
    # die at the ECS change: the reaction is marked approved, nothing changed yet
    world.client("ecs").meta.events.register("before-call.ecs.UpdateService", _die)
    with pytest.raises(Crash):
        run(world, message)
    world.client("ecs").meta.events.unregister("before-call.ecs.UpdateService", _die)
    [record] = world.deps.store.held_reactions("demo", MINUTE)
    assert (record.status, record.approved_to, world.web_desired()) == ("approved", 3, 2)

    world.clock.advance(VISIBILITY)  # SQS redelivers cap.apply
    run(world, message)
    run(world, message)  # and once more, for good measure
    assert world.web_desired() == 3  # exactly +1
    [entry] = applied_entries(world)
    assert (entry["before"], entry["after"]) == (2, 3)
    [record] = world.deps.store.held_reactions("demo", MINUTE)
    assert record.status == "applied"


def _die(**_: Any) -> None:
    raise Crash("ecs.UpdateService")


APPLY_CALLS = 12  # a test below keeps this honest


def test_the_crash_walk_covers_every_call(held_web: World) -> None:
    calls = clean_calls(held_web)
    assert len(calls) == APPLY_CALLS, calls


@pytest.mark.parametrize("at", range(APPLY_CALLS))
def test_a_worker_dying_at_any_call_ends_exactly_one_step_up_audited_once(
    held_web: World, at: int
) -> None:
    world = held_web
    crasher = crashes(world)
    message = approve(world)
    crasher.arm(at)
    with pytest.raises(Crash):
        run(world, message)
    died_at = crasher.calls[-1]
    world.clock.advance(VISIBILITY)
    run(world, message)
    assert world.web_desired() == 3, died_at
    assert len(applied_entries(world)) == 1, died_at
    [record] = world.deps.store.held_reactions("demo", MINUTE)
    assert record.status == "applied", died_at


def test_a_reaction_whose_alarm_recovered_is_skipped_and_said(held_web: World) -> None:
    world = held_web
    world.put_alarm("web-cpu-high", "OK")
    run(world, approve(world))
    assert world.web_desired() == 2
    [record] = world.deps.store.held_reactions("demo", MINUTE)
    assert (record.status, record.outcome) == ("skipped", "not applied: web-cpu-high is OK now")
    [entry] = [e for e in world.audit("web") if e["actor"] == "ann"]
    assert (entry["action"], entry["result"]) == ("alarm_reaction", "dropped")
    assert "demo/web: not applied: web-cpu-high is OK now" in dict(world.sent[-1].facts)["Applied"]


def test_a_reaction_whose_alarm_is_still_in_alarm_is_applied(held_web: World) -> None:
    held_web.put_alarm("web-cpu-high", "ALARM")
    run(held_web, approve(held_web))
    assert held_web.web_desired() == 3


def test_a_busy_target_waits_approved_and_is_applied_when_free(held_web: World) -> None:
    world = held_web
    lock = hold_lock(world)
    run(world, approve(world))
    assert world.web_desired() == 2
    [record] = world.deps.store.held_reactions("demo", MINUTE)
    assert record.status == "approved"
    (retry, delay) = queued(world, CapApply)[-1]
    assert (retry.attempt, delay) == (1, held_apply.BUSY_RETRY_SECONDS)
    world.deps.store.release_lock(lock, "dep-x")
    run(world, retry)
    assert world.web_desired() == 3
    assert len(applied_entries(world)) == 1


def test_a_minute_is_applied_in_batches_each_queueing_the_next(
    aws_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(held_apply, "BATCH", 1)
    with mock_aws():
        world = make_world(_policy(max_automated_changes_per_minute=0))
        assert world.results(cpu()) == ["held_by_cap"]
        assert world.results(workers()) == ["held_by_cap"]
        first = approve(world)
        run(world, first)  # the minute's first held reaction (in time): web's
        assert (world.web_desired(), world.workers_desired()) == (3, 2)
        second = queued(world, CapApply)[-1][0]
        assert second.after is not None and second.attempt == 0
        run(world, first)  # redelivered: its batch is done, the next is queued once more
        run(world, second)
        run(world, second)
        assert (world.web_desired(), world.workers_desired()) == (3, 3)
        statuses = {h.status for h in world.deps.store.held_reactions("demo", MINUTE)}
        assert statuses == {"applied"}
        assert len(applied_entries(world, "demo-workers")) == 1
        assert len(applied_entries(world, "web")) == 1


def flapped(states: tuple[str, ...], now: str) -> World:
    """web-cpu-high's reactions in ``states`` held in one minute; the alarm ``now``."""
    world = make_world(_policy(max_automated_changes_per_minute=0))
    for state in states:
        assert world.results(cpu(state)) == ["held_by_cap"], state
    world.put_alarm("web-cpu-high", now)
    run(world, approve(world))
    return world


def in_time_order(world: World) -> list[tuple[str, str, str]]:
    records = sorted(world.deps.store.held_reactions("demo", MINUTE), key=lambda h: h.changed or "")
    return [(h.state, h.status, (h.outcome or "").split(":")[0]) for h in records]


def test_a_flapping_alarm_held_in_one_minute_comes_to_its_net_effect_once(aws_env: None) -> None:
    with mock_aws():
        world = flapped(("ALARM", "OK", "ALARM"), now="ALARM")
        assert world.web_desired() == 3  # one step out, not 2 -> 3 -> 4 -> 3
        assert [(e["before"], e["after"]) for e in applied_entries(world)] == [(2, 3)]
        assert in_time_order(world) == [
            ("ALARM", "skipped", "superseded"),
            ("OK", "skipped", "superseded"),
            ("ALARM", "applied", "2 -> 3"),
        ]
        said = world.sent[-1]
        assert said.title == "Held changes in demo applied, approved by ann"
        assert dict(said.facts)["Applied"].count("superseded") == 2


def test_an_alarm_and_its_recovery_held_in_one_minute_change_nothing(aws_env: None) -> None:
    with mock_aws():
        world = flapped(("ALARM", "OK"), now="OK")
        assert world.web_desired() == 2
        assert applied_entries(world) == []
        assert in_time_order(world) == [
            ("ALARM", "skipped", "superseded"),
            ("OK", "skipped", "superseded"),
        ]
