"""CloudWatch alarm notifications as CloudWatch publishes them to SNS: the event model.

Metric, metric-math and composite alarms; ``parse_notification`` says why a message is not one.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import AliasChoices, Field

from chalicelib.domain.base import LooseModel


class Dimension(LooseModel):
    """A metric dimension as CloudWatch writes it in notifications (lower-case keys; the API's
    capitalised ``Name``/``Value`` are accepted too)."""

    name: str = Field(validation_alias=AliasChoices("name", "Name"))
    value: str = Field(validation_alias=AliasChoices("value", "Value"))


class MetricSpec(LooseModel):
    """The metric inside a metric-math alarm's MetricStat."""

    MetricName: str | None = None
    Namespace: str | None = None
    Dimensions: list[Dimension] = []


class MathMetricStat(LooseModel):
    """One metric of a metric-math alarm."""

    Metric: MetricSpec


class MathMetric(LooseModel):
    """An entry of a metric-math alarm's Trigger.Metrics."""

    Id: str
    Expression: str | None = None
    Label: str | None = None
    MetricStat: MathMetricStat | None = None
    ReturnData: bool | None = None


class AlarmTrigger(LooseModel):
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


class AlarmNotification(LooseModel):
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

    @property
    def actor(self) -> str:
        """Who acts on this notification, in the audit trail: ``alarm:NAME``."""
        return f"alarm:{self.AlarmName}"

    @property
    def delivery_key(self) -> dict[str, str]:
        """What makes two deliveries the same state change: alarm ARN, new state, change time."""
        arn = self.AlarmArn or f"{self.AWSAccountId}:{self.Region or '-'}:{self.AlarmName}"
        return {"alarm": arn, "state": self.NewStateValue, "at": self.StateChangeTime}

    @property
    def why(self) -> str:
        """The state change in one line (what the audit and cooldown notes give as the reason)."""
        return f"{self.AlarmName} {self.NewStateValue}: {self.NewStateReason}"[:500]


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
