"""Checking a policy file without running anything (``opsbot policy validate``): every problem
as one line naming its dotted path, or a one-line summary of a valid policy.

Structure (types, bounds, unknown keys) is checked first; the cross-references (a rule naming a
service the environment lacks, a role nobody defines, an approver nobody could be) once the
structure is valid, as the app does when it loads the policy. pydantic checks a model's rule
across fields (min above max) only once its fields are valid: a service with both an unknown key
and min above max has its bounds checked here on their own, so both are reported at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from chalicelib.domain.environment import Bounds
from chalicelib.domain.policy import Policy

MESSAGES = {  # pydantic's wording -> the policy's
    "extra_forbidden": "unknown key (not part of the policy schema)",
    "missing": "required, missing",
}


@dataclass(frozen=True)
class Checked:
    """A policy file checked: its policy when valid, else every problem (``path: what``)."""

    source: str
    policy: Policy | None = None
    problems: list[str] = field(default_factory=list)


def problem_lines(exc: ValidationError) -> list[str]:
    """One ``dotted.path: what is wrong`` line per error."""
    lines = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        message = MESSAGES.get(err["type"]) or err["msg"].removeprefix("Value error, ")
        lines.append(f"{where}: {message}")
    return lines


def _bounds_problems(data: Any) -> list[str]:
    """The bounds (min, max) of each service and group, checked on their own."""
    lines: list[str] = []
    envs = data.get("environments") if isinstance(data, dict) else None
    for env_name, env in (envs or {}).items() if isinstance(envs, dict) else ():
        for kind in ("services", "autoscaling_groups"):
            targets = env.get(kind) if isinstance(env, dict) else None
            for name, target in (targets or {}).items() if isinstance(targets, dict) else ():
                if not isinstance(target, dict):
                    continue
                try:
                    Bounds.model_validate({k: target.get(k) for k in ("min", "max")})
                except ValidationError as exc:
                    where = f"environments.{env_name}.{kind}.{name}"
                    lines += [f"{where}.{line}" for line in problem_lines(exc)]
    return lines


def check_data(data: Any, source: str) -> Checked:
    """Validate a parsed policy document."""
    try:
        return Checked(source, policy=Policy.model_validate(data))
    except ValidationError as exc:
        problems = problem_lines(exc)
    paths = {line.partition(": ")[0] for line in problems}
    extra = [p for p in _bounds_problems(data) if p.partition(": ")[0] not in paths]
    return Checked(source, problems=problems + extra)


def check_file(path: Path) -> Checked:
    """Read, parse and validate a YAML policy file (no compiled cache is read or written)."""
    import yaml

    try:
        text = path.read_bytes()
    except OSError as exc:
        return Checked(str(path), problems=[f"(file): cannot read it: {exc.strerror}"])
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        detail = " ".join(str(exc).split())
        return Checked(str(path), problems=[f"(file): not valid YAML: {detail}"])
    return check_data(data, str(path))


def counts(policy: Policy) -> dict[str, int]:
    """What a policy holds, counted."""
    envs = policy.environments.values()
    approvals = sum(
        (env.approval is not None) + sum(s.approval is not None for s in env.services.values())
        for env in envs
    )
    return {
        "environments": len(policy.environments),
        "services": sum(len(env.services) for env in envs),
        "autoscaling_groups": sum(len(env.autoscaling_groups) for env in envs),
        "alarm_rules": len(policy.alarm_rules),
        "approvals": approvals,
        "people": len(policy.people),
    }


def summary(checked: Checked) -> str:
    """The one line of a valid policy."""
    assert checked.policy is not None
    n = counts(checked.policy)
    return (
        f"{checked.source}: valid: {n['environments']} environments, {n['services']} services, "
        f"{n['autoscaling_groups']} autoscaling groups, {n['alarm_rules']} alarm rules, "
        f"{n['approvals']} approvals, {n['people']} people"
    )
