"""The local control commands: drive a running local stack (``python -m infra.local ...``)."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from infra.local.seed import spend_amount
from infra.local.stack import REGION, ROOT, aws_env, pid_alive

REGION_NAMES = {
    "us-east-1": "US East (N. Virginia)",
    "us-west-2": "US West (Oregon)",
    "eu-west-1": "EU (Ireland)",
}


class ControlError(Exception):
    """A control command could not do what was asked."""


def stack_info() -> dict[str, Any]:
    """What the running stack wrote about itself."""
    state = Path(os.environ.get("OPSBOT_LOCAL_DIR", str(ROOT / ".opsbot" / "local"))) / "stack.json"
    try:
        info = dict(json.loads(state.read_text()))
    except FileNotFoundError:
        raise ControlError(
            f"no local stack is running ({state} is missing): start it with `make run`"
        ) from None
    if not pid_alive(int(info.get("pid", 0))):
        raise ControlError(
            f"the local stack that wrote {state} (pid {info.get('pid')}) is not running: "
            "start it with `make run`"
        )
    return info


def _use_stack(info: dict[str, Any]) -> None:
    os.environ.update(info["app_env"])
    os.environ.update(aws_env(info["aws_endpoint"]))


def _client(service: str) -> Any:
    import boto3

    return boto3.client(service, region_name=REGION)  # type: ignore[call-overload]


def _post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return dict(json.loads(resp.read()))
    except urllib.error.HTTPError as exc:
        raise ControlError(json.loads(exc.read() or b"{}").get("error", str(exc))) from None
    except urllib.error.URLError as exc:
        raise ControlError(f"the local stack does not answer at {url}: {exc.reason}") from None


def _notified_metric(metric: dict[str, Any]) -> dict[str, Any]:
    """A metric-math entry as CloudWatch writes it in notifications: lower-case dimension keys."""
    out = json.loads(json.dumps(metric, default=str))
    spec = (out.get("MetricStat") or {}).get("Metric")
    if spec and "Dimensions" in spec:
        spec["Dimensions"] = [{"value": d["Value"], "name": d["Name"]} for d in spec["Dimensions"]]
    return dict(out)


def _cw_time(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}+0000"


def alarm_notification(
    alarm: dict[str, Any], *, old_state: str, new_state: str, reason: str, at: datetime
) -> tuple[str, dict[str, Any]]:
    """(Subject, Message) of the SNS notification CloudWatch publishes for a metric alarm."""
    region_name = REGION_NAMES.get(REGION, REGION)
    message: dict[str, Any] = {
        "AlarmName": alarm["AlarmName"],
        "AlarmDescription": alarm.get("AlarmDescription"),
        "AWSAccountId": alarm["AlarmArn"].split(":")[4],
        "AlarmConfigurationUpdatedTimestamp": _cw_time(alarm["AlarmConfigurationUpdatedTimestamp"]),
        "NewStateValue": new_state,
        "NewStateReason": reason,
        "StateChangeTime": _cw_time(at),
        "Region": region_name,
        "AlarmArn": alarm["AlarmArn"],
        "OldStateValue": old_state,
        "OKActions": alarm.get("OKActions", []),
        "AlarmActions": alarm.get("AlarmActions", []),
        "InsufficientDataActions": alarm.get("InsufficientDataActions", []),
    }
    if alarm.get("Metrics"):
        message["Trigger"] = {
            "Period": alarm.get("Period", 60),
            "EvaluationPeriods": alarm["EvaluationPeriods"],
            "DatapointsToAlarm": alarm.get("DatapointsToAlarm", alarm["EvaluationPeriods"]),
            "ComparisonOperator": alarm["ComparisonOperator"],
            "Threshold": float(alarm.get("Threshold", 0)),
            "TreatMissingData": alarm.get("TreatMissingData", "missing"),
            "EvaluateLowSampleCountPercentile": "",
            "Metrics": [_notified_metric(m) for m in alarm["Metrics"]],
        }
    else:
        message["Trigger"] = {
            "MetricName": alarm["MetricName"],
            "Namespace": alarm["Namespace"],
            "StatisticType": "ExtendedStatistic" if alarm.get("ExtendedStatistic") else "Statistic",
            "Statistic": (alarm.get("Statistic") or alarm.get("ExtendedStatistic", "")).upper(),
            "Unit": alarm.get("Unit"),
            "Dimensions": [
                {"value": d["Value"], "name": d["Name"]} for d in alarm.get("Dimensions", [])
            ],
            "Period": alarm["Period"],
            "EvaluationPeriods": alarm["EvaluationPeriods"],
            "DatapointsToAlarm": alarm.get("DatapointsToAlarm", alarm["EvaluationPeriods"]),
            "ComparisonOperator": alarm["ComparisonOperator"],
            "Threshold": float(alarm["Threshold"]),
            "TreatMissingData": alarm.get("TreatMissingData", "missing"),
            "EvaluateLowSampleCountPercentile": "",
        }
    subject = f'{new_state}: "{alarm["AlarmName"]}" in {region_name}'
    return subject[:100], message


_COMPARISON = {
    "GreaterThanThreshold": "greater than",
    "GreaterThanOrEqualToThreshold": "greater than or equal to",
    "LessThanThreshold": "less than",
    "LessThanOrEqualToThreshold": "less than or equal to",
}


def _default_reason(alarm: dict[str, Any], state: str, at: datetime) -> str:
    n = alarm.get("EvaluationPeriods", 1)
    threshold = float(alarm.get("Threshold", 0))
    stamp = at.strftime("%d/%m/%y %H:%M:%S")
    if state == "ALARM":
        value = threshold * 1.2 + 1
        cmp = _COMPARISON.get(alarm.get("ComparisonOperator", ""), "beyond")
        points = ", ".join([f"{value:.1f} ({stamp})"] * n)
        return (
            f"Threshold Crossed: {n} out of the last {n} datapoints [{points}] were {cmp} the "
            f"threshold ({threshold}) (minimum {n} datapoint(s) for OK -> ALARM transition)."
        )
    if state == "OK":
        value = threshold * 0.5
        return (
            f"Threshold Crossed: 1 datapoint [{value:.1f} ({stamp})] was not greater than the "
            f"threshold ({threshold})."
        )
    return "Insufficient Data: 1 datapoint was unknown."


def alarm(name: str, state: str, *, reason: str | None = None) -> str:
    """Set an alarm's state and publish CloudWatch's notification to the actions of that state."""
    _use_stack(stack_info())
    cloudwatch = _client("cloudwatch")
    found = cloudwatch.describe_alarms(
        AlarmNames=[name], AlarmTypes=["CompositeAlarm", "MetricAlarm"]
    )
    alarms = found.get("MetricAlarms", []) + found.get("CompositeAlarms", [])
    if not alarms:
        raise ControlError(f"no alarm named {name!r}")
    current = alarms[0]
    at = datetime.now(UTC)
    why = reason or _default_reason(current, state, at)
    cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason=why)
    actions = {
        "ALARM": "AlarmActions",
        "OK": "OKActions",
        "INSUFFICIENT_DATA": "InsufficientDataActions",
    }
    targets = [a for a in current.get(actions[state], []) if ":sns:" in a]
    subject, message = alarm_notification(
        current,
        old_state=current.get("StateValue", "INSUFFICIENT_DATA"),
        new_state=state,
        reason=why,
        at=at,
    )
    sns = _client("sns")
    for topic in targets:
        sns.publish(TopicArn=topic, Subject=subject, Message=json.dumps(message))
    where = ", ".join(t.rsplit(":", 1)[-1] for t in targets) or "no SNS action"
    return f"{name}: {current.get('StateValue')} -> {state}; notified {where}"


def tick(name: str) -> str:
    """Run one scheduled handler once, in this process, against the running stack."""
    import sys

    from infra.local import slack_relay

    info = stack_info()
    _use_stack(info)
    slack_relay.install(info["sink_url"])
    sys.path.insert(0, str(ROOT))
    from app import app as chalice_app
    from infra.local.event_sources import run_scheduled

    try:
        result = run_scheduled(chalice_app, name, REGION)
    except LookupError as exc:
        raise ControlError(str(exc)) from None
    return f"ran {name}: {json.dumps(result, default=str)}"


def spend(budget: str, amount: float) -> str:
    """Set a budget's actual spend in the embedded AWS."""
    try:
        amount = spend_amount(amount)
    except ValueError as exc:
        raise ControlError(str(exc)) from None
    info = stack_info()
    return str(
        _post(f"{info['sink_url']}/_control/spend", {"budget": budget, "amount": amount})["message"]
    )


def rollout_fail(service: str, *, cluster: str = "demo") -> str:
    """Make the next rollout of a service fail as the ECS circuit breaker reports it."""
    info = stack_info()
    body = {"service": service, "cluster": cluster}
    return str(_post(f"{info['sink_url']}/_control/rollout-fail", body)["message"])
