"""The ops policy: the shipped file, who may do what, and errors that say where the problem is."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from chalicelib.core.errors import Forbidden, NotFound, OpsError, PolicyError
from chalicelib.domain.policy import Permission, Policy, load_policy_file, parse_policy

SHIPPED = Path(__file__).resolve().parents[2] / "chalicelib" / "policy.yaml"
ALL = {Permission.READ, Permission.DEPLOY, Permission.SCALE, Permission.ROLLBACK, Permission.FREEZE}

BASE: dict[str, Any] = {
    "environments": {
        "demo": {
            "account": "123456789012",
            "region": "us-east-1",
            "cluster": "demo",
            "services": {"web": {"container": "web", "repository": "web", "min": 1, "max": 6}},
        }
    },
    "roles": {"admin": ["read", "deploy", "scale", "rollback"], "viewer": ["read"]},
    "people": {"bob": {"roles": {"demo": "viewer"}}},
}


@pytest.fixture(scope="module")
def shipped() -> Policy:
    return load_policy_file(SHIPPED)


def write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def load_error(path: Path) -> str:
    with pytest.raises(PolicyError) as info:
        load_policy_file(path)
    return info.value.message


def mutated(**changes: Any) -> dict[str, Any]:
    """BASE with dotted-path keys set, e.g. ``mutated(**{"environments.demo.account": "1"})``."""
    data = copy.deepcopy(BASE)
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node = data
        for key in parents:
            node = node[key]
        node[last] = value
    return data


# -- the shipped policy ----------------------------------------------------------------------


def test_shipped_policy_describes_the_demo_environment(shipped: Policy) -> None:
    demo = shipped.environment("demo")
    assert (demo.account, demo.region, demo.cluster) == ("123456789012", "us-east-1", "demo")
    web, api = demo.service("web"), demo.service("api")
    assert (web.container, web.repository, web.min, web.max) == ("web", "web", 1, 6)
    assert (api.container, api.repository, api.min, api.max) == ("api", "api", 2, 4)
    workers = demo.autoscaling_groups["demo-workers"]
    assert (workers.min, workers.max) == (1, 5)
    assert shipped.slack.default_environment == "demo"
    assert shipped.person_for_slack_user("U0DEMOADMIN") == "demo-admin"
    assert shipped.person_for_slack_user("U0DEMOVIEW") == "demo-viewer"
    assert shipped.person_for_slack_user("U0NOBODY") is None


def test_permissions_of_the_shipped_principals(shipped: Policy) -> None:
    assert shipped.permissions("demo-admin", "demo") == ALL
    assert shipped.permissions("demo-viewer", "demo") == {Permission.READ}
    assert shipped.permissions("local-admin", "demo") == ALL
    # roles are per environment; "*" grants everywhere. In prod (protected) the admins may ask
    # for deploys but nobody may approve but the lead, who may do everything in demo
    assert shipped.permissions("demo-admin", "prod") == ALL
    assert shipped.permissions("demo-viewer", "prod") == {Permission.READ}
    assert shipped.permissions("local-admin", "prod") == ALL
    assert shipped.permissions("demo-lead", "prod") == {Permission.READ, Permission.APPROVE}
    assert shipped.permissions("demo-lead", "demo") == ALL | {Permission.APPROVE}
    assert shipped.permissions("stranger", "demo") == set()
    assert shipped.permissions("demo-admin", "staging") == set()


def test_require_raises_forbidden_naming_who_where_and_what(shipped: Policy) -> None:
    shipped.require("demo-admin", "demo", Permission.DEPLOY)
    shipped.require("demo-viewer", "demo", Permission.READ)

    with pytest.raises(Forbidden) as info:
        shipped.require("demo-viewer", "demo", Permission.DEPLOY)
    assert info.value.status == 403
    assert info.value.to_body()["error"] == {
        "code": "forbidden",
        "message": "demo-viewer may not deploy in environment 'demo'",
        "principal": "demo-viewer",
        "environment": "demo",
        "permission": "deploy",
    }
    with pytest.raises(Forbidden):
        shipped.require("demo-admin", "prod", Permission.APPROVE)
    with pytest.raises(Forbidden):
        shipped.require("stranger", "demo", Permission.READ)


def test_unknown_environment_and_service_are_not_found(shipped: Policy) -> None:
    with pytest.raises(NotFound) as env:
        shipped.environment("staging", reader="demo-viewer")
    assert env.value.details["known"] == ["demo", "prod"]
    with pytest.raises(NotFound) as svc:
        shipped.environment("demo").service("db")
    assert svc.value.details["known"] == ["api", "web"]


def test_not_found_names_only_what_the_caller_may_read(shipped: Policy) -> None:
    with pytest.raises(NotFound) as anonymous:
        shipped.environment("staging")
    assert "known" not in anonymous.value.details
    with pytest.raises(NotFound) as stranger:
        shipped.environment("staging", reader="stranger")
    assert "known" not in stranger.value.details
    assert shipped.readable("stranger") == []
    assert shipped.readable("demo-viewer") == ["demo", "prod"]


def test_resolve_checks_permission_before_naming_services(shipped: Policy) -> None:
    with pytest.raises(Forbidden):
        shipped.resolve("stranger", "demo", Permission.READ, "db")
    with pytest.raises(Forbidden):
        shipped.resolve("demo-viewer", "demo", Permission.SCALE, "db")
    with pytest.raises(NotFound) as svc:
        shipped.resolve("demo-viewer", "demo", Permission.READ, "db")
    assert svc.value.details["known"] == ["api", "web"]
    assert shipped.resolve("demo-admin", "demo", Permission.DEPLOY, "web").name == "demo"


def test_slack_workspace_settings_are_validated(shipped: Policy) -> None:
    assert shipped.slack.command == "/opsbot"
    assert shipped.slack.team_id is None
    data = {**BASE, "slack": {"command": "/ops", "team_id": "T0DEMO"}}
    assert parse_policy(data).slack.team_id == "T0DEMO"
    for bad in ({"command": "opsbot"}, {"team_id": "not a team"}):
        with pytest.raises(PolicyError) as err:
            parse_policy({**BASE, "slack": bad})
        assert "slack." in str(err.value)


# -- errors name the file and the field ------------------------------------------------------


def test_base_document_is_valid(tmp_path: Path) -> None:
    policy = load_policy_file(write(tmp_path, BASE))
    assert policy.permissions("bob", "demo") == {Permission.READ}


def test_bad_account(tmp_path: Path) -> None:
    path = write(tmp_path, mutated(**{"environments.demo.account": "12345"}))
    message = load_error(path)
    assert str(path) in message
    assert "environments.demo.account:" in message


def test_min_greater_than_max(tmp_path: Path) -> None:
    path = write(tmp_path, mutated(**{"environments.demo.services.web.min": 7}))
    message = load_error(path)
    assert str(path) in message
    assert "environments.demo.services.web:" in message
    assert "min (7) is greater than max (6)" in message


def test_unknown_role_for_a_person(tmp_path: Path) -> None:
    path = write(tmp_path, mutated(**{"people.bob.roles": {"demo": "superuser"}}))
    message = load_error(path)
    assert str(path) in message
    assert "people.bob.roles.demo" in message
    assert "unknown role 'superuser'" in message
    assert "admin" in message and "viewer" in message  # the roles there are


def test_unknown_environment_in_a_persons_roles(tmp_path: Path) -> None:
    path = write(tmp_path, mutated(**{"people.bob.roles": {"prod": "viewer"}}))
    message = load_error(path)
    assert str(path) in message
    assert "people.bob.roles" in message
    assert "unknown environment 'prod'" in message


def test_unknown_permission_in_a_role(tmp_path: Path) -> None:
    path = write(tmp_path, mutated(**{"roles.viewer": ["read", "delete"]}))
    message = load_error(path)
    assert "roles.viewer.1:" in message


def test_unknown_top_level_key(tmp_path: Path) -> None:
    path = write(tmp_path, mutated(envirnoments={}))
    message = load_error(path)
    assert str(path) in message
    assert "envirnoments:" in message
    assert "Extra inputs are not permitted" in message


def test_unknown_slack_default_environment(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, mutated(slack={"default_environment": "prod"})))
    assert "slack.default_environment" in message


def test_every_bad_field_is_reported_at_once(tmp_path: Path) -> None:
    data = mutated(
        **{
            "environments.demo.account": "not-an-account",
            "environments.demo.region": "Mars",
            "environments.demo.services.web.max": -1,
        }
    )
    message = load_error(write(tmp_path, data))
    assert "3 problem(s)" in message
    for where in ("account", "region", "services.web.max"):
        assert f"environments.demo.{where}:" in message


def test_bad_yaml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("environments:\n  demo: {account: '1\n")
    message = load_error(path)
    assert message.startswith(f"{path}: not valid YAML")


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    assert message_of(lambda: load_policy_file(path)).startswith(f"{path}: cannot read")


def test_parse_policy_names_its_source_and_is_an_ops_error() -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy({"environments": "demo"}, "s3://bucket/policy.yaml")
    assert isinstance(info.value, OpsError)
    assert info.value.code == "policy_invalid"
    assert info.value.message.startswith("s3://bucket/policy.yaml: invalid ops policy")
    assert "environments:" in info.value.message


def message_of(call: Any) -> str:
    with pytest.raises(PolicyError) as info:
        call()
    return info.value.message


# -- the action registry is the source of permissions (Cloud Custodian's test_resource_permissions)


def _allowed(statements: list[dict[str, Any]]) -> set[str]:
    """The IAM actions Allow statements grant (patterns such as ``ecs:Describe*`` kept)."""
    from tests.unit.test_packaging import as_list

    return {a for s in statements if s["Effect"] == "Allow" for a in as_list(s["Action"])}


def _grants(patterns: set[str], permission: str) -> bool:
    from fnmatch import fnmatchcase

    return any(fnmatchcase(permission.lower(), p.lower()) for p in patterns)


def declared_permissions() -> dict[str, tuple[str, ...]]:
    """What each registered action declares, and what alarm reactions need besides."""
    from chalicelib import alarms
    from chalicelib.domain.actions import REGISTRY

    return {
        **{name: cls.permissions for name, cls in sorted(REGISTRY.items())},
        "(alarm reactions)": alarms.PERMISSIONS,
    }


def test_every_action_that_changes_something_declares_its_permissions() -> None:
    from chalicelib.domain.actions import REGISTRY

    for name, cls in REGISTRY.items():
        assert all(re.fullmatch(r"[a-z0-9-]+:[A-Z][A-Za-z]+", p) for p in cls.permissions), name
        params = {"service": "web", "group": "demo-workers", "step": 1}
        fields = {k: v for k, v in params.items() if k in cls.Params.model_fields}
        action = cls(cls.Params.model_validate(fields))
        if action.target("demo") is not None:
            assert cls.permissions, f"{name} acts on a target but declares no permission"


def test_resource_permissions() -> None:
    """Every permission the registry declares is granted wherever opsbot acts on an environment:
    by the member-account role (environments with a role_arn) and by the functions' own policy
    in each stage (environments in opsbot's account)."""
    from infra import member_account
    from tests.unit.test_packaging import ENVIRONMENT_SIDS, INFRA, ROOT, load_yaml_template

    member = load_yaml_template(INFRA / "member-account.yaml")
    grants = {}
    for function in ("alarm_notification", "work"):  # reactions, and their retries
        role = member["Resources"][member_account.role_resource(function)]["Properties"]
        document = role["Policies"][0]["PolicyDocument"]
        grants[f"infra/member-account.yaml {function} role"] = _allowed(document["Statement"])
    for stage in ("dev", "prod"):
        for function in ("alarm_notification", "work"):  # reactions, and their retries
            name = f"policy-{stage}-{function}.json"
            document = json.loads((ROOT / ".chalice" / name).read_text())
            home = [s for s in document["Statement"] if s.get("Sid") in ENVIRONMENT_SIDS]
            assert home, name
            grants[f".chalice/{name}"] = _allowed(home)
    declared = declared_permissions()
    assert sum(len(p) for p in declared.values()) >= 7, declared
    denied = [
        f"{where}: {action} needs {permission}"
        for where, granted in grants.items()
        for action, permissions in declared.items()
        for permission in permissions
        if not _grants(granted, permission)
        # a waiting reaction's state check runs in its retry, in the work function
        and not ("alarm_notification" in where and permission == "cloudwatch:DescribeAlarms")
    ]
    assert denied == []


def test_resource_permissions_notice_a_missing_grant() -> None:
    granted = {"ecs:DescribeServices", "autoscaling:Describe*"}
    assert _grants(granted, "ecs:DescribeServices")
    assert _grants(granted, "autoscaling:DescribeAutoScalingGroups")
    assert not _grants(granted, "ecs:UpdateService")


def test_caps_default_per_key_and_the_shipped_demo_caps_five_a_minute(shipped: Policy) -> None:
    demo = shipped.limits_for("demo")
    assert (demo.max_automated_changes_per_minute, demo.max_services_scaled_at_once) == (5, 3)
    prod = shipped.limits_for("prod")
    assert prod == shipped.limits  # no limits of its own: the top-level ones
    own = parse_policy(
        mutated(
            **{
                "limits": {"max_automated_changes_per_minute": 7},
                "environments.demo.limits": {"max_services_scaled_at_once": 2},
            }
        )
    )
    caps = own.limits_for("demo")
    assert (caps.max_automated_changes_per_minute, caps.max_services_scaled_at_once) == (7, 2)
    unset = parse_policy(BASE).limits_for("demo")  # caps are on by default
    assert (unset.max_automated_changes_per_minute, unset.max_services_scaled_at_once) == (10, 5)


def test_bad_caps_name_their_path(tmp_path: Path) -> None:
    bad = mutated(**{"environments.demo.limits": {"max_automated_changes_per_minute": -1}})
    message = load_error(write(tmp_path, bad))
    assert "environments.demo.limits.max_automated_changes_per_minute" in message
    unknown = mutated(**{"limits": {"max_changes": 3}})
    assert "limits.max_changes" in load_error(write(tmp_path, unknown))
