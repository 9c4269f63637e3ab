"""The demo environment's fixed names and shapes (fixed by the contract's demo section)."""

from __future__ import annotations

from typing import Any

CLUSTER = "demo"
EXECUTION_ROLE = "demo-ecs-task-execution"
ECR_TAGS: dict[str, tuple[str, ...]] = {"web": ("1.0", "1.1", "2.0"), "api": ("1.0", "2.0")}
CERT_DOMAIN = "demo.example.com"
CERT_DAYS_LEFT = 18
HOSTED_ZONE = "example.com"
ALB_NAME = "demo-alb"
TARGET_GROUP = "demo-web"
ASG_NAME = "demo-workers"
QUEUE_NAME = "demo-workers-jobs"
BUDGET_NAME = "monthly-ops"
OPS_EMAIL = "ops@example.com"
WORKER_AMI = "ami-12c6146b"  # one of the AMIs moto ships with
DEPLOYMENT_CONFIGURATION: dict[str, Any] = {
    "deploymentCircuitBreaker": {"enable": True, "rollback": True},
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
}
# (name, port, min capacity, max capacity) per ECS service
SERVICES: tuple[tuple[str, int, int, int], ...] = (("web", 8080, 1, 6), ("api", 9090, 2, 4))
# The protected environment: its own cluster, web from the same ECR repository, desired 3
PROD_CLUSTER = "prod"
PROD_SERVICES: tuple[tuple[str, int, int, int], ...] = (("web", 8080, 2, 10),)
PROD_DESIRED = 3


def name_tag(resource: str, name: str) -> list[dict[str, Any]]:
    """An EC2 TagSpecifications list naming one resource."""
    return [{"ResourceType": resource, "Tags": [{"Key": "Name", "Value": name}]}]
