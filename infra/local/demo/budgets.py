"""AWS Budgets: the demo cost budget, and setting its actual spend (``spend``).

``set_actual_spend`` patches moto's *in-process* budgets backend, so it only works when moto runs
in the same Python process (e.g. ``moto.server.ThreadedMotoServer``).
"""

from __future__ import annotations

import math
from typing import Any

from infra.local.demo.names import BUDGET_NAME, OPS_EMAIL


def seed_budget(budgets: Any, account: str) -> str:
    """Create monthly-ops (100 USD, 85 spent, alerts at 80% and 100%)."""

    def notification(threshold: float) -> dict[str, Any]:
        return {
            "Notification": {
                "NotificationType": "ACTUAL",
                "ComparisonOperator": "GREATER_THAN",
                "Threshold": threshold,
                "ThresholdType": "PERCENTAGE",
            },
            "Subscribers": [{"SubscriptionType": "EMAIL", "Address": OPS_EMAIL}],
        }

    budgets.create_budget(
        AccountId=account,
        Budget={
            "BudgetName": BUDGET_NAME,
            "BudgetLimit": {"Amount": "100", "Unit": "USD"},
            "TimeUnit": "MONTHLY",
            "BudgetType": "COST",
            "CalculatedSpend": {
                "ActualSpend": {"Amount": "85", "Unit": "USD"},
                "ForecastedSpend": {"Amount": "97", "Unit": "USD"},
            },
        },
        NotificationsWithSubscribers=[notification(80.0), notification(100.0)],
    )
    return BUDGET_NAME


MAX_SPEND = 1e12


def spend_amount(raw: object) -> float:
    """A spend amount: a finite number from 0 to 10^12 (not nan, inf or negative)."""
    try:
        amount = float(str(raw).strip())
    except ValueError:
        raise ValueError(f"AMOUNT must be a number, not {str(raw)[:40]!r}") from None
    if not math.isfinite(amount):
        raise ValueError(f"AMOUNT must be a finite number, not {str(raw)[:40]!r}")
    if not 0 <= amount <= MAX_SPEND:
        raise ValueError(f"AMOUNT must be from 0 to {MAX_SPEND:.0f}, not {amount:g}")
    return amount


def set_actual_spend(budget_name: str, amount: float | str, *, account_id: str = "") -> None:
    """Set a budget's CalculatedSpend.ActualSpend in moto's IN-PROCESS budgets backend.

    moto has no UpdateBudget and only echoes CalculatedSpend as given at CreateBudget time, so this
    mutates the stored budget dict directly. It only affects a moto running in this process (e.g.
    ``ThreadedMotoServer`` or ``mock_aws``); an out-of-process ``moto_server`` is untouched.
    Raises KeyError if no such budget exists.
    """
    from moto.backends import get_backend

    amount = spend_amount(amount)  # ValueError for nan, inf or a negative amount
    text = str(int(amount)) if amount.is_integer() else repr(amount)
    spend = {"Amount": text, "Unit": "USD"}
    found = False
    known: set[str] = set()
    for caller_account, by_partition in get_backend("budgets").items():
        for backend in by_partition.values():
            for owner, budgets in backend.budgets.items():
                if account_id and account_id not in (owner, caller_account):
                    continue
                known.update(budgets)
                if budget_name in budgets:
                    calculated = budgets[budget_name].budget.setdefault("CalculatedSpend", {})
                    calculated["ActualSpend"] = dict(spend)
                    forecast = calculated.get("ForecastedSpend") or {}
                    if float(forecast.get("Amount") or 0) < float(amount):
                        # AWS never forecasts a period below what it has already spent
                        calculated["ForecastedSpend"] = dict(spend)
                    found = True
    if not found:
        names = ", ".join(sorted(known)) or "none"
        raise KeyError(f"no budget {budget_name[:64]!r} (known: {names})")
