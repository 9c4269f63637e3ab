"""A deploy's dry run (``POST /deployments`` with ``dry_run``, ``/opsbot deploy ... --dry-run``):
what would be deployed, the task-definition fields that would change, and the checks the real
request would pass or fail. Reads only: no lock, no deployment record, no queue message; one
audit entry (result ``dry_run``, which a service's history leaves out).

Asking is checked as the real request is (403 without ``deploy`` there, or ``read`` in a
promotion's source; 404 for an unknown environment or service; 400 for a promotion whose source
runs nothing); what the request would then run into is a check: the image missing from ECR,
the service busy, its count outside its bounds, an approval needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from chalicelib import scaling
from chalicelib.core.errors import InvalidRequest
from chalicelib.deploys.images import Requested, own_repository, requested, resolve
from chalicelib.deploys.plan import plan_change
from chalicelib.deploys.revision import split_image
from chalicelib.domain.policy import Permission
from chalicelib.records.target import Target

if TYPE_CHECKING:
    from mypy_boto3_ecr.type_defs import ImageIdentifierTypeDef

    from chalicelib.deploys.diff import Change
    from chalicelib.deploys.plan import Planned
    from chalicelib.deps import Deps
    from chalicelib.domain.environment import Environment, Service
    from chalicelib.domain.messages import DeployRequest

DRY_RUN = "dry_run"  # the audit entry's result (records.audit.NOT_DONE: not history)


class CheckResult(StrEnum):
    """How one check came out."""

    PASS = "pass"
    FAIL = "fail"  # the request would be refused (or its start would fail)
    WARN = "warn"  # worth knowing; the deploy would go ahead
    NEEDED = "needed"  # an approval: the request would wait for a second person


class Outcome(StrEnum):
    """What the real request would do now."""

    QUEUED = "would_queue"  # 202 queued, then rolled out
    AWAIT_APPROVAL = "would_await_approval"  # 202 awaiting_approval
    REJECTED = "would_be_rejected"  # 400: the image is not one this service may run
    CONFLICT = "would_conflict"  # 409: the service is busy
    FAIL = "would_fail"  # accepted, but its start would end failed (ECS has no such service)


@dataclass(frozen=True)
class Check:
    """One check: its name, how it came out, and why (with who holds a busy service, and who
    may approve)."""

    name: str
    result: CheckResult
    detail: str
    holder: str | None = None
    approvers: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ImageRef:
    """An image with its tag and digest (either looked up in ECR when the other is given)."""

    image: str | None
    tag: str | None = None
    digest: str | None = None


@dataclass(frozen=True)
class DryRun:
    """What a deploy request would do now; nothing was changed."""

    environment: str
    service: str
    actor: str
    current: ImageRef
    requested: ImageRef
    current_task_definition: str | None
    changes: list[Change]
    checks: list[Check]
    outcome: Outcome
    from_environment: str | None = None
    from_task_definition: str | None = None
    failed: list[str] = field(default_factory=list)


def dry_run(deps: Deps, *, actor: str, request: DeployRequest) -> DryRun:
    """Answer what ``request`` would do, changing nothing but the audit trail."""
    env = deps.policy.resolve(actor, request.environment, Permission.DEPLOY, request.service)
    svc = env.service(request.service)
    deps = deps.acting_for(actor)
    wanted = requested(deps, actor, env, request)
    image_check, image, digest = _image_check(deps, env, svc, wanted)
    plan = plan_change(deps, env, request.service, image=image, digest=digest)
    checks = [
        image_check,
        *_service_checks(deps, env, request.service, plan),
        _lock_check(deps, env, request.service),
        _freeze_check(deps, env),
        _approval_check(deps, env, request.service, actor),
    ]
    result = DryRun(
        environment=env.name,
        service=request.service,
        actor=actor,
        current=_identify(deps, env, svc, plan.current_image),
        requested=_identify(deps, env, svc, image, tag=wanted.tag, digest=digest),
        current_task_definition=plan.current_task_definition,
        changes=plan.changes,
        checks=checks,
        outcome=_outcome(checks),
        from_environment=wanted.from_environment,
        from_task_definition=wanted.from_task_definition,
        failed=[c.name for c in checks if c.result == CheckResult.FAIL],
    )
    deps.store.audit(
        now=deps.clock(),
        actor=actor,
        action="deploy",
        environment=env.name,
        target=Target.service(env.name, request.service).label,
        result=DRY_RUN,
        image=image,
        reason=f"{result.outcome}" + (f" ({', '.join(result.failed)})" if result.failed else ""),
        from_environment=wanted.from_environment,
    )
    return result


def _image_check(
    deps: Deps, env: Environment, svc: Service, wanted: Requested
) -> tuple[Check, str, str | None]:
    own = own_repository(env, svc)
    try:
        image, digest = resolve(deps, env, svc, wanted)
    except InvalidRequest as exc:
        image = wanted.image or f"{own}:{wanted.tag}"
        return Check("image_exists", CheckResult.FAIL, exc.message), image, split_image(image)[2]
    if digest is None:  # a registry the policy allows but opsbot cannot read
        detail = f"{image} is allowed by the policy's images; opsbot cannot see that registry"
        return Check("image_exists", CheckResult.WARN, detail), image, None
    detail = f"{image.rsplit('/', 1)[-1]} is in ECR repository {svc.repository} ({digest})"
    return Check("image_exists", CheckResult.PASS, detail), image, digest


def _service_checks(deps: Deps, env: Environment, service: str, plan: Planned) -> list[Check]:
    """The service's task definition renders, and its count is within its bounds."""
    if plan.problem is not None:
        return [Check("service_exists", CheckResult.FAIL, plan.problem)]
    desired = plan.service.desired if plan.service is not None else 0
    bounds = scaling.effective_service_bounds(deps, env, service)
    span = f"{bounds.min}..{bounds.max} ({bounds.source})"
    if bounds.min <= desired <= bounds.max:
        return [Check("within_bounds", CheckResult.PASS, f"desired {desired} is within {span}")]
    detail = f"desired {desired} is outside {span}; a deploy keeps the count as it is"
    return [Check("within_bounds", CheckResult.WARN, detail)]


