"""Approve or deny a request that awaits approval (Slack buttons and REST).

Only someone who may approve in its environment (``Policy.may_approve``) and did not ask for it
decides. A decision is a conditional write from ``awaiting_approval``, so two approvers pressing
at once make one decision (the other gets 409). Approved, it takes the service's lock first (409
while the service is busy; it then still awaits approval and can be approved again later) and
proceeds as any deploy (``queued``, ``deploy.start``). Denied, it ends ``denied``. Every
decision and refusal is audited; decisions are posted (a Slack press replaces the original
message through its response_url, buttons gone; a REST decision posts a new message).
"""

from __future__ import annotations

from dataclasses import replace
from enum import StrEnum
from typing import TYPE_CHECKING

from chalicelib.aws.ecs import describe_service, short_task_definition
from chalicelib.core.clock import iso
from chalicelib.core.errors import Conflict, Forbidden
from chalicelib.core.observability import count, logger
from chalicelib.deploys import approval_message
from chalicelib.deploys.approvals import AWAITING, post, who
from chalicelib.deploys.locking import admit_with_lock, busy
from chalicelib.deploys.request import enqueue_start, get_deployment, resume_start
from chalicelib.deploys.rollout import lock_lease
from chalicelib.domain.freeze import ensure_not_frozen
from chalicelib.domain.messages import SlackReply
from chalicelib.records.deployment import DeploymentEvent
from chalicelib.records.status import DeploymentStatus

if TYPE_CHECKING:
    from chalicelib.deps import Deps
    from chalicelib.records.deployment import Deployment
    from chalicelib.store.locks import LockResult


class Verdict(StrEnum):
    """A decision, as the audit trail names its action."""

    APPROVE = "approve"
    DENY = "deny"


class Refusal(StrEnum):
    """What the audit trail says of a decision that was refused."""

    FORBIDDEN = "forbidden"
    CONFLICT = "conflict"


def approve(
    deps: Deps,
    *,
    actor: str,
    deployment_id: str,
    response_url: str | None = None,
    again: bool = False,
) -> Deployment:
    """Approve a waiting request; the deployment, now ``queued``. ``again``: this re-runs an
    approve (same Idempotency-Key) whose Lambda died before it answered."""
    return decide(
        deps, Verdict.APPROVE, actor=actor, deployment_id=deployment_id, url=response_url,
        again=again,
    )  # fmt: skip


def deny(
    deps: Deps,
    *,
    actor: str,
    deployment_id: str,
    response_url: str | None = None,
    again: bool = False,
) -> Deployment:
    """Deny a waiting request; the deployment, now ``denied`` (``again`` as for approve)."""
    return decide(
        deps, Verdict.DENY, actor=actor, deployment_id=deployment_id, url=response_url,
        again=again,
    )  # fmt: skip


def decide(
    deps: Deps,
    verdict: Verdict,
    *,
    actor: str,
    deployment_id: str,
    url: str | None,
    again: bool = False,
) -> Deployment:
    """Check, then carry out ``verdict``; a refusal (403, 409) is audited and raised. A
    decided request is a 409, unless ``again`` re-runs the dead attempt that decided it: that
    answers as the attempt would have (and resumes what it did not finish)."""
    deployment = get_deployment(deps, deployment_id)
    try:
        _check(deps, actor, deployment)
        if again and _made_already(verdict, actor, deployment):
            return _repeated(deps, deployment)
        if deployment.status != DeploymentStatus.AWAITING_APPROVAL:
            raise _no_longer(deployment)
        if verdict == Verdict.APPROVE:  # it would start work: it keeps awaiting approval
            ensure_not_frozen(deps.store, deployment.environment, doing="approved deploys")
        deps = deps.acting_for(actor, deployment.id)
        if verdict == Verdict.APPROVE:
            decided = _approve(deps, actor, deployment)
        else:
            decided = _deny(deps, actor, deployment)
    except (Forbidden, Conflict) as exc:
        refusal = Refusal.FORBIDDEN if isinstance(exc, Forbidden) else Refusal.CONFLICT
        _audit(deps, actor, verdict, deployment, refusal, reason=exc.message)
        raise
    _announce(deps, decided, verdict, actor, url)
    return decided


def _check(deps: Deps, actor: str, deployment: Deployment) -> None:
    env = deps.policy.environment(deployment.environment)
    requester = deployment.requested_by or deployment.actor
    if actor == requester:
        raise Forbidden(
            f"{actor} asked for {deployment.id}: a second person must approve or deny it",
            principal=actor,
            environment=env.name,
            permission="approve",
        )
    approval = env.approval_for(deployment.service, deployment.action)
    if not deps.policy.may_approve(actor, env.name, approval):
        raise Forbidden(
            f"{actor} may not approve in environment {env.name!r}",
            principal=actor,
            environment=env.name,
            permission="approve",
        )


def _made_already(verdict: Verdict, actor: str, deployment: Deployment) -> bool:
    """This actor already made this decision."""
    if deployment.status == DeploymentStatus.AWAITING_APPROVAL:
        return False
    decider = deployment.approved_by if verdict == Verdict.APPROVE else deployment.denied_by
    return decider == actor


def _repeated(deps: Deps, deployment: Deployment) -> Deployment:
    """A dead attempt's decision, re-run: answered as that attempt would have been (the
    deployment as it is now), and what it may not have finished is resumed: an approval that
    died after its write and before the start was sent is handed to the worker now (a
    duplicate start is harmless: the worker's first step is a conditional claim). Nothing is
    announced or audited twice."""
    resume_start(deps, deployment)
    return deployment


