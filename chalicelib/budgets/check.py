"""The scheduled budget check: every threshold crossed is posted once per threshold and period.

For each watched budget the check reads the budget's own notifications (AWS Budgets thresholds:
ACTUAL or FORECASTED, a percentage of the limit or an absolute amount) and compares them with the
spend AWS Budgets has calculated. A threshold crossed for the first time in the budget's current
period is alerted; once delivered, the same threshold stays quiet for the rest of the period (a
mark in DynamoDB, expiring with it). A failed delivery is retried at the next check (``alert``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from chalicelib.budgets.alert import ACTOR, alert
from chalicelib.budgets.costs import top_services
from chalicelib.budgets.read import Budget, watched_budgets
from chalicelib.core.observability import logger

if TYPE_CHECKING:
    from chalicelib.deps import Deps
    from chalicelib.domain.policy import Environment

_COMPARE = {
    "GREATER_THAN": lambda value, limit: value > limit,
    "LESS_THAN": lambda value, limit: value < limit,
    "EQUAL_TO": lambda value, limit: abs(value - limit) < 0.005,
}


def period(time_unit: str, now: datetime) -> tuple[str, datetime]:
    """(key, end) of the budget period containing ``now``."""
    if time_unit == "DAILY":
        return now.strftime("%Y-%m-%d"), (now + timedelta(days=1)).replace(
            hour=0, minute=0, second=0
        )
    if time_unit == "QUARTERLY":
        quarter = (now.month - 1) // 3
        end_month = quarter * 3 + 4
        end = datetime(now.year + (end_month > 12), (end_month - 1) % 12 + 1, 1, tzinfo=now.tzinfo)
        return f"{now.year}-Q{quarter + 1}", end
    if time_unit == "ANNUALLY":
        return str(now.year), datetime(now.year + 1, 1, 1, tzinfo=now.tzinfo)
    end = datetime(now.year + (now.month == 12), now.month % 12 + 1, 1, tzinfo=now.tzinfo)
    return now.strftime("%Y-%m"), end


class _Drivers:
    """Cost Explorer's top services, asked at most once per environment check."""

    def __init__(self, deps: Deps, env: Environment) -> None:
        self._deps, self._env = deps, env
        self._found: list[tuple[str, float]] | None = None

    def get(self) -> list[tuple[str, float]]:
        if self._found is None:
            n = self._deps.policy.budgets.top_services
            self._found = top_services(self._deps, self._env, n) or []
        return self._found


def check_environment(deps: Deps, env: Environment) -> list[dict[str, Any]]:
    """Check every watched budget of one environment; one result per threshold."""
    deps = deps.acting_for(ACTOR)
    now = deps.clock()
    client = deps.aws("budgets", env)
    results: list[dict[str, Any]] = []
    drivers = _Drivers(deps, env)
    for budget in watched_budgets(deps, env):
        notifications = client.describe_notifications_for_budget(
            AccountId=env.account, BudgetName=budget.name
        ).get("Notifications", [])
        for notification in sorted(notifications, key=lambda n: float(n["Threshold"])):
            result = _check_threshold(deps, env, budget, dict(notification), drivers, now)
            if result is not None:
                results.append(result)
    return results


def _check_threshold(
    deps: Deps,
    env: Environment,
    budget: Budget,
    notification: dict[str, Any],
    drivers: _Drivers,
    now: datetime,
) -> dict[str, Any] | None:
    """One threshold of one budget: crossed? alerted now? (None: it cannot be evaluated)."""
    key_period, period_end = period(budget.time_unit, now)
    kind = notification["NotificationType"]
    value = budget.actual if kind == "ACTUAL" else budget.forecast
    threshold = float(notification["Threshold"])
    percent = notification.get("ThresholdType", "PERCENTAGE") == "PERCENTAGE"
    if budget.limit is None and percent:
        return None
    boundary = budget.limit * threshold / 100 if percent and budget.limit is not None else threshold
    operator = notification.get("ComparisonOperator", "GREATER_THAN")
    compare = _COMPARE.get(operator)
    crossed = value is not None and compare is not None and compare(value, boundary)
    symbol = {"GREATER_THAN": ">", "LESS_THAN": "<"}.get(operator, "=")
    amount = f"{threshold:g}%" if percent else f"{threshold:g} {budget.unit}"
    label = f"{kind.lower()} {symbol} {amount}"
    result: dict[str, Any] = {
        "environment": env.name,
        "budget": budget.name,
        "threshold": label,
        "crossed": crossed,
        "value": value,
        "limit": budget.limit,
        "period": key_period,
    }
    if not crossed:
        return result
    mark = f"budget#{env.account}#{budget.name}#{kind}#{operator}#{threshold:g}#{key_period}"
    seconds = max(60, int((period_end - now).total_seconds()) + 86400)
    result.update(
        alert(
            deps,
            env,
            budget,
            mark=mark,
            mark_seconds=seconds,
            now=now,
            label=label,
            value=value,
            period=key_period,
            drivers=drivers.get,
        )
    )
    return result


def check_all(deps: Deps) -> list[dict[str, Any]]:
    """Check every environment; a failing environment does not stop the others."""
    from botocore.exceptions import BotoCoreError, ClientError

    results: list[dict[str, Any]] = []
    for env in deps.policy.environments.values():
        try:
            results.extend(check_environment(deps, env))
        except (BotoCoreError, ClientError) as exc:
            logger().exception(
                "budget check failed for an environment", extra={"environment": env.name}
            )
            results.append({"environment": env.name, "error": str(exc)})
    return results
