"""Admitting a deployment to its service: the lock and the record in one transaction (see
``store.admission``), a stuck or stale holder dealt with on the way (``domain.holders``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from chalicelib.core.errors import Conflict
from chalicelib.domain.holders import Holding, Verdict, examine

if TYPE_CHECKING:
    from datetime import datetime

    from chalicelib.deps import Deps
    from chalicelib.records.deployment import Deployment
    from chalicelib.store.locks import LockResult

# Lock and record for the deployment, over the stale holder given (or none): the lock's
# result, or None when the record's own condition did not hold.
Write = Callable[[str | None], "LockResult | None"]


def admit_with_lock(
    deps: Deps, deployment: Deployment, now: datetime, write: Write
) -> tuple[LockResult | None, Holding | None]:
    """Run ``write``; if the lock is held, look at its holder: a stale one is taken over (once),
    a stuck start handed to the worker again. (result, the holder when not acquired)."""
    lock = write(None)
    if lock is None or lock.acquired:
        return lock, None
    found = examine(deps, deployment.target, lock.holder, now=now, actor=deployment.actor)
    if found.verdict != Verdict.STALE:
        return lock, found
    taken = write(found.holder)
    if taken is None or taken.acquired:
        return taken, None
    return taken, Holding(Verdict.BUSY, taken.holder)


def busy(deployment: Deployment, found: Holding, then: str) -> Conflict:
    """The 409 for a service held by ``found`` (what was done about it, if anything)."""
    note = f": {found.note}" if found.note else ""
    return Conflict(
        f"{deployment.service} in {deployment.environment} is busy with {found.holder}{note}; "
        f"{then}",
        holder=found.holder,
    )
