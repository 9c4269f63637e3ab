"""Alarm reactions: CloudWatch alarm notifications in, bounded and cooled-down actions out.

For each notification: find the rules that match it (name or glob, namespace, dimensions, and
the account of the rule's environment); ALARM runs the rule's action, OK its recovery action,
INSUFFICIENT_DATA only notifies. A scaling action checks, in this order:

1. bounds: at a bound nothing changes (the notification says which bound and where it is from);
2. cooldown: one action per (rule, target, direction) per window, claimed with a conditional write,
   so a burst or a flapping alarm causes at most one action per direction per window;
3. guard: a scale-out may be held (guards.check_scale_out);
4. lock: the target's lock, shared with deploys. If a deploy holds it, the reaction WAITS: it is
   retried every 30 s from the work queue, for as long as the alarm stays in that state.

Every outcome is explained in a notification. Notices that repeat within a cooldown window
(the same "in cooldown" or "at max") are logged but not posted again.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Literal

from pydantic import AliasChoices, Field

from chalicelib.aws.notifier import Message
from chalicelib.core.observability import count, logger
from chalicelib.domain.actions import Action, Outcome
from chalicelib.domain.base import LooseModel as _Loose

if TYPE_CHECKING:
    from chalicelib.deps import Deps
    from chalicelib.domain.policy import AlarmRule, Environment

RETRY_DELAY_SECONDS = 30
MAX_RETRIES = 40  # 20 minutes: longer than a deploy's default timeout


class Dimension(_Loose):
    """A metric dimension as CloudWatch writes it in notifications (lower-case keys; the API's
    capitalised ``Name``/``Value`` are accepted too)."""

    name: str = Field(validation_alias=AliasChoices("name", "Name"))
    value: str = Field(validation_alias=AliasChoices("value", "Value"))


class MetricSpec(_Loose):
    """The metric inside a metric-math alarm's MetricStat."""

    MetricName: str | None = None
    Namespace: str | None = None
    Dimensions: list[Dimension] = []


class MathMetricStat(_Loose):
    """One metric of a metric-math alarm."""

    Metric: MetricSpec


class MathMetric(_Loose):
    """An entry of a metric-math alarm's Trigger.Metrics."""

    Id: str
    Expression: str | None = None
    Label: str | None = None
    MetricStat: MathMetricStat | None = None
    ReturnData: bool | None = None


class AlarmTrigger(_Loose):
    """What the alarm watches."""

    MetricName: str | None = None
    Namespace: str | None = None
    Statistic: str | None = None
    ExtendedStatistic: str | None = None
    Dimensions: list[Dimension] = []
    Period: int | None = None
    EvaluationPeriods: int | None = None
    ComparisonOperator: str | None = None
    Threshold: float | None = None
    Metrics: list[MathMetric] = []


State = Literal["ALARM", "OK", "INSUFFICIENT_DATA"]


class AlarmNotification(_Loose):
    """The JSON CloudWatch publishes to SNS for a metric, metric-math or composite alarm."""

    AlarmName: str = Field(min_length=1)
    AlarmDescription: str | None = None
    AWSAccountId: str
    NewStateValue: State
    OldStateValue: str | None = None
    NewStateReason: str = ""
    StateChangeTime: str
    Region: str | None = None
    AlarmArn: str | None = None
    Trigger: AlarmTrigger | None = None
    AlarmRule: str | None = None  # composite alarms

    @property
    def kind(self) -> str:
        """'composite', 'metric-math' or 'metric'."""
        if self.AlarmRule is not None:
            return "composite"
        if self.Trigger is not None and self.Trigger.Metrics:
            return "metric-math"
        return "metric"

    def _metric(self) -> tuple[str | None, str | None, list[Dimension]]:
        trigger = self.Trigger
        if trigger is None:
            return None, None, []
        if trigger.MetricName or trigger.Namespace:
            return trigger.Namespace, trigger.MetricName, trigger.Dimensions
        for metric in trigger.Metrics:
            if metric.MetricStat is not None:
                spec = metric.MetricStat.Metric
                return spec.Namespace, spec.MetricName, spec.Dimensions
        return None, None, []

    @property
    def namespace(self) -> str | None:
        """The namespace of the (first) metric the alarm watches."""
        return self._metric()[0]

    @property
    def dimensions(self) -> dict[str, str]:
        """The dimensions of the (first) metric the alarm watches."""
        return {d.name: d.value for d in self._metric()[2]}

    def metric_text(self) -> str:
        """A one-line description of what the alarm watches."""
        if self.kind == "composite":
            return f"composite: {self.AlarmRule}"
        trigger = self.Trigger
        namespace, name, dims = self._metric()
        dim_text = ", ".join(f"{d.name}={d.value}" for d in dims)
        text = f"{namespace} {name}" + (f" {{{dim_text}}}" if dim_text else "")
        if self.kind == "metric-math":
            exprs = [m.Expression for m in trigger.Metrics if m.Expression] if trigger else []
            text = f"{' / '.join(e for e in exprs if e)} over {text}"
        if trigger and trigger.ComparisonOperator and trigger.Threshold is not None:
            text += f" {trigger.ComparisonOperator} {trigger.Threshold:g}"
        return text


