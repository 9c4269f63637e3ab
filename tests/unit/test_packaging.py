"""Ready for real AWS: the packaged app stack, the stateful and member-account stacks.

What can be checked without an AWS account is checked here: ``chalice package`` with the merge
template (once per session), cfn-lint on every template, the SAM translation done offline with
aws-sam-translator, the settings of every function against ``.chalice/config.json``, the IAM
policies against the rendered ``.chalice/policy-prod-<function>.json`` (``infra/iam.py``; what
each function may call is checked against its code in ``test_least_privilege.py``), and the
stacks deployed into moto's CloudFormation: the stateful stack, the translated app stack
importing its exports, and the member-account stack.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from moto import mock_aws

from infra import iam as iam_grants
from infra import member_account as member

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
MERGE_TEMPLATE = INFRA / "app-merge.json"
BIN = Path(sys.executable).parent
REGION = "us-east-1"
ACCOUNT = "123456789012"
STAGE = "prod"

# moto's CloudFormation skips the types it does not model (topic policies, alarms, SNS
# subscriptions) with a warning; those are checked on the templates instead.
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS:UserWarning")

# Chalice function name -> logical id in the generated template.
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
IMPORTED_ENV = {
    "OPSBOT_TABLE": "StateTableName",
    "OPSBOT_WORK_QUEUE": "WorkQueueName",
    "OPSBOT_WORK_DLQ": "WorkDeadLetterQueueName",
    "OPSBOT_NOTIFICATIONS_TOPIC_ARN": "NotificationsTopicArn",
}
# Statements that act on an environment's account (directly when the environment has no
# role_arn, through the member role when it has one).
ENVIRONMENT_SIDS = {
    "HomeEcsServices",
    "HomeEcsTaskDefinitions",
    "HomeEcsTagNewTaskDefinitions",
    "HomePassTaskRoles",
    "HomeEcrImages",
    "HomeDescribe",
    "HomeAutoScalingGroups",
    "HomeCertificates",
    "HomeRequestCertificates",
    "HomeCertificateValidationRecords",
    "HomeListenerCertificates",
    "HomeBudgets",
}


class _CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation YAML: short-form intrinsics become their long form."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def load_yaml_template(path: Path) -> dict[str, Any]:
    return dict(yaml.load(path.read_text(), Loader=_CfnLoader))


def imported(export: str) -> dict[str, Any]:
    return {"Fn::ImportValue": {"Fn::Sub": "${NamePrefix}-" + export}}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return dict(json.loads((ROOT / ".chalice" / "config.json").read_text()))


@pytest.fixture(scope="module")
def stage_functions(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each function's memory, timeout and reserved concurrency for the prod stage."""
    stage = config["stages"][STAGE]
    result = {}
    for name in FUNCTIONS:
        own = stage.get("lambda_functions", {}).get(name, {})
        result[name] = {
            key: own.get(key, stage.get(key, config.get(key)))
            for key in ("lambda_memory_size", "lambda_timeout", "reserved_concurrency")
        }
    return result


def _project_copy(into: Path) -> Path:
    """The files ``chalice package`` reads, copied: under xdist other workers' local stacks
    write into the checkout (the compiled policy's cache) while it packages; a copy packages
    what the checkout holds, whatever runs beside it. Chalice's dependency cache comes along
    (read from the checkout, never written back to it: nothing in the checkout is written)."""
    for name in ("app.py", "requirements.txt"):
        shutil.copy2(ROOT / name, into / name)
    shutil.copytree(ROOT / "chalicelib", into / "chalicelib", ignore=shutil.ignore_patterns(".*"))
    shutil.copytree(ROOT / ".chalice", into / ".chalice")
    (into / "infra").mkdir()
    shutil.copy2(MERGE_TEMPLATE, into / "infra" / MERGE_TEMPLATE.name)
    return into


@pytest.fixture(scope="module")
def package_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``chalice package`` as ``make package`` runs it, into a temporary directory."""
    out = tmp_path_factory.mktemp("package") / "out"
    project = _project_copy(tmp_path_factory.mktemp("project"))
    env = {**os.environ, "AWS_DEFAULT_REGION": REGION}
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        env.pop(name, None)  # packaging must not need credentials
    done = subprocess.run(
        [
            str(BIN / "chalice"),
            "package",
            "--stage",
            STAGE,
            "--merge-template",
            str(MERGE_TEMPLATE.relative_to(ROOT)),
            str(out),
        ],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"chalice package failed:\n{done.stdout}\n{done.stderr}"
    bytecode = subprocess.run(
        [
            sys.executable,
            "-m",
            "infra.bytecode",
            *(str(out / f) for f in ("deployment.zip", "sam.json")),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert bytecode.returncode == 0, f"infra.bytecode failed:\n{bytecode.stderr}"
    return out


@pytest.fixture(scope="module")
def sam(package_dir: Path) -> dict[str, Any]:
    return dict(json.loads((package_dir / "sam.json").read_text()))


@pytest.fixture(scope="module")
def translated(sam: dict[str, Any]) -> dict[str, Any]:
    """The packaged SAM template as CloudFormation sees it after the Serverless transform."""
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    template = copy.deepcopy(sam)
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            # what `aws cloudformation package` does to the local ./deployment.zip
            resource["Properties"]["CodeUri"] = "s3://opsbot-artifacts/deployment.zip"
    translator = Translator({}, Parser(), boto_session=boto3.Session(region_name=REGION))
    # Roles are given, so no AWS managed policy is looked up: an empty map proves it.
    result = translator.translate(template, {}, get_managed_policy_map=lambda: {})
    return dict(result)


def resources_of(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


# --- the package ----------------------------------------------------------------------------


def test_package_holds_the_template_and_the_code(package_dir: Path) -> None:
    import zipfile

    assert sorted(p.name for p in package_dir.iterdir()) == ["deployment.zip", "sam.json"]
    with zipfile.ZipFile(package_dir / "deployment.zip") as zf:
        names = set(zf.namelist())
    assert {"app.py", "chalicelib/policy.yaml", "chalicelib/handlers/worker.py"} <= names
    assert any(n.startswith("aws_lambda_powertools/") for n in names)
    # the dashboard's page, script and style sheet (read at request time)
    ui = ("index.html", "dashboard.js", "dashboard.css")
    assert {f"chalicelib/handlers/ui/{name}" for name in ui} <= names
    # development tools and the local stack never ship
    assert not any(n.startswith(("infra/", "tests/", "moto/", "cfnlint/")) for n in names)


def test_package_ships_bytecode_for_the_runtime_that_ignores_timestamps(
    package_dir: Path, sam: dict[str, Any]
) -> None:
    """Lambda's /var/task is read-only: without .pyc every cold start compiles every module.
    Each .py has its .pyc for the template's runtime, hash-based and unchecked (flags 0b01),
    so the zip's fixed timestamps do not invalidate it."""
    import importlib.util
    import zipfile

    runtimes = {
        r["Properties"]["Runtime"]
        for r in sam["Resources"].values()
        if r["Type"] == "AWS::Serverless::Function"
    }
    assert runtimes == {f"python{sys.version_info.major}.{sys.version_info.minor}"}
    tag = sys.implementation.cache_tag
    with zipfile.ZipFile(package_dir / "deployment.zip") as zf:
        names = zf.namelist()
        sources = [n for n in names if n.endswith(".py")]
        missing = []
        for source in sources:
            folder, _, file = source.rpartition("/")
            pyc = f"{folder + '/' if folder else ''}__pycache__/{file[:-3]}.{tag}.pyc"
            if pyc not in names:
                missing.append(source)
        assert not missing, missing[:10]
        header = zf.read(f"chalicelib/handlers/__pycache__/worker.{tag}.pyc")[:16]
        assert header[:4] == importlib.util.MAGIC_NUMBER
        assert int.from_bytes(header[4:8], "little") == 0b01  # hash-based, not checked
        infos = zf.infolist()
    assert names == sorted(names)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}


