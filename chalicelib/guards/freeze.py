"""Freeze and unfreeze an environment (permission ``freeze``), audited and announced.

While an environment is frozen, new deploys, rollbacks, approvals that would start one and
scale requests there answer 409 ``frozen`` (``domain.freeze``), and alarm reactions change
nothing (``alarms.frozen``). What is already in flight (a deploy in progress or queued, a
rollback ECS is doing) finishes or rolls back as it would have.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.aws.notifier import Message
from chalicelib.core.clock import iso
from chalicelib.domain.policy import Permission
from chalicelib.records.guards import Freeze

if TYPE_CHECKING:
    from datetime import datetime

    from chalicelib.deps import Deps

MAX_REASON = 500


class FreezeRequest(BaseModel):
    """``POST /environments/{env}/freeze``: why (required)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)

    reason: Annotated[str, Field(min_length=1, max_length=MAX_REASON)]


class UnfreezeRequest(BaseModel):
    """``POST /environments/{env}/unfreeze`` (body optional)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)

    reason: Annotated[str | None, Field(max_length=MAX_REASON)] = None


def _record(
    deps: Deps, state: Freeze, *, now: datetime, audit_reason: str, message: Message
) -> Freeze:
    """Record a freeze or an unfreeze: the item, its audit entry, its announcement."""
    deps.store.set_freeze(state)
    deps.store.audit(
        now=now,
        actor=state.by or "",
        action="freeze" if state.frozen else "unfreeze",
        environment=state.environment,
        target=f"{state.environment}/environment",
        result="frozen" if state.frozen else "unfrozen",
        reason=audit_reason,
    )
    deps.notifier.send(message)
    return state


def freeze(deps: Deps, *, actor: str, environment: str, reason: str) -> Freeze:
    """Freeze ``environment``: recorded, audited, announced; the freeze in force."""
    env = deps.policy.resolve(actor, environment, Permission.FREEZE)
    now = deps.clock()
    frozen = Freeze(env.name, frozen=True, by=actor, reason=reason, at=iso(now))
    return _record(
        deps,
        frozen,
        now=now,
        audit_reason=reason,
        message=Message(
            title=f"{env.name} is frozen",
            text="No deploys, rollbacks or scaling there, and alarm reactions change nothing, "
            "until it is unfrozen. What is in flight finishes.",
            level="warning",
            facts=(("Frozen by", actor), ("Reason", reason), ("Since", frozen.at or "")),
        ),
    )


def unfreeze(deps: Deps, *, actor: str, environment: str, reason: str | None = None) -> Freeze:
    """End ``environment``'s freeze (whether or not it was frozen): audited, announced."""
    env = deps.policy.resolve(actor, environment, Permission.FREEZE)
    was = deps.store.freeze_of(env.name)
    now = deps.clock()
    thawed = Freeze(env.name, frozen=False, by=actor, reason=reason, at=iso(now))
    return _record(
        deps,
        thawed,
        now=now,
        audit_reason=reason
        or (f"frozen by {was.by}: {was.reason}" if was.frozen else "was not frozen"),
        message=Message(
            title=f"{env.name} is unfrozen",
            text="Deploys, rollbacks, scaling and alarm reactions work again.",
            level="success",
            facts=(("Unfrozen by", actor), *((("Reason", reason),) if reason else ())),
        ),
    )
