"""A world for driving opsbot's capability code against moto in-process (no HTTP).

``World`` holds real ``Deps``: a Store on a DynamoDB table, a WorkQueue on an SQS queue (with its
DLQ), a Notifier publishing to an SNS topic (an SQS queue subscribed to it records what people
would be told), boto3 clients from moto, a clock the test moves, and the policy from
``parse_policy``. It seeds ECR (web and api, tags 1.0 and 2.0), an ECS cluster ``demo`` with a
two-container ``web`` task definition and a one-container ``api`` one, and a service for each.

moto's ECS does not keep deployments the way ECS does: its UpdateService swaps the service's
task definition but leaves ``deployments`` untouched, so the UpdateService response still shows
the service's *creation* deployment as PRIMARY. Product code reads the new ECS deployment id from
that response (``start_deploy``) and matches ECS events against it, so against bare moto it would
track the wrong id, and no ECS event for the real rollout could ever be matched. ``EcsRollouts``
adds ECS's bookkeeping to moto's in-process backend (as the AWS docs for rolling updates describe
it): a task-definition change starts a new PRIMARY deployment (rolloutState IN_PROGRESS, already
in the UpdateService response) and demotes the old one to ACTIVE. What ECS would do later
(reach steady state, or fail and have the circuit breaker roll back) the test does explicitly
with ``complete`` and ``fail``, then hands opsbot the EventBridge event ECS would send.
"""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core.utils import utcnow
from moto.ecs.models import EC2ContainerServiceBackend, Service, ecs_backends
from moto.sqs.models import sqs_backends

from chalicelib import deploys
from chalicelib.aws.notifier import Notifier
from chalicelib.aws.queue import WorkQueue
from chalicelib.core.settings import Settings, get_settings
from chalicelib.deps import Deps
from chalicelib.domain.messages import DeployRequest
from chalicelib.domain.policy import Environment, Policy, parse_policy
from chalicelib.handlers.views.audit import audit_item
from chalicelib.records.deployment import Deployment
from chalicelib.records.target import Target
from chalicelib.store import Store
from tests.state_table import create_state_table

ACCOUNT = "123456789012"
REGION = "us-east-1"
CLUSTER = "demo"
REGISTRY = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
START = datetime(2026, 11, 20, 9, 15, tzinfo=UTC)
EVENTS = Path(__file__).resolve().parents[1] / "events"
MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"

POLICY: dict[str, Any] = {
    "environments": {
        "demo": {
            "account": ACCOUNT,
            "region": REGION,
            "cluster": CLUSTER,
            "services": {
                "web": {"container": "web", "repository": "web", "min": 1, "max": 6},
                "api": {
                    "container": "api",
                    "repository": "api",
                    "min": 2,
                    "max": 4,
                    "deploy_timeout_seconds": 1800,
                },
            },
        }
    },
    "roles": {"admin": ["read", "deploy", "scale", "rollback"], "viewer": ["read"]},
    "people": {"alice": {"roles": {"demo": "admin"}}, "victor": {"roles": {"demo": "viewer"}}},
    "deploy": {"timeout_seconds": 600},
}


@dataclass
class Clock:
    """The clock Deps reads; tests move it."""

    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


