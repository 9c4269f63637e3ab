"""A thin ECS adapter: one DescribeServices, read through properties (fabfuel/ecs-deploy's
``EcsService``), used by deploys, scaling and status."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient


class EcsService(dict[str, Any]):
    """A described ECS service (the DescribeServices item, as a dict) with named views."""

    @property
    def name(self) -> str:
        """The service name."""
        return str(self.get("serviceName", ""))

    @property
    def task_definition(self) -> str | None:
        """The task definition ARN the service is set to run."""
        value = self.get("taskDefinition")
        return str(value) if value else None

    @property
    def desired(self) -> int:
        """Desired count."""
        return int(self.get("desiredCount", 0))

    @property
    def running(self) -> int:
        """Running count."""
        return int(self.get("runningCount", 0))

    @property
    def deployments(self) -> list[dict[str, Any]]:
        """ECS deployments, PRIMARY first as ECS lists them."""
        return list(self.get("deployments", []))

    @property
    def primary(self) -> dict[str, Any]:
        """The PRIMARY deployment (empty when ECS lists none)."""
        for deployment in self.deployments:
            if deployment.get("status") == "PRIMARY":
                return dict(deployment)
        return {}


def describe_service(ecs: ECSClient | Any, cluster: str, service: str) -> EcsService | None:
    """DescribeServices for one service; None when it does not exist (or is INACTIVE)."""
    resp = ecs.describe_services(cluster=cluster, services=[service])
    found = [s for s in resp.get("services", []) if s.get("status") != "INACTIVE"]
    return EcsService(found[0]) if found else None


def short_task_definition(arn: str | None) -> str:
    """``family:revision`` of a task definition ARN (``?`` when unknown)."""
    return (arn or "?").rsplit("/", 1)[-1]


# ListTasks and DescribeTasks both take at most 100: one page of each bounds a failure's reading.
TASK_PAGE = 100


def stopped_tasks(
    ecs: ECSClient | Any, cluster: str, service: str, started_by: str
) -> list[dict[str, Any]]:
    """The stopped tasks an ECS deployment started (its ``startedBy`` is the deployment id),
    newest first; at most one ListTasks page and one DescribeTasks call (ECS keeps stopped
    tasks for about an hour)."""
    listed = ecs.list_tasks(
        cluster=cluster, serviceName=service, desiredStatus="STOPPED", maxResults=TASK_PAGE
    )
    arns = list(listed.get("taskArns", []))[:TASK_PAGE]
    if not arns:
        return []
    described = ecs.describe_tasks(cluster=cluster, tasks=arns).get("tasks", [])
    mine = [dict(t) for t in described if t.get("startedBy") == started_by]
    return sorted(mine, key=lambda t: str(t.get("stoppedAt") or ""), reverse=True)
