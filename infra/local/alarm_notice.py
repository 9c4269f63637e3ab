"""The SNS notification CloudWatch publishes when an alarm changes state (``alarm``).

The message as CloudWatch writes it for metric and metric-math alarms, and the state reason it
gives when the caller names none.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from infra.local.settings import REGION

REGION_NAMES = {
    "us-east-1": "US East (N. Virginia)",
    "us-west-2": "US West (Oregon)",
    "eu-west-1": "EU (Ireland)",
}


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


def default_reason(alarm: dict[str, Any], state: str, at: datetime) -> str:
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
