"""The one scaling procedure: take the target's lock, read once, decide, apply, audit.

Every change takes the target's lock (the same per-service lock deploys hold), so nothing
scales a service in the middle of its rollout. One read per decision: the count and the bounds
are read once, after the lock is tried (so under it when it is ours), and the caller's
``decide`` and the change both work from that read; nothing is read twice. ``decide`` runs even
when someone else holds the lock, so a request that can never succeed (outside the bounds, at a
bound, in cooldown) is told so rather than "busy, try later". ``on_change`` is told the outcome
as soon as the AWS change is made, before anything that may still fail after it (releasing the
lock, the audit entry): a caller that holds a cooldown knows not to give it back. ``admit`` is
asked last, under the lock and just before the change (after every check that could stop it):
an alarm reaction takes its blast-radius cap slot there, so a reaction that changes nothing
never takes one. ``recorded``: the count an earlier attempt of the same change recorded it sets
(before it set it): it is set again (idempotent) if the count is not there yet, never past it
and never against the step's direction; found already there, the change is reported made (by
the earlier attempt) and audited.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, NamedTuple

from chalicelib.domain.actions import Outcome
from chalicelib.domain.holders import Verdict, examine
from chalicelib.records.status import ActionResult
from chalicelib.records.target import Target
from chalicelib.scaling.bounds import EffectiveBounds, Plan, asg_current, ecs_current

if TYPE_CHECKING:
    from chalicelib.deps import Deps
    from chalicelib.domain.policy import Environment

LOCK_LEASE_SECONDS = 60

OnChange = Callable[[Outcome], None]
# Given the plan made from the one read: an outcome to stop with (nothing is changed), or None
# to go ahead.
Decide = Callable[[Plan], Outcome | None]
# Under the lock, just before the change: an outcome to stop with, or None to make it.
Admit = Callable[[], Outcome | None]


class Recorded(NamedTuple):
    """The count a change sets, recorded before it was made: from ``before`` to ``after``, a
    step ``out`` (up) or in."""

    before: int | None
    after: int
    out: bool

    def reached(self, count: int) -> bool:
        """Whether ``count`` is at ``after`` or past it in the step's direction."""
        return count >= self.after if self.out else count <= self.after

    def done(self, count: int, what: str, held_to: str) -> Outcome:
        """What a change found reached is: made (by an earlier attempt) if the count is at
        ``after``, else nothing changed (someone moved it past)."""
        if count == self.after and self.before is not None and self.before != count:
            message = f"{what} {self.before} -> {count} (set by an earlier attempt)"
            return Outcome(ActionResult.SCALED, message, self.before, count, bounds=held_to)
        return Outcome(ActionResult.AT_BOUND, f"already at {count}", count, count, bounds=held_to)


def _locked(deps: Deps, target: Target, actor: str) -> tuple[str, str | None]:
    """Try the target's lock: (our owner name, the holder's name if someone else has it). A
    deployment stuck holding it is handed to the worker again, a stale holder taken over
    (``domain.holders``): the sweeper would, a minute later."""
    owner, now = f"scale:{actor}:{uuid.uuid4().hex[:8]}", deps.clock()
    lock = deps.store.acquire_lock(target.lock, owner, lease_seconds=LOCK_LEASE_SECONDS, now=now)
    if lock.acquired:
        return owner, None
    found = examine(deps, target, lock.holder, now=now, actor=actor)
    if found.verdict == Verdict.STALE:
        lock = deps.store.acquire_lock(
            target.lock, owner, lease_seconds=LOCK_LEASE_SECONDS, now=now, over=found.holder
        )
    return owner, None if lock.acquired else lock.holder


@contextmanager
def _holding(deps: Deps, target: Target, actor: str) -> Iterator[str | None]:
    """The target's lock for the block, released after it; the holder's name instead (and
    nothing to release) when someone else has it."""
    owner, holder = _locked(deps, target, actor)
    if holder is not None:
        yield holder
        return
    try:
        yield None
    finally:
        deps.store.release_lock(target.lock, owner)


