"""Refusing what a frozen environment does not allow: new deploys, rollbacks, approvals that
would start one, scale requests (409 ``frozen`` naming who froze it and why)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.core.errors import Frozen
from chalicelib.records.status import ActionResult

if TYPE_CHECKING:
    from datetime import datetime

    from chalicelib.store import Store


def ensure_not_frozen(
    store: Store,
    environment: str,
    *,
    doing: str,
    audit_as: tuple[str, str, str, datetime] | None = None,
) -> None:
    """Raise Frozen when ``environment`` is frozen (``doing``: what was asked, for the
    message); ``audit_as`` (actor, action, target label, now) audits the refusal first."""
    freeze = store.freeze_of(environment)
    if not freeze.frozen:
        return
    message = (
        f"environment {environment!r} is frozen by {freeze.by} since {freeze.at}: "
        f"{freeze.reason}; no {doing} until it is unfrozen"
    )
    if audit_as is not None:
        actor, action, target, now = audit_as
        store.audit(
            now=now,
            actor=actor,
            action=action,
            environment=environment,
            target=target,
            result=ActionResult.FROZEN,
            reason=message[:800],
        )
    raise Frozen(
        message,
        environment=environment,
        frozen_by=freeze.by,
        frozen_reason=freeze.reason,
        frozen_at=freeze.at,
    )
