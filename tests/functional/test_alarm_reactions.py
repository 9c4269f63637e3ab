"""Alarm reactions end to end against moto in-process: CloudWatch's SNS notification in, a
bounded, cooled-down and explained action out (``chalicelib.alarms.handle_sns_event``).

Each test gets a fresh moto account seeded like the demo environment: ECS cluster ``demo`` with
service ``web`` (desired 2) and its Application Auto Scaling target (1..6), the Auto Scaling group
``demo-workers`` (1..5, desired 2), the state table and the work queue. ``Deps`` is built by hand:
every notification opsbot sends and every work message it queues is recorded (and still goes
through the real Notifier / SQS queue), and the clock only moves when a test moves it.

The notifications are the samples in tests/events (``sns-alarm-*.json``), changed where a test
needs another state, account or alarm.
"""

from __future__ import annotations

import copy
import functools
import itertools
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chalicelib import alarms
from chalicelib.alarms import guard
from chalicelib.aws.notifier import Delivery, Message, Notifier
from chalicelib.aws.queue import WorkQueue
from chalicelib.core.clock import iso
from chalicelib.core.settings import Settings
from chalicelib.deps import Deps
from chalicelib.domain.actions import Outcome
from chalicelib.domain.messages import AlarmChanges, AlarmRetry
from chalicelib.domain.policy import Environment, Policy, parse_policy
from chalicelib.handlers.views.audit import audit_item
from chalicelib.records.deployment import Deployment
from chalicelib.records.status import DeploymentPhase, DeploymentStatus
from chalicelib.records.target import Target
from chalicelib.store import Store
from tests.state_table import create_state_table

ACCOUNT = "123456789012"
REGION = "us-east-1"
START = datetime(2026, 11, 20, 9, 15, tzinfo=UTC)
EVENTS = Path(__file__).resolve().parents[1] / "events"
TABLE = "opsbot-alarms-test-state"
WORK_QUEUE = "opsbot-alarms-test-work"
WORKER_AMI = "ami-12c6146b"  # one of the AMIs moto ships with

WEB_RULE: dict[str, Any] = {
    "alarm": "web-cpu-high",
    "environment": "demo",
    "namespace": "AWS/ECS",
    "dimensions": {"ClusterName": "demo", "ServiceName": "web"},
    "on_alarm": {"action": "scale_ecs_service", "service": "web", "step": 1},
    "on_ok": {"action": "scale_ecs_service", "service": "web", "step": -1},
    "cooldown": {"out": 300, "in": 300},
}
WORKERS_RULE: dict[str, Any] = {
    "alarm": "workers-queue-deep",
    "environment": "demo",
    "on_alarm": {"action": "scale_asg", "group": "demo-workers", "step": 1},
    "on_ok": {"action": "scale_asg", "group": "demo-workers", "step": -1},
    "cooldown": {"out": 300, "in": 300},
}
POLICY: dict[str, Any] = {
    "environments": {
        "demo": {
            "account": ACCOUNT,
            "region": REGION,
            "cluster": "demo",
            "services": {"web": {"container": "web", "repository": "web", "min": 1, "max": 6}},
            "autoscaling_groups": {"demo-workers": {"min": 1, "max": 5}},
        }
    },
    "alarm_rules": {
        "web-cpu-high": WEB_RULE,
        "workers-queue-deep": WORKERS_RULE,
        # custom rules for the other two actions (not in the shipped policy)
        "web-5xx": {
            "alarm": "web-5xx-*",
            "environment": "demo",
            "namespace": "AWS/ApplicationELB",
            "on_alarm": {"action": "notify_only", "note": "page the web on-call"},
        },
        "web-unhealthy": {
            "alarm": "web-unhealthy",
            "environment": "demo",
            "on_alarm": {"action": "force_new_deployment", "service": "web"},
            "cooldown": {"other": 600},
        },
    },
}


# -- the world ---------------------------------------------------------------------------------


@dataclass
class Clock:
    """The clock Deps reads; tests move it."""

    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


class RecordingNotifier(Notifier):
    """The real Notifier (no topic, no Slack URL), remembering every Message it was given."""

    def __init__(self, sns: Any) -> None:
        super().__init__(sns=sns, topic_arn="", slack_url=lambda: None)
        self.sent: list[Message] = []

    def send(self, message: Message, **kwargs: Any) -> Delivery:
        self.sent.append(message)
        return super().send(message, **kwargs)


class RecordingQueue(WorkQueue):
    """The real SQS work queue, remembering every message and its delay (``sent``: the
    reactions' retries; ``follow_ups``: what-changed follow-ups, tested in test_changes)."""

    def __init__(self, sqs: Any, queue_name: str) -> None:
        super().__init__(sqs=sqs, queue_name=queue_name)
        self.sent: list[tuple[Any, int]] = []
        self.follow_ups: list[AlarmChanges] = []

    def send(self, message: Any, *, delay_seconds: int = 0) -> None:
        if isinstance(message, AlarmChanges):
            self.follow_ups.append(message)
        else:
            self.sent.append((message, delay_seconds))
        super().send(message, delay_seconds=delay_seconds)


class DocumentedCloudWatch:
    """moto's CloudWatch client, with DescribeAlarms' AlarmTypes behaving as AWS documents it.

    AWS: "If you omit this parameter, only metric alarms are returned." moto ignores AlarmTypes
    and always returns composite alarms too, which would hide a missing AlarmTypes.
    """

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def describe_alarms(self, **kwargs: Any) -> dict[str, Any]:
        resp: dict[str, Any] = self._client.describe_alarms(**kwargs)
        types = kwargs.get("AlarmTypes") or ["MetricAlarm"]
        if "CompositeAlarm" not in types:
            resp["CompositeAlarms"] = []
        if "MetricAlarm" not in types:
            resp["MetricAlarms"] = []
        return resp


