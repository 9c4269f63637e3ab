"""Alarm reactions: CloudWatch alarm notifications in, bounded and cooled-down actions out.

For each notification: find the rules that match it (name or glob, namespace, dimensions, and
the account of the rule's environment); ALARM runs the rule's action, OK its recovery action,
INSUFFICIENT_DATA only notifies. A scaling action checks, in this order:

1. bounds: at a bound nothing changes (the notification says which bound and where it is from);
2. cooldown: one action per (rule, target, direction) per window, claimed with a conditional write
   (owned by the reaction: by its cap claim's key), so a burst or a flapping alarm causes at most
   one action per direction per window;
3. guard: a scale-out may be held (``guard.check_scale_out``);
4. lock: the target's lock, shared with deploys. If a deploy holds it, the reaction waits
   (``wait``);
5. cap: under the lock, just before the change, one slot of the environment's blast-radius
   caps (``caps``); over a cap the reaction is held (a reaction stopped by 1-4 never takes a
   slot).

Before all of them, a frozen environment stops every reaction (said once per freeze).

One read per decision: a scaling action tries the target's lock first and reads the count and
bounds once (under the lock when it is ours); the checks above and the change all use that
read (``_Decision`` is called by the scaling procedure with the plan made from it).

Killed at any AWS call, a reaction is run again by Lambda's retry (once the notification's
in-progress record lapses): the retry finds the cooldown window its own (any other state change
still finds it taken) and, once admitted, the count its step sets recorded on its cap claim
before the change: it sets that count, or reports the step made if it is there (``recorded``).
One step, never zero, never two; its audit entry and notification are at least once.

Every outcome is explained in a notification (``explain``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.alarms import caps, execute, guard
from chalicelib.alarms.explain import at, audit_skip, explain
from chalicelib.alarms.notification import AlarmNotification
from chalicelib.alarms.reaction import Reaction, matching_rules, reaction_for
from chalicelib.aws.errors import describe
from chalicelib.core.clock import iso
from chalicelib.core.observability import count, logger
from chalicelib.domain.actions import Outcome
from chalicelib.records.status import ActionResult

if TYPE_CHECKING:
    from chalicelib.deps import Deps
    from chalicelib.domain.alarm_rule import AlarmRule
    from chalicelib.scaling import Plan
    from chalicelib.store.locks import CooldownClaim


def handle_notification(deps: Deps, alarm: AlarmNotification, *, attempt: int = 0) -> list[Outcome]:
    """React to one alarm notification; the outcome of every matching rule."""
    logger().set_correlation_id(f"alarm:{alarm.AlarmName}")
    count("AlarmNotifications", state=alarm.NewStateValue)
    rules = matching_rules(deps, alarm)
    if not rules:
        logger().info("no rule matches this alarm", extra={"alarm": alarm.AlarmName})
        explain(
            deps, alarm, Outcome(ActionResult.NOTIFIED, "no alarm rule matches it; nothing done")
        )
        return []
    return [react(deps, alarm, name, rule, attempt=attempt) for name, rule in rules]


def react(
    deps: Deps, alarm: AlarmNotification, rule_name: str, rule: AlarmRule, *, attempt: int = 0
) -> Outcome:
    """Run one rule's action (ALARM) or recovery (OK) for one notification."""
    reaction = reaction_for(deps, alarm, rule_name, rule)
    if reaction is None:
        what = (
            "no recovery action configured"
            if alarm.NewStateValue == "OK"
            else "data is insufficient"
        )
        outcome = Outcome(ActionResult.NOTIFIED, f"{what}; nothing done")
        explain(deps, alarm, outcome, rule_name=rule_name)
        return outcome
    if reaction.target is not None:
        from chalicelib.alarms.frozen import stopped_by_freeze

        frozen = stopped_by_freeze(deps, alarm, reaction)
        if frozen is not None:
            return frozen
    return _run(deps, alarm, reaction, attempt)


