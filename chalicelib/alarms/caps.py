"""Blast-radius caps on alarm reactions: a change over its environment's cap is held.

Policy ``limits`` (per environment, defaults at the top level) caps the automated changes an
environment takes per UTC minute (``max_automated_changes_per_minute``) and the distinct targets
they change in that minute (``max_services_scaled_at_once``). The cap is checked last: after
bounds, cooldown, guard and lock, under the target's lock just before the AWS change (the
procedure's ``admit``), so a reaction at a bound, in cooldown, held by a budget or waiting for
a deploy never takes a slot. Slots are counted in DynamoDB (``store.caps``), once per
(alarm state change, rule, target, direction): a redelivery or a retry after a crash keeps the
first decision. An admitted scaling step records the count it sets with its claim, before it
sets it: a retry sets that count (``recorded``), never a second step. A retry that makes its
change in a later minute than its admission (its Lambda died before the change) takes a slot of
that minute too, or is held: no minute sees more automated changes than its cap.

A held reaction changes nothing, gives its cooldown window back, is audited (``alarm_reaction``
/ ``held_by_cap``) and kept (``HELD#<env>#<minute>``); it is not posted by itself: the first
one of a minute queues the environment's summary of that minute (``held``), posted once, with an
Approve button. Manual and approved actions are never capped.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

from chalicelib import scaling
from chalicelib.core.clock import iso
from chalicelib.core.observability import count, logger
from chalicelib.domain.actions import Outcome
from chalicelib.records.audit import AuditEntry
from chalicelib.records.guards import CapDecision, HeldReaction
from chalicelib.records.status import ActionResult
from chalicelib.store import bucket_of

if TYPE_CHECKING:
    from datetime import datetime

    from chalicelib.alarms.notification import AlarmNotification
    from chalicelib.alarms.reaction import Reaction
    from chalicelib.deps import Deps
    from chalicelib.scaling import Plan

SUMMARY_GRACE_SECONDS = 5  # the summary of a minute is posted this long after it ends
_QUEUED_WINDOW = 3600


def _late(decided: CapDecision, now: datetime) -> bool:
    """Whether an earlier attempt's admission was in an earlier minute than ``now``'s."""
    return decided.admitted and not decided.first and decided.bucket not in (None, bucket_of(now))


def claim_of(alarm: AlarmNotification, reaction: Reaction) -> str:
    """The id of one reaction to one alarm state change: its cap decision is keyed by it."""
    key = json.dumps([alarm.delivery_key, reaction.key], sort_keys=True)
    return hashlib.sha256(key.encode()).hexdigest()[:32]


class Cap:
    """The procedure's ``admit`` for an alarm reaction: take a cap slot, or hold the reaction
    (``held`` is then its outcome)."""

    def __init__(self, deps: Deps, alarm: AlarmNotification, reaction: Reaction) -> None:
        self.deps, self.alarm, self.reaction = deps, alarm, reaction
        self.plan: Plan | None = None  # the scaling plan, when the decision saw one
        self.held: Outcome | None = None
        self.reason = ""
        self.claim = claim_of(alarm, reaction)

    def __call__(self) -> Outcome | None:
        deps, reaction = self.deps, self.reaction
        env, target = reaction.env.name, reaction.target_label
        limits = deps.policy.limits_for(env)
        now, claim, plan = deps.clock(), self.claim, self.plan

        def admit(claim: str) -> CapDecision | None:
            return deps.store.admit_automated(
                claim=claim,
                environment=env,
                target=target,
                now=now,
                max_changes=limits.max_automated_changes_per_minute,
                max_targets=limits.max_services_scaled_at_once,
                count_from=plan.before if plan is not None else None,
                count_to=plan.after if plan is not None else None,
            )

        decided = admit(claim)
        if decided is not None and _late(decided, now):
            # an earlier attempt took a slot of an earlier minute and died before its change:
            # the change is made now, so it takes a slot of this minute (or is held) too
            claim = f"{claim}@{bucket_of(now)}"
            decided = admit(claim)
        if decided is None:
            self.reason = self._why(now)
            decided = deps.store.hold_automated(
                claim=claim, held=self._held(claim, now), audit=self._audit(now)
            )
        if decided.admitted:
            return None
        before = self.plan.before if self.plan is not None else None
        why = f"held by the blast-radius cap: {decided.reason}"
        self.held = Outcome(ActionResult.HELD_BY_CAP, why, before, before)
        return self.held

    def forcing(self, at: int) -> int | None:
        """A forced new deployment's mark (``scaling.Mark``), on this reaction's admitted claim."""
        return self.deps.store.claim_forcing(self.claim, at)

    def recorded(self) -> scaling.Recorded | None:
        """The count an earlier attempt of this reaction was admitted to set, if one was."""
        found = self.deps.store.recorded_step(self.claim)
        if found is None:
            return None
        return scaling.Recorded(*found, out=self.reaction.direction == "out")

    def _why(self, now: datetime) -> str:
        limits = self.deps.policy.limits_for(self.reaction.env.name)
        changes, targets = self.deps.store.cap_usage(self.reaction.env.name, now)
        most = limits.max_automated_changes_per_minute
        if changes >= most:
            return (
                f"{changes} automated change(s) in {self.reaction.env.name} this minute "
                f"(max_automated_changes_per_minute {most})"
            )
        return (
            f"{targets} target(s) changed by automation in {self.reaction.env.name} this minute "
            f"(max_services_scaled_at_once {limits.max_services_scaled_at_once})"
        )

    def _held(self, claim: str, now: datetime) -> HeldReaction:
        plan = self.plan
        return HeldReaction(
            environment=self.reaction.env.name,
            bucket=bucket_of(now),
            key=f"{self.reaction.target_label}#{claim}",
            rule=self.reaction.rule_name,
            state=self.alarm.NewStateValue,
            alarm=self.alarm.AlarmName,
            target=self.reaction.target_label,
            at=iso(now),
            changed=self.alarm.StateChangeTime,
            reason=self.reason,
            before=plan.before if plan is not None else None,
            after=plan.after if plan is not None else None,
        )

    def _audit(self, now: datetime) -> AuditEntry:
        plan = self.plan
        return AuditEntry.of(
            at=now,
            actor=self.alarm.actor,
            action="alarm_reaction",
            environment=self.reaction.env.name,
            target=self.reaction.target_label,
            result=ActionResult.HELD_BY_CAP,
            reason=f"held by the blast-radius cap: {self.reason} ({self.alarm.why})"[:800],
            before=plan.before if plan is not None else None,
            after=plan.after if plan is not None else None,
            rule=self.reaction.rule_name,
            bucket=bucket_of(now),
        )


def on_held(deps: Deps, alarm: AlarmNotification, reaction: Reaction) -> None:
    """A held reaction: its cooldown window back, and its minute's summary queued (once)."""
    if reaction.seconds > 0:
        deps.store.release_cooldown(reaction.key)
    count("AlarmActionsHeldByCap", environment=reaction.env.name)
    logger().info(
        "alarm reaction held by the blast-radius cap",
        extra={"alarm": alarm.AlarmName, "rule": reaction.rule_name},
    )
    queue_summary(deps, reaction.env.name, deps.clock())


def queue_summary(deps: Deps, environment: str, now: datetime) -> None:
    """Queue the summary of ``environment``'s held reactions of this minute, unless done: sent
    first, marked after (a crash in between sends one more, which finds it posted)."""
    from chalicelib.domain.alarm_work import CapSummary  # only once something is held

    bucket = bucket_of(now)
    mark = f"capsummary-queued#{environment}#{bucket}"
    if deps.store.cooldown_until(mark, now=now) is not None:
        return
    delay = 60 - now.second + SUMMARY_GRACE_SECONDS
    deps.queue.send(CapSummary(environment=environment, bucket=bucket), delay_seconds=delay)
    deps.store.claim_cooldown(mark, seconds=_QUEUED_WINDOW, now=now)
