"""The stateful stack (``infra/template.yaml``) on the embedded AWS, and the app's environment."""

from __future__ import annotations

import json
import logging
import re
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from infra.local.embedded import client
from infra.local.settings import ROOT, STACK_NAME

if TYPE_CHECKING:
    from infra.local.settings import LocalSettings

log = logging.getLogger("opsbot.local")


def deploy_template(parameters: dict[str, str]) -> dict[str, str]:
    """Create the stateful stack from infra/template.yaml; its outputs."""
    cfn = client("cloudformation")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cfn.create_stack(
            StackName=STACK_NAME,
            TemplateBody=(ROOT / "infra" / "template.yaml").read_text(),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        )
    skipped = sorted(
        {m.group(0) for w in caught if (m := re.search(r"AWS::\w+::\w+", str(w.message)))}
    )
    if skipped:
        log.info(
            "moto's CloudFormation skips %s (no local effect; created in AWS)", ", ".join(skipped)
        )
    deadline = time.monotonic() + 60
    while True:
        stack = cfn.describe_stacks(StackName=STACK_NAME)["Stacks"][0]
        status = stack["StackStatus"]
        if status == "CREATE_COMPLETE":
            return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        if (
            status.endswith("FAILED")
            or status.startswith("ROLLBACK")
            or time.monotonic() > deadline
        ):
            raise RuntimeError(
                f"stack {STACK_NAME} ended {status}: {stack.get('StackStatusReason')}"
            )
        time.sleep(0.2)


def app_environment(outputs: dict[str, str], settings: LocalSettings) -> dict[str, str]:
    """The app's environment: the local stage of .chalice/config.json plus the stack outputs."""
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    env = dict(config.get("environment_variables", {}))
    env.update(config["stages"]["local"].get("environment_variables", {}))
    env.update(
        {
            "OPSBOT_TABLE": outputs["StateTableName"],
            "OPSBOT_WORK_QUEUE": outputs["WorkQueueName"],
            "OPSBOT_WORK_DLQ": outputs["WorkDeadLetterQueueName"],
            "OPSBOT_NOTIFICATIONS_TOPIC_ARN": outputs["NotificationsTopicArn"],
            "OPSBOT_DEPLOY_TIMEOUT_SECONDS": str(settings.deploy_timeout_seconds),
        }
    )
    if settings.approval_expiry_seconds:  # demos and tests: approvals expire sooner
        env["OPSBOT_APPROVAL_EXPIRY_SECONDS"] = str(settings.approval_expiry_seconds)
    return env


def on_failure_destinations(path: Path | None = None) -> dict[str, str]:
    """Function name -> its on-failure destination (as the packaged template names it).

    Read from ``infra/app-merge.json``: an ``EventInvokeConfig`` on a function (SAM) or an
    ``AWS::Lambda::EventInvokeConfig`` resource naming it. Chalice names a function's resource
    after its handler (``alarm_notification`` -> ``AlarmNotification``).
    """
    try:
        template = json.loads((path or ROOT / "infra" / "app-merge.json").read_text())
    except (OSError, ValueError):
        return {}
    found: dict[str, str] = {}
    for logical_id, resource in (template.get("Resources") or {}).items():
        props = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::Lambda::EventInvokeConfig":
            target = props.get("FunctionName")
            logical_id = target.get("Ref", "") if isinstance(target, dict) else str(target)
            config = props
        else:
            config = props.get("EventInvokeConfig") or {}
        on_failure = (config.get("DestinationConfig") or {}).get("OnFailure") or {}
        destination = on_failure.get("Destination")
        if destination:
            name = re.sub(r"(?<!^)(?=[A-Z])", "_", logical_id).lower()
            found[name] = f"{on_failure.get('Type', '')} {_describe(destination)}".strip()
    return found


def _describe(value: object) -> str:
    """A template value (an ARN, or a Ref / GetAtt / ImportValue) as a person reads it."""
    if isinstance(value, dict) and len(value) == 1:
        ((fn, arg),) = value.items()
        inner = ".".join(map(str, arg)) if isinstance(arg, list) else _describe(arg)
        return f"{fn.removeprefix('Fn::')}({inner})"
    return str(value)
