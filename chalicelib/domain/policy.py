"""The declarative ops policy: environments, services, bounds, people and what they may do.

Loaded from one YAML file and validated by pydantic once per process. A bad policy fails at
load with the file and the dotted path of every bad field, never later when an event arrives.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache, partial
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from chalicelib.core.errors import Forbidden, NotFound, PolicyError
from chalicelib.domain.actions import Action
from chalicelib.domain.approval import Approval
from chalicelib.domain.limits import EnvironmentLimits, Limits

_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"
NAME_PATTERN = _NAME  # environment, service, group and rule names


class Permission(StrEnum):
    """What a principal may do in an environment."""

    READ = "read"
    DEPLOY = "deploy"
    SCALE = "scale"
    ROLLBACK = "rollback"
    APPROVE = "approve"  # decide another person's request in a protected environment
    FREEZE = "freeze"  # freeze and unfreeze an environment (no deploys, rollbacks, scaling)


class _Model(BaseModel):
    # defer_build: built on first validation; the nested models are built once, inside Policy
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Bounds(_Model):
    """Scaling bounds: opsbot never sets a count outside them."""

    min: Annotated[int, Field(ge=0)]
    max: Annotated[int, Field(ge=0)]

    @model_validator(mode="after")
    def _ordered(self) -> Bounds:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


class Service(Bounds):
    """An ECS service opsbot deploys and scales."""

    container: Annotated[str, Field(min_length=1, description="container whose image deploys set")]
    repository: Annotated[str, Field(min_length=1, description="ECR repository of its images")]
    deploy_timeout_seconds: Annotated[int | None, Field(ge=30, le=86400)] = None
    abort_after_task_failures: Annotated[int | None, Field(ge=0, le=1000)] = Field(
        default=None,
        description="roll back once this many new tasks stopped (0: never; unset: the default)",
    )
    images: list[Annotated[str, Field(min_length=1)]] = Field(
        default_factory=list,
        description="other image repositories it may run (globs, e.g. public.ecr.aws/nginx/*)",
    )
    approval: Approval | None = Field(
        default=None, description="overrides the environment's approval for this service"
    )


class AutoScalingGroup(Bounds):
    """An EC2 Auto Scaling group opsbot may scale."""


class Environment(_Model):
    """One AWS account + region + ECS cluster."""

    name: str = ""
    account: Annotated[str, Field(pattern=r"^\d{12}$")]
    region: Annotated[str, Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")]
    cluster: Annotated[str, Field(min_length=1)]
    role_arn: Annotated[
        str | None,
        Field(
            pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/([\w+=,.@/-]|\{function\})+$",
            description="the role opsbot assumes in this account; {function} in it names one "
            "role per opsbot function (arn:aws:iam::ACCOUNT:role/opsbot-{function})",
        ),
    ] = None
    services: dict[Annotated[str, Field(pattern=_NAME)], Service] = {}
    autoscaling_groups: dict[Annotated[str, Field(pattern=_NAME)], AutoScalingGroup] = {}
    load_balancers: list[Annotated[str, Field(min_length=1)]] = Field(
        default_factory=list,
        description="ALB names whose HTTPS listeners' certificates opsbot keeps renewed",
    )
    budgets: list[str] | None = Field(
        default=None, description="AWS Budgets to watch (names); None watches every budget"
    )
    approval: Approval | None = Field(
        default=None, description="requests that need a second person's approval (protected)"
    )
    limits: EnvironmentLimits | None = Field(
        default=None, description="caps on automated changes here (unset: the top-level limits)"
    )

    def approval_for(self, service: str, action: str) -> Approval | None:
        """The approval a ``action`` (deploy or rollback) of ``service`` needs, or None."""
        svc = self.services.get(service)
        approval = svc.approval if svc is not None and svc.approval is not None else self.approval
        return approval if approval is not None and approval.covers(action) else None

    def service(self, name: str) -> Service:
        """The named service, or NotFound."""
        try:
            return self.services[name]
        except KeyError:
            raise NotFound(
                f"unknown service {name[:100]!r} in environment {self.name!r}",
                known=sorted(self.services),
            ) from None


class Person(_Model):
    """A principal: an API token holder and/or a Slack user, with roles per environment."""

    slack_user: Annotated[str | None, Field(pattern=r"^[UW][A-Z0-9]{2,}$")] = None
    roles: dict[str, str] = Field(
        default_factory=dict, description='environment name (or "*") -> role name'
    )


class DeployDefaults(_Model):
    """Defaults for deploys."""

    timeout_seconds: Annotated[int, Field(ge=30, le=86400)] = 900
    abort_after_task_failures: Annotated[int | None, Field(ge=0, le=1000)] = Field(
        default=None,
        description="roll a rollout back once this many of its tasks stopped (unset or 0: never)",
    )

    def abort_threshold(self, service: Service | None) -> int | None:
        """How many stopped tasks of a rollout make opsbot roll it back early (None: never)."""
        own = service.abort_after_task_failures if service is not None else None
        threshold = own if own is not None else self.abort_after_task_failures
        return threshold or None


class ActionSpec(_Model):
    """A registered action by name, with its parameters (validated by the action's model)."""

    action: str
    params: dict[str, Any] = {}

    @model_validator(mode="before")
    @classmethod
    def _split(cls, data: Any) -> Any:
        # YAML form: {action: scale_ecs_service, service: web, step: 1}
        if isinstance(data, dict) and "params" not in data:
            rest = {k: v for k, v in data.items() if k != "action"}
            return {"action": data.get("action"), "params": rest}
        return data

    @model_validator(mode="after")
    def _known(self) -> ActionSpec:
        Action.parse(self.action, self.params)
        return self

    def build(self) -> Action:
        """The action object."""
        return Action.parse(self.action, self.params)


class Cooldown(_Model):
    """Seconds between two actions of one rule on one target, per direction."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)

    out: Annotated[int, Field(ge=0, le=86400)] = 300
    in_: Annotated[int, Field(ge=0, le=86400, alias="in")] = 300
    other: Annotated[int, Field(ge=0, le=86400)] = 300

    def seconds(self, direction: str) -> int:
        """The cooldown of one direction ('out', 'in', or anything else)."""
        return {"out": self.out, "in": self.in_}.get(direction, self.other)


class AlarmRule(_Model):
    """What to do when a CloudWatch alarm changes state."""

    alarm: Annotated[str, Field(min_length=1, description="alarm name, or a glob such as web-*")]
    environment: str
    namespace: str | None = None
    dimensions: dict[str, str] = {}
    on_alarm: ActionSpec
    on_ok: ActionSpec | None = None
    cooldown: Cooldown = Field(default_factory=Cooldown)

    def matches(self, *, name: str, namespace: str | None, dimensions: dict[str, str]) -> bool:
        """Whether an alarm notification is for this rule."""
        from fnmatch import fnmatchcase

        if not fnmatchcase(name, self.alarm):
            return False
        if self.namespace is not None and namespace != self.namespace:
            return False
        return all(dimensions.get(k) == v for k, v in self.dimensions.items())


class CertificateSettings(_Model):
    """When and how opsbot rotates listener certificates."""

    renew_before_days: Annotated[int, Field(ge=1, le=365)] = 30
    validation_timeout_hours: Annotated[int, Field(ge=1, le=720)] = 72


class BudgetSettings(_Model):
    """How opsbot watches AWS Budgets."""

    top_services: Annotated[int, Field(ge=0, le=20)] = 5
    hold_scale_out_at_percent: Annotated[float | None, Field(gt=0, le=1000)] = Field(
        default=None,
        description="hold alarm scale-outs while a watched budget's actual spend is at least "
        "this percent of its limit (None: never)",
    )


class SlackSettings(_Model):
    """The Slack workspace opsbot answers and how its commands resolve what they act on."""

    default_environment: str | None = None
    command: Annotated[str, Field(pattern=r"^/[a-z0-9_-]{1,31}$")] = Field(
        default="/opsbot", description="the slash command's name in the workspace"
    )
    team_id: Annotated[str | None, Field(pattern=r"^T[A-Z0-9]{2,}$")] = Field(
        default=None, description="the workspace's team id; requests from others are refused"
    )


class Policy(_Model):
    """The whole ops policy."""

    environments: dict[Annotated[str, Field(pattern=_NAME)], Environment]
    roles: dict[str, list[Permission]] = {
        "admin": list(Permission),
        "operator": [Permission.READ, Permission.DEPLOY, Permission.SCALE, Permission.ROLLBACK],
        "viewer": [Permission.READ],
    }
    people: dict[str, Person] = {}
    deploy: DeployDefaults = Field(default_factory=DeployDefaults)
    slack: SlackSettings = Field(default_factory=SlackSettings)
    alarm_rules: dict[Annotated[str, Field(pattern=_NAME)], AlarmRule] = {}
    certificates: CertificateSettings = Field(default_factory=CertificateSettings)
    budgets: BudgetSettings = Field(default_factory=BudgetSettings)
    limits: Limits = Field(
        default_factory=Limits, description="default caps on automated changes per environment"
    )

    @model_validator(mode="before")
    @classmethod
    def _name_environments(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("environments"), dict):
            data = dict(data)
            data["environments"] = {
                name: ({**env, "name": name} if isinstance(env, dict) else env)
                for name, env in data["environments"].items()
            }
        return data

    @model_validator(mode="after")
    def _references(self) -> Policy:
        for person_name, person in self.people.items():
            for env, role in person.roles.items():
                if env != "*" and env not in self.environments:
                    raise ValueError(
                        f"people.{person_name}.roles: unknown environment {env!r} "
                        f"(known: {sorted(self.environments)})"
                    )
                if role not in self.roles:
                    raise ValueError(
                        f"people.{person_name}.roles.{env}: unknown role {role!r} "
                        f"(known: {sorted(self.roles)})"
                    )
        for rule_name, rule in self.alarm_rules.items():
            rule_env = self.environments.get(rule.environment)
            if rule_env is None:
                raise ValueError(
                    f"alarm_rules.{rule_name}.environment: unknown environment "
                    f"{rule.environment!r} (known: {sorted(self.environments)})"
                )
            for key, spec in (("on_alarm", rule.on_alarm), ("on_ok", rule.on_ok)):
                if spec is not None:
                    try:
                        spec.build().check(rule_env)
                    except ValueError as exc:
                        raise ValueError(f"alarm_rules.{rule_name}.{key}: {exc}") from None
        self._check_approvals()
        default = self.slack.default_environment
        if default is not None and default not in self.environments:
            raise ValueError(f"slack.default_environment: unknown environment {default!r}")
        return self

    def _check_approvals(self) -> None:
        for env_name, env in self.environments.items():
            where = [(f"environments.{env_name}.approval", env.approval)]
            where += [
                (f"environments.{env_name}.services.{svc_name}.approval", svc.approval)
                for svc_name, svc in env.services.items()
            ]
            for path, approval in where:
                if approval is not None:
                    approval.check(
                        path,
                        roles=self.roles,
                        people=self.people,
                        may=partial(self._may_approve_in, env_name),
                    )

    def limits_for(self, environment: str) -> Limits:
        """The caps in force in ``environment``: its own, each unset one from ``limits``."""
        return self.limits.overridden_by(self.environments[environment].limits)

    def _may_approve_in(self, environment: str, principal: str) -> bool:
        return Permission.APPROVE in self.permissions(principal, environment)

    def may_approve(self, principal: str, environment: str, approval: Approval | None) -> bool:
        """Whether ``principal`` may decide a request in ``environment`` under ``approval``:
        they hold ``approve`` there and are one of its approvers (by role or by name)."""
        if Permission.APPROVE not in self.permissions(principal, environment):
            return False
        if approval is None:
            return True
        person = self.people.get(principal)
        return approval.names(principal, person.roles if person else {}, environment)

    def environment(self, name: str, *, reader: str | None = None) -> Environment:
        """The named environment, or NotFound naming only the environments ``reader`` may read
        (none without a reader): a not-found answer reveals nothing the caller may not read."""
        try:
            return self.environments[name]
        except KeyError:
            known = self.readable(reader) if reader is not None else None
            extra = {"known": known} if known else {}
            raise NotFound(f"unknown environment {name[:100]!r}", **extra) from None

    def readable(self, principal: str) -> list[str]:
        """The environments ``principal`` may read, sorted."""
        return sorted(
            n for n in self.environments if Permission.READ in self.permissions(principal, n)
        )

    def resolve(
        self, principal: str, environment: str, permission: Permission, service: str | None = None
    ) -> Environment:
        """The environment (and its service, when named) ``principal`` acts on with
        ``permission``: the permission is checked before a service is looked up, so only a
        reader of the environment learns which services it has."""
        env = self.environment(environment, reader=principal)
        self.require(principal, env.name, permission)
        if service is not None:
            env.service(service)
        return env

    def permissions(self, principal: str, environment: str) -> set[Permission]:
        """What ``principal`` may do in ``environment``."""
        person = self.people.get(principal)
        if person is None:
            return set()
        granted: set[Permission] = set()
        for env in (environment, "*"):
            role = person.roles.get(env)
            if role is not None:
                granted.update(self.roles[role])
        return granted

    def require(self, principal: str, environment: str, permission: Permission) -> None:
        """Raise Forbidden unless ``principal`` holds ``permission`` in ``environment``."""
        if permission not in self.permissions(principal, environment):
            raise Forbidden(
                f"{principal} may not {permission.value} in environment {environment!r}",
                principal=principal,
                environment=environment,
                permission=permission.value,
            )

    def person_for_slack_user(self, user_id: str) -> str | None:
        """The principal name of a Slack user, if the policy knows them."""
        for name, person in self.people.items():
            if person.slack_user == user_id:
                return name
        return None


def _describe(exc: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid ops policy ({exc.error_count()} problem(s))"]
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"  {where}: {err['msg']}")
    return "\n".join(lines)


def parse_policy(data: Any, source: str = "<policy>") -> Policy:
    """Validate a policy document; PolicyError names the source and every bad field."""
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(_describe(exc, source)) from None


def validate_policy_bytes(data: bytes, source: str) -> Policy:
    """Parse and validate a YAML policy document; PolicyError names the source."""
    import yaml

    # libyaml's loader when PyYAML was built with it (its wheels are): same safe subset, faster
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        parsed = yaml.load(data, Loader=loader)
    except yaml.YAMLError as exc:
        raise PolicyError(f"{source}: not valid YAML: {exc}") from None
    return parse_policy(parsed, source)


def load_policy_file(path: Path) -> Policy:
    """Read and validate a YAML policy file, or its compiled form when one matches the file's
    bytes and the schema (``domain.compiled``); a fresh validation is compiled for next time."""
    from chalicelib.domain import compiled

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read the ops policy: {exc.strerror}") from None
    policy = compiled.read(path, data, Policy)
    if policy is None:
        policy = validate_policy_bytes(data, str(path))
        compiled.write_quietly(path, data, policy)
    return policy


def compile_policy_file(path: Path) -> Path:
    """Validate a policy file and write its compiled form even where bytecode is not written
    (``make package``, ``make bench``); where it went (PolicyError, OSError)."""
    from chalicelib.domain import compiled

    data = path.read_bytes()
    return compiled.write(path, data, validate_policy_bytes(data, str(path)))


@lru_cache(maxsize=1)
def get_policy() -> Policy:
    """The policy in force, loaded once per process."""
    from chalicelib.core.settings import get_settings

    return load_policy_file(get_settings().policy_file)