@dataclass
class World:
    """Deps wired to moto, and what a test needs to drive and inspect it."""

    deps: Deps
    clock: Clock
    notifier: RecordingNotifier
    queue: RecordingQueue
    clients: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        if service not in self.clients:
            self.clients[service] = session().client(service)  # type: ignore[call-overload]
        return self.clients[service]

    # -- driving --------------------------------------------------------------------------

    def fire(self, *messages: dict[str, Any] | str) -> list[dict[str, Any]]:
        """Deliver one SNS event with one record per message; the per-record results."""
        result = alarms.handle_sns_event(self.deps, sns_event(*messages))
        records: list[dict[str, Any]] = result["records"]
        return records

    def results(self, *messages: dict[str, Any] | str) -> list[str]:
        """fire() one message; the results of its matching rules."""
        [record] = self.fire(*messages)
        outcome: list[str] = record["results"]
        return outcome

    # -- inspecting -----------------------------------------------------------------------

    @property
    def sent(self) -> list[Message]:
        return self.notifier.sent

    def web_desired(self) -> int:
        svc = self.client("ecs").describe_services(cluster="demo", services=["web"])
        return int(svc["services"][0]["desiredCount"])

    def set_web_desired(self, desired: int) -> None:
        self.client("ecs").update_service(cluster="demo", service="web", desiredCount=desired)

    def workers_desired(self) -> int:
        groups = self.client("autoscaling").describe_auto_scaling_groups(
            AutoScalingGroupNames=["demo-workers"]
        )
        return int(groups["AutoScalingGroups"][0]["DesiredCapacity"])

    def web_target(self, *, low: int, high: int) -> None:
        """(Re-)register web's Application Auto Scaling target."""
        self.client("application-autoscaling").register_scalable_target(
            ServiceNamespace="ecs",
            ResourceId="service/demo/web",
            ScalableDimension="ecs:service:DesiredCount",
            MinCapacity=low,
            MaxCapacity=high,
        )

    def audit(self, target: str = "web") -> list[dict[str, Any]]:
        entries = self.deps.store.audit_entries(environment="demo", service=target, limit=100)
        return [audit_item(e) for e in entries]

    def scale_entries(self, target: str = "web") -> list[dict[str, Any]]:
        return [e for e in self.audit(target) if e["action"] == "scale"]

    def delayed_on_queue(self) -> int:
        sqs = self.client("sqs")
        attrs = sqs.get_queue_attributes(
            QueueUrl=self.queue.url, AttributeNames=["ApproximateNumberOfMessagesDelayed"]
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessagesDelayed"])

    def put_alarm(self, name: str, state: str) -> None:
        """A metric alarm in CloudWatch, in ``state``."""
        cloudwatch = self.client("cloudwatch")
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            Namespace="AWS/ECS",
            MetricName="CPUUtilization",
            Dimensions=[
                {"Name": "ClusterName", "Value": "demo"},
                {"Name": "ServiceName", "Value": "web"},
            ],
            Statistic="Average",
            Period=60,
            EvaluationPeriods=3,
            Threshold=80.0,
            ComparisonOperator="GreaterThanThreshold",
        )
        cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason="test")

    def put_composite_alarm(self, name: str, rule: str, state: str) -> None:
        """A composite alarm in CloudWatch, in ``state``.

        moto 5 has no PutCompositeAlarm API; its backend makes one (as its CloudFormation
        support does) from an alarm with a rule.
        """
        from moto.cloudwatch.models import cloudwatch_backends

        cloudwatch_backends[ACCOUNT][REGION].put_metric_alarm(
            name=name,
            namespace="",
            metric_name="",
            comparison_operator="",
            evaluation_periods=0,
            period=0,
            threshold=0.0,
            statistic="",
            description="web CPU high and 5XX rate high at the same time",
            dimensions=[],
            alarm_actions=[],
            rule=rule,
        )
        self.client("cloudwatch").set_alarm_state(
            AlarmName=name, StateValue=state, StateReason="test"
        )


def facts(message: Message) -> dict[str, str]:
    return dict(message.facts)


# -- notifications and events from the samples -------------------------------------------------


def sample(name: str) -> dict[str, Any]:
    """The CloudWatch notification (parsed Sns.Message) of a sample in tests/events."""
    event = json.loads((EVENTS / name).read_text())
    message: dict[str, Any] = json.loads(event["Records"][0]["Sns"]["Message"])
    return message


_state_changes = itertools.count(1)


def state_change_time() -> str:
    """A fresh StateChangeTime: every notification built here is a state change of its own (a
    redelivery of one is the same dict delivered again)."""
    at = START + timedelta(milliseconds=next(_state_changes))
    return at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


def cpu(state: str = "ALARM", **changes: Any) -> dict[str, Any]:
    """web-cpu-high's notification (sns-alarm-metric.json / sns-alarm-ok.json) in ``state``,
    as a new state change."""
    base = sample("sns-alarm-ok.json" if state == "OK" else "sns-alarm-metric.json")
    base["StateChangeTime"] = state_change_time()
    if state == "INSUFFICIENT_DATA":
        base["OldStateValue"] = "ALARM"
        base["NewStateReason"] = (
            "Insufficient Data: 3 datapoints were unknown (minimum 3 datapoints for "
            "ALARM -> INSUFFICIENT_DATA transition)."
        )
    return {**base, "NewStateValue": state, **changes}


def workers(state: str = "ALARM") -> dict[str, Any]:
    """workers-queue-deep's notification, built from the metric sample."""
    message = cpu(state)
    message["AlarmName"] = "workers-queue-deep"
    message["AlarmDescription"] = "demo-work queue deeper than 100 messages"
    message["AlarmArn"] = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:workers-queue-deep"
    message["Trigger"] = {
        **message["Trigger"],
        "MetricName": "ApproximateNumberOfMessagesVisible",
        "Namespace": "AWS/SQS",
        "Statistic": "MAXIMUM",
        "Dimensions": [{"value": "demo-work", "name": "QueueName"}],
        "Threshold": 100.0,
    }
    return message


