"""A budget threshold crossed: posted (Slack and the notifications topic) and audited."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.aws.notifier import Message
from chalicelib.core.observability import count

if TYPE_CHECKING:
    from chalicelib.budgets.read import Budget
    from chalicelib.deps import Deps
    from chalicelib.domain.policy import Environment


def alert(
    deps: Deps,
    env: Environment,
    budget: Budget,
    *,
    label: str,
    value: float | None,
    period: str,
    drivers: list[tuple[str, float]],
) -> None:
    """Post one crossed threshold with the biggest cost drivers, and audit it."""
    actual, limit, forecast, unit = budget.actual, budget.limit, budget.forecast, budget.unit
    used = f"{100 * actual / limit:.0f}%" if actual is not None and limit else "?"
    kind = "forecast" if label.startswith("forecasted") else "actual spend"
    title = f"Budget {budget.name} ({env.name}): {kind} crossed {label.split(' ', 2)[-1]}"
    text = (
        f"Actual spend {actual:,.2f} {unit} of {limit:,.2f} {unit} ({used})"
        if actual is not None and limit is not None
        else f"{kind}: {value}"
    )
    if forecast is not None:
        text += f"; forecast {forecast:,.2f} {unit} by the end of the period"
    facts = [
        ("Budget", f"{budget.name} in {env.name} ({env.account})"),
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
        target=f"{env.name}/budget:{budget.name}",
        result="alerted",
        reason=f"{label}: {text}",
    )
    count("BudgetAlerts", environment=env.name)
