"""The declarative ops policy: the whole model (its parts in ``environment``, ``alarm_rule``,
``access`` and ``policy_settings``), what each person may do where, and loading it.

Loaded from one YAML file and validated by pydantic once per process. A bad policy fails at
load with the file and the dotted path of every bad field, never later when an event arrives.
"""

from __future__ import annotations

from functools import lru_cache, partial
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError, model_validator

from chalicelib.core.errors import Forbidden, NotFound, PolicyError
from chalicelib.domain.access import Permission as Permission  # re-exported, as is Environment
from chalicelib.domain.access import Person
from chalicelib.domain.alarm_rule import AlarmRule
from chalicelib.domain.approval import Approval
from chalicelib.domain.environment import Environment as Environment
from chalicelib.domain.limits import Limits
from chalicelib.domain.policy_base import NAME_PATTERN, PolicyModel, problems_error
from chalicelib.domain.policy_settings import (
    BudgetSettings,
    CertificateSettings,
    DeployDefaults,
    SlackSettings,
)


class Policy(PolicyModel):
    """The whole ops policy."""

    environments: dict[Annotated[str, Field(pattern=NAME_PATTERN)], Environment] = Field(
        description="what opsbot manages, by environment name",
        examples=[{"demo": {"account": "123456789012", "region": "us-east-1", "cluster": "demo"}}],
    )
    roles: dict[str, list[Permission]] = Field(
        default={
            "admin": list(Permission),
            "operator": [Permission.READ, Permission.DEPLOY, Permission.SCALE, Permission.ROLLBACK],
            "viewer": [Permission.READ],
        },
        description="role name -> the permissions it grants",
        examples=[{"lead": ["read", "deploy", "scale", "rollback", "approve"]}],
    )
    people: dict[str, Person] = Field(
        default={},
        description="principals (API token holders and Slack users) by name",
        examples=[{"demo-lead": {"slack_user": "U0DEMOLEAD", "roles": {"demo": "lead"}}}],
    )
    deploy: DeployDefaults = Field(
        default_factory=DeployDefaults,
        description="defaults for deploys",
        examples=[{"timeout_seconds": 900, "abort_after_task_failures": 3}],
    )
    slack: SlackSettings = Field(
        default_factory=SlackSettings,
        description="the Slack workspace",
        examples=[{"default_environment": "demo"}],
    )
    alarm_rules: dict[Annotated[str, Field(pattern=NAME_PATTERN)], AlarmRule] = Field(
        default={},
        description="what to do when a CloudWatch alarm changes state, by rule name",
        examples=[
            {
                "workers-queue-deep": {
                    "alarm": "workers-queue-deep",
                    "environment": "demo",
                    "on_alarm": {"action": "scale_asg", "group": "demo-workers", "step": 1},
                }
            }
        ],
    )
    certificates: CertificateSettings = Field(
        default_factory=CertificateSettings,
        description="listener certificate rotation",
        examples=[{"renew_before_days": 30, "validation_timeout_hours": 72}],
    )
    budgets: BudgetSettings = Field(
        default_factory=BudgetSettings,
        description="how AWS Budgets are watched",
        examples=[{"top_services": 5, "hold_scale_out_at_percent": 100}],
    )
    limits: Limits = Field(
        default_factory=Limits,
        description="default caps on automated changes per environment",
        examples=[{"max_automated_changes_per_minute": 10, "max_services_scaled_at_once": 5}],
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
        """Every name one part of the policy gives another must exist: each problem is reported
        at its own dotted path, all of them at once."""
        envs = sorted(self.environments)
        problems: list[tuple[str, str]] = []
        for person_name, person in self.people.items():
            for env, role in person.roles.items():
                where = f"people.{person_name}.roles.{env}"
                if env != "*" and env not in self.environments:
                    problems.append((where, f"unknown environment {env!r} (known: {envs})"))
                if role not in self.roles:
                    problems.append((where, f"unknown role {role!r} (known: {sorted(self.roles)})"))
        for rule_name, rule in self.alarm_rules.items():
            rule_env = self.environments.get(rule.environment)
            if rule_env is None:
                problems.append(
                    (
                        f"alarm_rules.{rule_name}.environment",
                        f"unknown environment {rule.environment!r} (known: {envs})",
                    )
                )
                continue
            for key, spec in (("on_alarm", rule.on_alarm), ("on_ok", rule.on_ok)):
                if spec is not None:
                    try:
                        spec.build().check(rule_env)
                    except ValueError as exc:
                        problems.append((f"alarm_rules.{rule_name}.{key}", str(exc)))
        problems += self._approval_problems()
        default = self.slack.default_environment
        if default is not None and default not in self.environments:
            problems.append(
                ("slack.default_environment", f"unknown environment {default!r} (known: {envs})")
            )
        if problems:
            raise problems_error(type(self).__name__, problems)
        return self

    def _approval_problems(self) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        for env_name, env in self.environments.items():
            where = [(f"environments.{env_name}.approval", env.approval)]
            where += [
                (f"environments.{env_name}.services.{svc_name}.approval", svc.approval)
                for svc_name, svc in env.services.items()
            ]
            for path, approval in where:
                if approval is None:
                    continue
                try:
                    approval.check(
                        path,
                        roles=self.roles,
                        people=self.people,
                        may=partial(self._may_approve_in, env_name),
                    )
                except ValueError as exc:  # "<path>.approvers...: what is wrong"
                    at, _, message = str(exc).partition(": ")
                    problems.append((at, message))
                    continue
                role = approval.approvers
                if isinstance(role, str) and not self._holders(role, env_name):
                    problems.append(
                        (f"{path}.approvers", f"nobody holds role {role!r} in {env_name!r}")
                    )
        return problems

    def _holders(self, role: str, environment: str) -> list[str]:
        """The people who hold ``role`` in ``environment`` (or everywhere)."""
        return [
            name
            for name, person in self.people.items()
            if role in (person.roles.get(environment), person.roles.get("*"))
        ]

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


@lru_cache(maxsize=1)
def get_policy() -> Policy:
    """The policy in force, loaded once per process."""
    from chalicelib.core.settings import get_settings

    return load_policy_file(get_settings().policy_file)
