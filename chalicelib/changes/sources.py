"""Two of a service's change sources: opsbot's own records (its audit history of the target)
and ECS (the service's DescribeServices events and deployments)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from chalicelib.aws.ecs import EcsService, short_task_definition
from chalicelib.records.change import Change, ChangeSource

if TYPE_CHECKING:
    from chalicelib.deps import Deps
    from chalicelib.records.audit import AuditEntry

HISTORY_READ = 50  # newest history entries read per feed (one keyed query)
# ECS service events that say something changed: deployments, rollbacks, tasks stopped
_ECS_CHANGE = re.compile(r"deployment|rolling back|stopped|failed|circuit breaker", re.I)
_SERVICE_PREFIX = re.compile(r"^\(service [^)]+\)\s*")


def opsbot_changes(
    deps: Deps, environment: str, service: str, since: datetime, until: datetime
) -> list[Change]:
    """What opsbot did to the service in the window (deploys, rollbacks, scaling, alarm
    reactions that acted, decisions): one line per deployment, its latest."""
    entries = deps.store.history_entries(
        environment=environment, target=service, limit=HISTORY_READ
    )
    seen: set[str] = set()
    out: list[Change] = []
    for entry in entries:  # newest first
        if not since <= entry.at <= until:
            continue
        if entry.deployment_id:
            if entry.deployment_id in seen:
                continue
            seen.add(entry.deployment_id)
        out.append(
            Change(
                at=entry.at,
                source=ChangeSource.OPSBOT,
                actor=entry.actor,
                what=_what(entry),
                detail=(entry.reason or "")[:300],
                deployment_id=entry.deployment_id,
            )
        )
    return out


def _what(entry: AuditEntry) -> str:
    if entry.before is not None and entry.after is not None and entry.before != entry.after:
        direction = "out" if entry.after > entry.before else "in"
        how = "alarm reaction: " if entry.action == "alarm_reaction" else ""
        return f"{how}scaled {direction} {entry.before} -> {entry.after}"
    what = f"{entry.action.replace('_', ' ')} {entry.result}"
    if entry.image:
        what += f" {entry.image.rsplit('/', 1)[-1]}"
    if entry.deployment_id:
        what += f" ({entry.deployment_id})"
    return what


def ecs_changes(current: EcsService, since: datetime, until: datetime) -> list[Change]:
    """The service's ECS deployments started in the window, and its events that say a
    deployment completed, failed or rolled back, or a task stopped (not steady-state notes)."""
    out: list[Change] = []
    for deployment in current.deployments:
        created = deployment.get("createdAt")
        if isinstance(created, datetime) and since <= created <= until:
            out.append(
                Change(
                    at=created,
                    source=ChangeSource.ECS,
                    actor="ECS",
                    what=f"deployment {deployment.get('id', '?')} started "
                    f"({short_task_definition(deployment.get('taskDefinition'))})",
                    detail=f"status {deployment.get('status')}, rollout "
                    f"{deployment.get('rolloutState') or '?'}",
                )
            )
    events: list[dict[str, Any]] = list(current.get("events") or [])
    for event in events:
        created = event.get("createdAt")
        message = str(event.get("message") or "")
        if not isinstance(created, datetime) or not since <= created <= until:
            continue
        if not _ECS_CHANGE.search(message):
            continue
        out.append(
            Change(
                at=created,
                source=ChangeSource.ECS,
                actor="ECS",
                what=_SERVICE_PREFIX.sub("", message)[:200],
                detail=str(event.get("id") or ""),
            )
        )
    return out
