"""What a deploy (or rollback) would change, read and never written: the service as ECS reports
it, the image its container runs, and the task-definition fields the new revision changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from chalicelib.aws.ecs import describe_service
from chalicelib.core.errors import OpsError
from chalicelib.deploys.diff import Change, task_definition_changes
from chalicelib.deploys.revision import container_image, pinned_image, render_task_definition

if TYPE_CHECKING:
    from chalicelib.aws.ecs import EcsService
    from chalicelib.deps import Deps
    from chalicelib.domain.policy import Environment


@dataclass(frozen=True)
class Planned:
    """A service now and what the change would make of its task definition."""

    service: EcsService | None  # None: ECS has no such service
    current_task_definition: str | None = None
    current_image: str | None = None
    changes: list[Change] = field(default_factory=list)
    problem: str | None = None  # why the new revision cannot be rendered (the start would fail)


def plan_change(
    deps: Deps,
    env: Environment,
    service: str,
    *,
    image: str,
    digest: str | None,
    task_definition: str | None = None,
) -> Planned:
    """Read ``service`` in ``env`` and diff its task definition against the revision a deploy of
    ``image`` (pinned to ``digest``) would register, or against ``task_definition`` (a
    rollback's existing revision). No write: DescribeServices and DescribeTaskDefinition."""
    ecs = deps.aws("ecs", env)
    try:
        found = describe_service(ecs, env.cluster, service)
    except ecs.exceptions.ClusterNotFoundException:
        found = None
    if found is None or not found.task_definition:
        return Planned(found, problem=f"service {service} not found in cluster {env.cluster}")
    container = env.service(service).container
    described = ecs.describe_task_definition(taskDefinition=found.task_definition)
    before = described["taskDefinition"]
    current = container_image(before, container)
    try:
        if task_definition is not None:
            after = dict(
                ecs.describe_task_definition(taskDefinition=task_definition)["taskDefinition"]
            )
        else:
            after = render_task_definition(
                before, container=container, image=pinned_image(image, digest)
            )
    except OpsError as exc:
        return Planned(found, found.task_definition, current, problem=exc.message)
    changes = task_definition_changes(before, after)
    return Planned(found, found.task_definition, current, changes)