def parse_notification(message: str) -> AlarmNotification:
    """Parse the SNS Message of a CloudWatch alarm; ValueError says why it is not one."""
    from pydantic import ValidationError

    try:
        data = json.loads(message)
    except ValueError:
        raise ValueError("the SNS message is not JSON") from None
    if not isinstance(data, dict):
        raise ValueError("the SNS message is not a JSON object")
    try:
        return AlarmNotification.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'message'}: {e['msg']}" for e in exc.errors()
        )
        raise ValueError(f"not a CloudWatch alarm notification: {problems}") from None


def matching_rules(deps: Deps, alarm: AlarmNotification) -> list[tuple[str, AlarmRule]]:
    """Rules that match the alarm, in policy order."""
    found = []
    for name, rule in deps.policy.alarm_rules.items():
        env = deps.policy.environments[rule.environment]
        if env.account != alarm.AWSAccountId:
            continue
        if rule.matches(
            name=alarm.AlarmName, namespace=alarm.namespace, dimensions=alarm.dimensions
        ):
            found.append((name, rule))
    return found


def handle_notification(deps: Deps, alarm: AlarmNotification, *, attempt: int = 0) -> list[Outcome]:
    """React to one alarm notification; the outcome of every matching rule."""
    logger().set_correlation_id(f"alarm:{alarm.AlarmName}")
    count("AlarmNotifications", state=alarm.NewStateValue)
    rules = matching_rules(deps, alarm)
    if not rules:
        logger().info("no rule matches this alarm", extra={"alarm": alarm.AlarmName})
        _explain(
            deps, alarm, None, None, Outcome("notified", "no alarm rule matches it; nothing done")
        )
        return []
    return [react(deps, alarm, name, rule, attempt=attempt) for name, rule in rules]


def react(
    deps: Deps, alarm: AlarmNotification, rule_name: str, rule: AlarmRule, *, attempt: int = 0
) -> Outcome:
    """Run one rule's action (ALARM) or recovery (OK) for one notification."""
    env = deps.policy.environments[rule.environment]
    spec = (
        rule.on_alarm
        if alarm.NewStateValue == "ALARM"
        else rule.on_ok
        if alarm.NewStateValue == "OK"
        else None
    )
    if spec is None:
        what = (
            "no recovery action configured"
            if alarm.NewStateValue == "OK"
            else "data is insufficient"
        )
        outcome = Outcome("notified", f"{what}; nothing done")
        _explain(deps, alarm, rule_name, None, outcome)
        return outcome
    action = spec.build()
    direction = _direction(action, alarm)
    key = _key(rule_name, env.name, action, direction)
    actor = f"alarm:{alarm.AlarmName}"
    why = f"{alarm.AlarmName} {alarm.NewStateValue}: {alarm.NewStateReason}"[:500]
    seconds = rule.cooldown.seconds(direction)

    def skip(outcome: Outcome, *, audited: bool = True) -> Outcome:
        """A reaction that does nothing: audit it, and say so once per window."""
        if audited:
            _audit_skip(deps, env, actor, action.target(), outcome, why)
        _explain(
            deps,
            alarm,
            rule_name,
            action,
            outcome,
            notice_key=f"{key}#{outcome.result}",
            window=seconds,
        )
        return outcome

    plan = action.plan(deps, env)
    if plan is not None and plan.after == plan.before:
        bound = "max" if action.direction() == "out" else "min"
        return skip(
            Outcome(
                "at_bound",
                f"{plan.target.split(':', 1)[1]} is at its {bound} "
                f"({plan.before}; bounds {plan.bounds.min}..{plan.bounds.max} from "
                f"{plan.bounds.source}); nothing changed",
                plan.before,
                plan.before,
            )
        )
    claimed, until = deps.store.claim_cooldown(key, seconds=seconds, now=deps.clock(), note=why)
    if not claimed:
        from chalicelib.deploys import iso

        before = plan.before if plan else None
        count("AlarmActionsSuppressed", rule=rule_name)
        return skip(
            Outcome(
                "cooldown",
                f"in cooldown until {iso(_at(until))} (one {direction} action per "
                f"{seconds} s); nothing changed",
                before,
                before,
            ),
            audited=False,
        )
    if plan is not None and action.direction() == "out":
        from chalicelib import guards

        held = guards.check_scale_out(deps, env, plan)
        if held is not None:
            _release(deps, key, seconds)
            return skip(Outcome("held", f"scale-out held: {held}", plan.before, plan.before))
    try:
        outcome = action.apply(deps, env, actor=actor, why=why)
    except Exception:
        _release(deps, key, seconds)
        raise
    if outcome.result == "busy":
        _release(deps, key, seconds)
        _wait_for_lock(deps, alarm, rule_name, action, outcome, attempt, key)
        return outcome
    if attempt > 0:  # a waiting chain ends here
        deps.store.release_cooldown(f"wait#{key}")
    if outcome.result == "at_bound":  # moved while we looked: give the window back
        _release(deps, key, seconds)
    count("AlarmActions", rule=rule_name, result=outcome.result)
    _explain(
        deps,
        alarm,
        rule_name,
        action,
        outcome,
        until=until if outcome.result != "at_bound" and seconds > 0 else None,
    )
    return outcome


