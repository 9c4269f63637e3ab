"""Four eyes: a deploy or rollback in a protected environment (``approval`` in the policy) is
recorded ``awaiting_approval`` and waits for a second person's decision (``decide``), taking no
lock and changing nothing in AWS. Posted to Slack with Approve / Deny buttons; a delayed
``approval.expiry`` message (re-sent in steps: SQS delays at most 900 s) ends an unanswered one
``expired``."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING

from chalicelib.aws.errors import describe
from chalicelib.core.clock import iso
from chalicelib.core.errors import DependencyUnavailable
from chalicelib.core.observability import count, logger
from chalicelib.core.slack import escape
from chalicelib.deploys import approval_message
from chalicelib.deploys.plan import plan_change
from chalicelib.domain.messages import ApprovalExpiry
from chalicelib.records.deployment import DeploymentEvent
from chalicelib.records.status import DeploymentStatus

if TYPE_CHECKING:
    from chalicelib.deps import Deps
    from chalicelib.domain.approval import Approval
    from chalicelib.domain.policy import Environment
    from chalicelib.records.deployment import Deployment

AWAITING = (DeploymentStatus.AWAITING_APPROVAL,)
EXPIRY_ACTOR = "opsbot"  # who the audit trail says expired a request


def expiry_seconds(deps: Deps, approval: Approval) -> int:
    """How long a request waits: the policy's minutes, unless the stage overrides it."""
    return deps.settings.approval_expiry_seconds or approval.expires_after_minutes * 60


def who(deps: Deps, principal: str) -> str:
    """A principal as Slack shows them: their policy name, and a mention when they have a Slack
    id (the policy validates its shape, so it is safe inside ``<@...>``)."""
    person = deps.policy.people.get(principal)
    mention = f" (<@{person.slack_user}>)" if person is not None and person.slack_user else ""
    return f"{escape(principal)}{mention}"


def hold(deps: Deps, deployment: Deployment, approval: Approval, env: Environment) -> Deployment:
    """Record ``deployment`` awaiting approval (with what the service runs now and the
    task-definition fields it would change), arm its expiry, audit and post it."""
    plan = plan_change(
        deps,
        env,
        deployment.service,
        image=deployment.image,
        digest=deployment.image_digest,
        task_definition=deployment.task_definition,
    )
    now = deps.clock()
    seconds = expiry_seconds(deps, approval)
    until = now + timedelta(seconds=seconds)
    asked = deployment.events[0].message if deployment.events else f"{deployment.actor} asked"
    held = replace(
        deployment,
        status=DeploymentStatus.AWAITING_APPROVAL,
        requested_by=deployment.actor,
        approval_expires_at=iso(until),
        current_image=plan.current_image,
        changes=plan.changes,
        events=[
            DeploymentEvent.now(
                now,
                DeploymentStatus.AWAITING_APPROVAL,
                f"{asked}; awaits approval until {iso(until)}",
            )
        ],
    )
    deps.store.put_deployment(held, now=now)
    message = ApprovalExpiry(deployment_id=held.id, deadline=int(until.timestamp()))
    try:
        deps.queue.send(message, delay_seconds=seconds)
    except Exception as exc:  # it could never expire: end it, nothing was done
        why = f"its expiry could not be queued: {describe(exc)}"
        deps.store.update_deployment(
            held.id,
            expect_status=AWAITING,
            event=DeploymentEvent.now(now, DeploymentStatus.FAILED, why),
            status=DeploymentStatus.FAILED,
            updated_at=iso(now),
            finished_at=iso(now),
        )
        raise DependencyUnavailable(
            f"the work queue did not take deployment {held.id} ({describe(exc)}); it ended "
            "failed and nothing changed: try again",
            deployment_id=held.id,
        ) from exc
    deps.store.audit(
        now=now,
        actor=held.actor,
        action=held.action,
        environment=held.environment,
        target=held.target.label,
        result=DeploymentStatus.AWAITING_APPROVAL,
        deployment_id=held.id,
        image=held.image,
        expires_at=held.approval_expires_at,
    )
    count("ApprovalsRequested", environment=held.environment, service=held.service)
    post(deps, held)
    return held


def post(
    deps: Deps,
    deployment: Deployment,
    outcome: str | None = None,
    headline: str | None = None,
    plain: str | None = None,
) -> None:
    """Post the approval message (with buttons, or decided: ``outcome`` in mrkdwn, ``plain``
    as text) to the channel and the requester's response_url, and the same facts by email."""
    payload = approval_message.payload(deployment, lambda p: who(deps, p), outcome, plain)
    headline = headline or approval_message.title(deployment)
    email = approval_message.email(deployment, headline, payload["text"])
    deps.notifier.send(email, skip=frozenset({"slack"}))
    deps.notifier.post_slack(payload)
    if deployment.notify_url:
        reply = {"response_type": "in_channel", "replace_original": False, **payload}
        deps.notifier.post_slack(reply, url=deployment.notify_url)


def on_approval_expiry(deps: Deps, message: ApprovalExpiry) -> None:
    """A request nobody decided by its deadline ends ``expired`` (once: a conditional write)."""
    deployment = deps.store.get_deployment(message.deployment_id)
    if deployment is None or deployment.status != DeploymentStatus.AWAITING_APPROVAL:
        return
    logger().set_correlation_id(deployment.id)
    now = deps.clock()
    left = message.deadline - int(now.timestamp())
    if left > 0:  # expiries beyond SQS's 15-minute delay wait in steps
        deps.queue.send(message, delay_seconds=left)
        return
    why = f"nobody approved or denied it by {deployment.approval_expires_at}"
    if not deps.store.update_deployment(
        deployment.id,
        expect_status=AWAITING,
        event=DeploymentEvent.now(now, DeploymentStatus.EXPIRED, f"expired: {why}"),
        status=DeploymentStatus.EXPIRED,
        updated_at=iso(now),
        finished_at=iso(now),
    ):
        return  # decided in the meantime
    # an approver that died between taking the lock and its decision leaves it held
    deps.store.release_lock(deployment.target.lock, deployment.id)
    deps.store.audit(
        now=now,
        actor=EXPIRY_ACTOR,
        action=deployment.action,
        environment=deployment.environment,
        target=deployment.target.label,
        result=DeploymentStatus.EXPIRED,
        deployment_id=deployment.id,
        requested_by=deployment.requested_by,
        reason=why,
    )
    count("ApprovalsExpired", environment=deployment.environment, service=deployment.service)
    expired = replace(deployment, status=DeploymentStatus.EXPIRED, finished_at=iso(now))
    plain = f"expired at {iso(now)}: {why}; nothing was deployed"
    outcome = f":hourglass: *Expired* at {iso(now)}: {escape(why)}; nothing was deployed."
    post(deps, expired, outcome, headline="Approval expired", plain=plain)