def sns_event(*messages: dict[str, Any] | str, message_id: str | None = None) -> dict[str, Any]:
    """A Lambda SNS event (shape of sns-alarm-metric.json) with one record per message."""
    template = json.loads((EVENTS / "sns-alarm-metric.json").read_text())["Records"][0]
    records = []
    for message in messages:
        record = copy.deepcopy(template)
        sns = record["Sns"]
        sns["MessageId"] = message_id or str(uuid.uuid4())
        if isinstance(message, str):
            sns["Message"] = message
            sns["Subject"] = "not an alarm"
        else:
            sns["Message"] = json.dumps(message)
            sns["Subject"] = (
                f'{message.get("NewStateValue")}: "{message.get("AlarmName")}" in '
                "US East (N. Virginia)"
            )
        records.append(record)
    return {"Records": records}


# -- fixtures ----------------------------------------------------------------------------------


def _seed(world: World) -> None:
    ecs = world.client("ecs")
    ecs.create_cluster(clusterName="demo")
    ecs.register_task_definition(
        family="web",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        containerDefinitions=[
            {"name": "web", "image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/web:1.0"}
        ],
    )
    ecs.create_service(cluster="demo", serviceName="web", taskDefinition="web", desiredCount=2)
    world.web_target(low=1, high=6)  # after the service exists, as AWS requires
    world.client("ec2").create_launch_template(
        LaunchTemplateName="demo-workers",
        LaunchTemplateData={"ImageId": WORKER_AMI, "InstanceType": "t3.small"},
    )
    world.client("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName="demo-workers",
        LaunchTemplate={"LaunchTemplateName": "demo-workers", "Version": "$Latest"},
        MinSize=1,
        MaxSize=5,
        DesiredCapacity=2,
        AvailabilityZones=[f"{REGION}a"],
    )


@functools.cache
def session() -> boto3.Session:
    """One boto3 session for the module: its loader parses each service model once (the EC2
    model alone takes ~0.3 s), where ``boto3.client`` would parse them again for every test."""
    return boto3.Session(region_name=REGION)


def make_world(policy_doc: dict[str, Any]) -> World:
    """Deps on moto (inside an active mock_aws) and a seeded demo environment."""
    clients: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in clients:
            clients[service] = session().client(service)  # type: ignore[call-overload]
        return clients[service]

    ddb = client("dynamodb")
    create_state_table(ddb, TABLE)
    client("sqs").create_queue(QueueName=WORK_QUEUE)

    def aws(service: str, env: Environment) -> Any:
        # as boto3.client(service, region_name=env.region), made once per service
        assert env.region == REGION
        if service == "cloudwatch":
            return DocumentedCloudWatch(client(service))
        return client(service)

    policy: Policy = parse_policy(policy_doc, "tests/functional/test_alarm_reactions.py")
    clock = Clock()
    notifier = RecordingNotifier(client("sns"))
    queue = RecordingQueue(client("sqs"), WORK_QUEUE)
    settings = Settings(
        stage="test",
        region=REGION,
        table_name=TABLE,
        work_queue_name=WORK_QUEUE,
        work_dlq_name=f"{WORK_QUEUE}-dlq",
        notifications_topic_arn="",
        parameter_prefix="/opsbot/test",
        policy_file=Path("/nonexistent/policy.yaml"),
        deploy_timeout_seconds=900,
    )
    deps = Deps(
        settings=settings,
        policy=policy,
        store=Store(ddb=ddb, table=TABLE),
        queue=queue,
        notifier=notifier,
        aws=aws,
        clock=clock,
    )
    world = World(deps=deps, clock=clock, notifier=notifier, queue=queue, clients=clients)
    _seed(world)
    return world


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def world(aws_env: None) -> Iterator[World]:
    with mock_aws():
        yield make_world(POLICY)


# -- ALARM scales out, once per cooldown -------------------------------------------------------


def test_alarm_scales_web_out_by_one_and_explains_it(world: World) -> None:
    alarm = cpu()
    [record] = world.fire(alarm)
    assert record["alarm"] == "web-cpu-high"
    assert record["results"] == ["scaled"]
    assert world.web_desired() == 3

    [message] = world.sent
    assert message.title == "web-cpu-high ALARM: web 2 -> 3"
    assert message.level == "warning"
    assert message.text == ""  # the title and the facts say it all, once
    f = facts(message)
    assert (f["Target"], f["Bounds"]) == ("demo/web", "1..6 (policy)")
    assert message.context == (
        "Metric: AWS/ECS CPUUtilization {ClusterName=demo, ServiceName=web} "
        "GreaterThanThreshold 80",
    )
    assert f["Alarm reason"] == alarm["NewStateReason"]
    assert f["Rule"] == "web-cpu-high: scale web out by 1"
    assert f["Next action"] == "not before 2026-11-20T09:20:00Z (cooldown)"

    [entry] = world.audit()
    assert entry["actor"] == "alarm:web-cpu-high"
    assert (entry["action"], entry["result"], entry["target"]) == ("scale", "scaled", "demo/web")
    assert (entry["before"], entry["after"]) == (2, 3)
    assert entry["reason"].startswith("web-cpu-high ALARM: Threshold Crossed: 3 out of the last 3")
    assert entry["at"] == "2026-11-20T09:15:00Z"


def test_repeat_inside_the_cooldown_changes_nothing_and_says_until_when(world: World) -> None:
    assert world.results(cpu()) == ["scaled"]
    world.clock.advance(60)
    assert world.results(cpu()) == ["cooldown"]
    assert world.web_desired() == 3
    assert len(world.sent) == 2
    notice = world.sent[1]
    assert notice.title == "web-cpu-high ALARM: web in cooldown"
    assert notice.text == "One out action per 300 s; nothing changed."
    assert facts(notice)["Next action"] == "not before 2026-11-20T09:20:00Z (cooldown)"
    assert facts(notice)["Desired"] == "3 (unchanged)"
    # a third repeat is suppressed: logged, not posted again, and still no action
    world.clock.advance(60)
    assert world.results(cpu()) == ["cooldown"]
    assert len(world.sent) == 2
    assert world.web_desired() == 3
    assert len(world.scale_entries()) == 1


