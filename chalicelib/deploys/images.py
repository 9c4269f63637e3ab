"""Which image a deploy runs: an ECR tag or an image reference checked against the service's
repositories (``resolve_image``), or, for an exact promotion, the image the same service runs in
another environment now, pinned to its digest (``promoted``)."""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

from chalicelib.aws.ecs import describe_service, short_task_definition
from chalicelib.core.errors import Conflict, InvalidRequest
from chalicelib.deploys.revision import container_image, pinned_image, split_image
from chalicelib.domain.policy import Permission

if TYPE_CHECKING:
    from mypy_boto3_ecr.type_defs import ImageIdentifierTypeDef

    from chalicelib.deps import Deps
    from chalicelib.domain.environment import Environment, Service
    from chalicelib.domain.messages import DeployRequest

# ECS rollout states in which a service does not yet (or no longer) run its primary's image
_UNSETTLED = {"IN_PROGRESS": "is mid-rollout", "FAILED": "has a failed rollout"}


@dataclass(frozen=True)
class Requested:
    """The image a request names, before it is looked up in the target's ECR: by ``image``
    (a reference) or ``tag``; ``field`` is the request field it came from (named in a 400)."""

    image: str | None
    tag: str | None
    field: str
    from_environment: str | None = None
    from_task_definition: str | None = None


def own_repository(env: Environment, svc: Service) -> str:
    """The service's own ECR repository URI (in the environment's account and region)."""
    return f"{env.account}.dkr.ecr.{env.region}.amazonaws.com/{svc.repository}"


def requested(deps: Deps, actor: str, env: Environment, request: DeployRequest) -> Requested:
    """What ``request`` asks to run in ``env``; a promotion reads its source first."""
    if request.from_environment is not None:
        return promoted(deps, actor, env, request.service, request.from_environment)
    if request.image is not None:
        return Requested(image=request.image, tag=None, field="image")
    return Requested(image=None, tag=request.tag, field="tag")


def promoted(deps: Deps, actor: str, env: Environment, service: str, source: str) -> Requested:
    """Exact promotion: the image ``service`` runs in ``source`` now (its ECS primary
    deployment's task definition, as ECS reports it), pinned to its digest.

    Needs ``read`` in ``source`` (403), which must know the service (404), run it (400) and be
    settled (409: mid-rollout); an image by tag is pinned to the digest ECR has for it now."""
    src = deps.policy.resolve(actor, source, Permission.READ, service)
    where = f"{src.name}/{service}"
    if src.name == env.name:
        raise InvalidRequest(
            f"from_environment is {env.name}, where the deploy goes; name another environment",
            fields={"from_environment": "must differ from environment"},
        )
    svc = src.service(service)
    ecs = deps.aws("ecs", src)
    try:
        found = describe_service(ecs, src.cluster, service)
    except ecs.exceptions.ClusterNotFoundException:
        found = None
    primary = found.primary if found is not None else {}
    task_definition = primary.get("taskDefinition") or (found.task_definition if found else None)
    if not task_definition:
        raise InvalidRequest(
            f"{where} runs nothing (no such ECS service or cluster {src.cluster}); "
            "there is nothing to promote",
            fields={"from_environment": f"{where} runs nothing"},
        )
    state = str(primary.get("rolloutState") or "")
    if state in _UNSETTLED:
        raise Conflict(
            f"{where} {_UNSETTLED[state]} ({short_task_definition(task_definition)} is "
            f"{state}); promote once it is steady",
            fields={"from_environment": f"{where} {_UNSETTLED[state]}"},
        )
    described = ecs.describe_task_definition(taskDefinition=task_definition)["taskDefinition"]
    image = container_image(described, svc.container)
    if not image:
        raise InvalidRequest(
            f"{where}'s task definition {short_task_definition(task_definition)} has no "
            f"container {svc.container!r}; there is nothing to promote",
            fields={"from_environment": f"no container {svc.container!r} in {where}"},
        )
    _, _, digest = split_image(image)
    if digest is None:  # run by tag: the digest the tag names in the source's ECR now
        try:
            image, digest = resolve_image(deps, src, svc, image=image, tag=None)
        except InvalidRequest as exc:
            raise InvalidRequest(
                f"{where} runs {image}, which cannot be pinned: {exc.message}",
                fields={"from_environment": f"{where}'s image cannot be pinned to a digest"},
            ) from None
        if digest is None:
            raise InvalidRequest(
                f"{where} runs {image}, from a registry opsbot cannot read: its digest is "
                "unknown, so it cannot be promoted exactly; deploy it by image instead",
                fields={"from_environment": f"{where}'s image has no known digest"},
            )
    return Requested(
        image=pinned_image(image, digest),
        tag=None,
        field="from_environment",
        from_environment=src.name,
        from_task_definition=task_definition,
    )


