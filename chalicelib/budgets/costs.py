"""The biggest cost drivers this month, from Cost Explorer."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from chalicelib.core.observability import logger

if TYPE_CHECKING:
    from chalicelib.deps import Deps
    from chalicelib.domain.policy import Environment


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
