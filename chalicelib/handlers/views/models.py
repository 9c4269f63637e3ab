"""The REST answers as pydantic models: what ``GET /openapi.json`` documents.

The views build plain dicts (no pydantic on the routes' cold path); these models describe those
dicts, and the tests check that the views' answers validate against them. Extra fields are
allowed, as the contract's ``...`` allows them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.records.status import DeploymentPhase, DeploymentStatus


class _Answer(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorDetail(_Answer):
    """What went wrong: a machine-readable ``code`` and a human ``message``, with details."""

    code: str = Field(examples=["invalid_request"])
    message: str
    fields: dict[str, str] | None = Field(
        default=None, description="400: each bad field and what is wrong with it"
    )
    holder: str | None = Field(default=None, description="409: what holds the service")
    frozen_by: str | None = Field(default=None, description="409 frozen: who froze it")
    frozen_reason: str | None = Field(default=None, description="409 frozen: why")


class ErrorBody(BaseModel):
    """The contract's error shape: ``{"error": {"code", "message", ...}}``."""

    error: ErrorDetail


class HealthBody(_Answer):
    """``GET /health``: ``ok``, or (503) which dependency does not answer, in ``error``."""

    status: str = Field(examples=["ok", "degraded"])
    stage: str | None = None
    environments: list[str] | None = None
    checks: dict[str, str] | None = None
    error: ErrorDetail | None = None


class DeploymentEventBody(BaseModel):
    """One line of a deployment's history."""

    at: str
    status: DeploymentStatus
    message: str


class ChangeBody(BaseModel):
    """One task-definition field that changes: its path, and its value before and after
    (text as given, anything else as compact JSON; null where the field is absent)."""

    model_config = ConfigDict(populate_by_name=True)

    path: str = Field(examples=["containerDefinitions[web].image"])
    from_: str | None = Field(alias="from")
    to: str | None


class DeploymentBody(_Answer):
    """A deployment (``POST /deployments``, ``GET /deployments/{id}``, rollbacks)."""

    id: str
    environment: str
    service: str
    image: str
    status: DeploymentStatus
    task_definition: str | None
    previous_task_definition: str | None
    events: list[DeploymentEventBody]
    actor: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    timeout_seconds: int | None = None
    image_digest: str | None = None
    previous_image: str | None = None
    rollback_of: str | None = None
    reason: str | None = None
    phase: DeploymentPhase | None = None
    ecs_deployment_id: str | None = None
    rollback_ecs_deployment_id: str | None = None
    failure_reason: str | None = Field(
        default=None,
        description="why the rollout's tasks stopped, as ECS reported it (rolled_back, failed)",
        examples=["3 tasks stopped: Essential container in task exited (exit code 1)"],
    )
    finished_at: str | None = None
    duration_seconds: int | None = Field(
        default=None,
        description="whole seconds from the request to its end, once ended (what Slack, the "
        "CLI and the dashboard show)",
    )
    requested_by: str | None = Field(default=None, description="who asked (protected envs)")
    approved_by: str | None = None
    denied_by: str | None = None
    decided_at: str | None = None
    expires_at: str | None = Field(
        default=None, description="until when it awaits approval, unanswered"
    )
    current_image: str | None = Field(
        default=None, description="what the service ran when approval was asked"
    )
    from_environment: str | None = Field(
        default=None, description="a promotion: the environment whose running digest it deploys"
    )
    from_task_definition: str | None = Field(
        default=None, description="a promotion: the task definition the source ran when asked"
    )
    changes: list[ChangeBody] | None = Field(
        default=None, description="the task-definition fields it changes (shown to approvers)"
    )


class ImageBody(BaseModel):
    """An image, its tag and its digest (null where unknown)."""

    image: str | None
    tag: str | None
    digest: str | None


class CurrentImageBody(ImageBody):
    """What the service runs now: its image and task definition."""

    task_definition: str | None


class CheckBody(_Answer):
    """One check of a dry run: ``fail`` means the real request would be refused (or fail at its
    start), ``warn`` worth knowing, ``needed`` an approval it would wait for."""

    name: str = Field(
        examples=["image_exists", "lock_free", "within_bounds", "not_frozen", "approval"]
    )
    result: Literal["pass", "fail", "warn", "needed"]
    detail: str
    holder: str | None = Field(default=None, description="lock_free: what holds the service")
    approvers: list[str] | None = Field(default=None, description="approval: who may approve")


