"""The guard consulted before every alarm scale-out: None allows it, a string says why not."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chalicelib.budgets import Budget
    from chalicelib.deps import Deps
    from chalicelib.domain.policy import Environment
    from chalicelib.scaling import Plan

BUDGET_CACHE_SECONDS = 300  # AWS Budgets recalculates spend a few times a day
_budget_cache: dict[str, tuple[float, list[Budget]]] = {}


def _watched(deps: Deps, env: Environment) -> list[Budget]:
    cached = _budget_cache.get(env.name)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    # imported here: only a policy that holds scale-outs at a budget reads budgets (cold start)
    from chalicelib.budgets import watched_budgets

    found = watched_budgets(deps, env)
    _budget_cache[env.name] = (time.monotonic() + BUDGET_CACHE_SECONDS, found)
    return found


def check_scale_out(deps: Deps, env: Environment, plan: Plan) -> str | None:
    """None to let a scale-out go ahead; the reason to hold it.

    With ``budgets.hold_scale_out_at_percent`` set, a scale-out is held while any watched budget
    of the environment has spent at least that share of its limit. Scale-ins are never held.
    """
    limit = deps.policy.budgets.hold_scale_out_at_percent
    if limit is None:
        return None
    for budget in _watched(deps, env):
        used = budget.percent_used
        if used is not None and used >= limit:
            return (
                f"budget {budget.name} has spent {used:g}% of {budget.limit:g} "
                f"{budget.unit} (scale-outs are held from {limit:g}%)"
            )
    return None