def _lock_check(deps: Deps, env: Environment, service: str) -> Check:
    holder = deps.store.lock_holder(Target.service(env.name, service).lock)
    if holder is None or holder.lease_until < int(deps.clock().timestamp()):
        return Check("lock_free", CheckResult.PASS, f"{env.name}/{service} is free")
    who = deps.store.describe_holder(holder.owner)
    detail = f"{env.name}/{service} is busy with {who}; a deploy now would be a 409"
    return Check("lock_free", CheckResult.FAIL, detail, holder=holder.owner)


def _freeze_check(deps: Deps, env: Environment) -> Check:
    freeze = deps.store.freeze_of(env.name)
    if not freeze.frozen:
        return Check("not_frozen", CheckResult.PASS, f"{env.name} is not frozen")
    detail = (
        f"{env.name} is frozen by {freeze.by} since {freeze.at}: {freeze.reason}; "
        "a deploy now would be a 409 frozen"
    )
    return Check("not_frozen", CheckResult.FAIL, detail)


def _approval_check(deps: Deps, env: Environment, service: str, actor: str) -> Check:
    approval = env.approval_for(service, "deploy")
    if approval is None:
        return Check("approval", CheckResult.PASS, f"no approval needed in {env.name}")
    people = tuple(
        p
        for p in sorted(deps.policy.people)
        if p != actor and deps.policy.may_approve(p, env.name, approval)
    )
    who = ", ".join(people) or "nobody but you (it would expire)"
    detail = (
        f"{env.name} is protected: the deploy would wait for the approval of {who}, "
        f"for {approval.expires_after_minutes} minutes"
    )
    return Check("approval", CheckResult.NEEDED, detail, approvers=people)


def _outcome(checks: list[Check]) -> Outcome:
    results = {c.name: c.result for c in checks}
    if results.get("image_exists") == CheckResult.FAIL:
        return Outcome.REJECTED
    if results.get("not_frozen") == CheckResult.FAIL:  # before an approval: 409 at once
        return Outcome.CONFLICT
    if results.get("approval") == CheckResult.NEEDED:  # the lock is taken once approved
        return Outcome.AWAIT_APPROVAL
    if CheckResult.FAIL in (results.get("lock_free"), results.get("not_frozen")):
        return Outcome.CONFLICT
    if results.get("service_exists") == CheckResult.FAIL:
        return Outcome.FAIL
    return Outcome.QUEUED


def _identify(
    deps: Deps,
    env: Environment,
    svc: Service,
    image: str | None,
    *,
    tag: str | None = None,
    digest: str | None = None,
) -> ImageRef:
    """``image`` with its tag and digest: the ones it names, the other looked up in the
    service's ECR repository when it is from there (a tag ECR has for the digest)."""
    if image is None:
        return ImageRef(None)
    name, named_tag, named_digest = split_image(image)
    tag, digest = tag or named_tag, digest or named_digest
    own = own_repository(env, svc)
    if name != own or (tag and digest) or not (tag or digest):
        return ImageRef(image, tag, digest)
    ecr = deps.aws("ecr", env)
    from botocore.exceptions import BotoCoreError, ClientError

    image_id: ImageIdentifierTypeDef = {"imageDigest": digest} if digest else {"imageTag": str(tag)}
    try:
        found = ecr.describe_images(
            registryId=env.account, repositoryName=svc.repository, imageIds=[image_id]
        ).get("imageDetails") or [{}]
    except (ClientError, BotoCoreError):
        return ImageRef(image, tag, digest)
    tags = sorted(found[0].get("imageTags") or [])
    return ImageRef(
        image, tag or (tags[0] if tags else None), digest or found[0].get("imageDigest")
    )
