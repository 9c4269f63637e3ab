"""Applying the alarm reactions held in a minute, once someone approved them (``cap.apply``).

Each held reaction moves by conditional writes (``store.held``), each recorded before the side
effect it guards, so a worker that dies at any AWS call resumes on redelivery, never repeating
a step and never losing one:

1. ``held`` -> ``approved``: for a scaling step, the count it is to be set to is computed once
   here (the step from the count now, inside the bounds) and recorded with the approval;
2. the change: the recorded count is set (idempotent), under the target's lock, never past it
   and never against the step's direction (a redelivery that finds it reached changes nothing);
3. ``approved`` -> ``applied``, in one transaction with its audit entry (written once).

The minute's reactions are applied in the order they happened, and of one alarm's reactions on
one target only the net effect (``held_order``): an ALARM and a later OK cancel out, both
``held`` -> ``skipped`` as superseded, audited. A reaction whose alarm is back in the other
state (ALARM or OK) when its turn comes is not applied: ``held`` -> ``skipped``, audited. The
minute's reactions are worked through in that order in batches of ``BATCH``, one ``cap.apply``
each (``after``: the key of the last one done): a batch queues the next when it is done. A
reaction whose target is busy (a deploy holds its lock) stays approved; its batch runs again in
``BUSY_RETRY_SECONDS``, at most ``BUSY_ATTEMPTS`` times, then it is given up (said, applied as
nothing). A forced new deployment has no count to compare: ``forcing_since`` is recorded on the
approved reaction before it is forced, and a redelivery that finds it forces only if ECS has no
deployment of the service created since (``scaling.force``): it is forced once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from chalicelib import scaling
from chalicelib.alarms import execute
from chalicelib.alarms.held import SHOWN
from chalicelib.alarms.held_order import alarm_states, batch
from chalicelib.alarms.reaction import Reaction, reaction_for
from chalicelib.aws.errors import describe
from chalicelib.aws.notifier import Message
from chalicelib.core.errors import OpsError
from chalicelib.core.observability import logger
from chalicelib.domain.actions import ForceNewDeployment, Outcome, ScaleAsg, ScaleEcsService
from chalicelib.records.audit import AuditEntry
from chalicelib.records.status import ActionResult

if TYPE_CHECKING:
    from chalicelib.deps import Deps
    from chalicelib.domain.messages import CapApply
    from chalicelib.domain.policy import Environment
    from chalicelib.records.guards import HeldReaction

BATCH = 25  # held reactions per cap.apply
BUSY_RETRY_SECONDS = 30
BUSY_ATTEMPTS = 20  # a batch waits ~10 minutes for a busy target, then gives it up

_STATES = ("ALARM", "OK")


@dataclass(frozen=True)
class _Done:
    """What one held reaction came to in this run: its line, and whether it waits (busy)."""

    line: str
    busy: bool = False


def apply_batch(deps: Deps, message: CapApply) -> list[str]:
    """Apply one batch of the reactions held in the message's environment and minute, as
    approved by its actor; one line per reaction this run moved, also posted. Frozen since
    the press: nothing is applied, and the button works again once it is unfrozen."""
    environment, bucket, actor = message.environment, message.bucket, message.actor
    if _frozen(deps, environment, bucket):
        return []
    page, after = batch(deps, message, BATCH)
    env = deps.policy.environments[environment]
    states = alarm_states(deps, env, [h.alarm for h, o in page if h.status == "held" and not o])
    lines: list[str] = []
    busy = False
    for held, other in page:
        if other is not None:
            done = _superseded(deps, held, other, actor)
        else:
            done = _one(deps, env, held, actor, states.get(held.alarm), give_up=_last(message))
        if done is not None:
            lines.append(f"{held.target}: {done.line}")
            busy = busy or done.busy
    if busy and not _last(message):
        retry = message.model_copy(update={"attempt": message.attempt + 1})
        deps.queue.send(retry, delay_seconds=BUSY_RETRY_SECONDS)
    if after is not None and message.attempt == 0:  # the retries of a batch queue nothing more
        deps.queue.send(message.model_copy(update={"after": after}))
    if lines:
        shown = lines[:SHOWN] + (
            [f"... and {len(lines) - SHOWN} more"] if len(lines) > SHOWN else []
        )
        deps.notifier.send(
            Message(
                title=f"Held changes in {environment} applied, approved by {actor}",
                level="warning" if busy else "success",
                facts=(("Minute (UTC)", bucket), ("Applied", "\n".join(shown))),
            )
        )
    return lines


def _superseded(deps: Deps, held: HeldReaction, other: HeldReaction, actor: str) -> _Done | None:
    """``held`` -> ``skipped``: a later (or earlier) reaction of its alarm cancels it out."""
    if held.status != "held":
        return None
    line = f"superseded: cancels out with {other.alarm} {other.state} ({other.changed or other.at})"
    skip = _entry(deps, held, actor, "alarm_reaction", ActionResult.DROPPED, line)
    finished = deps.store.finish_held(held, status="skipped", was="held", outcome=line, audit=skip)
    return _Done(line) if finished else None


def _last(message: CapApply) -> bool:
    return message.attempt >= BUSY_ATTEMPTS


def _frozen(deps: Deps, environment: str, bucket: str) -> bool:
    freeze = deps.store.freeze_of(environment)
    if not freeze.frozen:
        return False
    deps.store.release_cooldown(f"capapproval#{environment}#{bucket}")
    deps.notifier.send(
        Message(
            title=f"Held changes in {environment} not applied: it is frozen",
            text="Approve them again once it is unfrozen.",
            level="warning",
            facts=(("Minute (UTC)", bucket), ("Frozen", f"by {freeze.by}: {freeze.reason}")),
        )
    )
    return True


def _one(
    deps: Deps, env: Environment, held: HeldReaction, actor: str, now: str | None, *, give_up: bool
) -> _Done | None:
    """Move one held reaction as far as it goes; None when another run has it or had it."""
    reaction = _reaction(deps, held)
    if held.status == "held":
        if now in _STATES and now != held.state:
            line = f"not applied: {held.alarm} is {now} now"
            skip = _entry(deps, held, actor, "alarm_reaction", ActionResult.DROPPED, line)
            finished = deps.store.finish_held(
                held, status="skipped", was="held", outcome=line, audit=skip
            )
            return _Done(line) if finished else None
        approved = _approve(deps, held, actor, reaction)
        if approved is None:
            return None
        held = approved
    if held.status != "approved":
        return None
    actor = held.approved_by or actor
    outcome, audit = _change(deps, env, held, actor, reaction)
    if outcome.result == ActionResult.BUSY and not give_up:
        return _Done(f"{outcome.message}; approved, will be applied when it is free", busy=True)
    line = _line(outcome)
    if not deps.store.finish_held(
        held, status="applied", was="approved", outcome=line, audit=audit
    ):
        return None
    return _Done(line)


def _reaction(deps: Deps, held: HeldReaction) -> Reaction | None:
    from chalicelib.alarms.notification import AlarmNotification

    rule = deps.policy.alarm_rules.get(held.rule)
    if rule is None:
        return None
    alarm = AlarmNotification(
        AlarmName=held.alarm,
        AWSAccountId=deps.policy.environments[rule.environment].account,
        NewStateValue=held.state,
        StateChangeTime=held.changed or held.at,
    )
    return reaction_for(deps, alarm, held.rule, rule)


def _approve(
    deps: Deps, held: HeldReaction, actor: str, reaction: Reaction | None
) -> HeldReaction | None:
    """``held`` -> ``approved`` with the count to set, computed once (None: not ours)."""
    before = after = None
    if reaction is not None and execute.scales(reaction.action):
        try:
            plan = execute.plan(deps, reaction.env, reaction.action)
        except (OpsError, ClientError) as exc:  # approved without a count: never stepped
            logger().warning("held reaction's count unreadable", extra={"error": describe(exc)})
            plan = None
        if plan is not None:
            before, after = plan.before, plan.after
    if not deps.store.approve_held(held, by=actor, count_from=before, count_to=after):
        return None
    return replace(
        held, status="approved", approved_by=actor, approved_from=before, approved_to=after
    )


def _change(
    deps: Deps, env: Environment, held: HeldReaction, actor: str, reaction: Reaction | None
) -> tuple[Outcome, AuditEntry | None]:
    """Make the approved change (again, idempotently, after a crash); its audit entry."""
    if held.rule not in deps.policy.alarm_rules:
        return Outcome(ActionResult.NOTIFIED, f"rule {held.rule} is no longer in the policy"), None
    if reaction is None:
        return Outcome(ActionResult.NOTIFIED, "no action for that state"), None
    why = f"approved held reaction to {held.alarm} {held.state}"
    action, acting = reaction.action, deps.acting_for(actor)
    try:
        if isinstance(action, ScaleEcsService | ScaleAsg):
            if held.approved_to is None:
                why_not = "its count could not be read when it was approved; nothing changed"
                return Outcome(ActionResult.FAILED, why_not), None
            return _set_count(acting, env, held, actor, reaction, why)
        if isinstance(action, ForceNewDeployment):
            outcome = scaling.force_new_deployment(
                acting, env, action.params.service, actor=actor, why=why, audited=False,
                mark=lambda at: deps.store.held_forcing(held, at),
            )  # fmt: skip
            if outcome.result != ActionResult.FORCED:
                return outcome, None
            return outcome, _entry(deps, held, actor, "force_new_deployment", outcome.result, why)
        return execute.apply(acting, env, action, actor=actor, why=why), None
    except (OpsError, ClientError) as exc:  # nothing changed: said, and not tried again
        return Outcome(ActionResult.FAILED, f"failed, nothing changed: {describe(exc)}"), None


def _set_count(
    deps: Deps, env: Environment, held: HeldReaction, actor: str, reaction: Reaction, why: str
) -> tuple[Outcome, AuditEntry | None]:
    """Set the approved count (never past it, never against the step's direction; found
    there, an earlier run of this work made the change and died before recording it)."""
    assert held.approved_to is not None
    to = scaling.Recorded(held.approved_from, held.approved_to, reaction.direction == "out")
    action = reaction.action
    if isinstance(action, ScaleAsg):
        outcome = scaling.scale_asg(
            deps, env, action.params.group, recorded=to, actor=actor, why=why, audited=False
        )
    else:
        assert isinstance(action, ScaleEcsService)
        outcome = scaling.scale_ecs_service(
            deps, env, action.params.service, recorded=to, actor=actor, why=why, audited=False
        )
    if outcome.result != ActionResult.SCALED:
        return outcome, None
    before, after = outcome.before, outcome.after
    return outcome, _entry(
        deps, held, actor, "scale", outcome.result, why, before=before, after=after
    )


def _entry(
    deps: Deps,
    held: HeldReaction,
    actor: str,
    action: str,
    result: str,
    why: str,
    **counts: int | None,
) -> AuditEntry:
    return AuditEntry.of(
        at=deps.clock(),
        actor=actor,
        action=action,
        environment=held.environment,
        target=held.target,
        result=result,
        reason=why,
        rule=held.rule,
        bucket=held.bucket,
        **counts,
    )


def _line(outcome: Outcome) -> str:
    if outcome.result == ActionResult.SCALED:
        return f"{outcome.before} -> {outcome.after}"
    return outcome.message
