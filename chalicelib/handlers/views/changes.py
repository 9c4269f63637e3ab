"""REST shape of a service's change feed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datetime import datetime

    from chalicelib.records.change import Change, ChangeFeed


def _stamp(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def change_item(change: Change) -> dict[str, Any]:
    """One change: ``at``, ``source``, ``actor``, ``what``, ``detail`` (``deployment_id``)."""
    item: dict[str, Any] = {
        "at": _stamp(change.at),
        "source": str(change.source),
        "actor": change.actor,
        "what": change.what,
        "detail": change.detail,
    }
    if change.deployment_id:
        item["deployment_id"] = change.deployment_id
    return item


def changes_body(feed: ChangeFeed) -> dict[str, Any]:
    """``{"items": [...], "missing_sources": [...], "notes": [...]}``, newest first."""
    return {
        "environment": feed.environment,
        "service": feed.service,
        "since": _stamp(feed.since),
        "until": _stamp(feed.until),
        "items": [change_item(c) for c in feed.items],
        "missing_sources": list(feed.missing_sources),
        "notes": list(feed.notes),
    }
