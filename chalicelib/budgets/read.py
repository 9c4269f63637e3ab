"""AWS Budgets of an environment's account, read once (every page) into typed records."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalicelib.deps import Deps
    from chalicelib.domain.policy import Environment


def amount(spend: Mapping[str, Any] | None) -> float | None:
    """The number in an AWS Budgets ``Spend`` (``{"Amount": "85.2", "Unit": "USD"}``).

    None when there is none: no spend object, no ``Amount``, or an empty ``Amount`` (AWS Budgets
    leaves it empty before it has calculated anything).
    """
    if not spend or spend.get("Amount") in (None, ""):
        return None
    return float(spend["Amount"])


@dataclass(frozen=True)
class Budget:
    """One budget with its limit and the spend AWS Budgets has calculated."""

    name: str
    type: str | None
    time_unit: str
    limit: float | None
    unit: str
    actual: float | None
    forecast: float | None

    @property
    def percent_used(self) -> float | None:
        """Actual spend as a percentage of the limit, to one decimal (None when unknown)."""
        if not self.limit or self.actual is None:
            return None
        return round(100 * self.actual / self.limit, 1)

    @classmethod
    def from_aws(cls, budget: Mapping[str, Any]) -> Budget:
        """A DescribeBudgets item as a record."""
        limit = budget.get("BudgetLimit") or {}
        spend = budget.get("CalculatedSpend") or {}
        return cls(
            name=budget["BudgetName"],
            type=budget.get("BudgetType"),
            time_unit=budget.get("TimeUnit") or "MONTHLY",
            limit=amount(limit),
            unit=limit.get("Unit", "USD"),
            actual=amount(spend.get("ActualSpend")),
            forecast=amount(spend.get("ForecastedSpend")),
        )


def account_budgets(deps: Deps, env: Environment) -> list[Budget]:
    """Every budget of the environment's account (all pages of DescribeBudgets)."""
    client = deps.aws("budgets", env)
    found: list[Budget] = []
    kwargs: dict[str, Any] = {"AccountId": env.account}
    while True:
        resp = client.describe_budgets(**kwargs)
        found.extend(Budget.from_aws(b) for b in resp.get("Budgets", []))
        token = resp.get("NextToken")
        if not token:
            return found
        kwargs["NextToken"] = token


def watched_budgets(deps: Deps, env: Environment) -> list[Budget]:
    """The budgets opsbot watches in the environment (``budgets:`` in the policy, or all)."""
    found = account_budgets(deps, env)
    if env.budgets is None:
        return found
    return [b for b in found if b.name in env.budgets]