def test_the_zip_is_the_same_bytes_for_the_same_files(tmp_path: Path) -> None:
    from infra.bytecode import compile_tree, write_zip

    tree = tmp_path / "tree"
    (tree / "pkg").mkdir(parents=True)
    (tree / "pkg" / "__init__.py").write_text("X = 1\n")
    (tree / "app.py").write_text("import pkg\n")
    assert compile_tree(tree) == 2
    write_zip(tree, tmp_path / "a.zip")
    for path in tree.rglob("*"):
        os.utime(path, (1_000_000_000, 1_000_000_000))  # other timestamps, same content
    write_zip(tree, tmp_path / "b.zip")
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()


def test_every_function_restores_from_snapstart_through_its_alias(
    sam: dict[str, Any], translated: dict[str, Any]
) -> None:
    functions = resources_of(sam, "AWS::Serverless::Function")
    for name, logical in FUNCTIONS.items():
        props = functions[logical]["Properties"]
        assert props["SnapStart"] == {"ApplyOn": "PublishedVersions"}, name
        assert props["AutoPublishAlias"] == "live", name
    aliases = resources_of(translated, "AWS::Lambda::Alias")
    assert sorted(a["Properties"]["FunctionName"]["Ref"] for a in aliases.values()) == sorted(
        FUNCTIONS.values()
    )
    # what retries an asynchronous event is the alias's invoke config
    configs = resources_of(translated, "AWS::Lambda::EventInvokeConfig")
    assert {c["Properties"]["Qualifier"] for c in configs.values()} == {"live"}


