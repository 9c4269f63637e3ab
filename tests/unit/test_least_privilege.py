"""One IAM policy per function, holding exactly the calls that function's code makes.

``infra/iam.py`` holds the reviewed grants (``GRANTS``) and renders the policy files, the merge
template's policies and the function list; ``tests/unit/iam_scan.py`` reads each function's calls
from its code. A grant the code does not use fails here, and so does a call nothing grants.
"""

from __future__ import annotations

from typing import Any

import pytest

from infra import iam
from tests.unit import iam_scan
from tests.unit.test_packaging import INFRA, as_list, load_yaml_template

# Lambda's SQS event source polls with the work function's role.
EVENT_SOURCE = {"work": {"WorkQueue": {"sqs:ReceiveMessage", "sqs:DeleteMessage"}}}
GROUPS = {
    "environment": "Environment",
    "table": "StateTable",
    "queue": "WorkQueue",
    "dead_letter_queue": "WorkDeadLetterQueue",
    "notifications": "Notifications",
    "parameters": "Parameters",
}


@pytest.fixture(scope="module")
def calls() -> dict[str, iam_scan.Calls]:
    return iam_scan.function_calls()


def test_the_scan_finds_every_function_and_only_those(calls: dict[str, Any]) -> None:
    assert set(calls) == set(iam.FUNCTIONS)


def test_rendered_policies_are_up_to_date() -> None:
    stale = [
        str(path.relative_to(iam.ROOT))
        for path, text in iam.rendered().items()
        if not path.exists() or path.read_text() != text
    ]
    assert stale == [], "run: .venv/bin/python -m infra.iam"


@pytest.mark.parametrize("function", list(iam.FUNCTIONS))
def test_each_function_is_granted_exactly_the_calls_its_code_makes(
    calls: dict[str, iam_scan.Calls], function: str
) -> None:
    made = calls[function]
    granted = iam.GRANTS[function]
    for attr, group in GROUPS.items():
        performed = set(getattr(made, attr)) | EVENT_SOURCE.get(function, {}).get(group, set())
        allowed = set(granted.get(group, ()))
        assert performed - allowed == set(), f"{function} {group}: would be denied, grant them"
        assert allowed - performed == set(), f"{function} {group}: never called, do not grant"


def test_the_internet_facing_handler_cannot_deploy_pass_roles_or_touch_dns() -> None:
    granted = {a for actions in iam.GRANTS["api_handler"].values() for a in actions}
    forbidden = {
        "ecs:RegisterTaskDefinition",
        "iam:PassRole",
        "route53:ChangeResourceRecordSets",
        "elasticloadbalancing:ModifyListener",
        "elasticloadbalancing:AddListenerCertificates",
        "elasticloadbalancing:RemoveListenerCertificates",
        "acm:RequestCertificate",
        "autoscaling:SetDesiredCapacity",
    }
    assert granted & forbidden == set()
    document = iam.policy_file("prod", "api_handler")
    actions = {a for s in document["Statement"] for a in as_list(s["Action"])}
    assert actions & forbidden == set()


def test_the_scan_follows_symbols_not_modules() -> None:
    """deploys.request imports lock_lease from deploys.rollout: start_deploy stays out."""
    api = iam_scan.reached(set(iam_scan.function_entries()["api_handler"]))
    work = iam_scan.reached(set(iam_scan.function_entries()["work"]))
    assert ("chalicelib.deploys.rollout", "lock_lease") in api
    assert ("chalicelib.deploys.rollout", "start_deploy") not in api
    assert ("chalicelib.deploys.rollout", "start_deploy") in work


def test_alarm_reactions_hold_what_the_action_registry_declares() -> None:
    """The registry's permissions (and the budget guard's) for the alarm function; the work
    function retries waiting reactions, so it needs them too, and DescribeAlarms."""
    from chalicelib import alarms
    from chalicelib.domain.actions import REGISTRY

    declared = {p for cls in REGISTRY.values() for p in cls.permissions}
    alarm = set(iam.GRANTS["alarm_notification"]["Environment"])
    assert declared | {"budgets:ViewBudget"} <= alarm
    assert declared | set(alarms.PERMISSIONS) <= set(iam.GRANTS["work"]["Environment"])


