"""REST shape of the audit trail."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalicelib.records.audit import AuditEntry


def audit_item(entry: AuditEntry) -> dict[str, Any]:
    """One entry: ``at``, ``actor``, ``action``, ``target``, ``result`` and its details."""
    return {
        "at": entry.stamp,
        "actor": entry.actor,
        "action": entry.action,
        "environment": entry.environment,
        "service": entry.service,
        "target": entry.target,
        "result": entry.result,
        **entry.extras(),
    }


def audit_body(entries: Iterable[AuditEntry]) -> dict[str, Any]:
    """``GET /audit``: ``{"items": [...]}``, in the order given (newest first)."""
    return {"items": [audit_item(e) for e in entries]}
