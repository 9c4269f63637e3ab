"""Scaling views: a manual scale's result as the REST body of ``POST .../scale``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalicelib.scaling import ManualScale


def scale_result(result: ManualScale) -> dict[str, Any]:
    """The REST body of a scale request."""
    return {
        "environment": result.target.environment,
        "service": result.target.name,
        "result": "scaled" if result.changed else "unchanged",
        "previous_desired": result.previous,
        "desired": result.desired,
        "min": result.bounds.min,
        "max": result.bounds.max,
    }
