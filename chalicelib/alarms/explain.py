"""What an alarm reaction did, and why, as a notification (and an audit entry for skips).

Notices that repeat within a cooldown window (the same "in cooldown" or "at max") are logged but
not posted again.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from chalicelib.aws.notifier import Message
from chalicelib.core.clock import iso
from chalicelib.core.observability import count, logger
from chalicelib.records.status import ActionResult
from chalicelib.records.target import TargetKind

if TYPE_CHECKING:
    from chalicelib.alarms.notification import AlarmNotification
    from chalicelib.alarms.reaction import Reaction
    from chalicelib.deps import Deps
    from chalicelib.domain.actions import Outcome

_TITLE = {
    ActionResult.SCALED: "{alarm} {state}: {target} {before} -> {after}",
    ActionResult.FORCED: "{alarm} {state}: new deployment of {target}",
    ActionResult.AT_BOUND: "{alarm} {state}: {target} at its {bound}",
    ActionResult.COOLDOWN: "{alarm} {state}: {target} in cooldown",
    ActionResult.HELD: "{alarm} {state}: scale-out of {target} held",
    ActionResult.BUSY: "{alarm} {state}: waiting for {target}",
    ActionResult.DROPPED: "{alarm} {state}: reaction dropped",
    ActionResult.FROZEN: "{alarm} {state}: {env} is frozen, nothing changed",
    ActionResult.NOTIFIED: "{alarm} {state}",
}
_LEVEL = {
    ActionResult.SCALED: "warning",
    ActionResult.FORCED: "warning",
    ActionResult.NOTIFIED: "info",
    ActionResult.AT_BOUND: "warning",
    ActionResult.COOLDOWN: "info",
    ActionResult.HELD: "warning",
    ActionResult.BUSY: "info",
    ActionResult.FROZEN: "warning",
}
# A reaction waiting for a lock is posted again when it acts (the follow-up comes then); a
# dropped one never acts; one in cooldown repeats a reaction whose follow-up was posted.
NO_FOLLOW_UP = frozenset({ActionResult.BUSY, ActionResult.DROPPED, ActionResult.COOLDOWN})
REASON_SHOWN = 300  # characters of CloudWatch's state reason in a notice


def at(epoch: int) -> datetime:
    """An epoch second (a cooldown's end) as a UTC time."""
    return datetime.fromtimestamp(epoch, UTC)


def explain(
    deps: Deps,
    alarm: AlarmNotification,
    outcome: Outcome,
    *,
    reaction: Reaction | None = None,
    rule_name: str | None = None,
    notice_key: str | None = None,
    window: int = 0,
    until: int | None = None,
) -> None:
    """Post what happened and why; repeats of a notice inside its window are only logged."""
    if notice_key is not None and window > 0:
        notice = deps.store.claim_cooldown(f"notice#{notice_key}", seconds=window, now=deps.clock())
        if not notice.claimed:
            logger().info(
                "notice suppressed (already posted in this window)",
                extra={"alarm": alarm.AlarmName, "result": outcome.result},
            )
            return
    message = reaction_message(alarm, outcome, reaction=reaction, rule_name=rule_name, until=until)
    followed = _followed(reaction, outcome)
    # with a Slack bot, the reaction's message ts comes back: its follow-up is a thread reply
    delivery = deps.notifier.send(message, threaded=followed is not None)
    if followed is not None:
        follow_up(deps, alarm, followed, message.title, thread_ts=delivery.ts)


def _followed(reaction: Reaction | None, outcome: Outcome) -> Reaction | None:
    """The reaction, when a what-changed follow-up comes after its notice (it acted, or was
    held or at a bound, on an ECS service)."""
    if reaction is None or outcome.result in NO_FOLLOW_UP:
        return None
    target = reaction.target
    return reaction if target is not None and target.kind == TargetKind.ECS_SERVICE else None


def follow_up(
    deps: Deps,
    alarm: AlarmNotification,
    reaction: Reaction,
    title: str,
    *,
    thread_ts: str | None = None,
) -> None:
    """Queue the reaction's follow-up: what changed on its service in the hour before this
    reaction (posted by the worker, after it, in the thread of ``thread_ts`` when the
    reaction's message has one). A queue that fails is logged and counted: the reaction
    stands and was told."""
    target = reaction.target
    if target is None or target.kind != TargetKind.ECS_SERVICE:
        return
    from chalicelib.domain.alarm_work import AlarmChanges  # pydantic: once a reaction posted

    until = deps.clock().astimezone(UTC)
    try:
        deps.queue.send(
            AlarmChanges(
                environment=target.environment,
                service=target.name,
                alarm=alarm.AlarmName,
                state=alarm.NewStateValue,
                reaction=title,
                until=until.isoformat().replace("+00:00", "Z"),
                thread_ts=thread_ts,
                state_changed_at=alarm.StateChangeTime,
            )
        )
    except Exception:
        logger().exception("could not queue the alarm's change follow-up")
        count("AlarmChangeFollowUpsLost")


def _text(outcome: Outcome, reaction: Reaction | None) -> str:
    """What the title and the facts do not say: why nothing changed, or what comes next."""
    result = outcome.result
    if result in (ActionResult.SCALED, ActionResult.FORCED):
        _, unaudited, why = outcome.message.partition("(not audited: ")
        if unaudited:
            return f"The change stands but is not audited: {why.rstrip(')')}."
        return "Fresh tasks, same task definition." if result == ActionResult.FORCED else ""
    if result == ActionResult.AT_BOUND:
        return "Nothing changed."
    if result == ActionResult.COOLDOWN and reaction is not None:
        return f"One {reaction.direction} action per {reaction.seconds} s; nothing changed."
    return outcome.message.removeprefix("scale-out held: ")


def reaction_message(
    alarm: AlarmNotification,
    outcome: Outcome,
    *,
    reaction: Reaction | None = None,
    rule_name: str | None = None,
    until: int | None = None,
) -> Message:
    """The notice of one reaction: its numbers as facts (rule, target, desired before -> after,
    bounds, next action), why nothing was done as its text, the metric as small print."""
    result = outcome.result
    if reaction is not None:
        rule_name = reaction.rule_name
    title = _TITLE.get(result, "{alarm} {state}").format(
        alarm=alarm.AlarmName,
        state=alarm.NewStateValue,
        target=reaction.target_name if reaction is not None else "-",
        before=outcome.before,
        after=outcome.after,
        bound="min" if reaction is not None and reaction.direction == "in" else "max",
        env=reaction.env.name if reaction is not None else "-",
    )
    facts: list[tuple[str, str]] = []
    if rule_name:
        described = reaction.action.describe() if reaction is not None else None
        facts.append(("Rule", f"{rule_name}: {described or 'no action'}"))
    if reaction is not None and reaction.target is not None:
        facts.append(("Target", reaction.target_label))
    if outcome.before is not None and result != ActionResult.SCALED:
        facts.append(("Desired", f"{outcome.before} (unchanged)"))
    if outcome.bounds:
        facts.append(("Bounds", outcome.bounds))
    if until is not None:
        facts.append(("Next action", f"not before {iso(at(until))} (cooldown)"))
    reason = alarm.NewStateReason or "-"
    if len(reason) > REASON_SHOWN:
        reason = reason[: REASON_SHOWN - 1] + "…"
    facts.append(("Alarm reason", reason))
    return Message(
        title=title,
        text=_text(outcome, reaction),
        level=_LEVEL.get(result, "info"),
        facts=tuple(facts),
        context=(f"Metric: {alarm.metric_text()}",),
        summary=f"{title} ({outcome.bounds})" if outcome.bounds else "",
    )


def audit_skip(deps: Deps, alarm: AlarmNotification, reaction: Reaction, outcome: Outcome) -> None:
    """Audit a reaction that did nothing (at a bound, held, dropped)."""
    deps.store.audit(
        now=deps.clock(),
        actor=alarm.actor,
        action="alarm_reaction",
        environment=reaction.env.name,
        target=reaction.target_label,
        result=outcome.result,
        reason=f"{outcome.message} ({alarm.why})"[:800],
    )
