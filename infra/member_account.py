"""``infra/member-account.yaml``, rendered from the reviewed grants (``infra.iam.GRANTS``).

One role per opsbot function that acts in an environment's account, named
``<NamePrefix>-<function>`` (``opsbot-work``...): it trusts only that function's execution role
in the opsbot account (``aws:PrincipalArn``, exact ARN) and allows only what that function calls
there (its ``Environment`` grants, grouped and scoped as the functions' own policies are). The
stack also forwards this account's ECS deployment and stopped-task events to opsbot's bus.

``python -m infra.iam`` writes the file; ``tests/unit/test_least_privilege.py`` fails when it is
stale or when a role allows other than what its function's code calls.
"""

from __future__ import annotations

from typing import Any

import yaml

from infra import iam

HEADER = """\
# Rendered by `python -m infra.iam` from infra/iam.py (GRANTS): edit that, not this file.
#
# opsbot member account: one role per opsbot function (<NamePrefix>-<function>), each trusting
# exactly that function's execution role and allowing exactly the calls that function makes here
# (ECS writes on the named clusters only, PassRole of the task roles under TaskRolePath only),
# and the rules that forward ECS deployment and task events to opsbot. Deploy it in each member
# account (and region; see docs/operations/member-accounts.md), then give the account's
# environments in chalicelib/policy.yaml the RoleArnTemplate output as role_arn.
"""
ROLE_ARN_PATTERN = "^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$"


def _sub(text: Any) -> dict[str, Any]:
    return {"Fn::Sub": text}


def acting_functions() -> list[str]:
    """The functions that act in an environment's account: each gets a role here."""
    return [f for f in iam.FUNCTIONS if iam.assumes_member_roles(f)]


def parameter(function: str) -> str:
    """The parameter naming ``function``'s execution role (``WorkRoleArn``)."""
    return iam.role_id(function) + "Arn"


def role_resource(function: str) -> str:
    """The logical id of ``function``'s role here (``WorkMemberRole``)."""
    return iam.role_id(function).removesuffix("Role") + "MemberRole"


def _opsbot_account(function: str | None = None) -> dict[str, Any]:
    """The opsbot account: the account of ``function``'s (else the first function's) role."""
    named = function or acting_functions()[0]
    return {"Fn::Select": [4, {"Fn::Split": [":", {"Ref": parameter(named)}]}]}


def _resource(kind: str) -> Any:
    if kind == "ecs-service":  # arn:aws:ecs:*:*:service/<cluster>/* for each of ClusterNames
        joined = {"Fn::Join": ["/*,arn:aws:ecs:*:*:service/", {"Ref": "ClusterNames"}]}
        return {"Fn::Split": [",", {"Fn::Join": ["", ["arn:aws:ecs:*:*:service/", joined, "/*"]]}]}
    if kind == "*":
        return "*"
    return _sub(
        {
            "ecs-task-definition": "arn:${AWS::Partition}:ecs:*:${AWS::AccountId}:"
            "task-definition/*",
            "task-role": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role${TaskRolePath}*",
            "ecr-repository": "arn:${AWS::Partition}:ecr:*:${AWS::AccountId}:repository/*",
            "asg": "arn:${AWS::Partition}:autoscaling:*:${AWS::AccountId}:"
            "autoScalingGroup:*:autoScalingGroupName/*",
            "acm-certificate": "arn:${AWS::Partition}:acm:*:${AWS::AccountId}:certificate/*",
            "hosted-zone": "arn:${AWS::Partition}:route53:::hostedzone/*",
            "listener": "arn:${AWS::Partition}:elasticloadbalancing:*:${AWS::AccountId}:listener/*",
            "budget": "arn:${AWS::Partition}:budgets::${AWS::AccountId}:budget/*",
        }[kind]
    )


def member_role(function: str) -> dict[str, Any]:
    """``function``'s role: trusted by its execution role only, allowed its calls only."""
    actions = iam.GRANTS[function]["Environment"]
    return {
        "Type": "AWS::IAM::Role",
        "Condition": "CreateMemberRoles",
        "Properties": {
            "RoleName": _sub("${NamePrefix}-" + function),
            "Description": _sub(f"Assumed by opsbot's {function} function (${{NamePrefix}})"),
            "MaxSessionDuration": 3600,
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    # The account as principal plus aws:PrincipalArn, rather than the role ARN
                    # as principal: a recreated function role keeps working (a role-ARN
                    # principal is pinned to the role's unique id). ArnEquals on its exact ARN.
                    {
                        "Sid": "OpsbotFunction",
                        "Effect": "Allow",
                        "Principal": {
                            "AWS": _sub(
                                [
                                    "arn:${AWS::Partition}:iam::${OpsbotAccount}:root",
                                    {"OpsbotAccount": _opsbot_account(function)},
                                ]
                            )
                        },
                        "Action": "sts:AssumeRole",
                        "Condition": {
                            "ArnEquals": {"aws:PrincipalArn": {"Ref": parameter(function)}}
                        },
                    }
                ],
            },
            "Policies": [
                {
                    "PolicyName": "opsbot",
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": iam.environment_statements(actions, _resource, sid_prefix=""),
                    },
                }
            ],
        },
    }


def _bus() -> dict[str, Any]:
    return _sub(
        [
            "arn:${AWS::Partition}:events:${Region}:${OpsbotAccount}:event-bus/default",
            {
                "Region": {
                    "Fn::If": [
                        "OpsbotInThisRegion",
                        {"Ref": "AWS::Region"},
                        {"Ref": "OpsbotRegion"},
                    ]
                },
                "OpsbotAccount": _opsbot_account(),
            },
        ]
    )


