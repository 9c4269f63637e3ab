"""Scheduled checks: certificate expiry (and rotation), budget thresholds, stuck deploys."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Rate

from chalicelib.core.invocation import as_function
from chalicelib.core.observability import begin
from chalicelib.handlers import lazy

bp = Blueprint(__name__)


@bp.schedule(Rate(6, unit=Rate.HOURS), name="certificates")
def certificates(event: Any) -> dict[str, Any]:
    """Rotate listener certificates that expire soon; finish rotations whose new cert is issued."""
    as_function("certificates")
    begin(getattr(event.context, "aws_request_id", None))
    return {"certificates": lazy.certificates.check_all(lazy.wiring.get_deps())}


@bp.schedule(Rate(1, unit=Rate.HOURS), name="budgets")
def budgets(event: Any) -> dict[str, Any]:
    """Post an alert, once per threshold and period, for every budget threshold crossed."""
    as_function("budgets")
    begin(getattr(event.context, "aws_request_id", None))
    return {"budgets": lazy.budgets.check_all(lazy.wiring.get_deps())}


@bp.schedule(Rate(1, unit=Rate.MINUTES), name="sweeper")
def sweeper(event: Any) -> dict[str, Any]:
    """Hand deployments whose start never reached the worker to it again; free stale locks."""
    as_function("sweeper")
    begin(getattr(event.context, "aws_request_id", None))
    return {"sweeper": lazy.deploys.sweep(lazy.wiring.get_deps())}
