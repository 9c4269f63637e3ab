"""The bench's own embedded AWS: moto on a free loopback port, the stateful stack, the demo.

The bench policy is the demo policy with the alarm cooldowns at 0 and no blast-radius caps (every
run is a reaction that scales, not a suppressed or held one) and a few more services cloned from
``web``, one per cold deploy run (a deploy holds its service until ECS says it ended, which
nothing here does).
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REGION = "us-east-1"
ALARM = "web-cpu-high"
SIGNING_SECRET = "bench-signing-secret"
SLACK_USER = "U0DEMOADMIN"  # demo-admin: may read, deploy and scale in demo
WEB_DESIRED = 2  # what the demo seeds; every alarm run starts from it


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bench_policy(deploy_services: list[str]) -> str:
    """The demo policy, cooldowns off, plus the deploy services (as YAML)."""
    import yaml

    policy = yaml.safe_load((ROOT / "chalicelib" / "policy.yaml").read_text())
    for rule in policy.get("alarm_rules", {}).values():
        rule["cooldown"] = {"out": 0, "in": 0}
    demo = policy["environments"]["demo"]
    # no blast-radius cap either: every alarm run scales (15 in a minute would be held past 5)
    uncapped = {"max_automated_changes_per_minute": 100_000, "max_services_scaled_at_once": 100_000}
    policy["limits"] = demo["limits"] = uncapped
    for name in deploy_services:
        demo["services"][name] = {**demo["services"]["web"]}
    return str(yaml.safe_dump(policy, sort_keys=False))


@dataclass
class World:
    """The running embedded AWS and what the bench needs of it."""

    endpoint: str
    env: dict[str, str]
    workdir: Path
    outputs: dict[str, str]
    deploy_services: list[str]
    _alarm: dict[str, Any] = field(default_factory=dict)
    _changes: Iterator[int] = field(default_factory=lambda: iter(range(1, 10**9)))

    def client(self, service: str) -> Any:
        """A boto3 client of the embedded AWS (the bench's, never counted)."""
        import boto3

        return boto3.client(service, region_name=REGION)  # type: ignore[call-overload]

    def reset_web(self) -> None:
        """Put web back to the demo's desired count (the alarm runs scale it out)."""
        self.client("ecs").update_service(cluster="demo", service="web", desiredCount=WEB_DESIRED)

    def alarm_event(self, state: str = "ALARM") -> dict[str, Any]:
        """The SNS Lambda event of a new state change of web-cpu-high (never a duplicate)."""
        from infra.local.alarm_notice import alarm_notification
        from infra.local.event_shapes import sns_lambda_event

        if not self._alarm:
            found = self.client("cloudwatch").describe_alarms(AlarmNames=[ALARM])
            self._alarm.update(found["MetricAlarms"][0])
        at = datetime.now(UTC) + timedelta(seconds=next(self._changes))
        old = "OK" if state == "ALARM" else "ALARM"
        subject, message = alarm_notification(
            self._alarm, old_state=old, new_state=state, reason="bench", at=at
        )
        topic = self.outputs["AlarmsTopicArn"]
        envelope = {
            "Type": "Notification",
            "MessageId": str(uuid.uuid4()),
            "TopicArn": topic,
            "Subject": subject,
            "Message": json.dumps(message),
        }
        return sns_lambda_event(envelope, f"{topic}:bench")

    def deploy_event(self, service: str, tag: str = "2.0") -> tuple[dict[str, Any], list[Any]]:
        """The SQS Lambda event that starts a deploy of ``service``, requested (and queued)
        through opsbot's own request path, and the AWS calls the request made (counted when
        ``bench.calls`` is installed); the queued message is taken off the queue."""
        from bench import calls
        from chalicelib.deploys import request_deploy
        from chalicelib.domain.messages import DeployRequest
        from chalicelib.handlers.wiring import get_deps
        from infra.local.event_shapes import sqs_lambda_record

        deps = get_deps()
        before = len(calls.CALLS)
        request_deploy(
            deps,
            actor="local-admin",
            request=DeployRequest(environment="demo", service=service, tag=tag),
        )
        made = calls.CALLS[before:]
        sqs = self.client("sqs")
        url = sqs.get_queue_url(QueueName=self.outputs["WorkQueueName"])["QueueUrl"]
        # the deploy's start, not another work message (an alarm run's change follow-up)
        start = None
        while start is None:
            found = sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
                WaitTimeSeconds=1,
            )["Messages"]
            for message in found:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                if json.loads(message["Body"]).get("kind") == "deploy.start":
                    start = message
        arn = f"arn:aws:sqs:{REGION}:123456789012:{self.outputs['WorkQueueName']}"
        return {"Records": [sqs_lambda_record(start, arn, REGION)]}, made

    def slack_event(self, text: str = "status web") -> dict[str, Any]:
        """The API Gateway proxy event of a signed ``/opsbot`` slash command."""
        body = slack_form(text)
        return api_event("/slack/commands", body, slack_headers(body))

    def write_event(self, name: str, event: dict[str, Any]) -> str:
        """An event as a file a fresh process reads."""
        path = self.workdir / f"{name}.json"
        path.write_text(json.dumps(event))
        return str(path)