def _no_longer(deployment: Deployment) -> Conflict:
    when = f" at {deployment.decided_at}" if deployment.decided_at else ""
    if deployment.approved_by:
        said = f"approved by {deployment.approved_by}{when}, now {deployment.status}"
    elif deployment.denied_by:
        said = f"denied by {deployment.denied_by}{when}"
    else:
        said = f"it is {deployment.status}"
    return Conflict(
        f"deployment {deployment.id} no longer awaits approval: {said}",
        status=str(deployment.status),
    )


def _still_current(deps: Deps, rollback: Deployment) -> None:
    """A rollback undoes only what the service still runs (as when it was asked for): Conflict
    if another deploy has happened meanwhile (it would silently undo that one too)."""
    original = deps.store.get_deployment(rollback.rollback_of or "")
    env = deps.policy.environment(rollback.environment)
    found = describe_service(deps.aws("ecs", env), env.cluster, rollback.service)
    running = found.task_definition if found is not None else None
    if original is None or running != original.task_definition:
        raise Conflict(
            f"{rollback.service} has changed since {rollback.id} was asked for (it runs "
            f"{short_task_definition(running)}); deny it and roll back the latest deployment "
            "instead",
            running=running,
        )


def _approve(deps: Deps, actor: str, deployment: Deployment) -> Deployment:
    """The lock and the conditional write (one transaction), then the start (as
    ``request._admit`` does)."""
    if deployment.rollback_of:
        _still_current(deps, deployment)
    now = deps.clock()
    fields = {"approved_by": actor, "decided_at": iso(now), "updated_at": iso(now)}
    event = DeploymentEvent.now(now, DeploymentStatus.QUEUED, f"approved by {actor}")

    def write(over: str | None) -> LockResult | None:
        return deps.store.admit_approved(
            deployment.id,
            lock=deployment.target.lock,
            lease_seconds=lock_lease(deployment.timeout_seconds),
            now=now,
            event=event,
            over=over,
            **fields,
        )

    lock, found = admit_with_lock(deps, replace(deployment, actor=actor), now, write)
    if lock is None:  # decided meanwhile (nothing was written)
        raise _no_longer(get_deployment(deps, deployment.id))
    if found is not None:
        then = f"{deployment.id} still awaits approval: approve it again when that has finished"
        raise busy(deployment, found, then)
    approved = replace(deployment, status=DeploymentStatus.QUEUED, approved_by=actor)
    approved = replace(approved, decided_at=iso(now), updated_at=iso(now))
    enqueue_start(deps, approved, again="ask again")
    _audit(deps, actor, Verdict.APPROVE, approved, "approved")
    count("ApprovalsApproved", environment=deployment.environment, service=deployment.service)
    return approved


def _deny(deps: Deps, actor: str, deployment: Deployment) -> Deployment:
    now = deps.clock()
    fields = {"denied_by": actor, "decided_at": iso(now), "updated_at": iso(now)}
    event = DeploymentEvent.now(now, DeploymentStatus.DENIED, f"denied by {actor}")
    if not deps.store.update_deployment(
        deployment.id,
        expect_status=AWAITING,
        event=event,
        status=DeploymentStatus.DENIED,
        finished_at=iso(now),
        **fields,
    ):
        raise _no_longer(get_deployment(deps, deployment.id))
    # an approver that died between taking the lock and its decision leaves it held
    deps.store.release_lock(deployment.target.lock, deployment.id)
    denied = replace(deployment, status=DeploymentStatus.DENIED, denied_by=actor)
    denied = replace(denied, decided_at=iso(now), finished_at=iso(now))
    _audit(deps, actor, Verdict.DENY, denied, "denied")
    count("ApprovalsDenied", environment=deployment.environment, service=deployment.service)
    return denied


def _audit(
    deps: Deps,
    actor: str,
    verdict: Verdict,
    deployment: Deployment,
    result: str,
    reason: str | None = None,
) -> None:
    deps.store.audit(
        now=deps.clock(),
        actor=actor,
        action=str(verdict),
        environment=deployment.environment,
        target=deployment.target.label,
        result=result,
        deployment_id=deployment.id,
        requested_by=deployment.requested_by,
        image=deployment.image,
        reason=reason,
    )


def _announce(
    deps: Deps, decided: Deployment, verdict: Verdict, actor: str, url: str | None
) -> None:
    """Say who decided and when: in place of the Slack message pressed (its response_url),
    or as a new message for a REST decision. A failed post never undoes the decision."""
    approved = verdict == Verdict.APPROVE
    icon, word = (":white_check_mark:", "Approved") if approved else (":no_entry:", "Denied")
    then = " It is queued to deploy." if approved else " Nothing was deployed."
    outcome = f"{icon} *{word}* by {who(deps, actor)} at {decided.decided_at}.{then}"
    plain = f"{word.lower()} by {actor} at {decided.decided_at}.{then}"
    headline = f"Approval: {word.lower()}"
    try:
        if url is None:
            post(deps, decided, outcome, headline=headline, plain=plain)
            return
        payload = approval_message.payload(decided, lambda p: who(deps, p), outcome, plain)
        replace_it = {"response_type": "in_channel", "replace_original": True, **payload}
        deps.queue.send(SlackReply(url=url, payload=replace_it))
        email = approval_message.email(decided, headline, payload["text"])
        deps.notifier.send(email, skip=frozenset({"slack"}))
    except Exception:  # the decision stands; the audit has it
        logger().exception("could not post an approval decision", extra={"id": decided.id})
