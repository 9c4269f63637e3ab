"""A forced new deployment: fresh tasks of a service, same task definition, under its lock.

It has no count to compare, so a caller that must not force twice (an alarm reaction, a held
one) passes ``mark``: a conditional write, made under the lock just before the change, that
records since when this change is forcing. An attempt that finds an earlier attempt's mark asks
ECS whether that attempt forced it, a deployment of the service created at or after the mark
(the lock keeps every other opsbot change out meanwhile), and forces only if none was.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chalicelib.domain.actions import Outcome
from chalicelib.records.status import ActionResult
from chalicelib.records.target import Target
from chalicelib.scaling.procedure import Admit, OnChange, _holding, audit_change

if TYPE_CHECKING:
    from chalicelib.deps import Deps
    from chalicelib.domain.policy import Environment

# Records that this change is forcing since the given time (epoch seconds); returns None, or
# the time an earlier attempt recorded instead.
Mark = Callable[[int], int | None]


def force_new_deployment(
    deps: Deps,
    env: Environment,
    service: str,
    *,
    actor: str,
    why: str,
    on_change: OnChange | None = None,
    admit: Admit | None = None,
    mark: Mark | None = None,
    audited: bool = True,
) -> Outcome:
    """Replace a service's tasks (same task definition), unless a deploy holds its lock
    (``admit`` and ``audited`` as for scaling); with ``mark``, at most once."""
    target = Target.service(env.name, service)
    with _holding(deps, target, actor) as holder:
        if holder is not None:
            return Outcome(ActionResult.BUSY, f"{target.label} is busy with {holder}")
        refused = admit() if admit is not None else None
        if refused is not None:
            return refused
        ecs = deps.aws("ecs", env)
        earlier = mark(int(deps.clock().timestamp())) if mark is not None else None
        if earlier is None or not _started_since(ecs, env, service, earlier):
            ecs.update_service(cluster=env.cluster, service=service, forceNewDeployment=True)
        outcome = Outcome(
            ActionResult.FORCED,
            f"started a new deployment of {service} (fresh tasks, same task definition)",
        )
        if on_change is not None:
            on_change(outcome)
    if audited:
        audit_change(deps, target, "force_new_deployment", outcome, actor=actor, why=why)
    return outcome


def _started_since(ecs: Any, env: Environment, service: str, since: int) -> bool:
    """Whether ECS has a deployment of the service created at or after ``since``."""
    found = ecs.describe_services(cluster=env.cluster, services=[service]).get("services", [])
    return any(d["createdAt"].timestamp() >= since for s in found for d in s.get("deployments", []))