class EcsRollouts:
    """ECS's deployment bookkeeping on top of moto's in-process ECS backend (see module doc)."""

    def __init__(self) -> None:
        self.instant = False  # new deployments reach steady state before UpdateService returns
        self.update_calls: list[tuple[str, str | None]] = []  # (service, taskDefinition)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        original = EC2ContainerServiceBackend.update_service

        def update_service(backend: EC2ContainerServiceBackend, props: dict[str, Any]) -> Service:
            name = str(props["service"]).split("/")[-1]
            requested = props.get("task_definition")
            before = backend._get_service(props.get("cluster") or "default", name).task_definition
            self.update_calls.append((name, requested))
            service = original(backend, props)
            if requested and service.task_definition != before:
                self._start(service)
            return service

        monkeypatch.setattr(EC2ContainerServiceBackend, "update_service", update_service)

    def service(self, name: str) -> Service:
        return ecs_backends[ACCOUNT][REGION].services[f"{CLUSTER}:{name}"]

    def deployments(self, name: str) -> list[dict[str, Any]]:
        deployments: list[dict[str, Any]] = self.service(name).deployments
        return deployments

    def primary(self, name: str) -> dict[str, Any]:
        return next(d for d in self.deployments(name) if d["status"] == "PRIMARY")

    def _start(self, service: Service, reason: str | None = None) -> dict[str, Any]:
        now = utcnow()
        old: list[dict[str, Any]] = service.deployments
        template = next(d for d in old if d["status"] == "PRIMARY")
        dep_id = f"ecs-svc/{random.randint(10**18, 2**63 - 1)}"
        state = "COMPLETED" if self.instant else "IN_PROGRESS"
        deployment = dict(
            template,
            id=dep_id,
            status="PRIMARY",
            taskDefinition=service.task_definition,
            desiredCount=service.desired_count,
            runningCount=service.desired_count if self.instant else 0,
            pendingCount=0 if self.instant else service.desired_count,
            failedTasks=0,
            rolloutState=state,
            rolloutStateReason=reason
            or f"ECS deployment {dep_id} {'completed' if self.instant else 'in progress'}.",
            createdAt=now,
            updatedAt=now,
        )
        demoted = [dict(d, status="ACTIVE") for d in old if d["status"] == "PRIMARY"]
        rest = [d for d in old if d["status"] != "PRIMARY"]
        service.deployments = [deployment] if self.instant else [deployment, *demoted, *rest]
        return deployment

    def complete(self, name: str) -> str:
        """The PRIMARY deployment reaches steady state; older ones are drained. Its id."""
        service = self.service(name)
        primary = self.primary(name)
        service.deployments = [
            dict(
                primary,
                rolloutState="COMPLETED",
                rolloutStateReason=f"ECS deployment {primary['id']} completed.",
                runningCount=service.desired_count,
                pendingCount=0,
            )
        ]
        return str(primary["id"])

    def fail(self, name: str, *, breaker_rolls_back: bool) -> tuple[str, str | None]:
        """The circuit breaker fails the PRIMARY deployment: (failed id, rollback id or None).

        With rollback on, ECS starts a new PRIMARY deployment of the last completed deployment's
        task definition; with it off the failed deployment stays PRIMARY.
        """
        service = self.service(name)
        failed = dict(
            self.primary(name),
            rolloutState="FAILED",
            rolloutStateReason="ECS deployment circuit breaker: tasks failed to start.",
            runningCount=0,
            failedTasks=3,
        )
        others = [d for d in self.deployments(name) if d["status"] != "PRIMARY"]
        service.deployments = [failed, *others]
        if not breaker_rolls_back:
            return str(failed["id"]), None
        stable = next(d for d in others if d.get("rolloutState") == "COMPLETED")
        service.task_definition = stable["taskDefinition"]
        rollback = self._start(
            service,
            reason=f"ECS deployment circuit breaker: rolling back to deploymentId {stable['id']}.",
        )
        return str(failed["id"]), str(rollback["id"])


class Crash(BaseException):
    """The Lambda died (its timeout, its memory): nothing in it can catch this."""


class Crasher:
    """Counts the AWS calls the given clients make while on; dies at call number ``at`` (that
    call is not made, nothing after it runs)."""

    def __init__(self, clients: Iterable[Any]) -> None:
        self.calls: list[str] = []
        self.at: int | None = None
        self.on = False
        for client in {id(c): c for c in clients}.values():
            client.meta.events.register("before-call", self._hook)

    def _hook(self, event_name: str, **_: Any) -> None:
        if not self.on:
            return
        self.calls.append(event_name.removeprefix("before-call."))
        if len(self.calls) - 1 == self.at:
            self.on = False
            raise Crash(event_name)

    def arm(self, at: int | None) -> None:
        self.calls, self.at, self.on = [], at, True


