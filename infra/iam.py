"""One IAM policy per Lambda function: the reviewed grants, rendered twice.

``GRANTS`` below is the reviewed list: for each Chalice function, what it does on opsbot's own
resources and in an environment's account. ``python -m infra.iam`` renders it into

- ``.chalice/policy-<stage>-<function>.json`` (what ``chalice deploy`` uses; plain IAM documents,
  resources by the stage's names with wildcards), named by ``iam_policy_file`` under
  ``stages.<stage>.lambda_functions.<function>`` in ``.chalice/config.json``;
- ``infra/app-merge.json``: one managed policy per function (``<LogicalId>Policy``) with real
  ARNs from the stateful stack's exports, attached to that function's role only, and the
  ``MemberTrustedRoleArns`` output (the roles a member account's role trusts).

``tests/unit/test_least_privilege.py`` fails if a rendered file is stale, if a function is granted
a call its code does not make, or makes a call it is not granted.

Scoping conventions (docs/operations/security.md, "Least privilege"):

- ECS writes: services of the clusters of the policy's environments (``chalicelib/policy.yaml``)
  in the opsbot account; a member account's role names its own (``ClusterNames``).
- ``iam:PassRole``: only roles under the path ``/opsbot-tasks/`` (``TaskRolePath``), only to
  ``ecs-tasks.amazonaws.com``: the task and execution roles of the services opsbot deploys.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
CHALICE = ROOT / ".chalice"
MERGE_TEMPLATE = ROOT / "infra" / "app-merge.json"
MEMBER_TEMPLATE = ROOT / "infra" / "member-account.yaml"
TASK_ROLE_PATH = "/opsbot-tasks/"
STAGES = {"dev": "opsbot-dev", "prod": "opsbot"}  # stage -> NamePrefix

# Chalice function name -> logical id of the function in the generated template.
FUNCTIONS = {
    "api_handler": "APIHandler",
    "work": "Work",
    "ecs_deployment_state": "EcsDeploymentState",
    "ecs_task_state": "EcsTaskState",
    "alarm_notification": "AlarmNotification",
    "acm_certificate_event": "AcmCertificateEvent",
    "certificates": "Certificates",
    "budgets": "Budgets",
    "sweeper": "Sweeper",
}

# The Lambda runtime of every function, pinned here rather than taken from the Python that
# runs `chalice package`; `make package` compiles bytecode for exactly this version.
RUNTIME = "python3.12"
# Functions that publish a version per deploy with SnapStart on (a restore instead of an init),
# invoked through their alias: SAM points the event sources at it, and for the API function
# every route's API Gateway integration and the invoke permission name the alias
# (``api_through_alias``: rendered from the app's routes, so a new route is covered when this
# file is rendered again, and tests/unit/test_least_privilege.py fails until it is).
SNAPSTART_ALIAS = "live"
SNAPSTART_FUNCTIONS = tuple(FUNCTIONS)
API_ALIAS = f"{FUNCTIONS['api_handler']}Alias{SNAPSTART_ALIAS}"  # SAM's logical id of the alias

TABLE = (
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:Query",
)
SEND = ("sqs:SendMessage", "sqs:GetQueueUrl")
PUBLISH = ("sns:Publish",)
PARAMETERS = ("ssm:GetParameter",)
READ_TASKS = ("ecs:ListTasks", "ecs:DescribeTasks")  # why a rollout's tasks stopped
SCALE = (
    "ecs:DescribeServices",
    "ecs:UpdateService",
    "application-autoscaling:DescribeScalableTargets",
    "autoscaling:DescribeAutoScalingGroups",
    "autoscaling:SetDesiredCapacity",
    "budgets:ViewBudget",
)
ROTATE = (
    "acm:DescribeCertificate",
    "acm:RequestCertificate",
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeListenerCertificates",
    "elasticloadbalancing:ModifyListener",
    "elasticloadbalancing:AddListenerCertificates",
    "elasticloadbalancing:RemoveListenerCertificates",
    "route53:ListHostedZonesByName",
    "route53:ChangeResourceRecordSets",
)

# What changed on a service: CloudTrail's management events of its resources (its target
# groups and their listeners named by ARN), and opsbot's own identity (to tell its own calls
# from ones that only claim its user agent; AWS allows GetCallerIdentity to everyone).
CHANGES = (
    "cloudtrail:LookupEvents",
    "elasticloadbalancing:DescribeTargetGroups",
    "sts:GetCallerIdentity",
)

# The reviewed list: resource group -> actions, per function. "Environment" is what the function
# does in an environment's account (directly in the opsbot account; through the member role in
# another); the work queue's ReceiveMessage/DeleteMessage/GetQueueAttributes are Lambda's event
# source polling with the work function's role.
GRANTS: dict[str, dict[str, tuple[str, ...]]] = {
    "api_handler": {
        "StateTable": TABLE,
        "WorkQueue": (*SEND, "sqs:GetQueueAttributes"),  # enqueue; /health pings the queue
        "Notifications": PUBLISH,
        "Parameters": PARAMETERS,  # API tokens, Slack signing secret, Slack webhook
        "Environment": (
            "ecr:DescribeImages",  # a deploy's tag resolved to its digest
            "ecs:DescribeServices",  # status, manual scale, rollback checks
            "ecs:DescribeTaskDefinition",  # status: the running image
            "ecs:UpdateService",  # manual scaling (the one synchronous action)
            "application-autoscaling:DescribeScalableTargets",  # bounds
            "acm:ListCertificates",  # /opsbot certs
            "acm:DescribeCertificate",
            "elasticloadbalancing:DescribeLoadBalancers",
            "elasticloadbalancing:DescribeListeners",
            "elasticloadbalancing:DescribeListenerCertificates",
            "budgets:ViewBudget",  # /opsbot budget
            *CHANGES,  # GET /services/{env}/{service}/changes, /opsbot changes
        ),
    },
    "work": {
        "StateTable": TABLE,
        "WorkQueue": (*SEND, "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"),
        "WorkDeadLetterQueue": SEND,  # poison messages
        "Notifications": PUBLISH,
        "Parameters": PARAMETERS,
        "Environment": (
            *SCALE,  # alarm reactions retried from the queue
            "cloudwatch:DescribeAlarms",  # is a waiting alarm still in ALARM
            "ecs:DescribeTaskDefinition",
            "ecs:ListTaskDefinitions",
            "ecs:RegisterTaskDefinition",
            "ecs:TagResource",
            "iam:PassRole",
            *READ_TASKS,  # a timed-out rollout's failure reason
            *CHANGES,  # an alarm reaction's follow-up: what changed on its service
            "elasticloadbalancing:DescribeListeners",
        ),
    },
    "ecs_deployment_state": {
        "StateTable": TABLE,
        "WorkQueue": SEND,
        "Notifications": PUBLISH,
        "Parameters": PARAMETERS,
        "Environment": ("ecs:DescribeServices", "ecs:UpdateService", *READ_TASKS),  # rollback
    },
    "ecs_task_state": {  # early abort of a crash loop
        "StateTable": TABLE,
        "WorkQueue": SEND,  # the rollback's timeout guard
        "Notifications": PUBLISH,
        "Parameters": PARAMETERS,
        "Environment": ("ecs:DescribeServices", "ecs:UpdateService", *READ_TASKS),
    },
    "alarm_notification": {
        "StateTable": TABLE,
        "WorkQueue": SEND,  # a reaction waiting for a lock retries from the queue
        "Notifications": PUBLISH,
        "Parameters": PARAMETERS,
        "Environment": SCALE,
    },
    "acm_certificate_event": {
        "StateTable": TABLE,
        "Notifications": PUBLISH,
        "Parameters": PARAMETERS,
        "Environment": ROTATE,
    },
    "certificates": {
        "StateTable": TABLE,
        "Notifications": PUBLISH,
        "Parameters": PARAMETERS,
        "Environment": ROTATE,
    },
    "budgets": {
        "StateTable": TABLE,
        "Notifications": PUBLISH,
        "Parameters": PARAMETERS,
        "Environment": ("budgets:ViewBudget", "ce:GetCostAndUsage"),
    },
    "sweeper": {  # stuck deploy starts handed to the worker again, stale locks released
        "StateTable": TABLE,
        "WorkQueue": SEND,
        "Parameters": PARAMETERS,
    },
}

# How environment actions group into statements (Sid, actions, resource kind).
ENVIRONMENT_STATEMENTS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("EcsServices", ("ecs:DescribeServices", "ecs:UpdateService"), "ecs-service"),
    (
        "EcsTaskDefinitions",
        ("ecs:DescribeTaskDefinition", "ecs:ListTaskDefinitions", "ecs:RegisterTaskDefinition"),
        "*",
    ),
    ("EcsTasks", READ_TASKS, "*"),  # read only; ListTasks names no resource
    ("EcsTagNewTaskDefinitions", ("ecs:TagResource",), "ecs-task-definition"),
    ("PassTaskRoles", ("iam:PassRole",), "task-role"),
    ("EcrImages", ("ecr:DescribeImages",), "ecr-repository"),
    (
        "Describe",
        (
            "application-autoscaling:DescribeScalableTargets",
            "autoscaling:DescribeAutoScalingGroups",
            "cloudwatch:DescribeAlarms",
            "acm:ListCertificates",
            "elasticloadbalancing:DescribeLoadBalancers",
            "elasticloadbalancing:DescribeListeners",
            "elasticloadbalancing:DescribeListenerCertificates",
            "elasticloadbalancing:DescribeTargetGroups",
            "cloudtrail:LookupEvents",  # names no resource
            "sts:GetCallerIdentity",  # names no resource
            "route53:ListHostedZonesByName",
            "ce:GetCostAndUsage",
        ),
        "*",
    ),
    ("AutoScalingGroups", ("autoscaling:SetDesiredCapacity",), "asg"),
    ("Certificates", ("acm:DescribeCertificate",), "acm-certificate"),
    ("RequestCertificates", ("acm:RequestCertificate",), "*"),
    ("CertificateValidationRecords", ("route53:ChangeResourceRecordSets",), "hosted-zone"),
    (
        "ListenerCertificates",
        (
            "elasticloadbalancing:ModifyListener",
            "elasticloadbalancing:AddListenerCertificates",
            "elasticloadbalancing:RemoveListenerCertificates",
        ),
        "listener",
    ),
    ("Budgets", ("budgets:ViewBudget",), "budget"),
)

CONDITIONS: dict[str, dict[str, Any]] = {
    "EcsTagNewTaskDefinitions": {"StringEquals": {"ecs:CreateAction": "RegisterTaskDefinition"}},
    "PassTaskRoles": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
    "RequestCertificates": {"StringEquals": {"acm:ValidationMethod": "DNS"}},
    "CertificateValidationRecords": {
        "ForAllValues:StringEquals": {
            "route53:ChangeResourceRecordSetsRecordTypes": ["CNAME"],
            "route53:ChangeResourceRecordSetsActions": ["UPSERT"],
        },
        "ForAllValues:StringLike": {
            "route53:ChangeResourceRecordSetsNormalizedRecordNames": ["_*"]
        },
    },
}


def home_clusters() -> list[tuple[str, str]]:
    """(region, cluster) of the policy's environments in the opsbot account (no role_arn)."""
    policy = yaml.safe_load((ROOT / "chalicelib" / "policy.yaml").read_text())
    found = {
        (env["region"], env["cluster"])
        for env in policy.get("environments", {}).values()
        if not env.get("role_arn")
    }
    return sorted(found)