def slack_form(text: str, user: str = SLACK_USER) -> str:
    """A slash command's form body, as Slack posts it (with its own trigger_id: opsbot refuses
    a second request with the same signature as a replay)."""
    import uuid
    from urllib.parse import urlencode

    fields = {"command": "/opsbot", "text": text, "user_id": user, "channel_id": "C0OPS"}
    return urlencode({**fields, "trigger_id": uuid.uuid4().hex})


def slack_headers(body: str, now: float | None = None) -> dict[str, str]:
    """Slack's signature headers for ``body`` (v0, HMAC-SHA256 of the signing secret)."""
    import hashlib
    import hmac
    import time

    stamp = str(int(now if now is not None else time.time()))
    digest = hmac.new(
        SIGNING_SECRET.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256
    ).hexdigest()
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest}",
    }


def api_event(path: str, body: str, headers: dict[str, str]) -> dict[str, Any]:
    """An API Gateway (REST, Lambda proxy) POST event as Lambda hands it to the API function."""
    return {
        "resource": path,
        "path": path,
        "httpMethod": "POST",
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": path,
            "httpMethod": "POST",
            "path": f"/api{path}",
            "stage": "api",
            "requestId": "bench",
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": body,
        "isBase64Encoded": False,
    }


def _clone_services(names: list[str]) -> None:
    """ECS services like web (same task definition and network), one per name."""
    import boto3

    ecs = boto3.client("ecs", region_name=REGION)
    web = ecs.describe_services(cluster="demo", services=["web"])["services"][0]
    for name in names:
        ecs.create_service(
            cluster="demo",
            serviceName=name,
            taskDefinition=web["taskDefinition"],
            desiredCount=1,
            launchType=web.get("launchType", "FARGATE"),
            networkConfiguration=web["networkConfiguration"],
        )


@contextmanager
def embedded_world(workdir: Path, deploy_runs: int) -> Iterator[World]:
    """Moto on a free port with the stack and the demo seeded; the process environment points
    at it (restored after)."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    services = [f"bench{n}" for n in range(deploy_runs)]
    policy = workdir / "policy.yaml"
    policy.write_text(bench_policy(services))
    env = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "OPSBOT_POLICY_FILE": str(policy),
        "OPSBOT_PARAMETER_PREFIX": "/opsbot/bench",
        "OPSBOT_NAME_PREFIX": "opsbot",
        "OPSBOT_STAGE": "local",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "opsbot",
        "POWERTOOLS_METRICS_NAMESPACE": "opsbot",
        "PYDANTIC_DISABLE_PLUGINS": "__all__",
    }
    saved = dict(os.environ)
    os.environ.update(env)
    from infra.local.cloudtrail import Trail

    trail = Trail()  # the embedded AWS records CloudTrail as the local stack's does
    trail.install()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        from infra.local.seed import seed_demo
        from infra.local.template import deploy_template

        outputs = deploy_template({"NamePrefix": "opsbot", "WorkerTimeoutSeconds": "5"})
        seed_demo(alarms_topic_arn=outputs["AlarmsTopicArn"])
        _clone_services(services)
        import boto3

        boto3.client("ssm", region_name=REGION).put_parameter(
            Name="/opsbot/bench/slack-signing-secret", Value=SIGNING_SECRET, Type="SecureString"
        )
        env.update(
            {
                "OPSBOT_TABLE": outputs["StateTableName"],
                "OPSBOT_WORK_QUEUE": outputs["WorkQueueName"],
                "OPSBOT_WORK_DLQ": outputs["WorkDeadLetterQueueName"],
                "OPSBOT_NOTIFICATIONS_TOPIC_ARN": outputs["NotificationsTopicArn"],
            }
        )
        os.environ.update(env)
        yield World(endpoint, {**saved, **env}, workdir, outputs, services)
    finally:
        server.stop()
        trail.stop()
        os.environ.clear()
        os.environ.update(saved)