@dataclass
class World:
    """Everything a functional test drives and inspects."""

    deps: Deps
    clock: Clock
    ecs_rollouts: EcsRollouts
    clients: dict[str, Any]
    notes_queue_url: str
    sent_notes: list[dict[str, Any]] = field(default_factory=list)

    # -- AWS clients ----------------------------------------------------------------------

    def client(self, service: str) -> Any:
        if service not in self.clients:
            self.clients[service] = boto3.client(service, region_name=REGION)  # type: ignore[call-overload]
        return self.clients[service]

    @property
    def ecs(self) -> Any:
        return self.client("ecs")

    @property
    def store(self) -> Store:
        return self.deps.store

    # -- what opsbot did ------------------------------------------------------------------

    def work(self) -> list[tuple[dict[str, Any], int]]:
        """Every message on the work queue (nothing consumes it here): (body, delay seconds)."""
        return queue_messages(self.deps.settings.work_queue_name)

    def slack_posts(self, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
        """From now on, what opsbot would post to Slack (webhook or reply URL), in order."""
        sent: list[dict[str, Any]] = []

        def post_slack(payload: dict[str, Any], url: str | None = None) -> bool:
            sent.append({"url": url, **payload})
            return True

        monkeypatch.setattr(self.deps.notifier, "post_slack", post_slack)
        return sent

    def record(self, deployment_id: str) -> Deployment:
        record = self.store.get_deployment(deployment_id)
        assert record is not None, deployment_id
        return record

    def lock_holder(self, service: str) -> str | None:
        holder = self.store.lock_holder(Target.service("demo", service).lock)
        return holder[0] if holder else None

    def audit(self, service: str) -> list[dict[str, Any]]:
        """The service's audit entries, newest first, as ``GET /audit`` shows them."""
        entries = self.store.audit_entries(environment="demo", service=service, limit=100)
        return [audit_item(e) for e in entries]

    def notifications(self) -> list[str]:
        """Subjects of every notification published so far (as the email subscribers get them)."""
        sqs = self.client("sqs")
        while True:
            resp = sqs.receive_message(QueueUrl=self.notes_queue_url, MaxNumberOfMessages=10)
            if not resp.get("Messages"):
                break
            for message in resp["Messages"]:
                self.sent_notes.append(json.loads(message["Body"]))
                sqs.delete_message(
                    QueueUrl=self.notes_queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
        return [str(n["Subject"]) for n in self.sent_notes]

    def service_task_definition(self, service: str) -> str:
        described = self.ecs.describe_services(cluster=CLUSTER, services=[service])
        return str(described["services"][0]["taskDefinition"])

    def task_definition(self, arn: str) -> dict[str, Any]:
        td: dict[str, Any] = self.ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
        return td

    def revisions(self, family: str) -> list[str]:
        arns: list[str] = self.ecs.list_task_definitions(familyPrefix=family)["taskDefinitionArns"]
        return arns

    # -- driving it -----------------------------------------------------------------------

    def request(self, service: str = "web", actor: str = "alice", **which: str) -> Deployment:
        request = DeployRequest(environment="demo", service=service, **which)
        return deploys.request_deploy(self.deps, actor=actor, request=request)

    def started(self, service: str = "web", tag: str = "2.0") -> Deployment:
        """A deploy requested and started: the record, in_progress."""
        record = self.request(service, tag=tag)
        deploys.start_deploy(self.deps, record.id)
        return self.record(record.id)

    def ecs_says(self, event_name: str, ecs_deployment_id: str, service: str = "web") -> str:
        """Deliver the ECS Deployment State Change event ECS would send, as Lambda would."""
        event = ecs_event(event_name, ecs_deployment_id, service)
        return str(self.deliver_ecs(event)["outcome"])

    def deliver_ecs(self, event: dict[str, Any]) -> dict[str, Any]:
        """Hand one EventBridge event (a new one, or a redelivery) to the ECS handler."""
        from chalicelib.handlers.events import ecs_deployment_state

        reply: dict[str, Any] = ecs_deployment_state(event, lambda_context("ecs_deployment_state"))
        return reply


def queue_messages(queue_name: str) -> list[tuple[dict[str, Any], int]]:
    """(parsed body, DelaySeconds) of each message on a queue, delayed ones included."""
    queue = sqs_backends[ACCOUNT][REGION].queues[queue_name]
    out = []
    for message in queue._messages:
        delay = 0
        if message.delayed_until and message.sent_timestamp:
            delay = round((message.delayed_until - message.sent_timestamp) / 1000)
        out.append((json.loads(message.body), delay))
    return out


_EVENT_FILES = {
    "SERVICE_DEPLOYMENT_IN_PROGRESS": "in-progress",
    "SERVICE_DEPLOYMENT_COMPLETED": "completed",
    "SERVICE_DEPLOYMENT_FAILED": "failed",
}


def ecs_event(event_name: str, ecs_deployment_id: str, service: str = "web") -> dict[str, Any]:
    """The saved EventBridge sample for ``event_name``, about one ECS deployment of ours, as a
    new event (an id of its own: EventBridge gives every event one, and a redelivery keeps it)."""
    path = EVENTS / f"ecs-deployment-state-change-{_EVENT_FILES[event_name]}.json"
    event: dict[str, Any] = json.loads(path.read_text())
    event["id"] = str(uuid.uuid4())
    sample_id = event["detail"]["deploymentId"]
    event["detail"]["deploymentId"] = ecs_deployment_id
    event["detail"]["reason"] = event["detail"]["reason"].replace(sample_id, ecs_deployment_id)
    event["resources"] = [f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/{CLUSTER}/{service}"]
    return event


def sqs_record(body: str, message_id: str | None = None) -> dict[str, Any]:
    """One record of a Lambda SQS event (shape of tests/events/sqs-work-batch.json)."""
    batch = json.loads((EVENTS / "sqs-work-batch.json").read_text())
    template: dict[str, Any] = batch["Records"][0]
    return dict(
        template,
        messageId=message_id or template["messageId"],
        body=body,
        md5OfBody=hashlib.md5(body.encode()).hexdigest(),
    )


def lambda_context(function: str) -> Any:
    """The parts of a Lambda context object anything here might read."""
    return SimpleNamespace(
        function_name=f"opsbot-test-{function}",
        function_version="$LATEST",
        invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:opsbot-test-{function}",
        memory_limit_in_mb=256,
        aws_request_id="8f5e1c3a-6d7b-4f2e-9a0c-1b2d3e4f5a6b",
        get_remaining_time_in_millis=lambda: 30_000,
    )


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Settings as the deployed functions read them: from the environment, once."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "OPSBOT_STAGE": "test",
        "OPSBOT_TABLE": "opsbot-test-state",
        "OPSBOT_WORK_QUEUE": "opsbot-test-work",
        "OPSBOT_WORK_DLQ": "opsbot-test-work-dlq",
        "OPSBOT_NOTIFICATIONS_TOPIC_ARN": f"arn:aws:sns:{REGION}:{ACCOUNT}:opsbot-test-notify",
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def _manifest(tag: str, repository: str) -> str:
    config = hashlib.sha256(f"{repository}:{tag}".encode()).hexdigest()
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 1469,
                "digest": f"sha256:{config}",
            },
            "layers": [],
        }
    )


