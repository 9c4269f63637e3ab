"""The REST shapes of an environment's freeze."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalicelib.records.guards import Freeze


def freeze_body(freeze: Freeze) -> dict[str, Any]:
    """``POST /environments/{env}/freeze|unfreeze``: the state now, who set it, why, when."""
    return {
        "environment": freeze.environment,
        "frozen": freeze.frozen,
        "by": freeze.by,
        "reason": freeze.reason,
        "at": freeze.at,
    }


def freeze_fields(freeze: Freeze | None) -> dict[str, Any]:
    """What ``GET /environments`` adds to an environment: ``frozen`` and, when frozen, who,
    why and since when."""
    if freeze is None or not freeze.frozen:
        return {"frozen": False}
    return {
        "frozen": True,
        "frozen_by": freeze.by,
        "frozen_reason": freeze.reason,
        "frozen_at": freeze.at,
    }