def _direction(action: Action, alarm: AlarmNotification) -> str:
    return str(action.direction()) if action.direction() != "none" else alarm.NewStateValue.lower()


def _key(rule_name: str, env_name: str, action: Action, direction: str) -> str:
    """The cooldown key of one (rule, target, direction)."""
    return f"{rule_name}#{env_name}#{action.target()}#{direction}"


def _release(deps: Deps, key: str, seconds: int) -> None:
    if seconds > 0:
        deps.store.release_cooldown(key)


def _at(epoch: int) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC)


def _audit_skip(
    deps: Deps, env: Environment, actor: str, target: str, outcome: Outcome, why: str
) -> None:
    deps.store.audit(
        now=deps.clock(),
        actor=actor,
        action="alarm_reaction",
        environment=env.name,
        target=f"{env.name}/{target.split(':', 1)[-1]}",
        result=outcome.result,
        reason=f"{outcome.message} ({why})"[:800],
    )


def _wait_for_lock(
    deps: Deps,
    alarm: AlarmNotification,
    rule_name: str,
    action: Action,
    outcome: Outcome,
    attempt: int,
    key: str,
) -> None:
    from chalicelib.domain.messages import AlarmRetry

    # One waiting chain per (rule, target, direction): duplicates of the notification that
    # arrive while it waits are dropped here instead of each starting a chain of their own.
    wait_key, window = f"wait#{key}", 3 * RETRY_DELAY_SECONDS
    if attempt == 0:
        fresh, _ = deps.store.claim_cooldown(wait_key, seconds=window, now=deps.clock())
        if not fresh:
            logger().info(
                "a reaction is already waiting for this target; duplicate dropped",
                extra={"alarm": alarm.AlarmName, "rule": rule_name},
            )
            return
    else:
        deps.store.release_cooldown(wait_key)
        deps.store.claim_cooldown(wait_key, seconds=window, now=deps.clock())
    if attempt >= MAX_RETRIES:
        deps.store.release_cooldown(wait_key)
        _explain(
            deps,
            alarm,
            rule_name,
            action,
            Outcome("busy", f"{outcome.message}; gave up after {attempt} retries"),
        )
        return
    deps.queue.send(
        AlarmRetry(rule=rule_name, attempt=attempt + 1, notification=alarm.model_dump_json()),
        delay_seconds=RETRY_DELAY_SECONDS,
    )
    if attempt == 0:
        _explain(
            deps,
            alarm,
            rule_name,
            action,
            Outcome(
                "busy",
                f"{outcome.message}; will act when it has finished "
                f"(retrying every {RETRY_DELAY_SECONDS} s while the alarm stays "
                f"{alarm.NewStateValue})",
            ),
        )