def test_after_the_cooldown_the_next_alarm_scales_again(world: World) -> None:
    assert world.results(cpu()) == ["scaled"]
    world.clock.advance(299)
    assert world.results(cpu()) == ["cooldown"]
    world.clock.advance(2)  # 301 s after the first action
    assert world.results(cpu()) == ["scaled"]
    assert world.web_desired() == 4
    assert world.sent[-1].title == "web-cpu-high ALARM: web 3 -> 4"
    assert facts(world.sent[-1])["Next action"] == "not before 2026-11-20T09:25:01Z (cooldown)"
    assert [(e["before"], e["after"]) for e in world.scale_entries()] == [(3, 4), (2, 3)]


def test_ok_scales_back_in_with_its_own_cooldown(world: World) -> None:
    assert world.results(cpu()) == ["scaled"]
    world.clock.advance(30)  # well inside the out cooldown: "in" has its own window
    assert world.results(cpu("OK")) == ["scaled"]
    assert world.web_desired() == 2
    assert world.sent[-1].title == "web-cpu-high OK: web 3 -> 2"
    assert facts(world.sent[-1])["Rule"] == "web-cpu-high: scale web in by 1"
    # a second OK inside the in-cooldown does nothing
    world.clock.advance(30)
    assert world.results(cpu("OK")) == ["cooldown"]
    assert "One in action per 300 s" in world.sent[-1].text
    assert world.web_desired() == 2
    entries = world.scale_entries()
    assert [(e["before"], e["after"]) for e in entries] == [(3, 2), (2, 3)]
    assert {e["actor"] for e in entries} == {"alarm:web-cpu-high"}


# -- bounds ------------------------------------------------------------------------------------


def test_at_max_nothing_changes_and_the_cooldown_is_not_consumed(world: World) -> None:
    world.set_web_desired(6)
    assert world.results(cpu()) == ["at_bound"]
    assert world.web_desired() == 6
    [message] = world.sent
    assert message.title == "web-cpu-high ALARM: web at its max"
    # the scalable target (1..6) tightens nothing, so only the policy is named
    assert message.text == "Nothing changed."
    assert (facts(message)["Desired"], facts(message)["Bounds"]) == (
        "6 (unchanged)",
        "1..6 (policy)",
    )
    [entry] = world.audit()
    assert (entry["action"], entry["result"]) == ("alarm_reaction", "at_bound")
    assert entry["actor"] == "alarm:web-cpu-high"
    # the same at-max notice is not posted again inside the window
    assert world.results(cpu()) == ["at_bound"]
    assert len(world.sent) == 1
    # no cooldown was claimed: with room again, the next ALARM acts at once
    world.set_web_desired(5)
    assert world.results(cpu()) == ["scaled"]
    assert world.web_desired() == 6
    assert world.sent[-1].title == "web-cpu-high ALARM: web 5 -> 6"


def test_at_min_ok_changes_nothing(world: World) -> None:
    world.set_web_desired(1)
    assert world.results(cpu("OK")) == ["at_bound"]
    assert world.web_desired() == 1
    assert world.sent[-1].title == "web-cpu-high OK: web at its min"
    assert facts(world.sent[-1])["Bounds"].startswith("1..6 (")


def test_the_scalable_target_tighter_than_the_policy_caps_scaling(world: World) -> None:
    world.web_target(low=1, high=4)
    assert world.results(cpu()) == ["scaled"]
    world.clock.advance(301)
    assert world.results(cpu()) == ["scaled"]
    assert world.web_desired() == 4
    assert world.sent[-1].title == "web-cpu-high ALARM: web 3 -> 4"
    assert facts(world.sent[-1])["Bounds"] == "1..4 (policy + application-autoscaling)"
    world.clock.advance(301)
    assert world.results(cpu()) == ["at_bound"]
    assert world.web_desired() == 4
    assert world.sent[-1].title == "web-cpu-high ALARM: web at its max"
    assert world.sent[-1].text == "Nothing changed."
    assert facts(world.sent[-1])["Desired"] == "4 (unchanged)"
    assert facts(world.sent[-1])["Bounds"] == "1..4 (policy + application-autoscaling)"


@pytest.mark.parametrize(("desired", "state"), [(8, "ALARM"), (0, "OK")], ids=["above", "below"])
def test_a_reaction_never_moves_the_count_against_its_direction(
    world: World, desired: int, state: str
) -> None:
    world.set_web_desired(desired)  # set by hand, or the scalable target changed since
    assert world.results(cpu(state)) == ["at_bound"]
    assert world.web_desired() == desired
    assert world.scale_entries() == []


@pytest.mark.parametrize("state", ["ALARM", "OK"])
def test_disjoint_bounds_move_nothing(world: World, state: str) -> None:
    world.web_target(low=8, high=10)  # the policy says 1..6: no count satisfies both
    world.set_web_desired(7)
    assert world.results(cpu(state)) == ["at_bound"]
    assert world.web_desired() == 7
    assert world.scale_entries() == []
    assert facts(world.sent[-1])["Bounds"] == "8..6 (policy + application-autoscaling)"


@pytest.mark.parametrize(
    ("desired", "state", "after"), [(8, "OK", 7), (0, "ALARM", 1)], ids=["above", "below"]
)
def test_outside_the_bounds_a_reaction_moves_one_step_its_own_way(
    world: World, desired: int, state: str, after: int
) -> None:
    world.set_web_desired(desired)
    assert world.results(cpu(state)) == ["scaled"]
    assert world.web_desired() == after  # one step, not jumped to the bound
    [entry] = world.scale_entries()
    assert (entry["before"], entry["after"]) == (desired, after)


# -- the Auto Scaling group --------------------------------------------------------------------


