"""Budget alerts, end to end: `tick budgets` and `spend` against the local stack."""

from __future__ import annotations

from tests.e2e.conftest import Stack


def _budget_posts(stack: Stack) -> list[str]:
    return [m["text"] for m in stack.slack() if m["text"].startswith("Budget monthly-ops")]


def test_thresholds_are_posted_once_and_spend_moves_them(stack: Stack) -> None:
    first = stack.control("tick", "budgets")
    assert first.returncode == 0, first.stderr
    posts = _budget_posts(stack)
    assert len(posts) == 1 and "crossed 80%" in posts[0] and "85.00 USD of 100.00 USD" in posts[0]

    again = stack.control("tick", "budgets")
    assert again.returncode == 0
    assert len(_budget_posts(stack)) == 1  # the same threshold stays quiet this period

    spent = stack.control("spend", "monthly-ops", "120")
    assert spent.returncode == 0, spent.stderr
    try:
        assert stack.control("tick", "budgets").returncode == 0
        posts = _budget_posts(stack)
        assert len(posts) == 2 and "crossed 100%" in posts[1] and "(120%)" in posts[1]
        budget = stack.aws("budgets").describe_budget(
            AccountId="123456789012", BudgetName="monthly-ops"
        )
        assert float(budget["Budget"]["CalculatedSpend"]["ActualSpend"]["Amount"]) == 120
    finally:
        restored = stack.control("spend", "monthly-ops", "85")  # the demo's spend, for later tests
        assert restored.returncode == 0, restored.stderr


def test_an_unknown_scheduled_handler_is_a_clear_error(stack: Stack) -> None:
    result = stack.control("tick", "nonsense")
    assert result.returncode == 1
    assert "budgets" in result.stderr and "certificates" in result.stderr
