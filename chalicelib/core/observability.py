"""Structured logs (Powertools Logger) and EMF metrics, shared by every handler."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger

NAMESPACE = "opsbot"


@lru_cache(maxsize=1)
def logger() -> Logger:
    """The opsbot logger (JSON lines; the correlation id is the deployment or alarm id)."""
    from aws_lambda_powertools import Logger

    return Logger(service="opsbot")


def begin(correlation_id: str | None = None) -> None:
    """Start an invocation's (or a record's) logging: its own correlation id, never the last
    one's. A warm Lambda keeps the logger between invocations, so without this a log line could
    carry an earlier request's id. Costs nothing when nothing has logged yet in this process."""
    if logger.cache_info().currsize:
        logger().set_correlation_id(correlation_id)


def count(name: str, value: float = 1, **dimensions: str) -> None:
    """Emit one EMF metric now (no flush to forget at the end of the invocation)."""
    from aws_lambda_powertools.metrics import MetricUnit, single_metric
    from aws_lambda_powertools.metrics.functions import is_metrics_disabled

    if is_metrics_disabled():  # single_metric does not check POWERTOOLS_METRICS_DISABLED
        return

    with single_metric(
        name=name, unit=MetricUnit.Count, value=value, namespace=NAMESPACE
    ) as metric:
        for key, val in dimensions.items():
            metric.add_dimension(name=key, value=val)
