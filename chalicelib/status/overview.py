"""Whole-environment reads (the dashboard's REST routes): the same code Slack's ``status``,
``budget`` and ``certificates`` commands use, one environment at a time, as one actor may read
it. Names are validated, then the environment is found, then the actor's ``read`` is checked."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chalicelib.budgets import Budget, account_budgets
from chalicelib.certificates import listener_certificates
from chalicelib.certificates.inventory import certificate_list
from chalicelib.core.errors import InvalidRequest
from chalicelib.domain.policy import Permission
from chalicelib.domain.policy_base import NAME_PATTERN
from chalicelib.records.guards import Freeze
from chalicelib.status.services import ServiceStatus, services_status

if TYPE_CHECKING:
    from chalicelib.deps import Deps
    from chalicelib.domain.policy import Environment
    from chalicelib.records.deployment import Deployment

_NAME = re.compile(NAME_PATTERN, re.ASCII)


@dataclass(frozen=True)
class EnvironmentSummary:
    """An environment a reader may see, with what opsbot manages there."""

    name: str
    account: str
    region: str
    cluster: str
    services: list[str]
    autoscaling_groups: list[str]
    load_balancers: list[str]
    freeze: Freeze | None = None


@dataclass(frozen=True)
class CertificateStatus:
    """An ACM certificate of an environment, and the listeners that serve it."""

    domain: str | None
    arn: str
    status: str | None
    not_after: str | None
    days_left: int | None
    listeners: list[str]


def _names(**names: str | None) -> None:
    """InvalidRequest naming each given name that is not a policy name."""
    bad = {k: "not a name" for k, v in names.items() if v is not None and not _NAME.match(v)}
    if bad:
        raise InvalidRequest(f"invalid query: {', '.join(sorted(bad))}", fields=bad)


def readable(deps: Deps, actor: str, environment: str | None) -> Environment:
    """The named environment, if ``actor`` may read it (400, 404 or 403 if not)."""
    if environment is None:
        raise InvalidRequest("environment is required", fields={"environment": "missing"})
    _names(environment=environment)
    return deps.policy.resolve(actor, environment, Permission.READ)


def environments(deps: Deps, actor: str) -> list[EnvironmentSummary]:
    """Every environment ``actor`` may read, by name."""
    out = []
    names = deps.policy.readable(actor)
    freezes = deps.store.freezes(names)
    for name in names:
        env = deps.policy.environments[name]
        out.append(
            EnvironmentSummary(
                name=name,
                account=env.account,
                region=env.region,
                cluster=env.cluster,
                services=sorted(env.services),
                autoscaling_groups=sorted(env.autoscaling_groups),
                load_balancers=list(env.load_balancers),
                freeze=freezes.get(name),
            )
        )
    return out


def services(
    deps: Deps, actor: str, environment: str, *, limit: int, after: str | None = None
) -> tuple[list[ServiceStatus], str | None]:
    """One page of the environment's services by name (after the service ``after``), each as
    ``GET /services/{environment}/{service}`` shows it, and the last name of the page when
    more follow (a path's environment: unknown, whatever its spelling, is a 404 as on that
    route). Only the page's services are described."""
    env = deps.policy.resolve(actor, environment, Permission.READ)
    names = sorted(env.services)
    start = bisect.bisect_right(names, after) if after is not None else 0
    page = names[start : start + limit]
    more = start + limit < len(names)
    return services_status(deps, actor=actor, env=env, names=page), page[-1] if more else None


def deployments(
    deps: Deps,
    actor: str,
    *,
    environment: str | None,
    service: str | None,
    limit: int,
    before: str | None = None,
) -> tuple[list[Deployment], str | None]:
    """One page of the newest deployments (and rollbacks) of an environment, or of one service
    in it, or (no environment) of every environment the actor may read; newest first, older
    than the position ``before``. The deployments and the next page's position, if any."""
    _names(environment=environment, service=service)
    if environment is None:
        if service is not None:
            raise InvalidRequest("service needs an environment", fields={"environment": "missing"})
        names = deps.policy.readable(actor)
    else:
        names = [deps.policy.resolve(actor, environment, Permission.READ, service).name]
    return deps.store.deployment_page(
        environments=names, service=service, limit=limit, before=before
    )


def budgets(deps: Deps, actor: str, environment: str | None) -> list[Budget]:
    """The budgets of the environment's account (as ``/opsbot budget`` lists them)."""
    env = readable(deps, actor, environment)
    return account_budgets(deps.acting_for(actor), env)


def certificates(deps: Deps, actor: str, environment: str | None) -> list[CertificateStatus]:
    """The environment's certificates, soonest expiry first, with the listeners serving each
    (as ``/opsbot certificates`` lists them)."""
    env = readable(deps, actor, environment)
    deps = deps.acting_for(actor)
    served, _ = listener_certificates(deps, env) if env.load_balancers else ({}, [])
    return [
        CertificateStatus(
            domain=c["domain"],
            arn=c["arn"],
            status=c["status"],
            not_after=c["not_after"],
            days_left=c["days_left"],
            listeners=[u.label for u in served.get(c["arn"], [])],
        )
        for c in certificate_list(deps, env)
    ]
