"""Seed the opsbot demo environment into an already-running moto server.

Everything goes through ordinary boto3 clients, so ``AWS_ENDPOINT_URL`` must point at the moto
server (``seed_demo`` refuses to run without it, to never touch real AWS). The server is expected
to be fresh: names are fixed by the demo contract and a second run hits "already exists" errors.
Each concern lives in ``infra/local/demo/``; this module only composes them in order.
"""

from __future__ import annotations

import os
from typing import Any

from infra.local.demo import alarms, budgets, ecr, ecs, edge, iam, network, prod, workers
from infra.local.demo.names import CLUSTER, SERVICES


class _Clients:
    """boto3 clients sharing one session, created on first use: ``aws("ecs")``."""

    def __init__(self, region: str) -> None:
        import boto3

        # Dummy credentials when none are set, so a bare shell can seed moto.
        dummy = None if "AWS_ACCESS_KEY_ID" in os.environ else "testing"
        self._session = boto3.session.Session(
            aws_access_key_id=dummy, aws_secret_access_key=dummy, region_name=region
        )
        self._cache: dict[str, Any] = {}

    def __call__(self, service: str) -> Any:
        if service not in self._cache:
            make_client: Any = self._session.client  # Any: service is a runtime string
            self._cache[service] = make_client(service)
        return self._cache[service]


def seed_demo(*, alarms_topic_arn: str, region: str = "us-east-1") -> dict[str, str]:
    """Create the contract's demo environment; return useful ids/ARNs keyed by name."""
    if not os.environ.get("AWS_ENDPOINT_URL"):
        raise RuntimeError("AWS_ENDPOINT_URL is not set; refusing to seed anything but moto")
    aws = _Clients(region)
    account = aws("sts").get_caller_identity()["Account"]
    out: dict[str, str] = {"account_id": account, "region": region}

    out.update(ecr.seed_ecr(aws("ecr")))
    out["execution_role_arn"] = iam.seed_iam(aws("iam"))
    net = network.seed_network(aws("ec2"), region)
    out.update(
        vpc_id=net["vpc_id"],
        subnet_ids=",".join(net["subnets"]),
        security_group_id=net["security_group"],
    )
    out.update(edge.seed_certificate(aws("acm")))
    out.update(edge.seed_load_balancer(aws("elbv2"), net, out["certificate_arn"]))
    out.update(edge.seed_dns(aws("route53"), out["alb_dns_name"], out["alb_hosted_zone_id"]))
    out["cluster_arn"] = aws("ecs").create_cluster(clusterName=CLUSTER)["cluster"]["clusterArn"]
    registry = f"{account}.dkr.ecr.{region}.amazonaws.com"
    for name, port, _, _ in SERVICES:
        out[f"{name}_task_definition_arn"] = ecs.register_task_definition(
            aws("ecs"),
            name,
            port=port,
            image=f"{registry}/{name}:1.0",
            role_arn=out["execution_role_arn"],
            region=region,
        )
    for name, port, _, _ in SERVICES:
        tg = out["target_group_arn"] if name == "web" else None
        out[f"{name}_service_arn"] = ecs.create_service(aws("ecs"), name, port, net, tg)
    ecs.seed_app_autoscaling(aws("application-autoscaling"))
    out.update(
        prod.seed_prod(
            aws, registry=registry, role_arn=out["execution_role_arn"], network=net, region=region
        )
    )
    out.update(workers.seed_workers(aws("ec2"), aws("autoscaling"), aws("sqs"), net))
    out.update(alarms.seed_alarms(aws("cloudwatch"), alarms_topic_arn))
    out["budget_name"] = budgets.seed_budget(aws("budgets"), account)
    return out