def _forwarding() -> dict[str, Any]:
    """The ECS events forwarded to opsbot's default bus, and the role EventBridge uses."""
    target = {
        "Id": "opsbot",
        "Arn": _bus(),
        "RoleArn": {"Fn::GetAtt": ["EcsEventsForwarderRole", "Arn"]},
    }
    return {
        # A deploy ends on ECS's deployment state change events, which ECS sends to the default
        # bus of the account running the service: forwarded to opsbot's (whose stateful stack
        # lets this account send exactly these: its MemberAccountIds or MemberOrganizationId).
        "EcsEventsForwarderRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "Description": _sub(
                    "EventBridge forwards ECS deployment events to opsbot (${NamePrefix})"
                ),
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "events.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                            "Condition": {
                                "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
                            },
                        }
                    ],
                },
                "Policies": [
                    {
                        "PolicyName": "put-events-to-opsbot",
                        "PolicyDocument": {
                            "Version": "2012-10-17",
                            "Statement": [
                                {
                                    "Effect": "Allow",
                                    "Action": "events:PutEvents",
                                    "Resource": _bus(),
                                }
                            ],
                        },
                    }
                ],
            },
        },
        "EcsDeploymentEventsToOpsbot": {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "Description": _sub("ECS deployment state changes, for opsbot (${NamePrefix})"),
                "EventPattern": {
                    "source": ["aws.ecs"],
                    "detail-type": ["ECS Deployment State Change"],
                },
                "Targets": [target],
            },
        },
        "EcsStoppedTasksToOpsbot": {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "Description": _sub(
                    "Stopped ECS service tasks (early abort), for opsbot (${NamePrefix})"
                ),
                "EventPattern": {
                    "source": ["aws.ecs"],
                    "detail-type": ["ECS Task State Change"],
                    "detail": {"lastStatus": ["STOPPED"], "startedBy": [{"prefix": "ecs-svc/"}]},
                },
                "Targets": [target],
            },
        },
    }


def _parameters() -> dict[str, Any]:
    roles = {
        parameter(f): {
            "Type": "String",
            "AllowedPattern": ROLE_ARN_PATTERN,
            "Description": f"The execution role of opsbot's {f} function (the opsbot app "
            f"stack's {parameter(f)} output): the only principal its role here trusts.",
        }
        for f in acting_functions()
    }
    return {
        **roles,
        "ClusterNames": {
            "Type": "CommaDelimitedList",
            "Description": "The ECS clusters of this account that opsbot deploys to and scales "
            "(the cluster of each environment of this account in chalicelib/policy.yaml): ECS "
            "writes are limited to their services.",
        },
        "TaskRolePath": {
            "Type": "String",
            "Default": iam.TASK_ROLE_PATH,
            "AllowedPattern": "^/([A-Za-z0-9_+=,.@-]+/)*$",
            "Description": "IAM path of the task and execution roles of the services opsbot "
            "deploys here: the only roles opsbot may pass (to ecs-tasks.amazonaws.com) when it "
            "registers a task definition.",
        },
        "NamePrefix": {
            "Type": "String",
            "Default": "opsbot",
            "AllowedPattern": "^[a-z][a-z0-9-]{1,30}$",
            "Description": "The opsbot installation's NamePrefix. The roles are named "
            "<NamePrefix>-<function>, the only names opsbot's functions may assume.",
        },
        "OpsbotRegion": {
            "Type": "String",
            "Default": "",
            "AllowedPattern": "^([a-z]{2}(-[a-z]+)+-[0-9])?$",
            "Description": "The opsbot account's region, when it is not this stack's region: ECS "
            "events go to that region's default event bus.",
        },
        "ForwardEventsOnly": {
            "Type": "String",
            "Default": "false",
            "AllowedValues": ["false", "true"],
            "Description": '"true" for a second region of an account that already has this '
            "stack: the roles are global (one set per account), only the event forwarding is "
            "per region.",
        },
    }


def template() -> dict[str, Any]:
    """The member-account stack."""
    roles = {role_resource(f): member_role(f) for f in acting_functions()}
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "opsbot member account: one role per opsbot function, each trusting "
        "only that function and allowing only its calls; ECS events forwarded to opsbot.",
        "Parameters": _parameters(),
        "Conditions": {
            "OpsbotInThisRegion": {"Fn::Equals": [{"Ref": "OpsbotRegion"}, ""]},
            "CreateMemberRoles": {"Fn::Equals": [{"Ref": "ForwardEventsOnly"}, "false"]},
        },
        "Resources": {**roles, **_forwarding()},
        "Outputs": {
            "RoleArnTemplate": {
                "Condition": "CreateMemberRoles",
                "Description": "The role_arn of this account's environments in "
                "chalicelib/policy.yaml: each function assumes its own role.",
                "Value": _sub(
                    "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${NamePrefix}-{function}"
                ),
            },
            "AccountId": {
                "Description": "The account of this account's environments in "
                "chalicelib/policy.yaml.",
                "Value": {"Ref": "AWS::AccountId"},
            },
        },
    }


class _Dumper(yaml.SafeDumper):
    """Plain YAML: every repeated piece written out (CloudFormation rejects YAML aliases)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def rendered() -> str:
    """The file's text."""
    body = yaml.dump(template(), Dumper=_Dumper, sort_keys=False, width=100)
    return HEADER + "\n" + body
