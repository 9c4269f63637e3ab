"""Budget alerts: every AWS Budgets threshold crossed is posted once per threshold and period.

For each watched budget (``environments.<env>.budgets``, or all of the account's), the check
reads the budget's own notifications (AWS Budgets thresholds: ACTUAL or FORECASTED, a percentage
of the limit or an absolute amount) and compares them with the spend AWS Budgets has calculated.
A threshold crossed for the first time in the budget's current period is posted (Slack and the
notifications topic) with the biggest cost drivers from Cost Explorer; the same threshold stays
quiet for the rest of the period (a mark in DynamoDB, conditional write, expiring with it).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from chalicelib.aws.notifier import Message
from chalicelib.core.observability import count, logger

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


def _amount(spend: dict[str, Any] | None) -> float | None:
    if not spend or spend.get("Amount") in (None, ""):
        return None
    return float(spend["Amount"])


def _budgets(deps: Deps, env: Environment) -> list[dict[str, Any]]:
    client = deps.aws("budgets", env)
    found: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"AccountId": env.account}
    while True:
        resp = client.describe_budgets(**kwargs)
        found.extend(resp.get("Budgets", []))
        if not resp.get("NextToken"):
            break
        kwargs["NextToken"] = resp["NextToken"]
    if env.budgets is not None:
        found = [b for b in found if b["BudgetName"] in env.budgets]
    return found


def top_services(deps: Deps, env: Environment, n: int) -> list[tuple[str, float]] | None:
    """The ``n`` services that cost most this month (Cost Explorer); None if unavailable."""
    if n <= 0:
        return []
    from botocore.exceptions import BotoCoreError, ClientError

    now = deps.clock()
    start = now.strftime("%Y-%m-01")
    end = (now + timedelta(days=1)).strftime("%Y-%m-%d")
    try:
        resp = deps.aws("ce", env).get_cost_and_usage(
            TimePeriod={"Start": start, "End": end},
            Granularity="MONTHLY",
            Metrics=["UnblendedCost"],
            GroupBy=[{"Type": "DIMENSION", "Key": "SERVICE"}],
        )
    except (BotoCoreError, ClientError) as exc:
        logger().warning(
            "Cost Explorer unavailable; alert sent without cost drivers", extra={"error": str(exc)}
        )
        return None
    totals: dict[str, float] = {}
    for result in resp.get("ResultsByTime", []):
        for group in result.get("Groups", []):
            name = group["Keys"][0]
            amount = float(group["Metrics"]["UnblendedCost"]["Amount"])
            totals[name] = totals.get(name, 0.0) + amount
    return sorted(totals.items(), key=lambda kv: kv[1], reverse=True)[:n]


def check_environment(deps: Deps, env: Environment) -> list[dict[str, Any]]:
    """Check every watched budget of one environment; one result per threshold."""
    now = deps.clock()
    client = deps.aws("budgets", env)
    results: list[dict[str, Any]] = []
    drivers: list[tuple[str, float]] | None = None
    for budget in _budgets(deps, env):
        name = budget["BudgetName"]
        limit = _amount(budget.get("BudgetLimit"))
        unit = (budget.get("BudgetLimit") or {}).get("Unit", "USD")
        spend = budget.get("CalculatedSpend") or {}
        actual, forecast = _amount(spend.get("ActualSpend")), _amount(spend.get("ForecastedSpend"))
        key_period, period_end = period(budget.get("TimeUnit", "MONTHLY"), now)
        notifications = client.describe_notifications_for_budget(
            AccountId=env.account, BudgetName=name
        ).get("Notifications", [])
        for notification in sorted(notifications, key=lambda n: float(n["Threshold"])):
            kind = notification["NotificationType"]
            value = actual if kind == "ACTUAL" else forecast
            threshold = float(notification["Threshold"])
            percent = notification.get("ThresholdType", "PERCENTAGE") == "PERCENTAGE"
            if limit is None and percent:
                continue
            boundary = limit * threshold / 100 if percent and limit is not None else threshold
            operator = notification.get("ComparisonOperator", "GREATER_THAN")
            compare = _COMPARE.get(operator)
            crossed = value is not None and compare is not None and compare(value, boundary)
            symbol = {"GREATER_THAN": ">", "LESS_THAN": "<"}.get(operator, "=")
            amount = f"{threshold:g}%" if percent else f"{threshold:g} {unit}"
            label = f"{kind.lower()} {symbol} {amount}"
            result = {
                "environment": env.name,
                "budget": name,
                "threshold": label,
                "crossed": crossed,
                "value": value,
                "limit": limit,
                "period": key_period,
            }
            if crossed:
                mark = f"budget#{env.account}#{name}#{kind}#{operator}#{threshold:g}#{key_period}"
                seconds = max(60, int((period_end - now).total_seconds()) + 86400)
                fresh, _ = deps.store.claim_cooldown(mark, seconds=seconds, now=now, note=label)
                result["alerted"] = fresh
                if fresh:
                    if drivers is None:
                        drivers = top_services(deps, env, deps.policy.budgets.top_services) or []
                    _alert(
                        deps,
                        env,
                        budget_name=name,
                        label=label,
                        value=value,
                        limit=limit,
                        unit=unit,
                        actual=actual,
                        forecast=forecast,
                        period=key_period,
                        drivers=drivers,
                    )
                else:
                    logger().info(
                        "budget threshold already alerted this period",
                        extra={"budget": name, "threshold": label},
                    )
            results.append(result)
    return results


def _alert(
    deps: Deps,
    env: Environment,
    *,
    budget_name: str,
    label: str,
    value: float | None,
    limit: float | None,
    unit: str,
    actual: float | None,
    forecast: float | None,
    period: str,
    drivers: list[tuple[str, float]],
) -> None:
    used = f"{100 * actual / limit:.0f}%" if actual is not None and limit else "?"
    kind = "forecast" if label.startswith("forecasted") else "actual spend"
    title = f"Budget {budget_name} ({env.name}): {kind} crossed {label.split(' ', 2)[-1]}"
    text = (
        f"Actual spend {actual:,.2f} {unit} of {limit:,.2f} {unit} ({used})"
        if actual is not None and limit is not None
        else f"{kind}: {value}"
    )
    if forecast is not None:
        text += f"; forecast {forecast:,.2f} {unit} by the end of the period"
    facts = [
        ("Budget", f"{budget_name} in {env.name} ({env.account})"),
        ("Threshold", label),
        ("Period", period),
    ]
    if drivers:
        facts.append(("Top services", ", ".join(f"{svc} {amount:,.2f}" for svc, amount in drivers)))
    over = actual is not None and limit is not None and actual >= limit
    deps.notifier.send(
        Message(
            title=title, text=text + ".", level="failure" if over else "warning", facts=tuple(facts)
        )
    )
    deps.store.audit(
        now=deps.clock(),
        actor="schedule:budgets",
        action="budget_alert",
        environment=env.name,
        target=f"{env.name}/budget:{budget_name}",
        result="alerted",
        reason=f"{label}: {text}",
    )
    count("BudgetAlerts", environment=env.name)


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
