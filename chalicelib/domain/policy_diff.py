"""What a policy change grants or removes (``opsbot policy diff OLD NEW``), for a pull request's
reviewer: permissions per principal per environment, scaling bounds, alarm rules, approvals,
environments, and any other setting that changed (by dotted path)."""

from __future__ import annotations

from typing import Any

from chalicelib.domain.policy import Environment, Policy

# the parts of a policy the sections below already describe
_COVERED = ("roles", "people", "alarm_rules")
_ENV_COVERED = ("services", "autoscaling_groups", "approval")


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flat(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def _changes(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"path": path, "old": old.get(path), "new": new.get(path)}
        for path in sorted(old.keys() | new.keys())
        if old.get(path) != new.get(path)
    ]


def _permissions(old: Policy, new: Policy) -> dict[str, list[dict[str, str]]]:
    granted: list[dict[str, str]] = []
    removed: list[dict[str, str]] = []
    envs = sorted(old.environments.keys() | new.environments.keys())
    for principal in sorted(old.people.keys() | new.people.keys()):
        for env in envs:
            before = {p.value for p in old.permissions(principal, env)}
            after = {p.value for p in new.permissions(principal, env)}
            for perm in sorted(after - before):
                granted.append({"principal": principal, "environment": env, "permission": perm})
            for perm in sorted(before - after):
                removed.append({"principal": principal, "environment": env, "permission": perm})
    return {"granted": granted, "removed": removed}


def _bounded(env: Environment | None) -> dict[str, str]:
    if env is None:
        return {}
    out = {f"services.{n}": f"{s.min}..{s.max}" for n, s in env.services.items()}
    out.update(
        {f"autoscaling_groups.{n}": f"{g.min}..{g.max}" for n, g in env.autoscaling_groups.items()}
    )
    return out


def _bounds(old: Policy, new: Policy) -> list[dict[str, Any]]:
    changes = []
    for env in sorted(old.environments.keys() | new.environments.keys()):
        before = _bounded(old.environments.get(env))
        after = _bounded(new.environments.get(env))
        for change in _changes(before, after):
            changes.append({**change, "path": f"environments.{env}.{change['path']}"})
    return changes


def _approvals(policy: Policy) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, env in policy.environments.items():
        out[f"environments.{name}.approval"] = env.approval
        for svc_name, svc in env.services.items():
            out[f"environments.{name}.services.{svc_name}.approval"] = svc.approval
    return {k: v.model_dump(mode="json") for k, v in out.items() if v is not None}


def _rules(old: Policy, new: Policy) -> dict[str, list[str]]:
    before = {k: v.model_dump(mode="json") for k, v in old.alarm_rules.items()}
    after = {k: v.model_dump(mode="json") for k, v in new.alarm_rules.items()}
    return {
        "added": sorted(after.keys() - before.keys()),
        "removed": sorted(before.keys() - after.keys()),
        "changed": sorted(k for k in before.keys() & after.keys() if before[k] != after[k]),
    }


def _rest(policy: Policy) -> dict[str, Any]:
    dumped = policy.model_dump(mode="json", by_alias=True)
    for key in _COVERED:
        dumped.pop(key, None)
    for env in dumped["environments"].values():
        env.pop("name", None)
        for key in _ENV_COVERED:
            env.pop(key, None)
    return _flat(dumped)


def diff(old: Policy, new: Policy) -> dict[str, Any]:
    """The change from ``old`` to ``new``, section by section (JSON-ready)."""
    return {
        "environments": {
            "added": sorted(new.environments.keys() - old.environments.keys()),
            "removed": sorted(old.environments.keys() - new.environments.keys()),
        },
        "permissions": _permissions(old, new),
        "bounds": _bounds(old, new),
        "alarm_rules": _rules(old, new),
        "approvals": _changes(_approvals(old), _approvals(new)),
        "other": _changes(_rest(old), _rest(new)),
    }


def _approval_text(value: dict[str, Any] | None) -> str:
    if value is None:
        return "none"
    who = value.get("approvers") or "anyone who holds approve"
    return f"{'/'.join(value['actions'])} by {who}, {value['expires_after_minutes']} min"


def lines(change: dict[str, Any]) -> list[str]:
    """The change as text, one line per fact (``+`` granted or added, ``-`` removed, ``~``
    changed); ``no change`` when there is none."""
    out = [f"+ environment {e}" for e in change["environments"]["added"]]
    out += [f"- environment {e}" for e in change["environments"]["removed"]]
    for sign, key in (("+", "granted"), ("-", "removed")):
        out += [
            f"{sign} {g['principal']} may {g['permission']} in {g['environment']}"
            if sign == "+"
            else f"{sign} {g['principal']} may no longer {g['permission']} in {g['environment']}"
            for g in change["permissions"][key]
        ]
    for b in change["bounds"]:
        out.append(f"~ {b['path']}: bounds {b['old'] or 'none'} -> {b['new'] or 'none'}")
    rules = change["alarm_rules"]
    out += [f"+ alarm rule {r}" for r in rules["added"]]
    out += [f"- alarm rule {r}" for r in rules["removed"]]
    out += [f"~ alarm rule {r}" for r in rules["changed"]]
    for a in change["approvals"]:
        out.append(f"~ {a['path']}: {_approval_text(a['old'])} -> {_approval_text(a['new'])}")
    out += [f"~ {o['path']}: {o['old']!r} -> {o['new']!r}" for o in change["other"]]
    return out or ["no change"]