def resolve(
    deps: Deps, env: Environment, svc: Service, wanted: Requested
) -> tuple[str, str | None]:
    """(image, digest) of a request's image in ``env``: it must be one this service runs, and
    exist in its ECR repository; else InvalidRequest naming the request's field."""
    try:
        return resolve_image(deps, env, svc, image=wanted.image, tag=wanted.tag)
    except InvalidRequest as exc:
        if wanted.field != "from_environment":
            raise
        said = dict(exc.details.get("fields") or {})
        raise InvalidRequest(
            f"the image {wanted.from_environment} runs cannot run here: {exc.message}",
            fields={"from_environment": str(next(iter(said.values()), exc.message))},
        ) from None


def resolve_image(
    deps: Deps, env: Environment, svc: Service, *, image: str | None, tag: str | None
) -> tuple[str, str | None]:
    """(image, digest) for a request, or InvalidRequest before anything touches ECS.

    A service deploys images from its own ECR repository (in the environment's account and
    region), where the tag or digest must exist; or, when the policy lists ``images`` patterns
    for it, from a repository that matches one of them (taken as given: opsbot cannot see into
    other registries).
    """
    own = own_repository(env, svc)
    digest = None
    field = "tag"
    if image is not None:
        field = "image"
        name, tag, digest = split_image(image)
        if tag is None and digest is None:
            raise InvalidRequest(
                f"image {image!r} names no tag or digest; say which image to run",
                fields={"image": "needs :TAG or @sha256:DIGEST"},
            )
        if name != own:
            if any(fnmatchcase(name, pattern) for pattern in svc.images):
                return image, digest
            allowed = ", ".join([own, *svc.images])
            raise InvalidRequest(
                f"{image!r} is not from a repository this service deploys from ({allowed}); "
                "nothing was deployed",
                fields={"image": f"repository must be {allowed}"},
            )
    ecr = deps.aws("ecr", env)
    image_id: ImageIdentifierTypeDef = (
        {"imageDigest": digest} if digest and not tag else {"imageTag": str(tag)}
    )
    what = f"tag {tag!r}" if "imageTag" in image_id else f"digest {digest}"
    try:
        resp = ecr.describe_images(
            registryId=env.account, repositoryName=svc.repository, imageIds=[image_id]
        )
    except ecr.exceptions.ImageNotFoundException:
        raise InvalidRequest(
            f"{what} not found in ECR repository {svc.repository!r}; nothing was deployed",
            fields={field: f"no image with {what} in {svc.repository}"},
        ) from None
    except ecr.exceptions.RepositoryNotFoundException:
        raise InvalidRequest(
            f"ECR repository {svc.repository!r} (from the ops policy) does not exist",
            fields={field: f"repository {svc.repository!r} not found"},
        ) from None
    details = resp.get("imageDetails") or [{}]
    found = details[0].get("imageDigest")
    if digest and tag and found != digest:
        raise InvalidRequest(
            f"tag {tag!r} in {svc.repository!r} is {found}, not {digest}; nothing was deployed",
            fields={"image": "tag and digest disagree"},
        )
    return image or f"{own}:{tag}", found