def test_workers_queue_deep_scales_the_asg(world: World) -> None:
    assert world.results(workers()) == ["scaled"]
    assert world.workers_desired() == 3
    assert world.web_desired() == 2
    message = world.sent[-1]
    assert message.title == "workers-queue-deep ALARM: demo-workers 2 -> 3"
    assert facts(message)["Bounds"] == "1..5 (policy)"
    assert facts(message)["Target"] == "demo/demo-workers"
    assert message.context == (
        "Metric: AWS/SQS ApproximateNumberOfMessagesVisible {QueueName=demo-work} "
        "GreaterThanThreshold 100",
    )
    [entry] = world.scale_entries("demo-workers")
    assert entry["actor"] == "alarm:workers-queue-deep"
    assert (entry["target"], entry["before"], entry["after"]) == ("demo/demo-workers", 2, 3)
    assert world.results(workers("OK")) == ["scaled"]
    assert world.workers_desired() == 2


# -- bursts ------------------------------------------------------------------------------------


def test_fifty_identical_notifications_in_one_event_act_once(world: World) -> None:
    alarm = cpu()
    event = sns_event(*[alarm] * 50, message_id="95df01b4-ee98-5cb9-9903-4c221d41eb5e")
    records = alarms.handle_sns_event(world.deps, event)["records"]
    assert len(records) == 50
    first, *repeats = records
    assert first["results"] == ["scaled"] and "duplicate" not in first
    # the same state change again: recognised as a duplicate, answered as the first, not run
    assert all(r["duplicate"] and r["results"] == ["scaled"] for r in repeats)
    assert world.web_desired() == 3
    assert len(world.scale_entries()) == 1
    assert len(world.sent) <= 2


def test_fifty_identical_single_record_events_act_once(world: World) -> None:
    alarm = cpu()
    records = [record for _ in range(50) for record in world.fire(alarm)]
    assert [r.get("duplicate", False) for r in records] == [False] + [True] * 49
    assert world.web_desired() == 3
    assert len(world.scale_entries()) == 1
    assert len(world.sent) <= 2


# -- malformed records -------------------------------------------------------------------------


def test_malformed_record_in_a_batch_is_skipped_with_a_reason(world: World) -> None:
    records = world.fire(cpu(), "not json", workers())
    assert [r.get("results") for r in records] == [["scaled"], None, ["scaled"]]
    bad = records[1]
    assert bad["result"] == "malformed"
    assert bad["reason"] == "the SNS message is not JSON"
    assert bad["message_id"]
    assert world.web_desired() == 3
    assert world.workers_desired() == 3


def test_record_with_missing_fields_is_malformed(world: World) -> None:
    missing = cpu()
    del missing["AlarmName"]
    del missing["StateChangeTime"]
    records = world.fire(workers(), missing, cpu())
    assert records[1]["result"] == "malformed"
    reason = records[1]["reason"]
    assert reason.startswith("not a CloudWatch alarm notification: ")
    assert "AlarmName: Field required" in reason
    assert "StateChangeTime: Field required" in reason
    assert [records[0]["results"], records[2]["results"]] == [["scaled"], ["scaled"]]
    # records with no Sns at all, or a JSON array, are malformed too, not exceptions
    records = alarms.handle_sns_event(world.deps, {"Records": [{"EventSource": "aws:sns"}]})[
        "records"
    ]
    assert records == [
        {"message_id": "?", "result": "malformed", "reason": "the SNS message is not JSON"}
    ]
    [record] = world.fire("[1, 2]")
    assert record["reason"] == "the SNS message is not a JSON object"
    assert world.web_desired() == 3


# -- a deploy holds the service lock -----------------------------------------------------------


def hold_lock(world: World, owner: str = "dep-x") -> str:
    """A deploy rolling out (its record in progress) holds web's lock."""
    name = Target.service("demo", "web").lock
    now = world.clock()
    rolling = Deployment(
        id=owner,
        environment="demo",
        service="web",
        image="web:2.0",
        status=DeploymentStatus.IN_PROGRESS,
        actor="alice",
        created_at=iso(now),
        updated_at=iso(now),
        timeout_seconds=120,
        phase=DeploymentPhase.ROLLOUT,
    )
    lock = world.deps.store.admit_deployment(rolling, lock=name, lease_seconds=600, now=now)
    assert lock is not None and lock.acquired
    return name


def test_alarm_waits_for_a_deploy_and_retries_from_the_work_queue(world: World) -> None:
    world.put_alarm("web-cpu-high", "ALARM")
    lock = hold_lock(world)
    assert world.results(cpu()) == ["busy"]
    assert world.web_desired() == 2
    [message] = world.sent
    assert message.title == "web-cpu-high ALARM: waiting for web"
    assert message.text == (
        "demo/web is busy with dep-x; will act when it has finished "
        "(retrying every 30 s while the alarm stays ALARM)"
    )
    [(retry, delay)] = world.queue.sent
    assert isinstance(retry, AlarmRetry)
    assert (retry.kind, retry.rule, retry.attempt, delay) == ("alarm.retry", "web-cpu-high", 1, 30)
    assert json.loads(retry.notification)["AlarmName"] == "web-cpu-high"
    assert world.delayed_on_queue() == 1  # on the real queue, delayed
    assert world.scale_entries() == []

    # still locked at the first retry: queued again (attempt 2), nothing new posted
    world.clock.advance(30)
    again = alarms.retry(
        world.deps, rule_name=retry.rule, notification=retry.notification, attempt=retry.attempt
    )
    assert again is not None and again.result == "busy"
    assert [(m.attempt, d) for m, d in world.queue.sent] == [(1, 30), (2, 30)]
    assert len(world.sent) == 1

    # the deploy finishes; the retry acts at once: the cooldown was given back each time
    world.deps.store.release_lock(lock, "dep-x")
    world.clock.advance(30)
    outcome = alarms.retry(
        world.deps, rule_name="web-cpu-high", notification=retry.notification, attempt=2
    )
    assert outcome is not None
    assert (outcome.result, outcome.before, outcome.after) == ("scaled", 2, 3)
    assert world.web_desired() == 3
    assert world.sent[-1].title == "web-cpu-high ALARM: web 2 -> 3"
    [entry] = world.scale_entries()
    assert entry["actor"] == "alarm:web-cpu-high"


