"""Read-only views of an environment's certificates and budgets (for Slack and REST readers)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalicelib.deps import Deps
    from chalicelib.domain.policy import Environment


def certificates(deps: Deps, env: Environment) -> list[dict[str, Any]]:
    """ACM certificates of the environment, soonest expiry first."""
    acm = deps.aws("acm", env)
    now = deps.clock()
    out: list[dict[str, Any]] = []
    for page in acm.get_paginator("list_certificates").paginate():
        for summary in page.get("CertificateSummaryList", []):
            cert = acm.describe_certificate(CertificateArn=summary["CertificateArn"])["Certificate"]
            not_after: datetime | None = cert.get("NotAfter")
            out.append(
                {
                    "domain": cert.get("DomainName"),
                    "arn": cert["CertificateArn"],
                    "status": cert.get("Status"),
                    "type": cert.get("Type"),
                    "not_after": not_after.isoformat() if not_after else None,
                    "days_left": (not_after - now).days if not_after else None,
                    "in_use_by": cert.get("InUseBy", []),
                }
            )
    out.sort(key=lambda c: c["days_left"] if c["days_left"] is not None else 10**6)
    return out


def _amount(spend: dict[str, Any] | None) -> float | None:
    return float(spend["Amount"]) if spend and spend.get("Amount") is not None else None


def budgets(deps: Deps, env: Environment) -> list[dict[str, Any]]:
    """AWS Budgets of the environment's account with actual and forecast spend."""
    client = deps.aws("budgets", env)
    out: list[dict[str, Any]] = []
    for budget in client.describe_budgets(AccountId=env.account).get("Budgets", []):
        limit = _amount(budget.get("BudgetLimit"))
        spend = budget.get("CalculatedSpend") or {}
        actual = _amount(spend.get("ActualSpend"))
        forecast = _amount(spend.get("ForecastedSpend"))
        out.append(
            {
                "name": budget["BudgetName"],
                "type": budget.get("BudgetType"),
                "limit": limit,
                "unit": (budget.get("BudgetLimit") or {}).get("Unit", "USD"),
                "actual": actual,
                "forecast": forecast,
                "percent_used": round(100 * actual / limit, 1)
                if limit and actual is not None
                else None,
            }
        )
    return out