def assumes_member_roles(function: str) -> bool:
    return bool(GRANTS[function].get("Environment"))


# --- the policy files -----------------------------------------------------------------------


def _file_resource(kind: str) -> str | list[str]:
    if kind == "ecs-service":
        return [f"arn:aws:ecs:{r}:*:service/{cluster}/*" for r, cluster in home_clusters()]
    return {
        "*": "*",
        "ecs-task-definition": "arn:aws:ecs:*:*:task-definition/*",
        "task-role": f"arn:aws:iam::*:role{TASK_ROLE_PATH}*",
        "ecr-repository": "arn:aws:ecr:*:*:repository/*",
        "asg": "arn:aws:autoscaling:*:*:autoScalingGroup:*:autoScalingGroupName/*",
        "acm-certificate": "arn:aws:acm:*:*:certificate/*",
        "hosted-zone": "arn:aws:route53:::hostedzone/*",
        "listener": "arn:aws:elasticloadbalancing:*:*:listener/*",
        "budget": "arn:aws:budgets::*:budget/*",
    }[kind]


def _own_statements(function: str, resources: dict[str, Any]) -> list[dict[str, Any]]:
    grants = GRANTS[function]
    statements = [
        {
            "Sid": "Logs",
            "Effect": "Allow",
            "Action": [*resources["LogActions"], "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": resources["Logs"],
        }
    ]
    for sid in ("StateTable", "WorkQueue", "WorkDeadLetterQueue", "Notifications", "Parameters"):
        if sid in grants:
            statements.append(
                {
                    "Sid": sid,
                    "Effect": "Allow",
                    "Action": list(grants[sid]),
                    "Resource": resources[sid],
                }
            )
    if "Parameters" in grants:
        statements.append(
            {
                "Sid": "DecryptParametersViaSsm",
                "Effect": "Allow",
                "Action": ["kms:Decrypt"],
                "Resource": resources["Key"],
                "Condition": {resources["ViaOperator"]: {"kms:ViaService": resources["Via"]}},
            }
        )
    if assumes_member_roles(function):
        statements.append(
            {
                "Sid": "AssumeMemberRoles",
                "Effect": "Allow",
                "Action": ["sts:AssumeRole"],
                "Resource": resources["Member"],
            }
        )
    return statements


def environment_statements(
    actions: tuple[str, ...], resource: Any, *, sid_prefix: str = "Home"
) -> list[dict[str, Any]]:
    """The statements granting ``actions`` in an environment's account."""
    statements: list[dict[str, Any]] = []
    wanted = set(actions)
    if sid_prefix == "Home" and not home_clusters():
        return statements  # no environment in the opsbot account
    for sid, group, kind in ENVIRONMENT_STATEMENTS:
        granted = [a for a in group if a in wanted]
        if not granted:
            continue
        statement: dict[str, Any] = {
            "Sid": sid_prefix + sid,
            "Effect": "Allow",
            "Action": granted,
            "Resource": resource(kind),
        }
        if sid in CONDITIONS:
            statement["Condition"] = CONDITIONS[sid]
        statements.append(statement)
    covered = {a for _, group, _ in ENVIRONMENT_STATEMENTS for a in group}
    assert wanted <= covered, f"no statement for {sorted(wanted - covered)}"
    return statements


def policy_file(stage: str, function: str) -> dict[str, Any]:
    prefix = STAGES[stage]
    resources = {
        "Logs": f"arn:aws:logs:*:*:log-group:/aws/lambda/opsbot-{stage}-*",
        # chalice deploy (dev) leaves log groups to Lambda; the packaged stack creates them
        "LogActions": ["logs:CreateLogGroup"] if stage == "dev" else [],
        "StateTable": f"arn:aws:dynamodb:*:*:table/{prefix}-state",
        "WorkQueue": f"arn:aws:sqs:*:*:{prefix}-work",
        "WorkDeadLetterQueue": f"arn:aws:sqs:*:*:{prefix}-work-dlq",
        "Notifications": f"arn:aws:sns:*:*:{prefix}-notifications",
        "Parameters": f"arn:aws:ssm:*:*:parameter/opsbot/{stage}/*",
        "Key": "arn:aws:kms:*:*:key/*",
        "ViaOperator": "StringLike",
        "Via": "ssm.*.amazonaws.com",
        "Member": [
            f"arn:aws:iam::*:role/{prefix}-{function}",
            f"arn:aws:iam::*:role/{prefix}-member",
        ],
    }
    statements = _own_statements(function, resources)
    statements += environment_statements(GRANTS[function].get("Environment", ()), _file_resource)
    return {"Version": "2012-10-17", "Statement": statements}


# --- the merge template ---------------------------------------------------------------------


def _sub(text: str) -> dict[str, str]:
    return {"Fn::Sub": text}


def _imported(export: str) -> dict[str, Any]:
    return {"Fn::ImportValue": _sub("${NamePrefix}-" + export)}


def _template_resource(kind: str) -> Any:
    here = "arn:${AWS::Partition}:{service}:${AWS::Region}:${AWS::AccountId}:"
    if kind == "ecs-service":
        return [
            _sub(f"arn:${{AWS::Partition}}:ecs:{region}:${{AWS::AccountId}}:service/{cluster}/*")
            for region, cluster in home_clusters()
        ]
    if kind == "*":
        return "*"
    if kind == "task-role":
        return _sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:role${TaskRolePath}*")
    if kind == "hosted-zone":
        return _sub("arn:${AWS::Partition}:route53:::hostedzone/*")
    if kind == "budget":
        return _sub("arn:${AWS::Partition}:budgets::${AWS::AccountId}:budget/*")
    service, rest = {
        "ecs-task-definition": ("ecs", "task-definition/*"),
        "ecr-repository": ("ecr", "repository/*"),
        "asg": ("autoscaling", "autoScalingGroup:*:autoScalingGroupName/*"),
        "acm-certificate": ("acm", "certificate/*"),
        "listener": ("elasticloadbalancing", "listener/*"),
    }[kind]
    return _sub(here.replace("{service}", service) + rest)


def role_id(function: str) -> str:
    return f"{FUNCTIONS[function].replace('API', 'Api')}Role"


def policy_id(function: str) -> str:
    return f"{FUNCTIONS[function]}Policy"


def managed_policy(function: str) -> dict[str, Any]:
    resources = {
        "LogActions": [],
        "Logs": _sub(
            "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:"
            "log-group:/aws/lambda/${AWS::StackName}-*"
        ),
        "StateTable": _imported("StateTableArn"),
        "WorkQueue": _imported("WorkQueueArn"),
        "WorkDeadLetterQueue": _imported("WorkDeadLetterQueueArn"),
        "Notifications": _imported("NotificationsTopicArn"),
        "Parameters": _sub(
            "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${ParameterPrefix}/*"
        ),
        "Key": _sub("arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*"),
        "ViaOperator": "StringEquals",
        "Via": _sub("ssm.${AWS::Region}.amazonaws.com"),
        "Member": [
            _sub("arn:${AWS::Partition}:iam::*:role/${NamePrefix}-" + function),
            _sub("arn:${AWS::Partition}:iam::*:role/${NamePrefix}-member"),
        ],
    }
    statements = _own_statements(function, resources)
    statements += environment_statements(
        GRANTS[function].get("Environment", ()), _template_resource
    )
    return {
        "Type": "AWS::IAM::ManagedPolicy",
        "Properties": {
            "Description": _sub(f"opsbot (${{NamePrefix}}) {function}: exactly the calls it makes"),
            "Path": _sub("/${NamePrefix}/"),
            "PolicyDocument": {"Version": "2012-10-17", "Statement": statements},
        },
    }


def api_routes() -> dict[str, list[str]]:
    """The Chalice app's routes: path -> its methods, as Chalice's swagger names them."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from app import app  # cheap: importing the app loads no capability (cold start)

    return {
        path: sorted(method.lower() for method in entries)
        for path, entries in sorted(app.routes.items())
    }


def api_through_alias(resources: dict[str, Any]) -> None:
    """Every route of the REST API invokes the API function's SnapStart alias, and API Gateway
    may invoke that alias (Chalice's swagger names the unpublished function)."""
    uri = _sub(
        "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/"
        f"${{{API_ALIAS}}}/invocations"
    )
    api = resources.setdefault("RestAPI", {}).setdefault("Properties", {})
    api.setdefault("DefinitionBody", {})["paths"] = {
        path: {method: {"x-amazon-apigateway-integration": {"uri": uri}} for method in methods}
        for path, methods in api_routes().items()
    }
    permission = resources.setdefault("APIHandlerInvokePermission", {})
    permission.setdefault("Properties", {})["FunctionName"] = {"Ref": API_ALIAS}


def merge_template(current: dict[str, Any]) -> dict[str, Any]:
    """``infra/app-merge.json`` with the per-function policies, role patches and outputs."""
    template = json.loads(json.dumps(current))
    resources: dict[str, Any] = {}
    for key, value in template["Resources"].items():
        if key == "FunctionPolicy" or (
            value.get("Type") == "AWS::IAM::ManagedPolicy"
            and any(key == policy_id(f) for f in FUNCTIONS)
        ):
            continue
        resources[key] = value
    policies = {policy_id(f): managed_policy(f) for f in FUNCTIONS}
    template["Resources"] = {**policies, **resources}
    for function in FUNCTIONS:
        role = template["Resources"].setdefault(role_id(function), {"Properties": {}})
        role["Properties"]["ManagedPolicyArns"] = [{"Ref": policy_id(function)}]
        resource = template["Resources"].setdefault(FUNCTIONS[function], {})
        props = resource.setdefault("Properties", {})
        props["Runtime"] = RUNTIME
        if function in SNAPSTART_FUNCTIONS:
            props["AutoPublishAlias"] = SNAPSTART_ALIAS
            props["SnapStart"] = {"ApplyOn": "PublishedVersions"}
    if "api_handler" in SNAPSTART_FUNCTIONS:
        api_through_alias(template["Resources"])
    outputs = template.setdefault("Outputs", {})
    outputs.pop("FunctionPolicyArn", None)
    outputs.pop("FunctionRoleArnPattern", None)
    trusted = [role_id(f) for f in FUNCTIONS if assumes_member_roles(f)]
    outputs["MemberTrustedRoleArns"] = {
        "Description": "The function roles that assume a role in a member account.",
        "Value": {"Fn::Join": [",", [{"Fn::GetAtt": [r, "Arn"]} for r in trusted]]},
    }
    for role in trusted:
        outputs[f"{role}Arn"] = {
            "Description": f"The {role} execution role: a parameter of infra/member-account.yaml.",
            "Value": {"Fn::GetAtt": [role, "Arn"]},
        }
    outputs["MemberStackParameters"] = {
        "Description": "The parameters of infra/member-account.yaml naming each function's "
        "role, for `aws cloudformation deploy --parameter-overrides`.",
        "Value": {"Fn::Join": [" ", [{"Fn::Sub": f"{r}Arn=${{{r}.Arn}}"} for r in trusted]]},
    }
    template["Parameters"]["TaskRolePath"] = {
        "Type": "String",
        "Default": TASK_ROLE_PATH,
        "AllowedPattern": "^/([A-Za-z0-9_+=,.@-]+/)*$",
        "Description": "IAM path of the ECS task and execution roles opsbot may pass (to "
        "ecs-tasks.amazonaws.com only) when it registers a task definition in this account.",
    }
    return template


def config(current: dict[str, Any]) -> dict[str, Any]:
    """``.chalice/config.json`` with each function's policy file."""
    result = json.loads(json.dumps(current))
    for stage in STAGES:
        functions = result["stages"][stage].setdefault("lambda_functions", {})
        for function in FUNCTIONS:
            functions.setdefault(function, {})["iam_policy_file"] = (
                f"policy-{stage}-{function}.json"
            )
        result["stages"][stage].pop("iam_policy_file", None)
    return result


def rendered() -> dict[Path, str]:
    """Every file this module writes, with its content."""
    files = {
        CHALICE / f"policy-{stage}-{function}.json": policy_file(stage, function)
        for stage in STAGES
        for function in FUNCTIONS
    }
    files[MERGE_TEMPLATE] = merge_template(json.loads(MERGE_TEMPLATE.read_text()))
    files[CHALICE / "config.json"] = config(json.loads((CHALICE / "config.json").read_text()))
    texts = {path: json.dumps(doc, indent=2) + "\n" for path, doc in files.items()}
    from infra import member_account  # it renders from this module's grants

    texts[MEMBER_TEMPLATE] = member_account.rendered()
    return texts


def main() -> int:
    for path, text in rendered().items():
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