def _member_roles() -> dict[str, Any]:
    """infra/member-account.yaml's roles, by the function each trusts."""
    template = load_yaml_template(INFRA / "member-account.yaml")
    roles = {}
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::IAM::Role" or "RoleName" not in resource["Properties"]:
            continue
        props = resource["Properties"]
        (trust,) = props["AssumeRolePolicyDocument"]["Statement"]
        parameter = trust["Condition"]["ArnEquals"]["aws:PrincipalArn"]["Ref"]
        function = next(f for f in iam.FUNCTIONS if f"{iam.role_id(f)}Arn" == parameter)
        assert props["RoleName"] == {"Fn::Sub": "${NamePrefix}-" + function}
        roles[function] = props
    return roles


def test_each_member_role_allows_exactly_the_calls_its_function_makes_in_an_environment(
    calls: dict[str, iam_scan.Calls],
) -> None:
    """One role per function in a member account (trusting that function's role only), allowing
    exactly what the function's code calls in an environment's account; none for a function
    that calls nothing there."""
    performed = {a for c in calls.values() for a in c.environment}
    assert {"ecs:UpdateService", "ecs:RegisterTaskDefinition"} <= performed, performed
    roles = _member_roles()
    assert set(roles) == {f for f in iam.FUNCTIONS if calls[f].environment}
    for function, props in roles.items():
        (policy,) = props["Policies"]
        granted = {a for s in policy["PolicyDocument"]["Statement"] for a in as_list(s["Action"])}
        made = set(calls[function].environment)
        assert made - granted == set(), f"{function} would be denied these: grant them"
        assert granted - made == set(), f"{function} never does these: do not grant them"


def test_each_function_may_assume_its_own_member_role_only() -> None:
    for function in iam.FUNCTIONS:
        statements = {s["Sid"]: s for s in iam.policy_file("prod", function)["Statement"]}
        if not iam.assumes_member_roles(function):
            assert "AssumeMemberRoles" not in statements
            continue
        # its own role, and the shared role of a member stack from before roles per function
        assert statements["AssumeMemberRoles"]["Resource"] == [
            f"arn:aws:iam::*:role/opsbot-{function}",
            "arn:aws:iam::*:role/opsbot-member",
        ]


def test_every_handler_names_its_function_first() -> None:
    """The member role a function assumes is the one its handler names (``as_function``): each
    event handler does so first, and the HTTP middleware for every route of the API function."""
    import ast
    import inspect

    from chalicelib.handlers import http

    for function, entries in iam_scan.function_entries().items():
        if function == "api_handler":
            continue
        for module, name in entries:
            node = iam_scan.modules()[module].defs[name]
            assert isinstance(node, ast.FunctionDef), (module, name)
            first = node.body[1]  # after the docstring
            assert ast.unparse(first) == f"as_function('{function}')", (module, name)
    source = inspect.getsource(http.request_id_middleware)
    assert "as_function(API_FUNCTION)" in source and http.API_FUNCTION == "api_handler"


def test_pass_role_and_ecs_writes_are_scoped() -> None:
    for function in iam.FUNCTIONS:
        statements = {s["Sid"]: s for s in iam.policy_file("prod", function)["Statement"]}
        for sid, statement in statements.items():
            if "iam:PassRole" in statement["Action"]:
                assert statement["Resource"] == "arn:aws:iam::*:role/opsbot-tasks/*", sid
                assert statement["Condition"] == {
                    "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
                }
            if "ecs:UpdateService" in statement["Action"]:
                assert statement["Resource"] == [
                    "arn:aws:ecs:us-east-1:*:service/demo/*",
                    "arn:aws:ecs:us-east-1:*:service/prod/*",
                ], sid
