"""ECS: the demo cluster's task definitions and services, and their scalable targets."""

from __future__ import annotations

from typing import Any

from infra.local.demo.names import CLUSTER, DEPLOYMENT_CONFIGURATION, SERVICES


def _container(
    name: str, image: str, port: int, region: str, cluster: str = CLUSTER
) -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "essential": True,
        "portMappings": [{"containerPort": port, "hostPort": port, "protocol": "tcp"}],
        "environment": [
            {"name": "APP_ENV", "value": cluster},
            {"name": "PORT", "value": str(port)},
            {"name": "LOG_LEVEL", "value": "info"},
        ],
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": f"/ecs/{cluster}/{name}",
                "awslogs-region": region,
                "awslogs-stream-prefix": name,
            },
        },
        "healthCheck": {
            "command": ["CMD-SHELL", f"curl -fsS http://localhost:{port}/health || exit 1"],
            "interval": 30,
            "timeout": 5,
            "retries": 3,
            "startPeriod": 10,
        },
    }


def register_task_definition(
    ecs: Any,
    family: str,
    *,
    port: int,
    image: str,
    role_arn: str,
    region: str,
    container: str | None = None,
    cluster: str = CLUSTER,
) -> str:
    """Register a Fargate task definition for ``family`` (its container named ``container``,
    by default the family); its ARN."""
    name = container or family
    containers = [_container(name, image, port, region, cluster)]
    if name == "web":
        containers.append(
            {
                "name": "log-router",
                "image": "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable",
                "essential": False,
                "cpu": 32,
                "memoryReservation": 64,
                "firelensConfiguration": {"type": "fluentbit"},
            }
        )
    td = ecs.register_task_definition(
        family=family,
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        executionRoleArn=role_arn,
        containerDefinitions=containers,
    )["taskDefinition"]
    return str(td["taskDefinitionArn"])


def create_service(
    ecs: Any,
    name: str,
    port: int,
    network: dict[str, Any],
    target_group_arn: str | None,
    *,
    cluster: str = CLUSTER,
    task_definition: str | None = None,
    desired: int = 2,
) -> str:
    """Create an ECS service (desired 2 unless told, circuit breaker on); its ARN."""
    from botocore.exceptions import ClientError

    params: dict[str, Any] = {
        "cluster": cluster,
        "serviceName": name,
        "taskDefinition": task_definition or name,
        "desiredCount": desired,
        "launchType": "FARGATE",
        "networkConfiguration": {
            "awsvpcConfiguration": {
                "subnets": network["subnets"],
                "securityGroups": [network["security_group"]],
                "assignPublicIp": "DISABLED",
            }
        },
        "deploymentConfiguration": DEPLOYMENT_CONFIGURATION,
    }
    if target_group_arn:
        lb = {"targetGroupArn": target_group_arn, "containerName": name, "containerPort": port}
        try:
            service = ecs.create_service(**params, loadBalancers=[lb])["service"]
        except ClientError:
            service = ecs.create_service(**params)["service"]
    else:
        service = ecs.create_service(**params)["service"]
    if "deploymentConfiguration" not in service:
        # moto's CreateService drops deploymentConfiguration; UpdateService stores it.
        ecs.update_service(
            cluster=cluster, service=name, deploymentConfiguration=DEPLOYMENT_CONFIGURATION
        )
    return str(service["serviceArn"])


def seed_app_autoscaling(
    aas: Any, *, cluster: str = CLUSTER, services: tuple[tuple[str, int, int, int], ...] = SERVICES
) -> None:
    """Register each service's scalable target with its bounds."""
    for name, _, low, high in services:
        aas.register_scalable_target(
            ServiceNamespace="ecs",
            ResourceId=f"service/{cluster}/{name}",
            ScalableDimension="ecs:service:DesiredCount",
            MinCapacity=low,
            MaxCapacity=high,
        )
