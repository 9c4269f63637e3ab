"""CloudWatch: the demo alarms, whose actions publish to the alarms topic."""

from __future__ import annotations

from typing import Any

from infra.local.demo.names import CLUSTER, QUEUE_NAME


def seed_alarms(cloudwatch: Any, topic_arn: str) -> dict[str, str]:
    """Create web-cpu-high and workers-queue-deep; their ARNs keyed by name."""
    common: dict[str, Any] = {
        "AlarmActions": [topic_arn],
        "OKActions": [topic_arn],
        "ComparisonOperator": "GreaterThanThreshold",
        "Period": 60,
        "TreatMissingData": "missing",
    }
    cloudwatch.put_metric_alarm(
        AlarmName="web-cpu-high",
        AlarmDescription="web CPU above 80% for 3 minutes",
        Namespace="AWS/ECS",
        MetricName="CPUUtilization",
        Dimensions=[
            {"Name": "ClusterName", "Value": CLUSTER},
            {"Name": "ServiceName", "Value": "web"},
        ],
        Statistic="Average",
        EvaluationPeriods=3,
        Threshold=80.0,
        **common,
    )
    cloudwatch.put_metric_alarm(
        AlarmName="workers-queue-deep",
        AlarmDescription=f"{QUEUE_NAME} has more than 100 visible messages for 2 minutes",
        Namespace="AWS/SQS",
        MetricName="ApproximateNumberOfMessagesVisible",
        Dimensions=[{"Name": "QueueName", "Value": QUEUE_NAME}],
        Statistic="Maximum",
        EvaluationPeriods=2,
        Threshold=100.0,
        **common,
    )
    alarms = cloudwatch.describe_alarms(AlarmNames=["web-cpu-high", "workers-queue-deep"])
    return {
        f"alarm_{a['AlarmName'].replace('-', '_')}_arn": a["AlarmArn"]
        for a in alarms["MetricAlarms"]
    }