class DryRunBody(_Answer):
    """``POST /deployments`` with ``dry_run``: what the deploy would do; nothing was changed."""

    dry_run: Literal[True]
    environment: str
    service: str
    outcome: Literal[
        "would_queue", "would_await_approval", "would_be_rejected", "would_conflict", "would_fail"
    ]
    from_environment: str | None
    from_task_definition: str | None
    current: CurrentImageBody
    requested: ImageBody
    task_definition_diff: list[ChangeBody]
    checks: list[CheckBody]


class RolloutBody(BaseModel):
    """One ECS deployment of a service, as ECS lists them."""

    id: str | None
    status: str | None
    rollout_state: str | None
    task_definition: str | None
    desired: int | None
    running: int | None


class ServiceBody(_Answer):
    """``GET /services/{environment}/{service}``: what ECS says, with bounds and lock holder."""

    environment: str
    service: str
    cluster: str
    status: str | None
    desired: int | None
    running: int | None
    pending: int | None
    min: int
    max: int
    bounds_from: str
    task_definition: str | None
    image: str | None
    container: str
    deployments: list[RolloutBody]
    busy_with: str | None


class ScaleBody(_Answer):
    """``POST /services/{environment}/{service}/scale``: what the scale did."""

    environment: str
    service: str
    result: str = Field(examples=["scaled", "unchanged"])
    previous_desired: int
    desired: int
    min: int
    max: int


class AuditItem(_Answer):
    """One audit entry; details (``reason``, ``deployment_id``, ``before``...) when set."""

    at: str
    actor: str
    action: str
    environment: str
    service: str
    target: str
    result: str


class AuditBody(BaseModel):
    """``GET /audit``: entries, newest first."""

    items: list[AuditItem]
    next: str | None = Field(
        default=None, description="present when more follow: pass it as ?next= for the next page"
    )


class OpenApiDocument(_Answer):
    """``GET /openapi.json``: this document."""

    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]


class EnvironmentItem(_Answer):
    """An environment the caller may read, with what opsbot manages there."""

    name: str
    account: str
    region: str
    cluster: str
    services: list[str]
    autoscaling_groups: list[str]
    load_balancers: list[str]
    frozen: bool = Field(description="no deploys, rollbacks, scaling or alarm actions there")
    frozen_by: str | None = Field(default=None, description="who froze it (when frozen)")
    frozen_reason: str | None = Field(default=None, description="why (when frozen)")
    frozen_at: str | None = Field(default=None, description="since when (when frozen)")


class FreezeBody(_Answer):
    """``POST /environments/{env}/freeze|unfreeze``: the environment's freeze now."""

    environment: str
    frozen: bool
    by: str | None = Field(default=None, description="who froze (or unfroze) it")
    reason: str | None = None
    at: str | None = Field(default=None, description="when, ISO-8601 UTC")


class EnvironmentsBody(BaseModel):
    """``GET /environments``: the environments the caller may read."""

    items: list[EnvironmentItem]


class ServicesBody(_Answer):
    """``GET /services/{environment}``: every service, as ``GET /services/{env}/{service}``."""

    environment: str
    items: list[ServiceBody]
    next: str | None = Field(
        default=None, description="present when more follow: pass it as ?next= for the next page"
    )


class DeploymentsBody(BaseModel):
    """``GET /deployments``: deployments, newest first."""

    items: list[DeploymentBody]
    next: str | None = Field(
        default=None, description="present when more follow: pass it as ?next= for the next page"
    )


class BudgetItem(_Answer):
    """One AWS budget: its limit and the spend AWS Budgets calculated (null before it has)."""

    name: str
    type: str | None
    time_unit: str
    limit: float | None
    unit: str
    actual: float | None
    forecast: float | None
    percent_used: float | None


class BudgetsBody(_Answer):
    """``GET /budgets``: the budgets of an environment's account."""

    environment: str
    items: list[BudgetItem]


class CertificateItem(_Answer):
    """One ACM certificate: its expiry and the listeners (``alb:443``) serving it."""

    domain: str | None
    arn: str
    status: str | None
    not_after: str | None
    days_left: int | None
    listeners: list[str]


class CertificatesBody(_Answer):
    """``GET /certificates``: an environment's certificates, soonest expiry first."""

    environment: str
    items: list[CertificateItem]
