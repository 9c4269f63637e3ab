"""Alarm notifications, alarm rules, cooldowns and the action registry: the pure parts of alarm
reactions (bounds are in test_scaling.py)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from chalicelib.alarms import AlarmNotification, parse_notification
from chalicelib.core.errors import PolicyError
from chalicelib.domain.actions import REGISTRY, valid_names
from chalicelib.domain.alarm_rule import AlarmRule, Cooldown
from chalicelib.domain.policy import parse_policy

EVENTS = Path(__file__).resolve().parents[1] / "events"


def sample_event(name: str) -> dict[str, Any]:
    """A Lambda SNS event from tests/events."""
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event


def sample_message(name: str) -> str:
    """The Sns.Message (CloudWatch's JSON string) of a sample's only record."""
    message: str = sample_event(name)["Records"][0]["Sns"]["Message"]
    return message


def sample_alarm(name: str) -> AlarmNotification:
    return parse_notification(sample_message(name))


# -- the samples themselves --------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "sns-alarm-metric.json",
        "sns-alarm-metric-math.json",
        "sns-alarm-composite.json",
        "sns-alarm-ok.json",
    ],
)
def test_samples_are_lambda_sns_events_carrying_a_json_string(name: str) -> None:
    event = sample_event(name)
    [record] = event["Records"]
    assert record["EventSource"] == "aws:sns"
    assert record["EventVersion"] == "1.0"
    sns = record["Sns"]
    assert sns["Type"] == "Notification"
    assert sns["TopicArn"] == "arn:aws:sns:us-east-1:123456789012:opsbot-alarms"
    assert record["EventSubscriptionArn"].startswith(sns["TopicArn"] + ":")
    assert {"MessageId", "Subject", "Timestamp", "SigningCertUrl", "UnsubscribeUrl"} <= set(sns)
    assert isinstance(sns["Message"], str)  # a JSON document inside a string, as SNS sends it
    message = json.loads(sns["Message"])
    assert sns["Subject"] == (
        f'{message["NewStateValue"]}: "{message["AlarmName"]}" in US East (N. Virginia)'
    )
    assert message["AlarmArn"].endswith(f":alarm:{message['AlarmName']}")


# -- parse_notification ------------------------------------------------------------------------


def test_metric_alarm_notification() -> None:
    alarm = sample_alarm("sns-alarm-metric.json")
    assert alarm.kind == "metric"
    assert alarm.AlarmName == "web-cpu-high"
    assert alarm.AWSAccountId == "123456789012"
    assert alarm.NewStateValue == "ALARM"
    assert alarm.OldStateValue == "OK"
    assert alarm.namespace == "AWS/ECS"
    assert alarm.dimensions == {"ClusterName": "demo", "ServiceName": "web"}
    assert alarm.metric_text() == (
        "AWS/ECS CPUUtilization {ClusterName=demo, ServiceName=web} GreaterThanThreshold 80"
    )


def test_metric_math_alarm_notification() -> None:
    alarm = sample_alarm("sns-alarm-metric-math.json")
    assert alarm.kind == "metric-math"
    # the first metric with a MetricStat stands for the alarm's namespace and dimensions
    assert alarm.namespace == "AWS/ApplicationELB"
    assert alarm.dimensions == {"LoadBalancer": "app/demo-alb/50dc6c495c0c9188"}
    assert alarm.metric_text() == (
        "100 * errors / requests over AWS/ApplicationELB HTTPCode_Target_5XX_Count "
        "{LoadBalancer=app/demo-alb/50dc6c495c0c9188} GreaterThanThreshold 5"
    )


def test_composite_alarm_notification() -> None:
    alarm = sample_alarm("sns-alarm-composite.json")
    assert alarm.kind == "composite"
    assert alarm.Trigger is None
    assert alarm.namespace is None
    assert alarm.dimensions == {}
    assert alarm.metric_text() == 'composite: ALARM("web-cpu-high") AND ALARM("web-5xx-rate")'
    # fields the model does not declare are kept, not rejected
    children = (alarm.model_extra or {})["TriggeringChildren"]
    assert children[0]["State"]["Value"] == "ALARM"


def test_ok_notification() -> None:
    alarm = sample_alarm("sns-alarm-ok.json")
    assert alarm.kind == "metric"
    assert alarm.NewStateValue == "OK"
    assert alarm.OldStateValue == "ALARM"
    assert alarm.dimensions == {"ClusterName": "demo", "ServiceName": "web"}


def test_local_stack_notification_parses_like_the_sample() -> None:
    """infra/local/alarm_notice.py's notification (what `alarm NAME ALARM` sends) parses alike."""
    from infra.local.alarm_notice import alarm_notification

    described = {
        "AlarmName": "web-cpu-high",
        "AlarmArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:web-cpu-high",
        "AlarmDescription": "web CPU above 80% for 3 minutes",
        "AlarmConfigurationUpdatedTimestamp": datetime(2026, 11, 19, 16, 2, 11, tzinfo=UTC),
        "Namespace": "AWS/ECS",
        "MetricName": "CPUUtilization",
        "Dimensions": [
            {"Name": "ClusterName", "Value": "demo"},
            {"Name": "ServiceName", "Value": "web"},
        ],
        "Statistic": "Average",
        "Period": 60,
        "EvaluationPeriods": 3,
        "ComparisonOperator": "GreaterThanThreshold",
        "Threshold": 80.0,
    }
    subject, message = alarm_notification(
        described,
        old_state="OK",
        new_state="ALARM",
        reason="Threshold Crossed",
        at=datetime(2026, 11, 20, 9, 15, 2, tzinfo=UTC),
    )
    assert subject == 'ALARM: "web-cpu-high" in US East (N. Virginia)'
    local = parse_notification(json.dumps(message))
    sample = sample_alarm("sns-alarm-metric.json")
    assert set(message) == set(json.loads(sample_message("sns-alarm-metric.json")))
    assert (local.kind, local.namespace, local.dimensions, local.metric_text()) == (
        sample.kind,
        sample.namespace,
        sample.dimensions,
        sample.metric_text(),
    )


def _message(**changes: Any) -> str:
    data = json.loads(sample_message("sns-alarm-metric.json"))
    for key, value in changes.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    return json.dumps(data)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("not json", "the SNS message is not JSON"),
        ("", "the SNS message is not JSON"),
        ('[{"AlarmName": "web-cpu-high"}]', "the SNS message is not a JSON object"),
        ('"ALARM"', "the SNS message is not a JSON object"),
        (_message(AlarmName=None), "AlarmName: Field required"),
        (_message(AlarmName=""), "AlarmName: String should have at least 1 character"),
        (_message(NewStateValue="PANIC"), "NewStateValue: Input should be 'ALARM', 'OK' or"),
        (_message(AWSAccountId=None), "AWSAccountId: Field required"),
    ],
    ids=[
        "not-json",
        "empty",
        "json-array",
        "json-string",
        "missing-alarm-name",
        "empty-alarm-name",
        "bad-state",
        "missing-account",
    ],
)
def test_parse_errors_say_why(message: str, expected: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_notification(message)
    assert expected in str(info.value)
    if expected.startswith(("AlarmName", "NewStateValue", "AWSAccountId")):
        assert str(info.value).startswith("not a CloudWatch alarm notification: ")


def test_parse_error_lists_every_problem() -> None:
    with pytest.raises(ValueError) as info:
        parse_notification(_message(AlarmName=None, NewStateValue="PANIC"))
    assert "AlarmName" in str(info.value)
    assert "NewStateValue" in str(info.value)


# -- AlarmRule.matches -------------------------------------------------------------------------

ON_ALARM = {"action": "scale_ecs_service", "service": "web", "step": 1}
WEB_DIMS = {"ClusterName": "demo", "ServiceName": "web"}


def rule(**fields: Any) -> AlarmRule:
    return AlarmRule.model_validate(
        {"alarm": "web-cpu-high", "environment": "demo", "on_alarm": ON_ALARM, **fields}
    )


def test_rule_matches_exact_name() -> None:
    r = rule()
    assert r.matches(name="web-cpu-high", namespace="AWS/ECS", dimensions=WEB_DIMS)
    assert not r.matches(name="web-cpu-high-2", namespace="AWS/ECS", dimensions=WEB_DIMS)
    assert not r.matches(name="WEB-CPU-HIGH", namespace="AWS/ECS", dimensions=WEB_DIMS)


def test_rule_matches_glob() -> None:
    r = rule(alarm="web-*")
    assert r.matches(name="web-cpu-high", namespace=None, dimensions={})
    assert r.matches(name="web-5xx-rate", namespace=None, dimensions={})
    assert not r.matches(name="api-cpu-high", namespace=None, dimensions={})
    assert rule(alarm="*-cpu-?igh").matches(name="api-cpu-high", namespace=None, dimensions={})


def test_rule_namespace() -> None:
    r = rule(namespace="AWS/ECS")
    assert r.matches(name="web-cpu-high", namespace="AWS/ECS", dimensions={})
    assert not r.matches(name="web-cpu-high", namespace="AWS/EC2", dimensions={})
    assert not r.matches(name="web-cpu-high", namespace=None, dimensions={})  # composite
    assert rule().matches(name="web-cpu-high", namespace="anything", dimensions={})


def test_rule_dimensions_are_a_subset() -> None:
    r = rule(dimensions={"ServiceName": "web"})
    assert r.matches(name="web-cpu-high", namespace="AWS/ECS", dimensions=WEB_DIMS)
    assert r.matches(name="web-cpu-high", namespace="AWS/ECS", dimensions={"ServiceName": "web"})
    assert not r.matches(
        name="web-cpu-high",
        namespace="AWS/ECS",
        dimensions={"ClusterName": "demo", "ServiceName": "api"},
    )
    assert not r.matches(name="web-cpu-high", namespace="AWS/ECS", dimensions={})
    both = rule(dimensions=WEB_DIMS)
    assert not both.matches(
        name="web-cpu-high", namespace="AWS/ECS", dimensions={"ServiceName": "web"}
    )


def test_rule_matches_the_samples() -> None:
    shipped_like = rule(namespace="AWS/ECS", dimensions=WEB_DIMS)
    for name, expected in [
        ("sns-alarm-metric.json", True),
        ("sns-alarm-ok.json", True),
        ("sns-alarm-metric-math.json", False),
        ("sns-alarm-composite.json", False),
    ]:
        alarm = sample_alarm(name)
        got = shipped_like.matches(
            name=alarm.AlarmName, namespace=alarm.namespace, dimensions=alarm.dimensions
        )
        assert got is expected, name
    lb_rule = rule(
        alarm="web-5xx-*",
        namespace="AWS/ApplicationELB",
        dimensions={"LoadBalancer": "app/demo-alb/50dc6c495c0c9188"},
    )
    math = sample_alarm("sns-alarm-metric-math.json")
    assert lb_rule.matches(
        name=math.AlarmName, namespace=math.namespace, dimensions=math.dimensions
    )


# -- policy load errors for alarm rules --------------------------------------------------------

POLICY: dict[str, Any] = {
    "environments": {
        "demo": {
            "account": "123456789012",
            "region": "us-east-1",
            "cluster": "demo",
            "services": {"web": {"container": "web", "repository": "web", "min": 1, "max": 6}},
            "autoscaling_groups": {"demo-workers": {"min": 1, "max": 5}},
        }
    },
    "alarm_rules": {
        "web-cpu-high": {
            "alarm": "web-cpu-high",
            "environment": "demo",
            "namespace": "AWS/ECS",
            "dimensions": {"ClusterName": "demo", "ServiceName": "web"},
            "on_alarm": {"action": "scale_ecs_service", "service": "web", "step": 1},
            "on_ok": {"action": "scale_ecs_service", "service": "web", "step": -1},
            "cooldown": {"out": 300, "in": 300},
        }
    },
}


def policy_error(**rule_changes: Any) -> str:
    data = copy.deepcopy(POLICY)
    data["alarm_rules"]["web-cpu-high"].update(rule_changes)
    with pytest.raises(PolicyError) as info:
        parse_policy(data, "policy.yaml")
    assert info.value.message.startswith("policy.yaml: invalid ops policy")
    return info.value.message


def test_valid_rule_loads() -> None:
    policy = parse_policy(copy.deepcopy(POLICY))
    r = policy.alarm_rules["web-cpu-high"]
    assert r.on_alarm.build().describe() == "scale web out by 1"
    assert r.on_ok is not None
    assert r.on_ok.build().describe() == "scale web in by 1"


def test_unknown_action_lists_valid_names() -> None:
    assert valid_names() == "force_new_deployment, notify_only, scale_asg, scale_ecs_service"
    assert sorted(REGISTRY) == valid_names().split(", ")
    msg = policy_error(on_alarm={"action": "restart_everything", "service": "web"})
    assert "alarm_rules.web-cpu-high.on_alarm" in msg
    assert "unknown action 'restart_everything'" in msg
    assert "valid actions: force_new_deployment, notify_only, scale_asg, scale_ecs_service" in msg


def test_step_zero_is_rejected() -> None:
    msg = policy_error(on_alarm={"action": "scale_ecs_service", "service": "web", "step": 0})
    assert "alarm_rules.web-cpu-high.on_alarm" in msg
    assert "bad parameters for scale_ecs_service" in msg
    assert "step must not be 0" in msg


def test_unknown_parameter_is_rejected() -> None:
    msg = policy_error(on_ok={"action": "scale_asg", "group": "demo-workers", "stepp": 1})
    assert "alarm_rules.web-cpu-high.on_ok" in msg
    assert "bad parameters for scale_asg" in msg
    assert "stepp" in msg


def test_service_not_in_environment() -> None:
    msg = policy_error(on_ok={"action": "scale_ecs_service", "service": "payments", "step": -1})
    assert "alarm_rules.web-cpu-high.on_ok: service 'payments' is not in environment 'demo'" in msg


def test_group_not_in_environment() -> None:
    msg = policy_error(on_alarm={"action": "scale_asg", "group": "batch", "step": 1})
    assert "alarm_rules.web-cpu-high.on_alarm: autoscaling group 'batch'" in msg
    assert "is not in environment 'demo'" in msg


def test_force_new_deployment_of_unknown_service() -> None:
    msg = policy_error(on_alarm={"action": "force_new_deployment", "service": "payments"})
    assert "service 'payments' is not in environment 'demo'" in msg


def test_unknown_environment() -> None:
    msg = policy_error(environment="prod")
    assert "alarm_rules.web-cpu-high.environment: unknown environment 'prod'" in msg
    assert "(known: ['demo'])" in msg


def test_negative_cooldown_is_rejected() -> None:
    msg = policy_error(cooldown={"out": -1})
    assert "alarm_rules.web-cpu-high.cooldown.out" in msg


# -- Cooldown ----------------------------------------------------------------------------------


def test_cooldown_per_direction_from_yaml_keys() -> None:
    import yaml

    cooldown = Cooldown.model_validate(yaml.safe_load("{out: 300, in: 120, other: 60}"))
    assert cooldown.seconds("out") == 300
    assert cooldown.seconds("in") == 120
    assert cooldown.seconds("alarm") == 60  # notify_only / force_new_deployment
    assert cooldown.seconds("ok") == 60


def test_cooldown_defaults_and_python_name() -> None:
    assert Cooldown().seconds("out") == Cooldown().seconds("in") == 300
    assert Cooldown(in_=30).seconds("in") == 30
    assert Cooldown.model_validate({"in": 45}).seconds("in") == 45
    assert Cooldown.model_validate({"in": 45}).seconds("out") == 300


def test_cooldown_in_policy_rule() -> None:
    data = copy.deepcopy(POLICY)
    data["alarm_rules"]["web-cpu-high"]["cooldown"] = {"out": 600, "in": 90}
    r = parse_policy(data).alarm_rules["web-cpu-high"]
    assert (r.cooldown.seconds("out"), r.cooldown.seconds("in")) == (600, 90)


def test_the_local_alarm_command_writes_metric_math_dimensions_as_cloudwatch_does() -> None:
    from datetime import UTC, datetime

    from infra.local.alarm_notice import alarm_notification

    described = {
        "AlarmName": "web-5xx-rate",
        "AlarmArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:web-5xx-rate",
        "AlarmConfigurationUpdatedTimestamp": datetime(2026, 11, 1, tzinfo=UTC),
        "EvaluationPeriods": 1,
        "ComparisonOperator": "GreaterThanThreshold",
        "Threshold": 5.0,
        "Metrics": [
            {
                "Id": "errors",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/ApplicationELB",
                        "MetricName": "HTTPCode_Target_5XX_Count",
                        "Dimensions": [{"Name": "LoadBalancer", "Value": "app/demo-alb/1"}],
                    },
                    "Period": 60,
                    "Stat": "Sum",
                },
                "ReturnData": False,
            },
            {"Id": "rate", "Expression": "100 * errors", "ReturnData": True},
        ],
    }
    _, message = alarm_notification(
        described, old_state="OK", new_state="ALARM", reason="r", at=datetime.now(UTC)
    )
    dims = message["Trigger"]["Metrics"][0]["MetricStat"]["Metric"]["Dimensions"]
    assert dims == [{"value": "app/demo-alb/1", "name": "LoadBalancer"}]
    parsed = parse_notification(json.dumps(message))
    assert parsed.kind == "metric-math"
    assert parsed.dimensions == {"LoadBalancer": "app/demo-alb/1"}


