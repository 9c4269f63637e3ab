"""ECS: the protected ``prod`` environment (its cluster, web running web:1.0, desired 3, bounds
2..10), in the demo's account and region, from the demo's ECR repository."""

from __future__ import annotations

from typing import Any

from infra.local.demo import ecs as demo_ecs
from infra.local.demo.names import PROD_CLUSTER, PROD_DESIRED, PROD_SERVICES


def seed_prod(
    aws: Any, *, registry: str, role_arn: str, network: dict[str, Any], region: str
) -> dict[str, str]:
    """Create the prod cluster and its services (task definition families ``prod-NAME``, the
    container named as the service); their ARNs keyed by name."""
    ecs = aws("ecs")
    out = {
        "prod_cluster_arn": ecs.create_cluster(clusterName=PROD_CLUSTER)["cluster"]["clusterArn"]
    }
    for name, port, _, _ in PROD_SERVICES:
        family = f"{PROD_CLUSTER}-{name}"
        out[f"prod_{name}_task_definition_arn"] = demo_ecs.register_task_definition(
            ecs,
            family,
            port=port,
            image=f"{registry}/{name}:1.0",
            role_arn=role_arn,
            region=region,
            container=name,
            cluster=PROD_CLUSTER,
        )
        out[f"prod_{name}_service_arn"] = demo_ecs.create_service(
            ecs,
            name,
            port,
            network,
            None,
            cluster=PROD_CLUSTER,
            task_definition=family,
            desired=PROD_DESIRED,
        )
    demo_ecs.seed_app_autoscaling(
        aws("application-autoscaling"), cluster=PROD_CLUSTER, services=PROD_SERVICES
    )
    return out
