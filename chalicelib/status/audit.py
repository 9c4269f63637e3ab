"""The audit trail, as one actor may read it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.core.errors import NotFound
from chalicelib.domain.policy import Permission

if TYPE_CHECKING:
    from chalicelib.deps import Deps
    from chalicelib.records.audit import AuditEntry


def audit(
    deps: Deps, *, actor: str, environment: str | None, service: str | None, limit: int
) -> list[AuditEntry]:
    """Newest-first audit entries the actor may read: of one environment or of every one the
    actor may read, optionally of one target (a service, a group, ``budget:x``, a domain)."""
    if environment:
        env = deps.policy.environment(environment)
        deps.policy.require(actor, env.name, Permission.READ)
        names = [env.name]
    else:
        names = [
            n
            for n in deps.policy.environments
            if Permission.READ in deps.policy.permissions(actor, n)
        ]
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
            raise NotFound(f"unknown service {service!r}", known=sorted(known))
    items: list[AuditEntry] = []
    for name in names:
        items.extend(deps.store.audit_entries(environment=name, service=service, limit=limit))
    items.sort(key=lambda e: e.at, reverse=True)
    return items[:limit]