def retry(deps: Deps, *, rule_name: str, notification: str, attempt: int) -> Outcome | None:
    """A reaction that waited for a lock: act now if the alarm is still in the same state."""
    alarm = AlarmNotification.model_validate_json(notification)
    rule = deps.policy.alarm_rules.get(rule_name)
    if rule is None:
        logger().warning(
            "alarm retry for a rule no longer in the policy", extra={"rule": rule_name}
        )
        return None
    env = deps.policy.environments[rule.environment]
    found = deps.aws("cloudwatch", env).describe_alarms(
        AlarmNames=[alarm.AlarmName], AlarmTypes=["CompositeAlarm", "MetricAlarm"]
    )
    alarms = found.get("MetricAlarms", []) + found.get("CompositeAlarms", [])
    if alarms and alarms[0].get("StateValue") != alarm.NewStateValue:
        logger().info(
            "alarm changed state while waiting; reaction dropped",
            extra={"alarm": alarm.AlarmName, "now": alarms[0].get("StateValue")},
        )
        spec = rule.on_alarm if alarm.NewStateValue == "ALARM" else rule.on_ok
        if spec is not None:  # end the chain: a new notification may wait again at once
            action = spec.build()
            key = _key(rule_name, env.name, action, _direction(action, alarm))
            deps.store.release_cooldown(f"wait#{key}")
            outcome = Outcome(
                "dropped",
                f"the alarm is {alarms[0].get('StateValue')} now; the reaction that waited for "
                f"{action.target().split(':', 1)[-1]} was dropped",
            )
            why = f"{alarm.AlarmName} {alarm.NewStateValue}: {alarm.NewStateReason}"[:500]
            _audit_skip(deps, env, f"alarm:{alarm.AlarmName}", action.target(), outcome, why)
            _explain(deps, alarm, rule_name, action, outcome)
        return None
    return react(deps, alarm, rule_name, rule, attempt=attempt)


_TITLE = {
    "scaled": "{alarm} {state}: {target} {before} -> {after}",
    "forced": "{alarm} {state}: new deployment of {target}",
    "at_bound": "{alarm} {state}: {target} at its bound",
    "cooldown": "{alarm} {state}: in cooldown",
    "held": "{alarm} {state}: scale-out of {target} held",
    "busy": "{alarm} {state}: waiting for {target}",
    "dropped": "{alarm} {state}: reaction dropped",
    "notified": "{alarm} {state}",
}
_LEVEL = {
    "scaled": "warning",
    "forced": "warning",
    "notified": "info",
    "at_bound": "warning",
    "cooldown": "info",
    "held": "warning",
    "busy": "info",
}


def _explain(
    deps: Deps,
    alarm: AlarmNotification,
    rule_name: str | None,
    action: Action | None,
    outcome: Outcome,
    *,
    notice_key: str | None = None,
    window: int = 0,
    until: int | None = None,
) -> None:
    """Post what happened and why; repeats of a notice inside its window are only logged."""
    if notice_key is not None and window > 0:
        fresh, _ = deps.store.claim_cooldown(
            f"notice#{notice_key}", seconds=window, now=deps.clock()
        )
        if not fresh:
            logger().info(
                "notice suppressed (already posted in this window)",
                extra={"alarm": alarm.AlarmName, "result": outcome.result},
            )
            return
    described = action.describe() if action is not None else None
    target = action.target().split(":", 1)[-1] if action is not None else "-"
    title = _TITLE.get(outcome.result, "{alarm} {state}").format(
        alarm=alarm.AlarmName,
        state=alarm.NewStateValue,
        target=target,
        before=outcome.before,
        after=outcome.after,
    )
    facts: list[tuple[str, str]] = [
        ("Metric", alarm.metric_text()),
        ("Reason", alarm.NewStateReason or "-"),
    ]
    if rule_name:
        facts.append(("Rule", f"{rule_name}: {described or 'no action'}"))
    facts.append(("Result", outcome.message))
    if until is not None:
        from chalicelib.deploys import iso

        facts.append(("Next action", f"not before {iso(_at(until))} (cooldown)"))
    deps.notifier.send(
        Message(
            title=title,
            text=outcome.message,
            level=_LEVEL.get(outcome.result, "info"),
            facts=tuple(facts),
        )
    )


def handle_sns_event(deps: Deps, event: dict[str, Any]) -> dict[str, Any]:
    """Every record of an SNS Lambda event: react, or log why the message was not an alarm."""
    results: list[dict[str, Any]] = []
    for record in event.get("Records", []):
        sns = record.get("Sns") or {}
        message_id = sns.get("MessageId", "?")
        try:
            alarm = parse_notification(sns.get("Message", ""))
        except ValueError as exc:
            logger().error(
                "malformed alarm notification skipped",
                extra={"sns_message_id": message_id, "reason": str(exc)},
            )
            count("MalformedAlarmNotifications")
            results.append({"message_id": message_id, "result": "malformed", "reason": str(exc)})
            continue
        outcomes = handle_notification(deps, alarm)
        results.append(
            {
                "message_id": message_id,
                "alarm": alarm.AlarmName,
                "results": [o.result for o in outcomes],
            }
        )
    return {"records": results}
