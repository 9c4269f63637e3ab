"""Task-definition revisions of a deploy: the image pinned to its digest, the running task
definition rendered with it, registered once per deployment (tagged with the deployment's id, so
a retry that died between RegisterTaskDefinition and its checkpoint finds it instead of
registering another)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from chalicelib.core.errors import OpsError

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient

# The tag on every revision opsbot registers: which deployment registered it.
DEPLOYMENT_TAG = "opsbot:deployment"
# How many of a family's latest revisions a retry looks through for its own.
_LOOK_BACK = 10


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """(name, tag, digest) of an image reference such as ``host/repo:tag@sha256:...``."""
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = None
    if ":" in last:
        name, _, tag = name.rpartition(":")
    return name, tag or None, digest or None


# Fields DescribeTaskDefinition returns that RegisterTaskDefinition does not accept.
READ_ONLY_FIELDS = (
    "taskDefinitionArn",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "registeredBy",
    "deregisteredAt",
    "deleteRequestedAt",
)


def pinned_image(image: str, digest: str | None) -> str:
    """``repo@sha256:...`` for an image whose digest was verified in ECR (the tag dropped: a
    re-pushed tag must not change what the next task launch runs); else the image as given."""
    if not digest:
        return image
    name, _, _ = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name = name.rpartition(":")[0]
    return f"{name}@{digest}"


def render_task_definition(
    task_definition: Mapping[str, Any], *, container: str, image: str
) -> dict[str, Any]:
    """RegisterTaskDefinition input: the described task definition with one container's image.

    Everything else is kept as it was (other containers, roles, volumes, tags' owner fields are
    dropped only where ECS rejects them), as the amazon-ecs-render-task-definition action does.
    """
    rendered = {
        k: copy.deepcopy(v) for k, v in task_definition.items() if k not in READ_ONLY_FIELDS
    }
    names = [c.get("name") for c in rendered.get("containerDefinitions", [])]
    if container not in names:
        raise OpsError(
            f"task definition {task_definition.get('family')} has no container {container!r} "
            f"(it has {names})"
        )
    for definition in rendered["containerDefinitions"]:
        if definition["name"] == container:
            definition["image"] = image
    return rendered


def container_image(task_definition: Mapping[str, Any], container: str) -> str | None:
    """The image of one container of a described task definition."""
    for definition in task_definition.get("containerDefinitions", []):
        if definition.get("name") == container:
            return str(definition.get("image"))
    return None


def _revision_number(arn: str) -> int:
    tail = arn.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else -1


def registered_revision(ecs: ECSClient, family: str, deployment_id: str) -> str | None:
    """The revision of ``family`` that ``deployment_id`` registered, among its latest, or None."""
    arns = ecs.list_task_definitions(familyPrefix=family, sort="DESC", maxResults=_LOOK_BACK)[
        "taskDefinitionArns"
    ]
    latest = sorted(
        (a for a in arns if a.rsplit("/", 1)[-1].rpartition(":")[0] == family),
        key=_revision_number,
        reverse=True,
    )[:_LOOK_BACK]
    for arn in latest:
        tags = ecs.describe_task_definition(taskDefinition=arn, include=["TAGS"]).get("tags", [])
        if any(t.get("key") == DEPLOYMENT_TAG and t.get("value") == deployment_id for t in tags):
            return arn
    return None


def register_revision(
    ecs: ECSClient, *, previous: str, container: str, image: str, deployment_id: str
) -> tuple[str, str | None]:
    """Register ``previous`` with ``container`` running ``image``, tagged with the deployment:
    (the new revision, the image ``container`` ran in ``previous``)."""
    described = ecs.describe_task_definition(taskDefinition=previous, include=["TAGS"])
    rendered = render_task_definition(described["taskDefinition"], container=container, image=image)
    tags = [t for t in described.get("tags", []) if t.get("key") != DEPLOYMENT_TAG]
    rendered["tags"] = [*tags, {"key": DEPLOYMENT_TAG, "value": deployment_id}]
    arn: str = ecs.register_task_definition(**rendered)["taskDefinition"]["taskDefinitionArn"]
    return arn, container_image(described["taskDefinition"], container)


def family_of(task_definition: str) -> str:
    """The family of a task-definition ARN (or ``family:revision``)."""
    return task_definition.rsplit("/", 1)[-1].rpartition(":")[0] or task_definition