def _skip(
    deps: Deps,
    alarm: AlarmNotification,
    reaction: Reaction,
    outcome: Outcome,
    *,
    audited: bool = True,
    until: int | None = None,
) -> Outcome:
    """A reaction that does nothing: audit it, and say so once per window (``until``: the
    cooldown window it is in)."""
    if audited:
        audit_skip(deps, alarm, reaction, outcome)
    explain(
        deps,
        alarm,
        outcome,
        reaction=reaction,
        notice_key=f"{reaction.key}#{outcome.result}",
        window=reaction.seconds,
        until=until,
    )
    return outcome


def _release(deps: Deps, reaction: Reaction) -> None:
    """Give the cooldown window back: the action it guarded did nothing."""
    if reaction.seconds > 0:
        deps.store.release_cooldown(reaction.key)


class _Decision:
    """Bounds, cooldown, guard: whether a reaction goes ahead, from the plan of its one read
    (None for actions that do not scale). Keeps the cooldown window it claimed and, when it
    stopped the reaction, the outcome and whether that outcome is audited."""

    def __init__(self, deps: Deps, alarm: AlarmNotification, reaction: Reaction) -> None:
        self.deps, self.alarm, self.reaction = deps, alarm, reaction
        self.window: CooldownClaim | None = None
        self.stopped: Outcome | None = None
        self.audited = True
        self.until: int | None = None  # the cooldown window that stopped it, if one did
        self.cap = caps.Cap(deps, alarm, reaction)  # asked under the lock, before the change
        self.resumed = False  # an earlier attempt of this reaction was admitted to scale

    @property
    def claimed(self) -> bool:
        """Whether this reaction holds a cooldown window (to give back if it does nothing)."""
        return self.window is not None and self.window.claimed

    def _claim(self) -> CooldownClaim:
        """The cooldown window: claimed if free or this reaction's own (an earlier attempt)."""
        key, seconds, now = self.reaction.key, self.reaction.seconds, self.deps.clock()
        why, owner = self.alarm.why, self.cap.claim
        return self.deps.store.claim_cooldown(key, seconds=seconds, now=now, note=why, owner=owner)

    def _stop(self, outcome: Outcome, *, audited: bool = True) -> Outcome:
        self.stopped, self.audited = outcome, audited
        return outcome

    def __call__(self, plan: Plan | None) -> Outcome | None:
        deps, reaction = self.deps, self.reaction
        action, seconds = reaction.action, reaction.seconds
        self.cap.plan = plan
        if self.resumed:  # decided by the earlier attempt: its window, and on to its count
            self.window = self._claim()
            return None
        if plan is not None and not plan.moves:
            bound = "max" if action.direction() == "out" else "min"
            return self._stop(
                Outcome(
                    ActionResult.AT_BOUND,
                    f"{plan.target.name} is at its {bound} "
                    f"({plan.before}; bounds {plan.bounds.min}..{plan.bounds.max} from "
                    f"{plan.bounds.source}); nothing changed",
                    plan.before,
                    plan.before,
                    bounds=f"{plan.bounds.min}..{plan.bounds.max} ({plan.bounds.source})",
                )
            )
        self.window = self._claim()
        if not self.window.claimed:
            before = plan.before if plan else None
            count("AlarmActionsSuppressed", rule=reaction.rule_name)
            self.until = self.window.until
            return self._stop(
                Outcome(
                    ActionResult.COOLDOWN,
                    f"in cooldown until {iso(at(self.window.until))} (one {reaction.direction} "
                    f"action per {seconds} s); nothing changed",
                    before,
                    before,
                ),
                audited=False,
            )
        if plan is not None and action.direction() == "out":
            held = guard.check_scale_out(deps, reaction.env, plan)
            if held is not None:
                _release(deps, reaction)
                self.window = None
                return self._stop(
                    Outcome(ActionResult.HELD, f"scale-out held: {held}", plan.before, plan.before)
                )
        return None


