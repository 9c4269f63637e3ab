"""Scaling's typed results and the REST view of a manual scale."""

from __future__ import annotations

from chalicelib.handlers.views.scaling import scale_result
from chalicelib.records.status import ActionResult
from chalicelib.records.target import Target
from chalicelib.scaling import EffectiveBounds, ManualScale, Plan

WEB = Target.service("demo", "web")
BOUNDS = EffectiveBounds(1, 6, "policy + application-autoscaling")


def test_the_rest_body_of_a_scale_that_changed_the_count() -> None:
    result = ManualScale(WEB, ActionResult.SCALED, 2, 4, BOUNDS)
    assert result.changed
    assert scale_result(result) == {
        "environment": "demo",
        "service": "web",
        "result": "scaled",
        "previous_desired": 2,
        "desired": 4,
        "min": 1,
        "max": 6,
    }


def test_the_rest_body_of_a_scale_to_the_count_it_already_wanted() -> None:
    result = ManualScale(WEB, ActionResult.AT_BOUND, 4, 4, BOUNDS)
    assert not result.changed
    assert scale_result(result)["result"] == "unchanged"
    assert scale_result(result)["previous_desired"] == 4


def test_a_plan_moves_unless_at_a_bound() -> None:
    assert Plan(WEB, 2, 3, BOUNDS).moves
    assert not Plan(WEB, 6, 6, BOUNDS).moves


def test_every_lock_and_label_comes_from_the_target() -> None:
    assert WEB.lock == "service#demo#web"  # the lock deploys take
    assert Target.group("demo", "demo-workers").lock == "asg#demo#demo-workers"
    assert (WEB.label, WEB.key) == ("demo/web", "ecs:web")
