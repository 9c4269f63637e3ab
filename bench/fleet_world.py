"""``make fleet``'s estate: the policy of N environments in N member accounts, and the member
accounts seeded in the embedded AWS (an ECS cluster with its services and a CPU alarm each,
whose action publishes to opsbot's alarms topic), reached as opsbot reaches them: STS
AssumeRole into each account's member role. Also the reads the accounting needs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

REGION = "us-east-1"
ROLE = "opsbot-member"
SEEDED_DESIRED = 1  # every service starts here; its bounds allow +1 (and +2)
BOUNDS = (1, 3)
COOLDOWN_SECONDS = 300


@dataclass(frozen=True)
class Member:
    """One environment of the fleet: its account, cluster (named after it) and services."""

    environment: str
    account: str
    services: tuple[str, ...]

    @property
    def role_arn(self) -> str:
        return f"arn:aws:iam::{self.account}:role/{ROLE}"

    def alarm(self, service: str) -> str:
        """The CPU alarm of one service (alarm names are unique across the fleet)."""
        return f"{self.environment}-{service}-cpu-high"


def members(accounts: int, per_account: int) -> list[Member]:
    """The fleet: ``fleet00`` in account 210000000000, ``fleet01`` in ...001, and so on."""
    services = tuple(f"svc{n:02d}" for n in range(per_account))
    return [Member(f"fleet{n:02d}", f"{210000000000 + n:012d}", services) for n in range(accounts)]


def fleet_policy(fleet: list[Member], *, cap: int, at_once: int, limits: bool) -> dict[str, Any]:
    """The policy: every environment with its member role, one alarm rule per service (scale
    out by 1 on ALARM, in by 1 on OK, 5 minute cooldowns), the local admin may do everything;
    with ``limits`` (a policy that knows them) the caps as a global default."""
    environments: dict[str, Any] = {}
    rules: dict[str, Any] = {}
    low, high = BOUNDS
    for m in fleet:
        environments[m.environment] = {
            "account": m.account,
            "region": REGION,
            "cluster": m.environment,
            "role_arn": m.role_arn,
            "services": {
                s: {"container": s, "repository": s, "min": low, "max": high} for s in m.services
            },
            "budgets": [],
        }
        for s in m.services:
            rules[f"{m.environment}-{s}-cpu"] = {
                "alarm": m.alarm(s),
                "environment": m.environment,
                "namespace": "AWS/ECS",
                "dimensions": {"ClusterName": m.environment, "ServiceName": s},
                "on_alarm": {"action": "scale_ecs_service", "service": s, "step": 1},
                "on_ok": {"action": "scale_ecs_service", "service": s, "step": -1},
                "cooldown": {"out": COOLDOWN_SECONDS, "in": COOLDOWN_SECONDS},
            }
    policy: dict[str, Any] = {
        "environments": environments,
        "roles": {"admin": ["read", "deploy", "scale", "rollback", "approve"]},
        "people": {"local-admin": {"roles": {"*": "admin"}}},
        "alarm_rules": rules,
    }
    if limits:
        policy["limits"] = {
            "max_automated_changes_per_minute": cap,
            "max_services_scaled_at_once": at_once,
        }
    return policy


def policy_knows_limits() -> bool:
    """Whether this checkout's policy has ``limits`` (the blast-radius caps)."""
    from chalicelib.domain.policy import Policy

    return "limits" in Policy.model_fields


Client = Callable[[str], Any]


def member_clients(aws_url: str, home: Client, member: Member) -> Client:
    """boto3 clients in ``member``'s account: credentials from AssumeRole of its member role."""
    import boto3

    creds = home("sts").assume_role(RoleArn=member.role_arn, RoleSessionName="fleet-bench")[
        "Credentials"
    ]
    session = boto3.session.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=REGION,
    )
    made: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in made:
            make: Any = session.client
            made[service] = make(service, endpoint_url=aws_url)
        return made[service]

    return client


