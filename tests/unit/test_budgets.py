"""Budgets read once: every page of DescribeBudgets into typed records, one ``amount``."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from chalicelib.alarms import guard
from chalicelib.budgets import Budget, account_budgets, amount, watched_budgets
from chalicelib.domain.policy import Environment, parse_policy
from chalicelib.records.target import Target
from chalicelib.scaling import EffectiveBounds, Plan

ACCOUNT = "123456789012"


def _budget(name: str, limit: str = "100", actual: str | None = "85") -> dict[str, Any]:
    spend = {"ActualSpend": {"Amount": actual, "Unit": "USD"}} if actual is not None else {}
    return {
        "BudgetName": name,
        "BudgetType": "COST",
        "TimeUnit": "MONTHLY",
        "BudgetLimit": {"Amount": limit, "Unit": "USD"},
        "CalculatedSpend": spend,
    }


class PagedBudgets:
    """A Budgets client whose DescribeBudgets answers in pages (as AWS does past 100)."""

    def __init__(self, *pages: list[dict[str, Any]]) -> None:
        self.pages = pages
        self.calls: list[dict[str, Any]] = []

    def describe_budgets(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        index = int(kwargs.get("NextToken", "0"))
        resp: dict[str, Any] = {"Budgets": self.pages[index]}
        if index + 1 < len(self.pages):
            resp["NextToken"] = str(index + 1)
        return resp


def _policy(**extra: Any) -> Any:
    env: dict[str, Any] = {"account": ACCOUNT, "region": "us-east-1", "cluster": "demo"}
    return parse_policy({"environments": {"demo": {**env, **extra.pop("env", {})}}, **extra})


def _deps(client: PagedBudgets, policy: Any) -> Any:
    return SimpleNamespace(policy=policy, aws=lambda service, env: client)


@pytest.mark.parametrize(
    ("spend", "expected"),
    [
        (None, None),
        ({}, None),
        ({"Unit": "USD"}, None),
        ({"Amount": None, "Unit": "USD"}, None),
        ({"Amount": "", "Unit": "USD"}, None),  # AWS Budgets before it has calculated anything
        ({"Amount": "0", "Unit": "USD"}, 0.0),
        ({"Amount": "85.25", "Unit": "USD"}, 85.25),
    ],
)
def test_amount(spend: dict[str, Any] | None, expected: float | None) -> None:
    assert amount(spend) == expected


def test_a_budget_record_from_describe_budgets() -> None:
    budget = Budget.from_aws(_budget("monthly-ops"))
    assert budget == Budget("monthly-ops", "COST", "MONTHLY", 100.0, "USD", 85.0, None)
    assert budget.percent_used == 85.0
    assert Budget.from_aws(_budget("new", actual="")).percent_used is None
    assert Budget.from_aws(_budget("unlimited", limit="")).percent_used is None
    assert Budget.from_aws({"BudgetName": "bare"}).unit == "USD"


def test_every_page_is_read() -> None:
    client = PagedBudgets([_budget("a"), _budget("b")], [_budget("c")])
    policy = _policy()
    found = account_budgets(_deps(client, policy), policy.environments["demo"])
    assert [b.name for b in found] == ["a", "b", "c"]
    assert client.calls == [{"AccountId": ACCOUNT}, {"AccountId": ACCOUNT, "NextToken": "1"}]


def test_watched_budgets_are_those_the_policy_names() -> None:
    client = PagedBudgets([_budget("a")], [_budget("b")])
    policy = _policy(env={"budgets": ["b"]})
    env: Environment = policy.environments["demo"]
    assert [b.name for b in watched_budgets(_deps(client, policy), env)] == ["b"]


def test_the_scale_out_guard_sees_budgets_past_the_first_page() -> None:
    client = PagedBudgets([_budget("a", actual="10")], [_budget("over", actual="120")])
    policy = _policy(budgets={"hold_scale_out_at_percent": 100})
    env = policy.environments["demo"]
    plan = Plan(Target.service("demo", "web"), 2, 3, EffectiveBounds(1, 6, "policy"))
    guard._budget_cache.clear()
    try:
        held = guard.check_scale_out(_deps(client, policy), env, plan)
    finally:
        guard._budget_cache.clear()
    assert held == "budget over has spent 120% of 100 USD (scale-outs are held from 100%)"