# -- the registry describes actions, executors run them ----------------------------------------


def test_every_registered_action_has_an_executor() -> None:
    from chalicelib.alarms.execute import EXECUTORS, executor

    assert set(EXECUTORS) == set(REGISTRY.values())
    for cls in REGISTRY.values():
        assert executor(cls.__new__(cls)) is EXECUTORS[cls]


def test_an_action_without_an_executor_fails_with_its_name() -> None:
    from chalicelib.alarms.execute import executor
    from chalicelib.domain.actions import Action, NotifyParams

    class Unrun(Action):
        name = "unrun"

    with pytest.raises(LookupError, match="no executor for action 'unrun'"):
        executor(Unrun(NotifyParams()))


def test_actions_name_their_target_with_the_target_value() -> None:
    from chalicelib.records.target import Target

    policy = parse_policy(copy.deepcopy(POLICY))
    action = policy.alarm_rules["web-cpu-high"].on_alarm.build()
    assert action.target("demo") == Target.service("demo", "web")
    assert action.direction() == "out"
    asg = parse_policy(
        {
            **copy.deepcopy(POLICY),
            "alarm_rules": {
                "deep": {
                    "alarm": "workers-queue-deep",
                    "environment": "demo",
                    "on_alarm": {"action": "scale_asg", "group": "demo-workers", "step": -2},
                }
            },
        }
    ).alarm_rules["deep"]
    built = asg.on_alarm.build()
    assert built.target("demo") == Target.group("demo", "demo-workers")
    assert (built.direction(), built.describe()) == ("in", "scale demo-workers in by 2")


def test_reaction_keys_are_made_from_the_target() -> None:
    from types import SimpleNamespace

    from chalicelib.alarms.reaction import reaction_for

    policy = parse_policy(copy.deepcopy(POLICY))
    deps: Any = SimpleNamespace(policy=policy)
    rule = policy.alarm_rules["web-cpu-high"]
    alarm = parse_notification(sample_message("sns-alarm-metric.json"))
    reaction = reaction_for(deps, alarm, "web-cpu-high", rule)
    assert reaction is not None
    assert reaction.key == "web-cpu-high#demo#ecs:web#out"
    assert (reaction.target_name, reaction.target_label) == ("web", "demo/web")
    insufficient = alarm.model_copy(update={"NewStateValue": "INSUFFICIENT_DATA"})
    assert reaction_for(deps, insufficient, "web-cpu-high", rule) is None