def seed_member(aws: Client, member: Member, alarms_topic_arn: str) -> int:
    """The member's cluster, one task definition, its services at the seeded count and a CPU
    alarm each (notifying the alarms topic on ALARM and OK); the services made."""
    ecs, cloudwatch = aws("ecs"), aws("cloudwatch")
    ecs.create_cluster(clusterName=member.environment)
    for s in member.services:
        arn = ecs.register_task_definition(
            family=s,
            containerDefinitions=[
                {
                    "name": s,
                    "image": f"{member.account}.dkr.ecr.{REGION}.amazonaws.com/{s}:1.0",
                    "memory": 256,
                    "essential": True,
                }
            ],
        )["taskDefinition"]["taskDefinitionArn"]
        ecs.create_service(
            cluster=member.environment, serviceName=s, taskDefinition=arn, desiredCount=1
        )
        cloudwatch.put_metric_alarm(
            AlarmName=member.alarm(s),
            AlarmDescription=f"{s} CPU above 80% for 3 minutes",
            MetricName="CPUUtilization",
            Namespace="AWS/ECS",
            Statistic="Average",
            Dimensions=[
                {"Name": "ClusterName", "Value": member.environment},
                {"Name": "ServiceName", "Value": s},
            ],
            Period=60,
            EvaluationPeriods=3,
            Threshold=80.0,
            ComparisonOperator="GreaterThanThreshold",
            AlarmActions=[alarms_topic_arn],
            OKActions=[alarms_topic_arn],
        )
    return len(member.services)


def in_parallel(work: Callable[[Any], Any], items: list[Any], threads: int = 10) -> list[Any]:
    """``work`` over ``items`` on a few threads; the results in order."""
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(work, items))


def alarms_of(aws: Client, member: Member) -> dict[str, dict[str, Any]]:
    """The member's CPU alarms as DescribeAlarms gives them, by service."""
    found: dict[str, dict[str, Any]] = {}
    for page in (
        aws("cloudwatch")
        .get_paginator("describe_alarms")
        .paginate(AlarmNamePrefix=f"{member.environment}-")
    ):
        for alarm in page["MetricAlarms"]:
            service = alarm["AlarmName"].removeprefix(f"{member.environment}-")
            found[service.removesuffix("-cpu-high")] = alarm
    return found


def desired_counts(aws: Client, member: Member) -> dict[tuple[str, str], int]:
    """(environment, service) -> desired count in ECS now (DescribeServices, 10 at a time)."""
    ecs = aws("ecs")
    out: dict[tuple[str, str], int] = {}
    names = list(member.services)
    for n in range(0, len(names), 10):
        got = ecs.describe_services(cluster=member.environment, services=names[n : n + 10])
        for s in got["services"]:
            out[(member.environment, s["serviceName"])] = int(s["desiredCount"])
    return out


def _items(ddb: Any, **query: Any) -> Iterator[dict[str, Any]]:
    from boto3.dynamodb.types import TypeDeserializer

    des = TypeDeserializer()
    for page in ddb.get_paginator(query.pop("operation")).paginate(**query):
        for item in page["Items"]:
            yield {k: des.deserialize(v) for k, v in item.items()}


def audit_entries(ddb: Any, table: str, environment: str) -> list[dict[str, Any]]:
    """Every audit entry of one environment (its partition of the state table)."""
    return list(
        _items(
            ddb,
            operation="query",
            TableName=table,
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": f"AUDIT#{environment}"}},
        )
    )


def cap_counters(ddb: Any, table: str, environment: str) -> dict[tuple[str, str], int]:
    """(environment, UTC minute) -> changes the environment's cap counter admitted then."""
    return {
        (environment, str(item["sk"])): int(item.get("n", 0))
        for item in _items(
            ddb,
            operation="query",
            TableName=table,
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": f"CAP#{environment}"}},
        )
    }


def claimed_cooldowns(ddb: Any, table: str) -> set[tuple[str, str]]:
    """(environment, service) whose scale-out cooldown window is claimed (the bench scans the
    table: opsbot itself never does)."""
    found = set()
    for item in _items(
        ddb,
        operation="scan",
        TableName=table,
        FilterExpression="begins_with(pk, :p)",
        ExpressionAttributeValues={":p": {"S": "COOLDOWN#"}},
        ProjectionExpression="pk",
    ):
        # COOLDOWN#<rule>#<environment>#ecs:<service>#out
        parts = str(item["pk"]).split("#")
        if len(parts) == 5 and parts[4] == "out" and parts[3].startswith("ecs:"):
            found.add((parts[2], parts[3].removeprefix("ecs:")))
    return found
