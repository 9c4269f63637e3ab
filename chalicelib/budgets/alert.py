"""A budget threshold crossed: posted (Slack and the notifications topic), marked, audited.

The mark that keeps a threshold quiet for the rest of its period is written only after every
channel took the alert. A delivery that fails is logged, counted and audited
(``delivery_failed``) and retried at the next check, to the channels that did not take it yet
(each channel that did is marked on its own). A short lease keeps two checks that overlap (a
duplicated schedule event) from posting the same alert twice.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from chalicelib.aws.notifier import Message
from chalicelib.core.observability import count, logger

if TYPE_CHECKING:
    from chalicelib.budgets.read import Budget
    from chalicelib.deps import Deps
    from chalicelib.domain.policy import Environment

CHANNELS = ("sns", "slack")
SENDING_LEASE_SECONDS = 300

ACTOR = "schedule:budgets"  # who posts budget alerts (audit, AssumeRole session name)


def _money(value: float | None, unit: str) -> str:
    return f"{value:,.2f} {unit}" if value is not None else "?"


def _share(value: float | None, limit: float | None) -> str:
    return f" ({100 * value / limit:.0f}%)" if value is not None and limit else ""


def spend_line(budget: Budget) -> str:
    """Spend against the limit in one line (the alert's summary and its audit reason)."""
    unit = budget.unit
    line = f"{_money(budget.actual, unit)} of {_money(budget.limit, unit)}"
    line += _share(budget.actual, budget.limit)
    if budget.forecast is not None:
        line += f", forecast {_money(budget.forecast, unit)}"
    return line


def message(
    env: Environment,
    budget: Budget,
    *,
    label: str,
    value: float | None,
    period: str,
    drivers: list[tuple[str, float]],
) -> Message:
    """The alert of one crossed threshold: spend, limit, percent and forecast as facts, with
    the biggest cost drivers."""
    actual, limit, forecast, unit = budget.actual, budget.limit, budget.forecast, budget.unit
    kind = "forecast" if label.startswith("forecasted") else "actual spend"
    title = f"Budget {budget.name} ({env.name}): {kind} crossed {label.split(' ', 2)[-1]}"
    facts = [
        ("Spend", _money(actual, unit) + _share(actual, limit)),
        ("Limit", _money(limit, unit)),
    ]
    if forecast is not None:
        facts.append(("Forecast", f"{_money(forecast, unit)}{_share(forecast, limit)}"))
    elif kind == "forecast" and value is not None:
        facts.append(("Forecast", f"{value:,.2f} {unit}"))
    facts.append(("Period", period))
    if drivers:
        facts.append(("Top services", ", ".join(f"{svc} {amount:,.2f}" for svc, amount in drivers)))
    over = actual is not None and limit is not None and actual >= limit
    return Message(
        title=title,
        level="failure" if over else "warning",
        facts=tuple(facts),
        context=(f"Account {env.account}, threshold {label}",),
        summary=f"{title}: {spend_line(budget)}",
    )


def alert(
    deps: Deps,
    env: Environment,
    budget: Budget,
    *,
    mark: str,
    mark_seconds: int,
    now: datetime,
    label: str,
    value: float | None,
    period: str,
    drivers: Callable[[], list[tuple[str, float]]],
) -> dict[str, Any]:
    """Post one crossed threshold unless it was delivered this period; mark it once delivered.

    ``{"alerted": True}`` when it was delivered now; False with ``delivery_failed`` naming the
    channels that failed (retried at the next check), or when already delivered or in flight.
    """
    store = deps.store
    quiet = {"budget": budget.name, "threshold": label}
    if store.cooldown_until(mark, now=now) is not None:
        logger().info("budget threshold already alerted this period", extra=quiet)
        return {"alerted": False}
    lease = f"{mark}#sending"
    if not store.claim_cooldown(lease, seconds=SENDING_LEASE_SECONDS, now=now).claimed:
        logger().info("budget alert being delivered by another check", extra=quiet)
        return {"alerted": False}
    try:
        done = frozenset(c for c in CHANNELS if store.cooldown_until(f"{mark}#{c}", now=now))
        post = message(env, budget, label=label, value=value, period=period, drivers=drivers())
        delivery = deps.notifier.send(post, skip=done)
        if not delivery.failed:
            store.claim_cooldown(mark, seconds=mark_seconds, now=now, note=label)
            _audit(deps, env, budget, "alerted", f"{label}: {spend_line(budget)}")
            count("BudgetAlerts", environment=env.name)
            return {"alerted": True}
        for channel in delivery.delivered:
            store.claim_cooldown(f"{mark}#{channel}", seconds=mark_seconds, now=now, note=label)
        failed = ", ".join(delivery.failed)
        logger().error(
            "budget alert not delivered; retried at the next check",
            extra={**quiet, "failed": failed},
        )
        count("BudgetAlertDeliveryFailures", environment=env.name)
        _audit(
            deps,
            env,
            budget,
            "delivery_failed",
            f"{label}: not delivered to {failed}; retried at the next check",
        )
        return {"alerted": False, "delivery_failed": list(delivery.failed)}
    finally:
        store.release_cooldown(lease)


def _audit(deps: Deps, env: Environment, budget: Budget, result: str, reason: str) -> None:
    deps.store.audit(
        now=deps.clock(),
        actor=ACTOR,
        action="budget_alert",
        environment=env.name,
        target=f"{env.name}/budget:{budget.name}",
        result=result,
        reason=reason,
    )
