"""Manual scaling against moto: a typed result in, the REST view out, audit and locks as before."""

from __future__ import annotations

import pytest

from chalicelib import scaling
from chalicelib.core.errors import Conflict, InvalidRequest
from chalicelib.handlers.views.scaling import scale_result
from chalicelib.records.status import ActionResult
from chalicelib.records.target import Target
from tests.functional.conftest import World


def desired(world: World, service: str = "web") -> int:
    found = world.ecs.describe_services(cluster="demo", services=[service])["services"][0]
    return int(found["desiredCount"])


def test_a_manual_scale_returns_what_it_did(world: World) -> None:
    result = scaling.manual_scale(
        world.deps, actor="alice", environment="demo", service="web", desired=4, reason="load"
    )
    assert (result.target, result.result, result.previous, result.desired) == (
        Target.service("demo", "web"),
        ActionResult.SCALED,
        2,
        4,
    )
    assert result.changed and desired(world) == 4
    assert scale_result(result)["result"] == "scaled"
    [entry] = [e for e in world.audit("web") if e["action"] == "scale"]
    assert (entry["target"], entry["result"], entry["before"], entry["after"]) == (
        "demo/web",
        "scaled",
        2,
        4,
    )
    again = scaling.manual_scale(
        world.deps, actor="alice", environment="demo", service="web", desired=4, reason=None
    )
    assert not again.changed
    assert scale_result(again)["result"] == "unchanged"


def test_outside_the_bounds_is_rejected_and_audited(world: World) -> None:
    with pytest.raises(InvalidRequest) as info:
        scaling.manual_scale(
            world.deps, actor="alice", environment="demo", service="web", desired=99, reason=None
        )
    assert "outside the bounds of demo/web" in info.value.message
    [entry] = world.audit("web")
    assert (entry["action"], entry["result"]) == ("scale", "rejected")


def test_a_held_lock_is_a_conflict_naming_the_holder(world: World) -> None:
    lock = Target.service("demo", "web").lock
    taken = world.store.acquire_lock(lock, "dep-1", lease_seconds=60, now=world.deps.clock())
    assert taken.acquired
    with pytest.raises(Conflict) as info:
        scaling.manual_scale(
            world.deps, actor="alice", environment="demo", service="web", desired=3, reason=None
        )
    assert "demo/web is busy with dep-1" in info.value.message
    assert desired(world) == 2
    [entry] = world.audit("web")
    assert (entry["result"], entry["reason"]) == ("conflict", "held by dep-1")


def _count_reads(world: World) -> dict[str, int]:
    """DescribeServices and DescribeScalableTargets calls made from now on by opsbot's clients."""
    env = world.deps.policy.environment("demo")
    made = {"DescribeServices": 0, "DescribeScalableTargets": 0}

    def seen(event_name: str, **_: object) -> None:
        made[event_name.rsplit(".", 1)[1]] += 1

    world.deps.aws("ecs", env).meta.events.register("before-call.ecs.DescribeServices", seen)
    world.deps.aws("application-autoscaling", env).meta.events.register(
        "before-call.application-autoscaling.DescribeScalableTargets", seen
    )
    return made


def test_one_read_per_decision_for_a_manual_scale_and_a_step(world: World) -> None:
    """The count and the bounds are read once, and the bounds check and the change use it."""
    made = _count_reads(world)
    scaling.manual_scale(
        world.deps, actor="alice", environment="demo", service="web", desired=4, reason=None
    )
    assert made == {"DescribeServices": 1, "DescribeScalableTargets": 1}
    env = world.deps.policy.environment("demo")
    outcome = scaling.scale_ecs_service(world.deps, env, "web", step=1, actor="alice", why="t")
    assert (outcome.result, outcome.before, outcome.after) == (ActionResult.SCALED, 4, 5)
    assert made == {"DescribeServices": 2, "DescribeScalableTargets": 2}
    assert desired(world) == 5


def test_outside_the_bounds_during_a_deploy_is_still_a_400(world: World) -> None:
    """A request that would fail after the deploy too is told so now, not "busy"."""
    lock = Target.service("demo", "web").lock
    assert world.store.acquire_lock(
        lock, "dep-1", lease_seconds=60, now=world.deps.clock()
    ).acquired
    with pytest.raises(InvalidRequest) as info:
        scaling.manual_scale(
            world.deps, actor="alice", environment="demo", service="web", desired=99, reason=None
        )
    assert info.value.details["fields"] == {"desired": "must be between 1 and 6"}
    assert desired(world) == 2
    [entry] = world.audit("web")
    assert (entry["result"], entry["reason"]) == ("rejected", "99 outside 1..6")