def run_retry(world: World, message: AlarmRetry) -> Outcome | None:
    """What the worker does with an alarm.retry message SQS delivers."""
    return alarms.retry(
        world.deps,
        rule_name=message.rule,
        notification=message.notification,
        attempt=message.attempt,
    )


def result_of(outcome: Outcome | None) -> str | None:
    return outcome.result if outcome else None


def waiting(world: World, state: str = "ALARM") -> list[AlarmRetry]:
    """The alarm.retry messages queued so far for web-cpu-high notifications in ``state``."""
    return [
        m
        for m, _ in world.queue.sent
        if m.rule == "web-cpu-high" and json.loads(m.notification)["NewStateValue"] == state
    ]


def test_duplicates_while_one_reaction_waits_are_dropped_and_it_acts_once(world: World) -> None:
    world.put_alarm("web-cpu-high", "ALARM")
    lock = hold_lock(world)
    for _ in range(5):
        assert world.results(cpu()) == ["busy"]
    # one waiting chain for the target, not one per duplicate; one "waiting" message
    [first] = [m for m, _ in world.queue.sent]
    assert first.attempt == 1
    assert [m.title for m in world.sent] == ["web-cpu-high ALARM: waiting for web"]

    # each retry still finding the deploy renews the chain's claim, so a duplicate arriving
    # after the first claim (3 retry delays = 90 s) would have lapsed is dropped all the same
    world.clock.advance(30)
    assert result_of(run_retry(world, first)) == "busy"
    world.clock.advance(30)
    second = world.queue.sent[-1][0]
    assert result_of(run_retry(world, second)) == "busy"
    world.clock.advance(35)  # START + 95 s
    assert world.results(cpu()) == ["busy"]
    assert [m.attempt for m, _ in world.queue.sent] == [1, 2, 3]
    assert len(world.sent) == 1  # no second "waiting", nothing for the dropped duplicates

    # the deploy finishes: the one chain acts, once
    world.deps.store.release_lock(lock, "dep-x")
    world.clock.advance(5)
    outcome = run_retry(world, world.queue.sent[-1][0])
    assert outcome is not None
    assert (outcome.result, outcome.before, outcome.after) == ("scaled", 2, 3)
    assert world.web_desired() == 3
    assert len(world.scale_entries()) == 1
    assert [m.title for m in world.sent] == [
        "web-cpu-high ALARM: waiting for web",
        "web-cpu-high ALARM: web 2 -> 3",
    ]
    assert len(world.queue.sent) == 3  # the chain ended there


def test_the_wait_is_per_direction(world: World) -> None:
    world.put_alarm("web-cpu-high", "ALARM")
    hold_lock(world)
    assert world.results(cpu()) == ["busy"]
    assert world.results(cpu("OK")) == ["busy"]  # scale-in: a chain of its own
    assert [len(waiting(world, "ALARM")), len(waiting(world, "OK"))] == [1, 1]
    assert [m.title for m in world.sent] == [
        "web-cpu-high ALARM: waiting for web",
        "web-cpu-high OK: waiting for web",
    ]


def test_once_the_waiting_reaction_has_acted_the_next_one_may_wait_again(
    aws_env: None,
) -> None:
    policy = copy.deepcopy(POLICY)
    policy["alarm_rules"]["web-cpu-high"]["cooldown"] = {"out": 0, "in": 0}  # nothing else holds
    with mock_aws():
        world = make_world(policy)
        world.put_alarm("web-cpu-high", "ALARM")
        lock = hold_lock(world)
        assert world.results(cpu()) == ["busy"]
        [first] = [m for m, _ in world.queue.sent]
        world.deps.store.release_lock(lock, "dep-x")
        world.clock.advance(30)
        outcome = run_retry(world, first)
        assert outcome is not None and outcome.result == "scaled"

        # well inside the window the chain had claimed, another deploy takes the service
        world.clock.advance(5)
        hold_lock(world, "dep-y")
        assert world.results(cpu()) == ["busy"]
        assert [m.attempt for m, _ in world.queue.sent] == [1, 1]  # a new chain waits
        assert world.sent[-1].title == "web-cpu-high ALARM: waiting for web"
        assert world.sent[-1].text.startswith("demo/web is busy with dep-y; will act when")


def test_an_alarm_firing_again_after_its_chain_was_dropped_waits_again(world: World) -> None:
    cloudwatch = world.client("cloudwatch")
    world.put_alarm("web-cpu-high", "ALARM")
    lock = hold_lock(world)
    assert world.results(cpu()) == ["busy"]
    [first] = waiting(world)
    # it recovers (the OK reaction waits too) before the retry runs: the chain is dropped
    cloudwatch.set_alarm_state(AlarmName="web-cpu-high", StateValue="OK", StateReason="t")
    assert world.results(cpu("OK")) == ["busy"]
    world.clock.advance(30)
    assert run_retry(world, first) is None
    # and fires again while the deploy still runs
    world.clock.advance(10)
    cloudwatch.set_alarm_state(AlarmName="web-cpu-high", StateValue="ALARM", StateReason="t")
    assert world.results(cpu()) == ["busy"]

    assert len(waiting(world)) == 2, "the new ALARM has no chain waiting for it"
    world.deps.store.release_lock(lock, "dep-x")
    world.clock.advance(20)
    outcome = run_retry(world, waiting(world)[-1])
    assert outcome is not None and outcome.result == "scaled"
    assert world.web_desired() == 3


def test_retry_does_nothing_once_the_alarm_is_ok_again(world: World) -> None:
    world.put_alarm("web-cpu-high", "ALARM")
    lock = hold_lock(world)
    assert world.results(cpu()) == ["busy"]
    [(retry, _)] = world.queue.sent
    world.deps.store.release_lock(lock, "dep-x")
    world.client("cloudwatch").set_alarm_state(
        AlarmName="web-cpu-high", StateValue="OK", StateReason="recovered"
    )
    sent_before = len(world.sent)
    outcome = alarms.retry(
        world.deps, rule_name=retry.rule, notification=retry.notification, attempt=retry.attempt
    )
    assert outcome is None
    assert world.web_desired() == 2
    # the engineer who read "waiting for web" hears how it ended
    assert len(world.sent) == sent_before + 1
    assert world.sent[-1].title == "web-cpu-high ALARM: reaction dropped"
    assert "the alarm is OK now" in world.sent[-1].text
    assert len(world.queue.sent) == 1
    assert world.scale_entries() == []