def _scale_locked(
    deps: Deps,
    target: Target,
    *,
    what: str,
    current: Callable[[], tuple[int, EffectiveBounds]],
    apply: Callable[[int], None],
    actor: str,
    why: str,
    step: int | None,
    desired: int | None,
    on_change: OnChange | None = None,
    decide: Decide | None = None,
    admit: Admit | None = None,
    audited: bool = True,
    recorded: Recorded | None = None,
) -> Outcome:
    """Lock, read once, decide, bound, admit, apply, audit (unless the caller audits it)."""
    with _holding(deps, target, actor) as holder:
        before, bounds = current()  # the one read: under the lock when it is ours
        if recorded is not None:
            step, after = None, recorded.after
        else:
            after = bounds.step(before, step) if step is not None else int(desired or 0)
        if decide is not None:
            decided = decide(Plan(target, before, after, bounds))
            if decided is not None:
                return decided
        if holder is not None:
            busy = f"{target.label} is busy with {holder}"
            return Outcome(ActionResult.BUSY, busy, holder=holder)
        if recorded is not None and recorded.reached(before):
            held_to = f"{bounds.min}..{bounds.max} ({bounds.source})"
            outcome = recorded.done(before, what, held_to)
        else:
            outcome = _change(before, after, bounds, what, step, admit, apply)
        if outcome.result != ActionResult.SCALED:
            return outcome
        if on_change is not None:
            on_change(outcome)
    if audited:
        audit_change(deps, target, "scale", outcome, actor=actor, why=why)
    return outcome


def audit_change(
    deps: Deps, target: Target, action: str, outcome: Outcome, *, actor: str, why: str
) -> None:
    """The audit entry of a change made (its counts, when it has them)."""
    deps.store.audit(
        now=deps.clock(),
        actor=actor,
        action=action,
        environment=target.environment,
        target=target.label,
        result=outcome.result,
        before=outcome.before,
        after=outcome.after,
        reason=why,
    )


def _change(
    before: int,
    after: int,
    bounds: EffectiveBounds,
    what: str,
    step: int | None,
    admit: Admit | None,
    apply: Callable[[int], None],
) -> Outcome:
    """Inside the bounds and moving: admitted, then made (SCALED); else why not."""
    limits = f"bounds {bounds.min}..{bounds.max} from {bounds.source}"
    held_to = f"{bounds.min}..{bounds.max} ({bounds.source})"
    if step is None and not bounds.min <= after <= bounds.max:
        return Outcome(
            ActionResult.AT_BOUND,
            f"{after} is outside the {limits}; nothing changed",
            before,
            before,
            bounds=held_to,
        )
    if after == before:
        where = "max" if step and step > 0 else "min" if step else "requested count"
        return Outcome(
            ActionResult.AT_BOUND,
            f"already at its {where} ({before}; {limits}); nothing changed",
            before,
            before,
            bounds=held_to,
        )
    refused = admit() if admit is not None else None
    if refused is not None:
        return refused
    apply(after)
    return Outcome(
        ActionResult.SCALED,
        f"{what} {before} -> {after} (bounds {bounds.min}..{bounds.max})",
        before,
        after,
        bounds=held_to,
    )


def scale_ecs_service(
    deps: Deps,
    env: Environment,
    service: str,
    *,
    actor: str,
    why: str,
    step: int | None = None,
    desired: int | None = None,
    on_change: OnChange | None = None,
    decide: Decide | None = None,
    admit: Admit | None = None,
    audited: bool = True,
    recorded: Recorded | None = None,
) -> Outcome:
    """Change a service's desired count (by ``step``, to ``desired``, or to the ``recorded``
    count) under its lock; ``decide`` sees the plan made from the one read first;
    ``audited=False``: the caller writes the audit entry."""

    def apply(count: int) -> None:
        deps.aws("ecs", env).update_service(
            cluster=env.cluster, service=service, desiredCount=count
        )

    return _scale_locked(
        deps,
        Target.service(env.name, service),
        what="desired count",
        current=lambda: ecs_current(deps, env, service),
        apply=apply,
        actor=actor,
        why=why,
        step=step,
        desired=desired,
        on_change=on_change,
        decide=decide,
        admit=admit,
        audited=audited,
        recorded=recorded,
    )


def scale_asg(
    deps: Deps,
    env: Environment,
    group: str,
    *,
    actor: str,
    why: str,
    step: int | None = None,
    desired: int | None = None,
    on_change: OnChange | None = None,
    decide: Decide | None = None,
    admit: Admit | None = None,
    audited: bool = True,
    recorded: Recorded | None = None,
) -> Outcome:
    """Change an Auto Scaling group's desired capacity (by ``step``, to ``desired``, or to the
    ``recorded`` count) under its lock; ``decide`` sees the plan made from the one read first;
    ``audited=False``: the caller writes the audit entry."""

    def apply(count: int) -> None:
        deps.aws("autoscaling", env).set_desired_capacity(
            AutoScalingGroupName=group, DesiredCapacity=count, HonorCooldown=False
        )

    return _scale_locked(
        deps,
        Target.group(env.name, group),
        what="desired capacity",
        current=lambda: asg_current(deps, env, group),
        apply=apply,
        actor=actor,
        why=why,
        step=step,
        desired=desired,
        on_change=on_change,
        decide=decide,
        admit=admit,
        audited=audited,
        recorded=recorded,
    )
