"""AWS Budgets: one paginated read into typed records, and the scheduled threshold check.

- ``read``: ``Budget`` records, every page of DescribeBudgets, the watched ones;
- ``check``: each threshold crossed is posted once per threshold and budget period;
- ``alert``: the post and the audit entry of one crossed threshold;
- ``costs``: the biggest cost drivers from Cost Explorer.
"""

from __future__ import annotations

from chalicelib.budgets.check import check_all, check_environment, period
from chalicelib.budgets.costs import top_services
from chalicelib.budgets.read import Budget, account_budgets, amount, watched_budgets

__all__ = [
    "Budget",
    "account_budgets",
    "amount",
    "check_all",
    "check_environment",
    "period",
    "top_services",
    "watched_budgets",
]