def test_retry_of_a_composite_alarm_checks_its_state(world: World) -> None:
    cloudwatch = world.client("cloudwatch")
    world.put_alarm("web-cpu-high", "ALARM")
    world.put_composite_alarm("web-unhealthy", 'ALARM("web-cpu-high")', "ALARM")
    # with AlarmTypes, as AWS wants it, the composite alarm is found
    found = cloudwatch.describe_alarms(AlarmNames=["web-unhealthy"], AlarmTypes=["CompositeAlarm"])
    assert [a["StateValue"] for a in found["CompositeAlarms"]] == ["ALARM"]
    lock = hold_lock(world)
    assert world.results(sample("sns-alarm-composite.json")) == ["busy"]
    [(retry, _)] = world.queue.sent
    world.deps.store.release_lock(lock, "dep-x")
    cloudwatch.set_alarm_state(AlarmName="web-unhealthy", StateValue="OK", StateReason="t")
    outcome = alarms.retry(
        world.deps, rule_name=retry.rule, notification=retry.notification, attempt=retry.attempt
    )
    assert outcome is None
    assert [e for e in world.audit() if e["action"] == "force_new_deployment"] == []


def test_retry_of_a_composite_alarm_still_in_alarm_acts(world: World) -> None:
    world.put_alarm("web-cpu-high", "ALARM")
    world.put_composite_alarm("web-unhealthy", 'ALARM("web-cpu-high")', "ALARM")
    lock = hold_lock(world)
    assert world.results(sample("sns-alarm-composite.json")) == ["busy"]
    [(retry, _)] = world.queue.sent
    world.deps.store.release_lock(lock, "dep-x")
    world.clock.advance(30)
    outcome = run_retry(world, retry)
    assert outcome is not None and outcome.result == "forced"
    [entry] = [e for e in world.audit() if e["action"] == "force_new_deployment"]
    assert (entry["result"], entry["actor"]) == ("forced", "alarm:web-unhealthy")


# -- states, accounts, guards ------------------------------------------------------------------


def test_insufficient_data_only_notifies(world: World) -> None:
    assert world.results(cpu("INSUFFICIENT_DATA")) == ["notified"]
    assert world.web_desired() == 2
    [message] = world.sent
    assert message.title == "web-cpu-high INSUFFICIENT_DATA"
    assert message.text == "data is insufficient; nothing done"
    assert message.level == "info"
    assert world.audit() == []
    assert world.queue.sent == []


def test_alarm_from_another_account_matches_no_rule(world: World) -> None:
    foreign = cpu(
        AWSAccountId="999999999999",
        AlarmArn="arn:aws:cloudwatch:us-east-1:999999999999:alarm:web-cpu-high",
    )
    [record] = world.fire(foreign)
    assert record["results"] == []
    assert world.web_desired() == 2
    assert world.audit() == []
    [message] = world.sent
    assert message.text == "no alarm rule matches it; nothing done"
    assert "Rule" not in facts(message)


def test_a_holding_guard_stops_the_scale_out_and_gives_the_cooldown_back(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str, int, int]] = []

    def over_budget(deps: Deps, env: Environment, plan: Any) -> str | None:
        seen.append((plan.target.key, plan.before, plan.after))
        return "over budget"

    monkeypatch.setattr(guard, "check_scale_out", over_budget)
    assert world.results(cpu()) == ["held"]
    assert world.web_desired() == 2
    assert seen == [("ecs:web", 2, 3)]
    [message] = world.sent
    assert message.title == "web-cpu-high ALARM: scale-out of web held"
    assert message.text == "over budget"
    [entry] = world.audit()
    assert (entry["action"], entry["result"]) == ("alarm_reaction", "held")
    # the guard only holds scale-outs
    world.set_web_desired(3)
    assert world.results(cpu("OK")) == ["scaled"]
    assert world.web_desired() == 2
    # the cooldown was given back: once the guard allows, the next ALARM acts at once
    monkeypatch.setattr(guard, "check_scale_out", lambda deps, env, plan: None)
    assert world.results(cpu()) == ["scaled"]
    assert world.web_desired() == 3


# -- the other actions -------------------------------------------------------------------------


def test_notify_only_rule(world: World) -> None:
    math = sample("sns-alarm-metric-math.json")
    assert world.results(math) == ["notified"]
    assert world.web_desired() == 2
    [message] = world.sent
    assert message.title == "web-5xx-rate ALARM"
    assert message.text == "page the web on-call"
    f = facts(message)
    assert f["Rule"] == "web-5xx: notify only"
    assert message.context[0].startswith("Metric: 100 * errors / requests over AWS/ApplicationELB")
    # no on_ok in that rule: OK only notifies
    assert world.results({**math, "NewStateValue": "OK", "OldStateValue": "ALARM"}) == ["notified"]
    assert world.sent[-1].text == "no recovery action configured; nothing done"
    assert world.audit() == []


