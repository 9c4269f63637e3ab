"""The audit trail, as one actor may read it."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING

from chalicelib.core.errors import InvalidRequest, NotFound
from chalicelib.domain.policy import Permission
from chalicelib.domain.policy_base import NAME_PATTERN

if TYPE_CHECKING:
    from chalicelib.deps import Deps
    from chalicelib.records.audit import AuditEntry

_ENVIRONMENT = re.compile(NAME_PATTERN, re.ASCII)
# A target's name: a service or group (the policy's names), budget:NAME, or a (wildcard) domain.
_TARGET = re.compile(r"^(budget:)?(\*\.)?[A-Za-z0-9][A-Za-z0-9_.-]{0,252}$", re.ASCII)


def _validate(environment: str | None, service: str | None) -> None:
    fields: dict[str, str] = {}
    if environment is not None and not _ENVIRONMENT.match(environment):
        fields["environment"] = "not an environment name"
    if service is not None and not _TARGET.match(service):
        fields["service"] = "not a service, group, budget:NAME or domain name"
    if fields:
        raise InvalidRequest(f"invalid query: {', '.join(sorted(fields))}", fields=fields)


def audit(
    deps: Deps,
    *,
    actor: str,
    environment: str | None,
    service: str | None,
    limit: int,
    before: str | None = None,
) -> tuple[list[AuditEntry], str | None]:
    """Newest-first audit entries the actor may read: of one environment or of every one the
    actor may read, optionally of one target (a service, a group, ``budget:x``, a domain).

    Names are validated first, then permissions; a not-found answer names only what the actor
    may read. One page, older than the position ``before``: the entries and the next page's
    position, if any."""
    _validate(environment, service)
    if environment:
        env = deps.policy.environment(environment, reader=actor)
        deps.policy.require(actor, env.name, Permission.READ)
        names = [env.name]
    else:
        names = deps.policy.readable(actor)
    if service and ":" not in service and "." not in service:  # budget:x and domains pass
        known = {
            target
            for name in names
            for target in (
                *deps.policy.environments[name].services,
                *deps.policy.environments[name].autoscaling_groups,
            )
        }
        if service not in known:
            extra = {"known": sorted(known)} if known else {}
            raise NotFound(f"unknown service {service!r}", **extra)
    return deps.store.audit_page(environments=names, service=service, limit=limit, before=before)


def history(
    deps: Deps, *, actor: str, environment: str, service: str, limit: int
) -> list[AuditEntry]:
    """What was done to one service or group, newest first (refused requests and skipped
    reactions stay in the audit): one entry per deployment, its latest."""
    env = deps.policy.resolve(actor, environment, Permission.READ, service)
    entries = deps.store.history_entries(environment=env.name, target=service, limit=3 * limit)
    seen: set[str] = set()
    out: list[AuditEntry] = []
    for entry in entries:
        if entry.deployment_id:
            if entry.deployment_id in seen:
                continue
            seen.add(entry.deployment_id)
        out.append(entry)
    return [_now(deps, entry) for entry in out[:limit]]


def _now(deps: Deps, entry: AuditEntry) -> AuditEntry:
    """A deployment's line with its status now: a deploy that succeeded and was later rolled
    back reads ``rolled_back`` (the rollback's transaction does not audit the original)."""
    if not entry.deployment_id:
        return entry
    record = deps.store.get_deployment(entry.deployment_id)
    if record is None or record.status == entry.result or record.status.active:
        return entry
    return replace(entry, result=str(record.status))
