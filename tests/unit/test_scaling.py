"""Scaling: the bounds in force, where a step moves the count, typed results and the REST view."""

from __future__ import annotations

import pytest

from chalicelib.domain.environment import Bounds
from chalicelib.handlers.views.scaling import scale_result
from chalicelib.records.status import ActionResult
from chalicelib.records.target import Target
from chalicelib.scaling import EffectiveBounds, ManualScale, Plan, tighter

WEB = Target.service("demo", "web")
WEB_BOUNDS = EffectiveBounds(1, 6, "policy + application-autoscaling")


def test_the_rest_body_of_a_scale_that_changed_the_count() -> None:
    result = ManualScale(WEB, ActionResult.SCALED, 2, 4, WEB_BOUNDS)
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
    result = ManualScale(WEB, ActionResult.AT_BOUND, 4, 4, WEB_BOUNDS)
    assert not result.changed
    assert scale_result(result)["result"] == "unchanged"
    assert scale_result(result)["previous_desired"] == 4


def test_a_plan_moves_unless_at_a_bound() -> None:
    assert Plan(WEB, 2, 3, WEB_BOUNDS).moves
    assert not Plan(WEB, 6, 6, WEB_BOUNDS).moves


def test_every_lock_and_label_comes_from_the_target() -> None:
    assert WEB.lock == "service#demo#web"  # the lock deploys take
    assert Target.group("demo", "demo-workers").lock == "asg#demo#demo-workers"
    assert (WEB.label, WEB.key) == ("demo/web", "ecs:web")


# -- bounds ------------------------------------------------------------------------------------

POLICY_BOUNDS = Bounds(min=1, max=6)


def test_tighter_without_own_bounds_is_the_policy() -> None:
    assert tighter(POLICY_BOUNDS, None, None, "") == EffectiveBounds(1, 6, "policy")


def test_tighter_takes_the_narrower_side_of_each() -> None:
    assert tighter(POLICY_BOUNDS, 2, 4, "application-autoscaling") == EffectiveBounds(
        2, 4, "policy + application-autoscaling"
    )
    assert tighter(POLICY_BOUNDS, 0, 4, "asg") == EffectiveBounds(1, 4, "policy + asg")
    assert tighter(POLICY_BOUNDS, 3, None, "asg") == EffectiveBounds(3, 6, "policy + asg")
    assert tighter(POLICY_BOUNDS, None, 5, "asg") == EffectiveBounds(1, 5, "policy + asg")


@pytest.mark.parametrize(("own_min", "own_max"), [(0, 10), (1, 6), (1, None), (None, 6), (0, 6)])
def test_tighter_names_the_target_only_where_it_tightens(
    own_min: int | None, own_max: int | None
) -> None:
    assert tighter(POLICY_BOUNDS, own_min, own_max, "auto-scaling-group") == EffectiveBounds(
        1, 6, "policy"
    )


def test_tighter_disjoint_ranges_give_min_above_max() -> None:
    # policy 1..6, target 8..10: nothing satisfies both, and the bounds say so (not pinned)
    assert tighter(POLICY_BOUNDS, 8, 10, "application-autoscaling") == EffectiveBounds(
        8, 6, "policy + application-autoscaling"
    )
    assert tighter(Bounds(min=5, max=8), 1, 3, "asg") == EffectiveBounds(5, 3, "policy + asg")


# -- EffectiveBounds.step: where a directional reaction moves the count -------------------------

BOUNDS = EffectiveBounds(2, 6, "policy")


@pytest.mark.parametrize(
    ("current", "step", "after"),
    [(3, 1, 4), (3, 2, 5), (4, -1, 3), (5, -3, 2), (2, 4, 6), (6, -4, 2)],
)
def test_step_inside_the_bounds_moves_by_the_step(current: int, step: int, after: int) -> None:
    assert BOUNDS.step(current, step) == after


@pytest.mark.parametrize(("current", "step", "after"), [(5, 3, 6), (3, -5, 2)])
def test_step_stops_at_the_bound_it_would_cross(current: int, step: int, after: int) -> None:
    assert BOUNDS.step(current, step) == after


@pytest.mark.parametrize(("current", "step"), [(6, 1), (6, 3), (2, -1), (2, -3)])
def test_step_at_the_bound_in_its_direction_stays(current: int, step: int) -> None:
    assert BOUNDS.step(current, step) == current


@pytest.mark.parametrize("step", [1, 3])
def test_step_above_the_max_a_scale_out_never_lowers_the_count(step: int) -> None:
    assert [BOUNDS.step(current, step) for current in (7, 9, 100)] == [7, 9, 100]


@pytest.mark.parametrize("step", [-1, -3])
def test_step_below_the_min_a_scale_in_never_raises_the_count(step: int) -> None:
    assert [BOUNDS.step(current, step) for current in (1, 0)] == [1, 0]


def test_step_outside_the_bounds_moves_its_own_way_without_jumping() -> None:
    assert BOUNDS.step(9, -1) == 8  # a scale-in above the max: one step down, not to 6
    assert BOUNDS.step(9, -5) == 4
    assert BOUNDS.step(9, -9) == 2  # ...but never below the min
    assert BOUNDS.step(0, 1) == 1  # a scale-out below the min: one step up
    assert BOUNDS.step(0, 9) == 6


DISJOINT = tighter(POLICY_BOUNDS, 8, 10, "application-autoscaling")  # 8..6


@pytest.mark.parametrize("current", [6, 7, 8])
@pytest.mark.parametrize("step", [1, 2, -1, -2])
def test_step_with_disjoint_bounds_never_moves_between_them(current: int, step: int) -> None:
    assert DISJOINT.step(current, step) == current


@pytest.mark.parametrize(("current", "step"), [(0, -1), (5, -2), (9, 1), (12, 2)])
def test_step_with_disjoint_bounds_never_moves_against_its_direction(
    current: int, step: int
) -> None:
    assert DISJOINT.step(current, step) == current


@pytest.mark.parametrize(("current", "step"), [(0, 1), (5, 1), (9, -1), (12, -1)])
def test_step_with_disjoint_bounds_never_moves_toward_them(current: int, step: int) -> None:
    assert DISJOINT.step(current, step) == current