def test_force_new_deployment_rule(world: World) -> None:
    ecs = world.client("ecs")
    before = ecs.describe_services(cluster="demo", services=["web"])["services"][0]
    assert world.results(sample("sns-alarm-composite.json")) == ["forced"]
    after = ecs.describe_services(cluster="demo", services=["web"])["services"][0]
    # moto's UpdateService(forceNewDeployment=True) gives the primary deployment a new id
    assert after["deployments"][0]["id"] != before["deployments"][0]["id"]
    assert after["taskDefinition"] == before["taskDefinition"]
    assert after["desiredCount"] == 2
    [message] = world.sent
    assert message.title == "web-unhealthy ALARM: new deployment of web"
    assert message.text == "Fresh tasks, same task definition."
    f = facts(message)
    assert message.context == (
        'Metric: composite: ALARM("web-cpu-high") AND ALARM("web-5xx-rate")',
    )
    assert f["Rule"] == "web-unhealthy: force a new deployment of web"
    assert f["Next action"] == "not before 2026-11-20T09:25:00Z (cooldown)"  # other: 600
    [entry] = world.audit()
    assert (entry["action"], entry["result"], entry["actor"]) == (
        "force_new_deployment",
        "forced",
        "alarm:web-unhealthy",
    )
    # a repeat inside its cooldown (a new state change) does not force another deployment
    repeat = {**sample("sns-alarm-composite.json"), "StateChangeTime": state_change_time()}
    assert world.results(repeat) == ["cooldown"]
    again = ecs.describe_services(cluster="demo", services=["web"])["services"][0]
    assert again["deployments"][0]["id"] == after["deployments"][0]["id"]


def test_force_new_deployment_waits_for_a_deploy(world: World) -> None:
    hold_lock(world)
    assert world.results(sample("sns-alarm-composite.json")) == ["busy"]
    assert world.sent[-1].text.startswith("demo/web is busy with dep-x; will act when")
    [(retry, delay)] = world.queue.sent
    assert (retry.rule, delay) == ("web-unhealthy", 30)
    assert world.audit() == []


# -- redelivered notifications: exactly-once effects -------------------------------------------


def _no_cooldown_world() -> World:
    policy = copy.deepcopy(POLICY)
    policy["alarm_rules"]["web-cpu-high"]["cooldown"] = {"out": 0, "in": 0}
    return make_world(policy)


def _cooldown_held(world: World, direction: str = "out") -> bool:
    key = f"web-cpu-high#demo#ecs:web#{direction}"
    return world.deps.store.cooldown_until(key, now=world.clock()) is not None


def test_a_redelivered_notification_acts_once(world: World) -> None:
    alarm = cpu()
    [first] = world.fire(alarm)
    sent = list(world.sent)
    world.clock.advance(400)  # past the cooldown: only the redelivery check can stop it

    [again] = world.fire(alarm)

    assert first["results"] == again["results"] == ["scaled"]
    assert again["duplicate"] is True and "duplicate" not in first
    assert world.web_desired() == 3
    assert len(world.scale_entries()) == 1
    assert world.sent == sent  # nothing said twice


def test_a_redelivered_notification_with_cooldown_zero_acts_once(aws_env: None) -> None:
    with mock_aws():
        world = _no_cooldown_world()
        alarm = cpu()
        assert world.results(alarm) == ["scaled"]
        [again] = world.fire(alarm)
        assert again["duplicate"] is True
        assert world.web_desired() == 3
        assert len(world.scale_entries()) == 1
        # a new state change of the alarm is not a duplicate: with no cooldown it acts again
        assert world.results(cpu()) == ["scaled"]
        assert world.web_desired() == 4


def _failing_audit(world: World, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The store's audit write fails (throttled) once; the actions that tried it."""
    from botocore.exceptions import ClientError

    store = world.deps.store
    real = store.audit
    failed: list[str] = []

    def audit(**entry: Any) -> None:
        if not failed:
            failed.append(str(entry["action"]))
            code = "ProvisionedThroughputExceededException"
            raise ClientError({"Error": {"Code": code, "Message": "slow down"}}, "PutItem")
        real(**entry)

    monkeypatch.setattr(store, "audit", audit)
    return failed


def test_an_action_whose_audit_write_fails_keeps_its_cooldown(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    failed = _failing_audit(world, monkeypatch)
    alarm = cpu()

    assert world.results(alarm) == ["scaled"]  # the change stands; nothing raised to retry

    assert failed == ["scale"]
    assert world.web_desired() == 3
    assert _cooldown_held(world)
    [message] = world.sent
    assert message.title == "web-cpu-high ALARM: web 2 -> 3"
    assert "not audited" in message.text and "ProvisionedThroughputExceeded" in message.text
    # a redelivery does nothing; a new state change inside the window is held by the cooldown
    assert world.fire(alarm)[0]["duplicate"] is True
    world.clock.advance(60)
    assert world.results(cpu()) == ["cooldown"]
    assert world.web_desired() == 3


def test_an_action_whose_audit_write_fails_is_not_repeated_without_cooldown(
    aws_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    with mock_aws():
        world = _no_cooldown_world()
        _failing_audit(world, monkeypatch)
        alarm = cpu()
        assert world.results(alarm) == ["scaled"]
        assert world.fire(alarm)[0]["duplicate"] is True
        assert world.web_desired() == 3


def test_a_failure_before_any_change_gives_the_cooldown_back_and_the_retry_acts(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError

    ecs = world.client("ecs")
    real = ecs.update_service
    calls: list[int] = []

    def update_service(**kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            error = {"Error": {"Code": "ServerException", "Message": "try again"}}
            raise ClientError(error, "UpdateService")  # type: ignore[arg-type]
        return real(**kwargs)

    monkeypatch.setattr(ecs, "update_service", update_service)
    alarm = cpu()
    with pytest.raises(ClientError):
        world.fire(alarm)
    assert not _cooldown_held(world)
    assert world.web_desired() == 2
    # Lambda retries the same delivery: it is not a duplicate, and it acts
    [retried] = world.fire(alarm)
    assert retried["results"] == ["scaled"] and "duplicate" not in retried
    assert world.web_desired() == 3


def test_a_redelivered_retry_message_acts_once(aws_env: None) -> None:
    with mock_aws():
        world = _no_cooldown_world()
        world.put_alarm("web-cpu-high", "ALARM")
        lock = hold_lock(world)
        assert world.results(cpu()) == ["busy"]
        [message] = waiting(world)
        world.deps.store.release_lock(lock, "dep-x")
        world.clock.advance(30)

        assert result_of(run_retry(world, message)) == "scaled"
        assert run_retry(world, message) is None  # SQS delivered it again
        assert world.web_desired() == 3
        assert len(world.scale_entries()) == 1
