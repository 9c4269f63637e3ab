"""Blast-radius caps on alarm reactions, against moto in-process: a reaction over its
environment's cap is held (no AWS change), audited once, counted once however often its
notification comes back, summed up once per environment per minute, and applied when someone
who may approves it."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from moto import mock_aws

from chalicelib import alarms, worker
from chalicelib.alarms import held
from chalicelib.chatops.interactions import SlackAction, press
from chalicelib.domain.messages import CapApply, CapSummary
from chalicelib.store import bucket_of
from tests.functional import test_alarm_reactions as reactions
from tests.functional.test_alarm_reactions import POLICY, World, cpu, make_world, workers

aws_env = reactions.aws_env  # the fixture: moto's credentials and region, no endpoint

MINUTE = "2026-11-20T09:15"


def _policy(**limits: int) -> dict[str, Any]:
    doc = copy.deepcopy(POLICY)
    doc["environments"]["demo"]["limits"] = limits
    doc["roles"] = {"admin": ["read", "scale"], "approver": ["read", "approve"], "viewer": ["read"]}
    doc["people"] = {
        "ann": {"slack_user": "U0ANN", "roles": {"demo": "approver"}},
        "vic": {"slack_user": "U0VIC", "roles": {"demo": "viewer"}},
    }
    return doc


@pytest.fixture
def world(aws_env: None) -> Iterator[World]:
    """Demo allows one automated change per minute."""
    with mock_aws():
        yield make_world(_policy(max_automated_changes_per_minute=1))


def held_audit(world: World, target: str = "demo-workers") -> list[dict[str, Any]]:
    return [e for e in world.audit(target) if e["result"] == "held_by_cap"]


def queued(world: World, kind: type) -> list[tuple[Any, int]]:
    return [(m, d) for m, d in world.queue.sent if isinstance(m, kind)]


def minute_over(world: World) -> None:
    """The clock past the held minute, when its summary (and its button) comes."""
    world.clock.now = reactions.START + timedelta(minutes=1, seconds=5)


def run_work(world: World, message: Any) -> None:
    worker.handle(world.deps, message.model_dump_json())


def test_over_the_cap_a_reaction_is_held_audited_and_changes_nothing(world: World) -> None:
    assert world.results(cpu()) == ["scaled"]
    assert world.results(workers()) == ["held_by_cap"]

    assert (world.web_desired(), world.workers_desired()) == (3, 2)
    [entry] = held_audit(world)
    assert (entry["action"], entry["actor"]) == ("alarm_reaction", "alarm:workers-queue-deep")
    assert "max_automated_changes_per_minute 1" in entry["reason"]
    assert (entry["before"], entry["after"]) == (2, 3)
    [record] = world.deps.store.held_reactions("demo", MINUTE)
    assert (record.target, record.rule, record.status) == (
        "demo/demo-workers",
        "workers-queue-deep",
        "held",
    )
    # not posted one by one: only the scaling was told; the minute's summary is queued
    assert [m.title for m in world.sent] == ["web-cpu-high ALARM: web 2 -> 3"]
    [(summary, delay)] = queued(world, CapSummary)
    assert (summary.environment, summary.bucket) == ("demo", MINUTE)
    assert 0 < delay <= 65
    # the held reaction gave its cooldown window back: once the cap frees, it may act
    world.clock.advance(60)
    assert world.results(workers()) == ["scaled"]
    assert world.workers_desired() == 3


def test_a_cooled_down_or_at_bound_reaction_takes_no_slot(world: World) -> None:
    world.set_web_desired(6)
    assert world.results(cpu()) == ["at_bound"]
    world.set_web_desired(2)
    world.deps.store.claim_cooldown(
        "workers-queue-deep#demo#asg:demo-workers#out", seconds=300, now=world.clock()
    )
    assert world.results(workers()) == ["cooldown"]
    assert world.deps.store.cap_usage("demo", world.clock()) == (0, 0)
    assert world.results(cpu()) == ["scaled"]  # the one slot of the minute is still free
    assert world.deps.store.cap_usage("demo", world.clock()) == (1, 1)


def test_a_redelivered_or_retried_held_reaction_is_held_once_and_never_applied(
    world: World,
) -> None:
    assert world.results(cpu()) == ["scaled"]
    alarm = workers()
    assert world.results(alarm) == ["held_by_cap"]
    [again] = world.fire(alarm)  # SNS delivers it again
    assert again["duplicate"] is True
    # a retry after a crash runs the reaction again, a minute later when the cap is free
    world.clock.advance(60)
    [outcome] = alarms.handle_notification(world.deps, alarms.parse_notification(json.dumps(alarm)))
    assert outcome.result == "held_by_cap"
    assert world.workers_desired() == 2
    assert len(held_audit(world)) == 1
    assert len(world.deps.store.held_reactions("demo", MINUTE)) == 1
    assert world.deps.store.cap_usage("demo", world.clock()) == (0, 0)  # no slot taken


def test_an_admitted_reaction_retried_after_a_crash_takes_no_second_slot(aws_env: None) -> None:
    doc = _policy(max_automated_changes_per_minute=2)
    doc["alarm_rules"]["web-cpu-high"]["cooldown"] = {"out": 0, "in": 0}
    with mock_aws():
        world = make_world(doc)
        alarm = cpu()
        assert world.results(alarm) == ["scaled"]
        # the Lambda died after the change, before its idempotency record was completed
        alarms.handle_notification(world.deps, alarms.parse_notification(json.dumps(alarm)))
        assert world.deps.store.cap_usage("demo", world.clock()) == (1, 1)
        assert world.results(workers()) == ["scaled"]  # the second slot was still free
        assert world.deps.store.cap_usage("demo", world.clock()) == (2, 2)


def test_services_at_once_caps_distinct_targets(aws_env: None) -> None:
    with mock_aws():
        world = make_world(_policy(max_services_scaled_at_once=1))
        assert world.results(cpu()) == ["scaled"]
        assert world.results(workers()) == ["held_by_cap"]
        [entry] = held_audit(world)
        assert "max_services_scaled_at_once 1" in entry["reason"]


@pytest.fixture
def all_held(aws_env: None) -> Iterator[World]:
    """Nothing automated may change demo: every reaction is held."""
    with mock_aws():
        world = make_world(_policy(max_automated_changes_per_minute=0))
        assert world.results(cpu()) == ["held_by_cap"]
        world.clock.advance(10)
        assert world.results(workers()) == ["held_by_cap"]
        yield world


def test_the_summary_is_posted_once_per_environment_per_minute(all_held: World) -> None:
    world = all_held
    [(summary, _)] = queued(world, CapSummary)  # two held reactions, one summary queued
    world.sent.clear()
    run_work(world, summary)
    run_work(world, summary)  # SQS delivers it again
    [posted] = world.sent
    assert posted.title == "2 alarm reaction(s) held by the cap in demo"
    facts = dict(posted.facts)
    assert facts["Minute (UTC)"] == MINUTE
    assert "web-cpu-high ALARM: demo/web (2 -> 3)" in facts["Held"]
    assert "workers-queue-deep ALARM: demo/demo-workers (2 -> 3)" in facts["Held"]
    assert posted.buttons == (("Approve held changes", held.APPROVE_HELD, f"demo|{MINUTE}"),)
    assert posted.slack_payload()["blocks"][-1]["elements"][0]["value"] == f"demo|{MINUTE}"


def test_approval_applies_the_held_changes_once(all_held: World) -> None:
    world = all_held
    minute_over(world)
    button = SlackAction(action_id=held.APPROVE_HELD, value=f"demo|{MINUTE}")
    refused = press(world.deps, "U0VIC", button, None)
    assert refused.startswith(":no_entry: vic may not approve held changes")
    assert queued(world, CapApply) == []

    said = press(world.deps, "U0ANN", button, None)
    assert said == f"Applying the changes held in demo at {MINUTE} UTC (approved by ann)."
    assert press(world.deps, "U0ANN", button, None).endswith("were approved already")
    [(apply, _)] = queued(world, CapApply)
    world.clock.advance(30)
    run_work(world, apply)
    run_work(world, apply)  # redelivered: each held change is applied once

    assert (world.web_desired(), world.workers_desired()) == (3, 3)
    scaled = [e for e in world.audit("web") if e["action"] == "scale"]
    assert [(e["actor"], e["before"], e["after"]) for e in scaled] == [("ann", 2, 3)]
    assert world.sent[-1].title == "Held changes in demo applied, approved by ann"
    assert {h.status for h in world.deps.store.held_reactions("demo", MINUTE)} == {"applied"}
    # approved and manual changes are never capped (the cap here is 0, in every minute)
    assert world.deps.policy.limits_for("demo").max_automated_changes_per_minute == 0


def test_a_minute_still_open_is_not_approved_and_its_summary_button_still_works(
    all_held: World,
) -> None:
    world = all_held
    button = SlackAction(action_id=held.APPROVE_HELD, value=f"demo|{MINUTE}")
    assert bucket_of(world.clock()) == MINUTE  # pressed while the minute runs
    said = press(world.deps, "U0ANN", button, None)
    assert said.startswith(":no_entry: that minute is still open")
    assert queued(world, CapApply) == []

    minute_over(world)  # the summary comes, and its button is pressed
    assert press(world.deps, "U0ANN", button, None).startswith("Applying the changes held")
    assert len(queued(world, CapApply)) == 1


@pytest.mark.parametrize(
    "value",
    ["demo|garbage", "demo|" + "x" * 3000, "demo|2026-11-20T09:15:00", "demo|2026-13-40T99:99"],
)
def test_a_held_changes_button_that_names_no_minute_is_refused(world: World, value: str) -> None:
    # a forged or mangled value claims nothing (a long one would be a DynamoDB key too big)
    said = press(world.deps, "U0ANN", SlackAction(action_id=held.APPROVE_HELD, value=value), None)
    assert said == ":no_entry: not a held-changes button"
    assert queued(world, CapApply) == []


# -- a frozen environment: reactions change nothing, said once per freeze ------------------------


def test_in_a_frozen_environment_reactions_change_nothing_and_say_so_once(world: World) -> None:
    from chalicelib.records.guards import Freeze

    store = world.deps.store
    store.set_freeze(Freeze("demo", True, by="ann", reason="game day", at="2026-11-20T09:14:00Z"))
    assert world.results(cpu()) == ["frozen"]
    assert world.results(workers()) == ["frozen"]
    assert (world.web_desired(), world.workers_desired()) == (2, 2)
    [notice] = world.sent  # once per freeze, not once per alarm
    assert notice.title == "web-cpu-high ALARM: demo is frozen, nothing changed"
    assert "frozen by ann since 2026-11-20T09:14:00Z: game day" in notice.text
    assert [e["result"] for e in world.audit("web")] == ["frozen"]
    assert store.cap_usage("demo", world.clock()) == (0, 0)

    store.set_freeze(Freeze("demo", False, by="ann"))
    assert world.results(cpu()) == ["scaled"]
    store.set_freeze(Freeze("demo", True, by="ann", reason="again", at="2026-11-20T09:16:00Z"))
    assert world.results(workers()) == ["frozen"]
    assert world.sent[-1].title == "workers-queue-deep ALARM: demo is frozen, nothing changed"


def test_held_changes_are_not_applied_in_a_frozen_environment(all_held: World) -> None:
    from chalicelib.records.guards import Freeze

    world = all_held
    store = world.deps.store
    minute_over(world)
    button = SlackAction(action_id=held.APPROVE_HELD, value=f"demo|{MINUTE}")
    said = press(world.deps, "U0ANN", button, None)  # approved, then frozen before it ran
    [(apply, _)] = queued(world, CapApply)
    store.set_freeze(Freeze("demo", True, by="ann", reason="game day", at="2026-11-20T09:16:00Z"))
    assert said.startswith("Applying")
    assert press(world.deps, "U0ANN", button, None).startswith(":no_entry: environment 'demo'")
    run_work(world, apply)
    assert (world.web_desired(), world.workers_desired()) == (2, 2)
    assert world.sent[-1].title == "Held changes in demo not applied: it is frozen"
    assert {h.status for h in store.held_reactions("demo", MINUTE)} == {"held"}

    store.set_freeze(Freeze("demo", False, by="ann"))
    assert press(world.deps, "U0ANN", button, None).startswith("Applying")
    run_work(world, queued(world, CapApply)[-1][0])
    assert (world.web_desired(), world.workers_desired()) == (3, 3)
