"""What to do about the holder of a service's lock that is stuck (deploys, scaling, the sweeper).

A deployment is admitted with its lock and its record in one transaction, then handed to the
worker (an SQS send). A Lambda that dies between the two leaves a ``queued`` deployment that
holds the service and that nothing will start. Whoever next finds the lock held looks at the
holder and resumes or ends what is stuck, never leaves it:

- a holder whose start is free to take (``queued``, or a start whose lease ran out) and that
  has not changed for ``STALE_SECONDS`` (a healthy worker claims a start in about a second) is
  handed to the worker again: noted on the record first (a conditional write, so of racing
  callers one sends), then its ``deploy.start`` sent. A duplicate start is harmless: the worker
  begins with ``claim_start``, a conditional write from ``queued`` (or a lapsed start lease) to
  ``in_progress`` under a lease, and a start that loses the claim drops its message
  (``deploys.rollout.start_deploy``);
- a lock whose holder deployment does not exist (left by older code that locked before it
  recorded) and that is older than ``STALE_SECONDS``, or whose holder has ended or is not
  admitted (it never lets go by itself), is stale: the caller takes it over, conditionally on
  that holder still holding it.

Each hand-over and take-over is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from chalicelib.core.clock import iso
from chalicelib.records.status import DeploymentStatus

if TYPE_CHECKING:
    from chalicelib.aws.queue import WorkQueue
    from chalicelib.records.deployment import Deployment  # at run time only where used (cold start)
    from chalicelib.records.target import Target
    from chalicelib.store import Store

STALE_SECONDS = 30


class Hands(Protocol):
    """What looking at a holder needs (``Deps`` has it; ``deps`` sits above this layer)."""

    store: Store
    queue: WorkQueue


class Verdict(StrEnum):
    """What was found holding a lock (and, in the audit trail, what was done about it)."""

    BUSY = "busy"  # a live holder: wait for it
    STALE = "stale"  # nobody will let go: take it over
    HANDED_AGAIN = "handed_to_worker_again"  # a stuck start, sent to the worker again


@dataclass(frozen=True)
class Holding:
    """The holder of a lock, what it is and what was done (``note``, for people)."""

    verdict: Verdict
    holder: str
    note: str = ""


def _ago(seconds: float) -> str:
    if seconds < 120:
        return f"{int(seconds)} s ago"
    if seconds < 7200:
        return f"{int(seconds // 60)} min ago"
    return f"{int(seconds // 3600)} h ago"


def last_change(deployment: Deployment) -> datetime:
    """When a deployment last changed: its newest event or its ``updated_at``."""
    stamps = [deployment.updated_at, *(e.at for e in deployment.events[-1:])]
    return max(datetime.fromisoformat(s) for s in stamps)


def start_stuck(deployment: Deployment, now: datetime) -> bool:
    """Its start is free to take (``queued``, or begun by an invocation whose lease ran out)
    and has not moved for ``STALE_SECONDS``."""
    if deployment.status == DeploymentStatus.QUEUED:
        free = True
    else:
        lapsed = (deployment.lease_until or 0) < now.timestamp()
        free = deployment.status == DeploymentStatus.IN_PROGRESS and not deployment.phase
        free = free and lapsed
    return free and (now - last_change(deployment)).total_seconds() >= STALE_SECONDS


def examine(deps: Hands, target: Target, holder: str, *, now: datetime, actor: str) -> Holding:
    """Look at who holds ``target``'s lock: hand a stuck start to the worker again, say a stale
    lock may be taken over (the caller does, with ``over=holder``), or say it is busy."""
    if not holder.startswith("dep-"):  # a scaling: it holds the lock for seconds
        return Holding(Verdict.BUSY, holder)
    deployment = deps.store.get_deployment(holder)
    if deployment is None:
        lock = deps.store.lock_holder(target.lock)
        if lock is not None and lock.owner != holder:
            return Holding(Verdict.BUSY, lock.owner)
        age = now.timestamp() - lock.taken_at if lock and lock.taken_at else None
        if age is not None and age < STALE_SECONDS:
            return Holding(Verdict.BUSY, holder)
        since = f" since {_ago(age)}" if age is not None else ""
        why = f"its holder {holder} does not exist (a lock left by an interrupted request{since})"
        return _stale(deps, target, holder, why, now=now, actor=actor)
    if not deployment.status.active:
        why = f"its holder {holder} is {deployment.status} and no longer needs it"
        return _stale(deps, target, holder, why, now=now, actor=actor)
    if not start_stuck(deployment, now):
        return Holding(Verdict.BUSY, holder)
    return hand_again(deps, deployment, now=now, actor=actor)


def hand_again(deps: Hands, deployment: Deployment, *, now: datetime, actor: str) -> Holding:
    """Note on the record that its stuck start is handed to the worker again, then send it."""
    from chalicelib.domain.messages import DeployStart
    from chalicelib.records.deployment import DeploymentEvent

    status = "accepted" if deployment.status == DeploymentStatus.QUEUED else "started"
    age = _ago((now - datetime.fromisoformat(deployment.created_at)).total_seconds())
    note = (
        f"it was {status} {age} but never reached the worker (or its worker died); "
        "it has been handed to the worker again"
    )
    event = DeploymentEvent(iso(now), deployment.status, f"handed to the worker again ({actor})")
    if deps.store.note_handed_again(
        deployment.id, seen_updated_at=deployment.updated_at, now=now, event=event
    ):
        deps.queue.send(DeployStart(deployment_id=deployment.id))
        deps.store.audit(
            now=now,
            actor=actor,
            action=deployment.action,
            environment=deployment.environment,
            target=deployment.target.label,
            result=Verdict.HANDED_AGAIN,
            deployment_id=deployment.id,
            reason=note,
        )
    return Holding(Verdict.HANDED_AGAIN, deployment.id, note)


def _stale(
    deps: Hands, target: Target, holder: str, why: str, *, now: datetime, actor: str
) -> Holding:
    deps.store.audit(
        now=now,
        actor=actor,
        action="lock",
        environment=target.environment,
        target=target.label,
        result=Verdict.STALE,
        holder=holder,
        reason=f"{why}: the lock is stale",
    )
    return Holding(Verdict.STALE, holder, why)
