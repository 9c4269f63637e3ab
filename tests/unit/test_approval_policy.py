"""The policy's ``approval``: validated at load (naming the dotted path), resolved per service
and action, and who may approve (the ``approve`` permission, and the named approvers)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from chalicelib.core.errors import PolicyError
from chalicelib.domain.policy import Permission, load_policy_file, parse_policy

SHIPPED = Path(__file__).resolve().parents[2] / "chalicelib" / "policy.yaml"

BASE: dict[str, Any] = {
    "environments": {
        "prod": {
            "account": "123456789012",
            "region": "us-east-1",
            "cluster": "prod",
            "services": {
                "web": {"container": "web", "repository": "web", "min": 2, "max": 10},
                "api": {"container": "api", "repository": "api", "min": 1, "max": 2},
            },
            "approval": {"approvers": "lead"},
        }
    },
    "roles": {
        "admin": ["read", "deploy", "scale", "rollback"],
        "lead": ["read", "approve"],
        "viewer": ["read"],
    },
    "people": {
        "ann": {"roles": {"prod": "admin"}},
        "lee": {"roles": {"prod": "lead"}},
        "val": {"roles": {"prod": "viewer"}},
    },
}


def policy_error(data: dict[str, Any]) -> str:
    with pytest.raises(PolicyError) as info:
        parse_policy(data, "policy.yaml")
    return info.value.message


def with_approval(approval: Any, service: str | None = None) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    env = data["environments"]["prod"]
    if service is None:
        env["approval"] = approval
    else:
        env["services"][service]["approval"] = approval
    return data


def test_defaults_protect_deploys_and_rollbacks_for_30_minutes() -> None:
    approval = parse_policy(with_approval({})).environments["prod"].approval
    assert approval is not None
    assert (approval.actions, approval.approvers, approval.expires_after_minutes) == (
        ["deploy", "rollback"],
        None,
        30,
    )
    # the built-in admin role grants approve; a policy's own roles grant what they list
    assert Permission.APPROVE in parse_policy({"environments": {}}).roles["admin"]


@pytest.mark.parametrize(
    ("approval", "service", "expected"),
    [
        (
            {"approvers": "nobody"},
            None,
            "environments.prod.approval.approvers: unknown role 'nobody'",
        ),
        ({"approvers": "admin"}, None, "approval.approvers: role 'admin' does not grant 'approve'"),
        (
            {"approvers": ["lee", "zed"]},
            "web",
            "environments.prod.services.web.approval.approvers.1: unknown person 'zed'",
        ),
        ({"approvers": ["ann"]}, None, "approval.approvers.0: 'ann' does not hold 'approve'"),
        ({"actions": ["scale"]}, None, "environments.prod.approval.actions.0"),
        ({"actions": []}, None, "environments.prod.approval.actions"),
        ({"expires_after_minutes": 0}, None, "environments.prod.approval.expires_after_minutes"),
        ({"approvers": "lead", "when": "always"}, None, "environments.prod.approval.when"),
    ],
)
def test_bad_approvals_fail_at_load_naming_the_path(
    approval: dict[str, Any], service: str | None, expected: str
) -> None:
    message = policy_error(with_approval(approval, service))
    assert message.startswith("policy.yaml: invalid ops policy")
    assert expected in message


def test_a_service_overrides_its_environment_per_action() -> None:
    data = with_approval({"actions": ["rollback"], "approvers": "lead"})
    data["environments"]["prod"]["services"]["api"]["approval"] = {
        "approvers": ["lee"],
        "expires_after_minutes": 5,
    }
    env = parse_policy(data).environments["prod"]
    assert env.approval_for("web", "deploy") is None
    assert env.approval_for("web", "rollback") is env.approval
    api = env.approval_for("api", "deploy")
    assert api is not None and api.expires_after_minutes == 5
    assert parse_policy(BASE).environments["prod"].approval_for("web", "deploy") is not None


def test_who_may_approve() -> None:
    policy = parse_policy(BASE)
    approval = policy.environments["prod"].approval
    assert policy.may_approve("lee", "prod", approval)
    assert not policy.may_approve("ann", "prod", approval)  # deploys, but no approve
    assert not policy.may_approve("val", "prod", approval)
    assert not policy.may_approve("stranger", "prod", approval)
    # approve alone is not enough when the approvers are named
    data = copy.deepcopy(BASE)
    data["roles"]["auditor"] = ["read", "approve"]
    data["people"]["aud"] = {"roles": {"*": "auditor"}}
    named = parse_policy(data)
    assert not named.may_approve("aud", "prod", named.environments["prod"].approval)
    assert named.may_approve("aud", "prod", None)  # no approvers named: approve suffices


def test_the_shipped_prod_is_protected_and_only_the_lead_approves() -> None:
    shipped = load_policy_file(SHIPPED)
    prod = shipped.environment("prod")
    assert (prod.account, prod.region, prod.cluster) == ("123456789012", "us-east-1", "prod")
    web = prod.service("web")
    assert (web.container, web.repository, web.min, web.max) == ("web", "web", 2, 10)
    assert web.deploy_timeout_seconds == 120
    for action in ("deploy", "rollback"):
        approval = prod.approval_for("web", action)
        assert approval is not None and approval.expires_after_minutes == 30
    approval = prod.approval_for("web", "deploy")
    assert shipped.person_for_slack_user("U0DEMOLEAD") == "demo-lead"
    assert shipped.may_approve("demo-lead", "prod", approval)
    for who in ("local-admin", "demo-admin", "demo-viewer"):
        assert not shipped.may_approve(who, "prod", approval), who
    assert Permission.DEPLOY in shipped.permissions("demo-admin", "prod")
    assert Permission.DEPLOY in shipped.permissions("local-admin", "prod")
    assert shipped.permissions("demo-viewer", "prod") == {Permission.READ}
    assert shipped.environment("demo").approval_for("web", "deploy") is None