def _seed(world: World) -> None:
    ecr = world.client("ecr")
    for repository in ("web", "api"):
        ecr.create_repository(repositoryName=repository)
        for tag in ("1.0", "2.0"):
            ecr.put_image(
                repositoryName=repository,
                imageManifest=_manifest(tag, repository),
                imageManifestMediaType=MANIFEST_TYPE,
                imageTag=tag,
            )
    ecs = world.ecs
    ecs.create_cluster(clusterName=CLUSTER)
    web = ecs.register_task_definition(
        family="web",
        taskRoleArn=f"arn:aws:iam::{ACCOUNT}:role/web-task",
        executionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/ecsTaskExecutionRole",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="512",
        memory="1024",
        containerDefinitions=[
            {
                "name": "web",
                "image": f"{REGISTRY}/web:1.0",
                "essential": True,
                "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
                "environment": [{"name": "APP_ENV", "value": "demo"}],
                "mountPoints": [{"sourceVolume": "scratch", "containerPath": "/tmp/scratch"}],
            },
            {
                "name": "log-router",
                "image": "public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.2",
                "essential": True,
                "memoryReservation": 128,
                "firelensConfiguration": {"type": "fluentbit"},
            },
        ],
        volumes=[{"name": "scratch", "host": {}}],
        tags=[{"key": "team", "value": "payments"}],
    )
    api = ecs.register_task_definition(
        family="api",
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="256",
        memory="512",
        containerDefinitions=[{"name": "api", "image": f"{REGISTRY}/api:1.0", "essential": True}],
    )
    for name, td in (("web", web), ("api", api)):
        ecs.create_service(
            cluster=CLUSTER,
            serviceName=name,
            taskDefinition=td["taskDefinition"]["taskDefinitionArn"],
            desiredCount=2,
        )
        world.ecs_rollouts.complete(name)  # the first deployment has long reached steady state