def _apply(
    deps: Deps, alarm: AlarmNotification, reaction: Reaction, decision: _Decision
) -> Outcome:
    """Act. A failure before any AWS change gives the cooldown back (if this reaction claimed
    it) and raises (the retry acts); a failure after it (the audit entry, the lock release)
    keeps the cooldown and the change stands: logged, counted and said in the notification,
    never made twice."""
    changed: list[Outcome] = []
    scales = execute.scales(reaction.action)
    recorded = decision.cap.recorded() if scales else None
    decision.resumed = recorded is not None
    try:
        return execute.apply(
            deps.acting_for(alarm.actor),
            reaction.env,
            reaction.action,
            actor=alarm.actor,
            why=alarm.why,
            on_change=changed.append,
            decide=decision if scales else None,
            admit=decision.cap,
            mark=decision.cap.forcing,
            recorded=recorded,
        )
    except Exception as exc:
        if not changed:
            if decision.claimed:
                _release(deps, reaction)
            raise
        logger().exception(
            "alarm action made its change, then failed; the change stands",
            extra={"alarm": alarm.AlarmName, "rule": reaction.rule_name},
        )
        count("AlarmActionsUnrecorded", rule=reaction.rule_name)
        made = changed[-1]
        return Outcome(
            made.result,
            f"{made.message} (not audited: {describe(exc)})",
            made.before,
            made.after,
        )


def _run(deps: Deps, alarm: AlarmNotification, reaction: Reaction, attempt: int) -> Outcome:
    """Bounds, cooldown, guard, lock: then act, and explain."""
    seconds = reaction.seconds
    decision = _Decision(deps, alarm, reaction)
    if not execute.scales(reaction.action) and decision(None) is not None:
        assert decision.stopped is not None
        return _skip(
            deps, alarm, reaction, decision.stopped, audited=decision.audited, until=decision.until
        )
    outcome = _apply(deps, alarm, reaction, decision)
    if decision.stopped is not None:
        return _skip(
            deps, alarm, reaction, decision.stopped, audited=decision.audited, until=decision.until
        )
    if outcome.result == ActionResult.BUSY:
        from chalicelib.alarms import wait  # only a reaction that finds its target locked

        _release(deps, reaction)
        wait.wait_for_lock(deps, alarm, reaction, outcome, attempt)
        return outcome
    if attempt > 0:  # a waiting chain ends here
        from chalicelib.alarms import wait

        wait.end_wait(deps, reaction)
    if outcome.result == ActionResult.HELD_BY_CAP:  # audited with its record; summed up later
        caps.on_held(deps, alarm, reaction)
        return outcome
    if outcome.result == ActionResult.AT_BOUND:  # moved while we looked: give the window back
        _release(deps, reaction)
    count("AlarmActions", rule=reaction.rule_name, result=outcome.result)
    window = decision.window
    explain(
        deps,
        alarm,
        outcome,
        reaction=reaction,
        until=window.until
        if window is not None and outcome.result != ActionResult.AT_BOUND and seconds > 0
        else None,
    )
    return outcome


def retry(deps: Deps, *, rule_name: str, notification: str, attempt: int) -> Outcome | None:
    """A reaction that waited for a lock: act now if the alarm is still in the same state.

    Once per (notification, rule, attempt): a redelivered retry message does nothing (None)."""
    alarm = AlarmNotification.model_validate_json(notification)
    ran: list[Outcome | None] = []

    def work() -> str | None:
        ran.append(_retry(deps, alarm, rule_name, attempt))
        return ran[0].result if ran[0] is not None else None

    key = {**alarm.delivery_key, "rule": rule_name, "attempt": str(attempt)}
    done = deps.store.once("alarm-retry", key, work)
    if done.duplicate:
        logger().info("duplicate alarm retry: already processed, nothing done", extra=key)
        count("DuplicateDeliveries", source="alarm-retry")
        return None
    return ran[0]


def _retry(deps: Deps, alarm: AlarmNotification, rule_name: str, attempt: int) -> Outcome | None:
    from chalicelib.alarms import wait

    rule = deps.policy.alarm_rules.get(rule_name)
    if rule is None:
        logger().warning(
            "alarm retry for a rule no longer in the policy", extra={"rule": rule_name}
        )
        return None
    env = deps.policy.environments[rule.environment]
    state = wait.state_now(deps, env, alarm)
    if state is not None and state != alarm.NewStateValue:
        wait.drop(deps, alarm, reaction_for(deps, alarm, rule_name, rule), state)
        return None
    return react(deps, alarm, rule_name, rule, attempt=attempt)
