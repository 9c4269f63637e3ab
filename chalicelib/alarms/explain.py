"""What an alarm reaction did, and why, as a notification (and an audit entry for skips).

Notices that repeat within a cooldown window (the same "in cooldown" or "at max") are logged but
not posted again.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from chalicelib.aws.notifier import Message
from chalicelib.core.clock import iso
from chalicelib.core.observability import logger
from chalicelib.records.status import ActionResult

if TYPE_CHECKING:
    from chalicelib.alarms.notification import AlarmNotification
    from chalicelib.alarms.reaction import Reaction
    from chalicelib.deps import Deps
    from chalicelib.domain.actions import Outcome

_TITLE = {
    ActionResult.SCALED: "{alarm} {state}: {target} {before} -> {after}",
    ActionResult.FORCED: "{alarm} {state}: new deployment of {target}",
    ActionResult.AT_BOUND: "{alarm} {state}: {target} at its bound",
    ActionResult.COOLDOWN: "{alarm} {state}: in cooldown",
    ActionResult.HELD: "{alarm} {state}: scale-out of {target} held",
    ActionResult.BUSY: "{alarm} {state}: waiting for {target}",
    ActionResult.DROPPED: "{alarm} {state}: reaction dropped",
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
}


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
    if reaction is not None:
        rule_name = reaction.rule_name
    title = _TITLE.get(outcome.result, "{alarm} {state}").format(
        alarm=alarm.AlarmName,
        state=alarm.NewStateValue,
        target=reaction.target_name if reaction is not None else "-",
        before=outcome.before,
        after=outcome.after,
    )
    facts: list[tuple[str, str]] = [
        ("Metric", alarm.metric_text()),
        ("Reason", alarm.NewStateReason or "-"),
    ]
    if rule_name:
        described = reaction.action.describe() if reaction is not None else None
        facts.append(("Rule", f"{rule_name}: {described or 'no action'}"))
    facts.append(("Result", outcome.message))
    if until is not None:
        facts.append(("Next action", f"not before {iso(at(until))} (cooldown)"))
    deps.notifier.send(
        Message(
            title=title,
            text=outcome.message,
            level=_LEVEL.get(outcome.result, "info"),
            facts=tuple(facts),
        )
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
