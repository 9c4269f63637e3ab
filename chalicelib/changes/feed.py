"""One change feed per service: opsbot's records, CloudTrail and ECS, merged newest first.

Every source is read within bounds (keyed queries, paged lookups) and none can fail the feed:
a source that cannot be read is named in ``missing_sources`` with a note saying why.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from chalicelib.aws.ecs import EcsService, describe_service
from chalicelib.changes.cloudtrail import cloudtrail_changes
from chalicelib.changes.sources import ecs_changes, opsbot_changes
from chalicelib.core.errors import InvalidRequest, NotFound
from chalicelib.core.observability import count, logger
from chalicelib.domain.policy import Permission
from chalicelib.records.change import Change, ChangeFeed

if TYPE_CHECKING:
    from chalicelib.deps import Deps
    from chalicelib.domain.policy import Environment

DEFAULT_MINUTES = 60
MAX_MINUTES = 1440
MAX_ITEMS = 200


def check_minutes(value: int) -> int:
    """``since_minutes`` from 1 to 1,440, or a 400 naming it."""
    if not 1 <= value <= MAX_MINUTES:
        raise InvalidRequest(
            f"since_minutes must be from 1 to {MAX_MINUTES}",
            fields={"since_minutes": f"from 1 to {MAX_MINUTES}"},
        )
    return value


def changes(
    deps: Deps, *, actor: str, environment: str, service: str, since_minutes: int
) -> ChangeFeed:
    """The service's changes of the last ``since_minutes`` minutes, as ``actor`` may read them."""
    check_minutes(since_minutes)
    env = deps.policy.resolve(actor, environment, Permission.READ, service)
    env.service(service)
    until = deps.clock()
    return service_changes(
        deps.acting_for(actor),
        env,
        service,
        since=until - timedelta(minutes=since_minutes),
        until=until,
    )


def service_changes(
    deps: Deps, env: Environment, service: str, *, since: datetime, until: datetime
) -> ChangeFeed:
    """Every source's changes of one service between ``since`` and ``until``."""
    from botocore.exceptions import BotoCoreError, ClientError

    items: list[Change] = []
    missing: list[str] = []
    notes: list[str] = []
    try:
        items.extend(opsbot_changes(deps, env.name, service, since, until))
    except (ClientError, BotoCoreError) as exc:
        missing.append("opsbot")
        notes.append(f"opsbot: {_why(exc)}")
    current: EcsService | None = None
    try:
        current = describe_service(deps.aws("ecs", env), env.cluster, service)
    except (ClientError, BotoCoreError) as exc:
        missing.append("ecs")
        notes.append(f"ecs: {_why(exc)}")
    if current is None and "ecs" not in missing:
        raise NotFound(
            f"service {service!r} is in the ops policy but not in ECS cluster {env.cluster!r}"
        )
    if current is not None:
        items.extend(ecs_changes(current, since, until))
    names = [service, *(_related(deps, env, current, notes) if current is not None else [])]
    if env.role_arn:
        names.append(env.role_arn.rsplit("/", 1)[-1])
    trail = cloudtrail_changes(deps, env, names, since, until)
    items.extend(trail.items)
    if trail.missing:
        missing.append("cloudtrail")
        notes.append(trail.missing)
        count("ChangeSourcesMissing", source="cloudtrail")
        logger().warning("change feed without CloudTrail", extra={"reason": trail.missing})
    items.sort(key=lambda c: c.at, reverse=True)
    return ChangeFeed(
        environment=env.name,
        service=service,
        since=since,
        until=until,
        items=tuple(items[:MAX_ITEMS]),
        missing_sources=tuple(missing),
        notes=tuple(notes),
    )


def _related(deps: Deps, env: Environment, current: EcsService, notes: list[str]) -> list[str]:
    """The names CloudTrail knows the service's other resources by: its task definition
    family, its task role, its target groups and the listeners that forward to them."""
    from botocore.exceptions import BotoCoreError, ClientError

    names: list[str] = []
    try:
        if current.task_definition:
            ecs = deps.aws("ecs", env)
            task = ecs.describe_task_definition(taskDefinition=current.task_definition)
            definition: dict[str, Any] = dict(task.get("taskDefinition") or {})
            names.append(str(definition.get("family") or ""))
            role = str(definition.get("taskRoleArn") or "")
            if role:
                names.append(role.rsplit("/", 1)[-1])
        groups = [
            str(lb["targetGroupArn"])
            for lb in current.get("loadBalancers") or []
            if lb.get("targetGroupArn")
        ]
        names.extend(groups)
        if groups:
            names.extend(_listeners(deps, env, groups))
    except (ClientError, BotoCoreError) as exc:
        notes.append(f"related resources: {_why(exc)}")
    return [n for n in names if n]


def _listeners(deps: Deps, env: Environment, groups: list[str]) -> list[str]:
    elb = deps.aws("elbv2", env)
    described = elb.describe_target_groups(TargetGroupArns=groups[:20])
    balancers = {arn for tg in described.get("TargetGroups", []) for arn in tg["LoadBalancerArns"]}
    out: list[str] = []
    for balancer in sorted(balancers)[:5]:
        for listener in elb.describe_listeners(LoadBalancerArn=balancer).get("Listeners", []):
            if any(
                action.get("TargetGroupArn") in groups
                for action in listener.get("DefaultActions", [])
            ):
                out.append(listener["ListenerArn"])
    return out


def _why(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error", {})
        return f"{error.get('Code', 'error')}: {str(error.get('Message', ''))[:200]}"
    return type(exc).__name__
