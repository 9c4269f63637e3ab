"""The end of a deployment: its terminal status, the lock released, the audit entry, the
metric and the notification (and the notifications sent along the way)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.core.clock import iso
from chalicelib.core.observability import count
from chalicelib.deploys.notice import deploy_message
from chalicelib.records.deployment import DeploymentEvent
from chalicelib.records.status import ACTIVE, DeploymentStatus
from chalicelib.store import DeploymentUpdate

if TYPE_CHECKING:
    from datetime import datetime

    from chalicelib.deps import Deps
    from chalicelib.records.deployment import Deployment

_TITLES = {
    DeploymentStatus.SUCCEEDED: "Deploy succeeded",
    DeploymentStatus.ROLLED_BACK: "Deploy rolled back",
    DeploymentStatus.FAILED: "Deploy FAILED",
    DeploymentStatus.REJECTED: "Deploy rejected",
}
_ROLLBACK_TITLES = {
    DeploymentStatus.SUCCEEDED: "Rollback succeeded",
    DeploymentStatus.ROLLED_BACK: "Rollback FAILED (service back where it was)",
}
_FAILED = (DeploymentStatus.ROLLED_BACK, DeploymentStatus.FAILED)
_METRICS = {
    DeploymentStatus.SUCCEEDED: "DeploymentsSucceeded",
    DeploymentStatus.ROLLED_BACK: "DeploymentsRolledBack",
}


def notify(
    deps: Deps,
    deployment: Deployment,
    title: str,
    text: str,
    level: str,
    *,
    offer_rollback: bool = False,
    ended: datetime | None = None,
) -> None:
    """Tell people about a deployment (and its Slack requester, if any); ``ended`` when it has
    (its duration is shown)."""
    message = deploy_message(
        deployment, title=title, text=text, level=level, now=ended, offer_rollback=offer_rollback
    )
    deps.notifier.send(message, reply_url=deployment.notify_url)


def finish(
    deps: Deps,
    deployment: Deployment,
    status: DeploymentStatus,
    message: str,
    level: str,
    *,
    text: str | None = None,
) -> None:
    """Terminal state: record, release the lock, audit, count, notify (once: a repeat, or a
    deployment already ended, changes nothing). ``message`` is the history's line; ``text``
    what the notification adds to its facts (by default the same line)."""
    now = deps.clock()
    event = DeploymentEvent.now(now, status, message)
    fields: dict[str, Any] = {"status": status, "updated_at": iso(now), "finished_at": iso(now)}
    terminal = DeploymentUpdate(deployment.id, fields, event, expect_status=ACTIVE)
    original = deployment.rollback_of
    if original and status == DeploymentStatus.SUCCEEDED:
        # the rollback's success and its original's rolled_back: one transaction
        rolled_back = DeploymentUpdate(
            original,
            {"status": DeploymentStatus.ROLLED_BACK, "updated_at": iso(now)},
            DeploymentEvent.now(
                now,
                DeploymentStatus.ROLLED_BACK,
                f"rolled back by {deployment.id} ({deployment.actor})",
            ),
            expect_status=(DeploymentStatus.SUCCEEDED, DeploymentStatus.FAILED),
        )
        done = deps.store.update_deployments(terminal, rolled_back)
        if not done:  # the original is no longer succeeded or failed: end this one alone
            done = deps.store.update_deployments(terminal)
    else:
        done = deps.store.update_deployment(
            deployment.id, expect_status=ACTIVE, event=event, **fields
        )
    if not done:
        return
    target = deployment.target
    deps.store.release_lock(target.lock, deployment.id)
    deps.store.audit(
        now=now,
        actor=deployment.actor,
        action=deployment.action,
        environment=deployment.environment,
        target=target.label,
        result=status,
        deployment_id=deployment.id,
        image=deployment.image,
        reason=message,
    )
    metric = _METRICS.get(status, "DeploymentsFailed")
    count(metric, environment=deployment.environment, service=deployment.service)
    if original:
        title = _ROLLBACK_TITLES.get(status, f"Rollback {status.upper()}")
    else:
        title = _TITLES.get(status, status)
    offer = status == DeploymentStatus.SUCCEEDED and not original
    notify(
        deps,
        deployment,
        f"{title}: {target.label}",
        message if text is None else text,
        level,
        offer_rollback=offer,
        ended=now,
    )