def test_every_route_of_the_rest_api_invokes_the_api_functions_snapstart_alias(
    translated: dict[str, Any],
) -> None:
    (api,) = resources_of(translated, "AWS::ApiGateway::RestApi").values()
    paths = api["Properties"]["Body"]["paths"]
    assert set(paths) == set(iam_grants.api_routes())  # the app's routes, no other
    alias = "${APIHandlerAliaslive}"  # the alias ARN (a Ref to the AWS::Lambda::Alias)
    for path, methods in paths.items():
        assert sorted(methods) == iam_grants.api_routes()[path], path
        for method, spec in methods.items():
            uri = spec["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
            assert uri.endswith(f"/functions/{alias}/invocations"), (path, method)
    invokers = [
        p["Properties"]
        for p in resources_of(translated, "AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "apigateway.amazonaws.com"
    ]
    assert [p["FunctionName"] for p in invokers] == [{"Ref": "APIHandlerAliaslive"}]


def test_cfn_lint_passes_on_every_template(package_dir: Path) -> None:
    templates = sorted(INFRA.glob("*.yaml"))
    assert {p.name for p in templates} >= {"template.yaml", "member-account.yaml"}
    done = subprocess.run(
        [str(BIN / "cfn-lint"), *map(str, templates), str(package_dir / "sam.json")],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_function_is_in_the_template_with_its_settings(
    sam: dict[str, Any], stage_functions: dict[str, dict[str, Any]]
) -> None:
    functions = resources_of(sam, "AWS::Serverless::Function")
    assert set(functions) == set(FUNCTIONS.values())
    for name, logical_id in FUNCTIONS.items():
        props = functions[logical_id]["Properties"]
        want = stage_functions[name]
        assert props["MemorySize"] == want["lambda_memory_size"], name
        assert props["Timeout"] == want["lambda_timeout"], name
        assert props["ReservedConcurrentExecutions"] == want["reserved_concurrency"], name
        assert isinstance(want["reserved_concurrency"], int) and want["reserved_concurrency"] > 0


def test_api_answers_before_api_gateway_gives_up(sam: dict[str, Any]) -> None:
    assert sam["Resources"]["APIHandler"]["Properties"]["Timeout"] < 29


def test_sam_translation_keeps_every_function_setting(
    translated: dict[str, Any], stage_functions: dict[str, dict[str, Any]]
) -> None:
    functions = resources_of(translated, "AWS::Lambda::Function")
    assert set(functions) == set(FUNCTIONS.values())
    for name, logical_id in FUNCTIONS.items():
        props = functions[logical_id]["Properties"]
        want = stage_functions[name]
        assert props["Code"] == {"S3Bucket": "opsbot-artifacts", "S3Key": "deployment.zip"}
        assert (props["MemorySize"], props["Timeout"], props["ReservedConcurrentExecutions"]) == (
            want["lambda_memory_size"],
            want["lambda_timeout"],
            want["reserved_concurrency"],
        )
        variables = props["Environment"]["Variables"]
        # Globals merged into every function, next to the stage's own variables
        for var, export in IMPORTED_ENV.items():
            assert variables[var] == imported(export), (logical_id, var)
        assert variables["OPSBOT_STAGE"] == STAGE
        assert props["Role"] == {"Fn::GetAtt": [f"{logical_id}Role".replace("API", "Api"), "Arn"]}


def test_work_queue_source_reports_batch_item_failures(
    translated: dict[str, Any], stage_functions: dict[str, dict[str, Any]], sam: dict[str, Any]
) -> None:
    mappings = resources_of(translated, "AWS::Lambda::EventSourceMapping")
    assert len(mappings) == 1
    (mapping,) = mappings.values()
    props = mapping["Properties"]
    assert props["FunctionName"] == {"Ref": "WorkAliaslive"}  # the SnapStart alias
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["BatchSize"] == 10
    # the imported ARN, not one rebuilt from the queue name Chalice saw at package time
    assert props["EventSourceArn"] == {"Fn::Sub": ["${Value}", {"Value": imported("WorkQueueArn")}]}
    assert props["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "WorkerMaximumConcurrency"}}
    # SQS never starts more batches than the function may run: no throttling by design
    default = sam["Parameters"]["WorkerMaximumConcurrency"]["Default"]
    assert 2 <= default <= stage_functions["work"]["reserved_concurrency"]


def test_alarm_notifications_come_from_the_imported_alarms_topic(
    translated: dict[str, Any],
) -> None:
    subscriptions = resources_of(translated, "AWS::SNS::Subscription")
    assert len(subscriptions) == 1
    (subscription,) = subscriptions.values()
    topic = {"Fn::Sub": ["${Value}", {"Value": imported("AlarmsTopicArn")}]}
    assert subscription["Properties"]["TopicArn"] == topic
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmNotificationAliaslive"}
    permissions = [
        p["Properties"]
        for p in resources_of(translated, "AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "sns.amazonaws.com"
    ]
    assert permissions == [
        {
            "Action": "lambda:InvokeFunction",
            "FunctionName": {"Ref": "AlarmNotificationAliaslive"},
            "Principal": "sns.amazonaws.com",
            "SourceArn": topic,
        }
    ]


def test_aws_events_and_schedules_reach_their_handlers(translated: dict[str, Any]) -> None:
    rules = resources_of(translated, "AWS::Events::Rule")
    targets = {  # each rule invokes its function's SnapStart alias
        r["Properties"]["Targets"][0]["Arn"]["Ref"].removesuffix("Aliaslive"): r["Properties"]
        for r in rules.values()
    }
    assert targets["EcsDeploymentState"]["EventPattern"] == {
        "source": ["aws.ecs"],
        "detail-type": ["ECS Deployment State Change"],
    }
    assert targets["EcsTaskState"]["EventPattern"] == {
        "source": ["aws.ecs"],
        "detail-type": ["ECS Task State Change"],
        "detail": {"lastStatus": ["STOPPED"], "startedBy": [{"prefix": "ecs-svc/"}]},
    }
    assert targets["AcmCertificateEvent"]["EventPattern"] == {
        "source": ["aws.acm"],
        "detail-type": ["ACM Certificate Available", "ACM Certificate Approaching Expiration"],
    }
    assert targets["Certificates"]["ScheduleExpression"] == "rate(6 hours)"
    assert targets["Budgets"]["ScheduleExpression"] == "rate(1 hour)"
    assert targets["Sweeper"]["ScheduleExpression"] == "rate(1 minute)"
    assert len(rules) == 6


def test_every_function_logs_to_a_group_with_retention(sam: dict[str, Any]) -> None:
    groups = resources_of(sam, "AWS::Logs::LogGroup")
    named = {g["Properties"]["LogGroupName"]["Fn::Sub"] for g in groups.values()}
    assert named == {f"/aws/lambda/${{{logical_id}}}" for logical_id in FUNCTIONS.values()}
    assert {g["Properties"]["RetentionInDays"] for g in groups.values()} == {30}


# --- opsbot watches itself ------------------------------------------------------------------


def test_self_monitoring_alarms_publish_to_the_notifications_topic(sam: dict[str, Any]) -> None:
    alarms = resources_of(sam, "AWS::CloudWatch::Alarm")
    topic = imported("NotificationsTopicArn")
    watched = {}
    for logical_id, alarm in alarms.items():
        props = alarm["Properties"]
        assert props["AlarmActions"] == [topic], logical_id
        assert props["OKActions"] == [topic], logical_id
        assert props["TreatMissingData"] == "notBreaching", logical_id
        dims = {d["Name"]: d["Value"] for d in props["Dimensions"]}
        watched[(props["Namespace"], props["MetricName"], json.dumps(dims, sort_keys=True))] = props

    def alarm_on(namespace: str, metric: str, **dims: Any) -> dict[str, Any]:
        key = (namespace, metric, json.dumps(dims, sort_keys=True))
        assert key in watched, f"no alarm on {key}"
        return watched[key]

    dlq = alarm_on(
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        QueueName=imported("WorkDeadLetterQueueName"),
    )
    assert (dlq["ComparisonOperator"], dlq["Threshold"]) == ("GreaterThanThreshold", 0)
    age = alarm_on("AWS/SQS", "ApproximateAgeOfOldestMessage", QueueName=imported("WorkQueueName"))
    assert age["Threshold"] == {"Ref": "OldestMessageAgeAlarmSeconds"}
    # deploy timeout guards sit in the queue up to 900 s by design: they must not trip the alarm
    assert sam["Parameters"]["OldestMessageAgeAlarmSeconds"]["Default"] > 900
    for metric in ("Errors", "Throttles"):
        props = alarm_on("AWS/Lambda", metric, FunctionName={"Ref": "Work"})
        assert (props["Statistic"], props["Threshold"]) == ("Sum", 0)
    for handler in (
        "EcsDeploymentState",
        "EcsTaskState",
        "AlarmNotification",
        "AcmCertificateEvent",
        "Certificates",
    ):
        alarm_on("AWS/Lambda", "Errors", FunctionName={"Ref": handler})


# Event types whose invocations are asynchronous (Lambda retries, then drops or sends on).
ASYNC_EVENT_TYPES = {"SNS", "CloudWatchEvent", "EventBridgeRule", "Schedule", "ScheduleV2"}
ON_FAILURE_QUEUE = {"Fn::GetAtt": ["AsyncFailureQueue", "Arn"]}


def _asynchronous(sam: dict[str, Any]) -> set[str]:
    """Functions any of whose triggers invokes them asynchronously."""
    return {
        logical_id
        for logical_id, fn in resources_of(sam, "AWS::Serverless::Function").items()
        if {e["Type"] for e in fn["Properties"].get("Events", {}).values()} & ASYNC_EVENT_TYPES
    }


def test_asynchronous_functions_send_what_fails_to_an_on_failure_queue(
    sam: dict[str, Any], translated: dict[str, Any]
) -> None:
    asynchronous = _asynchronous(sam)
    assert asynchronous == {
        "EcsDeploymentState",
        "EcsTaskState",
        "AlarmNotification",
        "AcmCertificateEvent",
        "Certificates",
        "Budgets",
        "Sweeper",
    }
    queue = sam["Resources"]["AsyncFailureQueue"]
    assert queue["Type"] == "AWS::SQS::Queue"
    assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 86400  # the longest SQS keeps
    for logical_id, fn in resources_of(sam, "AWS::Serverless::Function").items():
        config = fn["Properties"].get("EventInvokeConfig")
        if logical_id not in asynchronous:  # REST and SQS: synchronous, nothing to configure
            assert config is None, logical_id
            continue
        assert config == {
            "MaximumRetryAttempts": 2,
            "DestinationConfig": {"OnFailure": {"Type": "SQS", "Destination": ON_FAILURE_QUEUE}},
        }, logical_id
    # after the Serverless transform: one EventInvokeConfig per asynchronous function
    configs = {
        c["Properties"]["FunctionName"]["Ref"]: c["Properties"]
        for c in resources_of(translated, "AWS::Lambda::EventInvokeConfig").values()
    }
    assert set(configs) == asynchronous
    for logical_id, props in configs.items():
        assert props["Qualifier"] == "live", logical_id  # the SnapStart alias
        assert props["MaximumRetryAttempts"] == 2, logical_id
        assert props["DestinationConfig"]["OnFailure"]["Destination"] == ON_FAILURE_QUEUE


def test_asynchronous_function_roles_may_send_to_the_on_failure_queue(
    sam: dict[str, Any], translated: dict[str, Any]
) -> None:
    asynchronous = _asynchronous(sam)
    policy = sam["Resources"]["AsyncFailureDestinationPolicy"]
    assert policy["Type"] == "AWS::IAM::ManagedPolicy"
    props = policy["Properties"]
    # attached to exactly the asynchronous functions' roles, and allowing only the one send
    assert sorted(r["Ref"] for r in props["Roles"]) == sorted(f"{f}Role" for f in asynchronous)
    assert props["Path"] == {"Fn::Sub": "/${NamePrefix}/"}
    (statement,) = props["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert as_list(statement["Action"]) == ["sqs:SendMessage"]
    assert statement["Resource"] == ON_FAILURE_QUEUE
    # Lambda checks the role when the destination is configured: the policy comes first
    for logical_id in asynchronous:
        function = translated["Resources"][logical_id]
        assert "AsyncFailureDestinationPolicy" in as_list(function.get("DependsOn")), logical_id


def test_an_event_in_the_on_failure_queue_raises_an_alarm(sam: dict[str, Any]) -> None:
    topic = imported("NotificationsTopicArn")
    (alarm,) = [
        a["Properties"]
        for a in resources_of(sam, "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["Dimensions"]
        == [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["AsyncFailureQueue", "QueueName"]}}]
    ]
    assert (alarm["Namespace"], alarm["MetricName"]) == (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
    )
    assert (alarm["Statistic"], alarm["ComparisonOperator"], alarm["Threshold"]) == (
        "Maximum",
        "GreaterThanThreshold",
        0,
    )
    assert alarm["AlarmActions"] == alarm["OKActions"] == [topic]
    outputs = sam["Outputs"]
    assert outputs["AsyncFailureQueueUrl"]["Value"] == {"Ref": "AsyncFailureQueue"}


# --- least privilege ------------------------------------------------------------------------


def _statements(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in document["Statement"]}


def _condition_keys(statement: dict[str, Any]) -> set[str]:
    """The context keys a statement's condition tests (operators may differ: the file has no
    region to compare with)."""
    return {key for test in statement.get("Condition", {}).values() for key in test}


def test_every_function_role_has_only_its_own_real_arn_policy(sam: dict[str, Any]) -> None:
    roles = resources_of(sam, "AWS::IAM::Role")
    assert set(roles) == {f"{lid.replace('API', 'Api')}Role" for lid in FUNCTIONS.values()}, (
        "a function role the merge template does not patch keeps Chalice's wildcard policy: "
        "add it to infra/app-merge.json"
    )
    for logical_id, role in roles.items():
        props = role["Properties"]
        assert props["Policies"] == [], logical_id
        own = logical_id.removesuffix("Role").replace("Api", "API") + "Policy"
        assert props["ManagedPolicyArns"] == [{"Ref": own}], logical_id
        assert props["Path"] == {"Fn::Sub": "/${NamePrefix}/"}, logical_id
        assert props["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
            "Service": "lambda.amazonaws.com"
        }


@pytest.mark.parametrize("function", list(FUNCTIONS))
def test_function_policy_grants_what_the_policy_file_grants(
    sam: dict[str, Any], function: str
) -> None:
    """The file is the reviewed list; the template adds nothing to it and loses nothing."""
    path = ROOT / ".chalice" / f"policy-prod-{function}.json"
    in_file = _statements(json.loads(path.read_text()))
    policy = sam["Resources"][f"{FUNCTIONS[function]}Policy"]
    assert policy["Type"] == "AWS::IAM::ManagedPolicy"
    in_template = _statements(policy["Properties"]["PolicyDocument"])
    assert set(in_template) == set(in_file)
    for sid, statement in in_template.items():
        assert statement["Effect"] == in_file[sid]["Effect"] == "Allow", sid
        assert sorted(as_list(statement["Action"])) == sorted(as_list(in_file[sid]["Action"])), sid
        assert _condition_keys(statement) == _condition_keys(in_file[sid]), sid
    # opsbot's own resources are the stateful stack's, by import: no name is retyped here
    assert in_template["StateTable"]["Resource"] == imported("StateTableArn")
    if "WorkQueue" in in_template:
        assert in_template["WorkQueue"]["Resource"] == imported("WorkQueueArn")
    if "WorkDeadLetterQueue" in in_template:
        assert in_template["WorkDeadLetterQueue"]["Resource"] == imported("WorkDeadLetterQueueArn")
    if "Notifications" in in_template:  # (not the sweeper's: it tells nobody)
        assert in_template["Notifications"]["Resource"] == imported("NotificationsTopicArn")
    if "HomePassTaskRoles" in in_template:
        assert in_template["HomePassTaskRoles"]["Condition"] == {
            "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
        }
        assert in_template["HomePassTaskRoles"]["Resource"] == {
            "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role${TaskRolePath}*"
        }


@pytest.mark.parametrize("function", list(FUNCTIONS))
def test_policy_files_cover_the_same_statements_per_stage(function: str) -> None:
    prod = _statements(json.loads((ROOT / ".chalice" / f"policy-prod-{function}.json").read_text()))
    dev = _statements(json.loads((ROOT / ".chalice" / f"policy-dev-{function}.json").read_text()))
    assert set(prod) == set(dev)
    for sid in set(prod) - {"Logs"}:
        assert sorted(as_list(prod[sid]["Action"])) == sorted(as_list(dev[sid]["Action"])), sid
    dev_text = json.dumps(dev)
    # dev may never touch prod's resources or parameters
    assert "/opsbot/prod/" not in dev_text
    assert not re.search(r"opsbot-(state|work|notifications|member|prod)", dev_text)


def test_each_function_has_its_policy_file_in_every_deployed_stage(config: dict[str, Any]) -> None:
    for stage in ("dev", "prod"):
        functions = config["stages"][stage]["lambda_functions"]
        assert "iam_policy_file" not in config["stages"][stage], stage
        for function in FUNCTIONS:
            assert functions[function]["iam_policy_file"] == f"policy-{stage}-{function}.json"


def test_parameter_defaults_agree_with_the_stage_config(
    sam: dict[str, Any], config: dict[str, Any], stage_functions: dict[str, dict[str, Any]]
) -> None:
    variables = config["stages"][STAGE]["environment_variables"]
    params = sam["Parameters"]
    assert params["NamePrefix"]["Default"] == variables["OPSBOT_NAME_PREFIX"]
    assert params["ParameterPrefix"]["Default"] == variables["OPSBOT_PARAMETER_PREFIX"]
    stateful = load_yaml_template(INFRA / "template.yaml")
    # the queue's visibility timeout is derived from the worker's timeout
    assert (
        int(stateful["Parameters"]["WorkerTimeoutSeconds"]["Default"])
        == stage_functions["work"]["lambda_timeout"]
    )


# --- the stacks in the embedded AWS ---------------------------------------------------------


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield


def create_stack(name: str, body: str, **params: str) -> dict[str, str]:
    cfn = boto3.client("cloudformation", region_name=REGION)
    cfn.create_stack(
        StackName=name,
        TemplateBody=body,
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
    )
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def test_stateful_stack_creates_queues_topics_table_and_exports(aws: None) -> None:
    outputs = create_stack("opsbot-state", (INFRA / "template.yaml").read_text())
    sqs = boto3.client("sqs", region_name=REGION)
    work = sqs.get_queue_attributes(QueueUrl=outputs["WorkQueueUrl"], AttributeNames=["All"])[
        "Attributes"
    ]
    assert (
        work["QueueArn"] == outputs["WorkQueueArn"] == f"arn:aws:sqs:{REGION}:{ACCOUNT}:opsbot-work"
    )
    assert work["VisibilityTimeout"] == "360"  # six times the worker's 60 s
    assert json.loads(work["RedrivePolicy"]) == {
        "deadLetterTargetArn": outputs["WorkDeadLetterQueueArn"],
        "maxReceiveCount": 5,
    }
    dlq_url = sqs.get_queue_url(QueueName=outputs["WorkDeadLetterQueueName"])["QueueUrl"]
    dlq = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["MessageRetentionPeriod"])
    assert dlq["Attributes"]["MessageRetentionPeriod"] == "1209600"

    topics = {
        t["TopicArn"] for t in boto3.client("sns", region_name=REGION).list_topics()["Topics"]
    }
    assert {outputs["AlarmsTopicArn"], outputs["NotificationsTopicArn"]} <= topics

    table = boto3.client("dynamodb", region_name=REGION).describe_table(
        TableName=outputs["StateTableName"]
    )["Table"]
    assert table["TableArn"] == outputs["StateTableArn"]
    assert {k["AttributeName"]: k["KeyType"] for k in table["KeySchema"]} == {
        "pk": "HASH",
        "sk": "RANGE",
    }

    exports = {
        e["Name"]: e["Value"]
        for e in boto3.client("cloudformation", region_name=REGION).list_exports()["Exports"]
    }
    for key in (
        "WorkQueueArn",
        "WorkQueueName",
        "WorkDeadLetterQueueName",
        "WorkDeadLetterQueueArn",
        "AlarmsTopicArn",
        "NotificationsTopicArn",
        "StateTableName",
        "StateTableArn",
    ):
        assert exports[f"opsbot-{key}"] == outputs[key]


def test_every_import_of_the_app_stack_is_an_export_of_the_stateful_stack(
    sam: dict[str, Any],
) -> None:
    stateful = load_yaml_template(INFRA / "template.yaml")
    exported = {
        o["Export"]["Name"]["Fn::Sub"] for o in stateful["Outputs"].values() if "Export" in o
    }
    imports = set(re.findall(r'"Fn::ImportValue": \{"Fn::Sub": "([^"]+)"\}', json.dumps(sam)))
    assert imports, "the app stack imports nothing"
    assert imports <= exported


def test_app_stack_runs_on_the_stateful_stacks_resources(
    aws: None, translated: dict[str, Any]
) -> None:
    """Deploy the translated app stack after the stateful one: the names flow by import.

    moto's CloudFormation cannot build a REST API from a Swagger body (checked by cfn-lint and
    the SAM translation above), so API Gateway resources are left out here; it skips the alarm
    and SNS subscription types it does not model (checked on the template above).
    """
    state = create_stack("opsbot-state", (INFRA / "template.yaml").read_text())
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="opsbot-artifacts")
    s3.put_object(Bucket="opsbot-artifacts", Key="deployment.zip", Body=_tiny_zip())

    template = copy.deepcopy(translated)
    api = [
        k
        for k, v in template["Resources"].items()
        if v["Type"].startswith("AWS::ApiGateway::") or k == "APIHandlerInvokePermission"
    ]
    for logical_id in api:
        del template["Resources"][logical_id]
    template["Outputs"] = {
        k: v for k, v in template["Outputs"].items() if "RestAPI" not in json.dumps(v)
    }
    # moto models neither Lambda versions nor aliases: here the event sources invoke the
    # function itself (that they invoke the SnapStart alias is checked on the template above)
    for logical_id, resource in list(template["Resources"].items()):
        if resource["Type"] in ("AWS::Lambda::Alias", "AWS::Lambda::Version"):
            del template["Resources"][logical_id]
    body = json.dumps(template)
    for logical_id in FUNCTIONS.values():
        alias, arn = (
            f'{{"Ref": "{logical_id}Aliaslive"}}',
            f'{{"Fn::GetAtt": ["{logical_id}", "Arn"]}}',
        )
        for key in ("Arn", "Endpoint"):  # where an ARN is needed (an alias's Ref is its ARN)
            body = body.replace(f'"{key}": {alias}', f'"{key}": {arn}')
        body = body.replace(alias, f'{{"Ref": "{logical_id}"}}')
    body = body.replace('"Qualifier": "live"', '"Qualifier": "$LATEST"')
    outputs = create_stack("opsbot-app", body)

    lam = boto3.client("lambda", region_name=REGION)
    functions = lam.list_functions()["Functions"]
    assert len(functions) == len(FUNCTIONS)
    for function in functions:
        variables = function["Environment"]["Variables"]
        assert variables["OPSBOT_TABLE"] == state["StateTableName"]
        assert variables["OPSBOT_WORK_QUEUE"] == state["WorkQueueName"]
        assert variables["OPSBOT_WORK_DLQ"] == state["WorkDeadLetterQueueName"]
        assert variables["OPSBOT_NOTIFICATIONS_TOPIC_ARN"] == state["NotificationsTopicArn"]
        assert function["Role"].startswith(f"arn:aws:iam::{ACCOUNT}:role/opsbot/")

    (mapping,) = lam.list_event_source_mappings()["EventSourceMappings"]
    assert mapping["EventSourceArn"] == state["WorkQueueArn"]
    assert mapping["FunctionArn"].split(":")[-1] == outputs["WorkFunctionName"]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]

    iam = boto3.client("iam", region_name=REGION)
    roles = [r["Arn"] for r in iam.list_roles(PathPrefix="/opsbot/")["Roles"]]
    assert len(roles) == len(FUNCTIONS)
    trusted = outputs["MemberTrustedRoleArns"].split(",")
    # every role of a function that acts in an environment's account, by its exact ARN
    acting = [f"-{iam_grants.role_id(f)}-" for f in FUNCTIONS if iam_grants.assumes_member_roles(f)]
    assert sorted(trusted) == sorted(r for r in roles if any(a in r for a in acting))
    # each as a parameter of the member-account stack: NAME=ARN, one per acting function
    given = dict(p.split("=", 1) for p in outputs["MemberStackParameters"].split(" "))
    assert sorted(given.values()) == sorted(trusted)
    for name, arn in given.items():
        assert outputs[name] == arn and f"-{name.removesuffix('Arn')}-" in arn
    # one policy per function (which role it is attached to is checked on the template)
    policies = {
        p["PolicyName"]: p["Arn"]
        for p in iam.list_policies(Scope="Local", PathPrefix="/opsbot/")["Policies"]
    }
    for logical_id in FUNCTIONS.values():
        assert [n for n in policies if f"-{logical_id}Policy-" in n], logical_id
    (work_policy,) = [arn for name, arn in policies.items() if "-WorkPolicy-" in name]
    policy = iam.get_policy(PolicyArn=work_policy)["Policy"]
    document = iam.get_policy_version(
        PolicyArn=policy["Arn"], VersionId=policy["DefaultVersionId"]
    )["PolicyVersion"]["Document"]
    granted = _statements(_document(document))
    assert granted["StateTable"]["Resource"] == state["StateTableArn"]
    assert granted["WorkQueue"]["Resource"] == state["WorkQueueArn"]
    assert granted["WorkDeadLetterQueue"]["Resource"] == state["WorkDeadLetterQueueArn"]
    assert granted["Notifications"]["Resource"] == state["NotificationsTopicArn"]
    assert granted["Parameters"]["Resource"] == (
        f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/opsbot/prod/*"
    )
    # its own role in a member account (and the shared role of a member stack before them)
    assert granted["AssumeMemberRoles"]["Resource"] == [
        "arn:aws:iam::*:role/opsbot-work",
        "arn:aws:iam::*:role/opsbot-member",
    ]
    assert granted["HomePassTaskRoles"]["Resource"] == (
        f"arn:aws:iam::{ACCOUNT}:role/opsbot-tasks/*"
    )
    assert granted["HomeEcsServices"]["Resource"] == [
        f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/demo/*",
        f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/prod/*",  # the demo's protected cluster
    ]
    assert granted["Logs"]["Resource"] == (
        f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/opsbot-app-*"
    )
    assert all(f["FunctionName"].startswith("opsbot-app-") for f in functions)
    # the on-failure destination of the asynchronous functions, and who may send to it
    sqs = boto3.client("sqs", region_name=REGION)
    assert (
        outputs["AsyncFailureQueueUrl"]
        == sqs.get_queue_url(QueueName="opsbot-async-failures")["QueueUrl"]
    )
    may_send = [
        role["RoleName"]
        for role in iam.list_roles(PathPrefix="/opsbot/")["Roles"]
        for p in iam.list_attached_role_policies(RoleName=role["RoleName"])["AttachedPolicies"]
        if "AsyncFailureDestination" in p["PolicyName"]
    ]
    assert len(may_send) == 7, may_send  # the asynchronous functions' roles


def _document(raw: Any) -> dict[str, Any]:
    """A policy document as moto returns it: a dict, JSON, or (for inline role policies made by
    its CloudFormation) the Python repr of a dict."""
    import ast

    if isinstance(raw, dict):
        return raw
    try:
        return dict(json.loads(raw))
    except ValueError:
        return dict(ast.literal_eval(raw))


def _tiny_zip() -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("app.py", "app = None\n")
    return buf.getvalue()


OPSBOT = "arn:aws:iam::111122223333:role/opsbot/opsbot-prod-{}-AAA"
OPSBOT_ROLES = {
    member.parameter(f): OPSBOT.format(iam_grants.role_id(f)) for f in member.acting_functions()
}


def test_member_account_stack_creates_one_role_per_function(aws: None, sam: dict[str, Any]) -> None:
    outputs = create_stack(
        "opsbot-member",
        (INFRA / "member-account.yaml").read_text(),
        **OPSBOT_ROLES,
        ClusterNames="payments,checkout",
    )
    assert outputs["RoleArnTemplate"] == f"arn:aws:iam::{ACCOUNT}:role/opsbot-{{function}}"
    assert outputs["AccountId"] == ACCOUNT
    iam = boto3.client("iam", region_name=REGION)
    made = {
        r["RoleName"]
        for r in iam.list_roles()["Roles"]
        if r["RoleName"].startswith("opsbot-") and "-EcsEventsForwarderRole-" not in r["RoleName"]
    }
    acting = member.acting_functions()
    assert made == {f"opsbot-{f}" for f in acting}
    assert "sweeper" not in acting  # it acts in no environment's account: no role
    for function in acting:
        role = iam.get_role(RoleName=f"opsbot-{function}")["Role"]
        # trusting exactly its function's execution role: no pattern, no other role
        assert role["AssumeRolePolicyDocument"]["Statement"] == [
            {
                "Sid": "OpsbotFunction",
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "ArnEquals": {"aws:PrincipalArn": OPSBOT_ROLES[member.parameter(function)]}
                },
            }
        ]
    # the names opsbot's own policies allow each function to assume: its own
    for name, function in FUNCTIONS.items():
        policy = _statements(sam["Resources"][f"{function}Policy"]["Properties"]["PolicyDocument"])
        if not iam_grants.assumes_member_roles(name):  # the sweeper reads only the state table
            assert "AssumeMemberRoles" not in policy
            continue
        assert policy["AssumeMemberRoles"]["Resource"][0] == {
            "Fn::Sub": "arn:${AWS::Partition}:iam::*:role/${NamePrefix}-" + name
        }

    (name,) = iam.list_role_policies(RoleName="opsbot-work")["PolicyNames"]
    document = _document(
        iam.get_role_policy(RoleName="opsbot-work", PolicyName=name)["PolicyDocument"]
    )
    for statement in document["Statement"]:
        for resource in as_list(statement["Resource"]):
            # Route 53 ARNs name no account (arn:aws:route53:::hostedzone/ID): only this one's
            global_arn = resource.startswith("arn:aws:route53:::")
            ecs_service = resource.startswith("arn:aws:ecs:*:*:service/")
            assert resource == "*" or f":{ACCOUNT}:" in resource or global_arn or ecs_service, (
                statement["Sid"]
            )
    by_sid = _statements(document)
    # ECS writes on the named clusters' services only
    assert by_sid["EcsServices"]["Resource"] == [
        "arn:aws:ecs:*:*:service/payments/*",
        "arn:aws:ecs:*:*:service/checkout/*",
    ]
    # PassRole: the task roles under the path, to ECS tasks only
    assert by_sid["PassTaskRoles"]["Resource"] == f"arn:aws:iam::{ACCOUNT}:role/opsbot-tasks/*"
    assert by_sid["PassTaskRoles"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
    }
    # the internet-facing function's role here cannot deploy or pass roles
    (name,) = iam.list_role_policies(RoleName="opsbot-api_handler")["PolicyNames"]
    api = _document(
        iam.get_role_policy(RoleName="opsbot-api_handler", PolicyName=name)["PolicyDocument"]
    )
    api_actions = {a for st in api["Statement"] for a in as_list(st["Action"])}
    assert not api_actions & {"ecs:RegisterTaskDefinition", "iam:PassRole"}


def test_member_account_forwards_ecs_deployment_events_to_opsbot(aws: None) -> None:
    """Deploys in a member account end on its ECS events: they go to opsbot's default bus."""
    outputs = create_stack(
        "opsbot-member",
        (INFRA / "member-account.yaml").read_text(),
        **OPSBOT_ROLES,
        ClusterNames="payments",
        OpsbotRegion="eu-west-1",
    )
    events = boto3.client("events", region_name=REGION)
    (rule,) = [r for r in events.list_rules()["Rules"] if "EcsDeploymentEvents" in r["Name"]]
    assert json.loads(rule["EventPattern"]) == {
        "source": ["aws.ecs"],
        "detail-type": ["ECS Deployment State Change"],
    }
    (target,) = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    bus = "arn:aws:events:eu-west-1:111122223333:event-bus/default"
    assert target["Arn"] == bus
    # stopped service tasks too (early abort), through the same forwarder
    (tasks,) = [r for r in events.list_rules()["Rules"] if "EcsStoppedTasks" in r["Name"]]
    assert json.loads(tasks["EventPattern"]) == {
        "source": ["aws.ecs"],
        "detail-type": ["ECS Task State Change"],
        "detail": {"lastStatus": ["STOPPED"], "startedBy": [{"prefix": "ecs-svc/"}]},
    }
    (forwarded,) = events.list_targets_by_rule(Rule=tasks["Name"])["Targets"]
    assert (forwarded["Arn"], forwarded["RoleArn"]) == (bus, target["RoleArn"])
    iam = boto3.client("iam", region_name=REGION)
    forwarder = iam.get_role(RoleName=target["RoleArn"].split("/")[-1])["Role"]
    assert forwarder["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "events.amazonaws.com"
    }
    (name,) = iam.list_role_policies(RoleName=forwarder["RoleName"])["PolicyNames"]
    document = _document(
        iam.get_role_policy(RoleName=forwarder["RoleName"], PolicyName=name)["PolicyDocument"]
    )
    assert document["Statement"] == [
        {"Effect": "Allow", "Action": "events:PutEvents", "Resource": bus}
    ]
    assert outputs["RoleArnTemplate"].endswith(":role/opsbot-{function}")

    # a second region of the same account: forwarding only, the (global) roles exist already
    second = create_stack(
        "opsbot-member-2",
        (INFRA / "member-account.yaml").read_text(),
        **OPSBOT_ROLES,
        ClusterNames="payments",
        ForwardEventsOnly="true",
    )
    assert "RoleArnTemplate" not in second


def test_opsbot_bus_accepts_ecs_events_from_member_accounts_only() -> None:
    """The home side: the stateful stack's bus policy (cfn-lint checks its syntax)."""
    template = load_yaml_template(INFRA / "template.yaml")
    resources = template["Resources"]
    by_accounts = resources["MemberAccountsEcsEvents"]
    by_organization = resources["MemberOrganizationEcsEvents"]
    assert by_accounts["Condition"] == "HasMemberAccounts"
    assert by_organization["Condition"] == "HasMemberOrganization"
    for policy in (by_accounts, by_organization):
        statement = policy["Properties"]["Statement"]
        assert statement["Action"] == "events:PutEvents"
        assert statement["Condition"]["ForAllValues:StringEquals"] == {"events:source": "aws.ecs"}
        assert statement["Condition"]["StringEquals"]["events:detail-type"] == [
            "ECS Deployment State Change",
            "ECS Task State Change",
        ]
    assert by_accounts["Properties"]["Statement"]["Principal"] == {
        "AWS": {"Ref": "MemberAccountIds"}
    }
    assert by_organization["Properties"]["Statement"]["Condition"]["StringEquals"][
        "aws:PrincipalOrgID"
    ] == {"Ref": "MemberOrganizationId"}
    # nothing is opened by default (the local stack deploys the template with its defaults)
    assert template["Parameters"]["MemberAccountIds"]["Default"] == ""
    assert template["Parameters"]["MemberOrganizationId"]["Default"] == ""


def test_api_stage_is_throttled(sam: dict[str, Any], translated: dict[str, Any]) -> None:
    """The public API stage is throttled (a flood is answered 429 by API Gateway, in the contract's
    shape, before any function runs)."""
    settings = sam["Resources"]["RestAPI"]["Properties"]["MethodSettings"]
    assert settings == [
        {
            "ResourcePath": "/*",
            "HttpMethod": "*",
            "ThrottlingRateLimit": 20,
            "ThrottlingBurstLimit": 40,
        }
    ]
    stages = resources_of(translated, "AWS::ApiGateway::Stage")
    assert [s["Properties"]["MethodSettings"] for s in stages.values()] == [settings]


def test_a_dead_requests_idempotency_hold_outlasts_any_api_function() -> None:
    """The in-progress hold on an Idempotency-Key ends when no answer can come any more: the API
    function's timeout (every stage) and API Gateway's 29 s are within it, and it is short, so a
    client retrying after a crash (the CLI waits up to 45 s) is answered rather than refused."""
    from chalicelib.store.idempotency import IN_PROGRESS_LEASE_SECONDS
    from opsbot_cli.client import IN_PROGRESS_WAIT_SECONDS

    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    timeouts = [config.get("lambda_timeout", 60)]
    for stage in config["stages"].values():
        functions = stage.get("lambda_functions", {})
        timeouts.append(functions.get("api_handler", {}).get("lambda_timeout", timeouts[0]))
    assert max(timeouts) <= IN_PROGRESS_LEASE_SECONDS
    assert 29 <= IN_PROGRESS_LEASE_SECONDS < IN_PROGRESS_WAIT_SECONDS


def test_package_ships_the_compiled_policy_its_code_reads(
    package_dir: Path, tmp_path: Path
) -> None:
    """Lambda's /var/task is read-only: the packaged policy is compiled at package time, and
    the package's own code finds it (no YAML, no validation on a cold start)."""
    import zipfile

    with zipfile.ZipFile(package_dir / "deployment.zip") as zf:
        zf.extractall(tmp_path)
        names = zf.namelist()
    assert [n for n in names if n.startswith("chalicelib/__pycache__/policy.yaml.")]
    script = (
        "from pathlib import Path; from chalicelib.domain import policy; "
        "policy.validate_policy_bytes = None; "  # any validation would fail
        "print(policy.load_policy_file(Path('chalicelib/policy.yaml')).environments['demo'].cluster)"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "demo"