@pytest.fixture
def world(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with mock_aws():
        clients: dict[str, Any] = {}
        ddb = boto3.client("dynamodb", region_name=REGION)
        create_state_table(ddb, settings.table_name)
        sqs = boto3.client("sqs", region_name=REGION)
        dlq_url = sqs.create_queue(QueueName=settings.work_dlq_name)["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"}
        sqs.create_queue(
            QueueName=settings.work_queue_name,
            Attributes={"RedrivePolicy": json.dumps(redrive), "VisibilityTimeout": "120"},
        )
        sns = boto3.client("sns", region_name=REGION)
        topic = sns.create_topic(Name=settings.notifications_topic_arn.rsplit(":", 1)[1])
        assert topic["TopicArn"] == settings.notifications_topic_arn
        notes_url = sqs.create_queue(QueueName="notification-inbox")["QueueUrl"]
        notes_arn = sqs.get_queue_attributes(QueueUrl=notes_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns.subscribe(TopicArn=topic["TopicArn"], Protocol="sqs", Endpoint=notes_arn)

        def aws(service: str, env: Environment) -> Any:
            key = f"{service}@{env.region}"
            if key not in clients:
                clients[key] = boto3.client(service, region_name=env.region)  # type: ignore[call-overload]
            return clients[key]

        policy: Policy = parse_policy(POLICY, "tests/functional/conftest.py")
        clock = Clock()
        deps = Deps(
            settings=settings,
            policy=policy,
            store=Store(ddb=ddb, table=settings.table_name),
            queue=WorkQueue(sqs=sqs, queue_name=settings.work_queue_name),
            notifier=Notifier(
                sns=sns, topic_arn=settings.notifications_topic_arn, slack_url=lambda: None
            ),
            aws=aws,
            clock=clock,
        )
        rollouts = EcsRollouts()
        rollouts.install(monkeypatch)
        world = World(
            deps=deps,
            clock=clock,
            ecs_rollouts=rollouts,
            clients={"ecs": aws("ecs", policy.environment("demo"))},
            notes_queue_url=notes_url,
        )
        _seed(world)
        rollouts.update_calls.clear()
        # handlers call get_deps() as deployed; here they get this world's Deps
        monkeypatch.setattr("chalicelib.handlers.wiring.get_deps", lambda: deps)
        yield world
